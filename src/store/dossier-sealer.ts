import { canonicalize } from 'json-canonicalize';
import { DossierDataError, type DossierSealer, type SealedPlace } from '../core/dossiers/sealed.ts';
import { deriveKey, openBytes, sealBytes } from '../audit/bodies.ts';
import { createKeyedDigest } from '../signing/attestation.ts';

/**
 * Personal data of dossiers at rest: the dossier as received (`dossiers.document`: the applicant's
 * name, identifier, email, phone) and every change's payload (`dossier_events.payload`: officers'
 * names, free-text notes) are kept encrypted with AES-256-GCM, under a key derived from the
 * privacy key (`privacy.hashKeyFile`) as the exchange bodies' keys are. Each value is bound to
 * its row, so it cannot be moved to another dossier or change. The columns the lists filter on
 * (status, delivery state, deadlines) hold no personal data and stay in clear.
 */

/** HKDF-SHA-256 `info` for the key of dossiers' personal data. */
export const DOSSIER_KEY_INFO = 'lienthong dossier data';
/** Starts every sealed value: the scheme and its version. */
const PREFIX = 'aesgcm1:';

const aad = (place: SealedPlace) =>
  Buffer.from(place.sequence === undefined ? `lienthong dossier\0${place.code}` : `lienthong dossier change\0${place.code}\0${place.sequence}`, 'utf8');

export function createDossierSealer(masterKey: Buffer): DossierSealer {
  const key = deriveKey(masterKey, DOSSIER_KEY_INFO);
  const content = createKeyedDigest(masterKey, 'dossier-content');
  return {
    contentDigest: (dossier) => content(canonicalize(dossier)),
    requestDigest: createKeyedDigest(masterKey, 'idempotency-request'),
    seal: (place, value) => PREFIX + sealBytes(key, Buffer.from(JSON.stringify(value), 'utf8'), aad(place)),
    open<T>(place: SealedPlace, stored: string): T {
      const what = place.sequence === undefined ? `dossier ${place.code}` : `change ${place.sequence} of dossier ${place.code}`;
      // Rows written before encryption at rest are refused, not read: none reached production.
      if (!stored.startsWith(PREFIX)) throw new DossierDataError(`the stored data of ${what} is not encrypted (written before encryption at rest)`);
      try {
        return JSON.parse(openBytes(key, stored.slice(PREFIX.length), aad(place)).toString('utf8')) as T;
      } catch (err) {
        throw new DossierDataError(`the stored data of ${what} does not authenticate (altered, moved, or another privacy key)`, { cause: err });
      }
    },
  };
}
