import { canonicalize } from 'json-canonicalize';
import type { KeyedDigest } from './exchanges.ts';

/** An answer as it was given: status and JSON body. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

/** A write kept under the client's Idempotency-Key. */
export interface IdempotentWrite {
  clientId: string;
  /** The client's Idempotency-Key; without one the write simply runs. */
  key: string | undefined;
  operation: string;
  requestHash: string;
}

/**
 * What makes two requests "the same" for a key: the operation, its path parameters and its body,
 * under a keyed digest. The row outlives the request; a plain hash of a body holding an ID number
 * would give the number back to whoever reads the table.
 */
export function requestHash(digest: KeyedDigest, operation: string, params: Record<string, unknown>, body: unknown): string {
  return digest(canonicalize({ operation, params, body: body ?? null }));
}
