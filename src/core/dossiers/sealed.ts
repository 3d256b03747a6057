import type { KeyedDigest } from '../exchanges.ts';

/**
 * Personal data of dossiers is kept encrypted at rest, each value bound to its row (the dossier
 * as received, every change's payload); src/store/dossier-sealer.ts implements the sealer.
 */

/** Where a sealed value lives: a dossier's document, or one of its changes. */
export type SealedPlace = { code: string; sequence?: number };

/** A stored value cannot be read: altered, moved, sealed under another key, or written in clear. */
export class DossierDataError extends Error {
  override name = 'DossierDataError';
}

export interface DossierSealer {
  /** The value as JSON, encrypted and bound to its place. */
  seal(place: SealedPlace, value: unknown): string;
  /** The value sealed at this place; throws DossierDataError when it cannot be authenticated. */
  open<T>(place: SealedPlace, stored: string): T;
  /**
   * Keyed digest of the dossier as received (`dossiers.content_hash`), to tell a repeated
   * hand-over from a different one: a plain hash would confirm a guessed applicant.
   */
  contentDigest(dossier: unknown): string;
  /** Keyed digest for the requests of dossier writes kept with their Idempotency-Key (`idempotency_keys.request_hash`). */
  requestDigest: KeyedDigest;
}
