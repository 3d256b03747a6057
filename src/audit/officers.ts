import { constants, createPublicKey, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/**
 * Who asked, resolvable by the inspectorate only. A leaf names the acting officer by a keyed hash
 * (userHash); the registry keeps, once per officer, the officer's identifier encrypted to the
 * inspectorate's RSA key (RSA-OAEP with SHA-256, MGF1 SHA-256). The gateway holds the public key
 * only: its operator can list who was seen, not who they are. An inspector fetches the sealed
 * identifier through a logged operation and decrypts it with the inspectorate's private key.
 */

export const OFFICER_SEAL_ALGORITHM = 'RSA-OAEP-SHA256';

/** The smallest inspectorate key accepted. */
const MIN_MODULUS_BITS = 2048;

/**
 * The longest identifier (UTF-8 bytes) RSA-OAEP-SHA256 seals under the smallest key accepted
 * (256 - 2·32 - 2); requireAccountability refuses longer X-User-Id values.
 */
export const MAX_SEALED_ID_BYTES = 190;

/** The keyed hash a leaf names the acting user by (userHash). */
export function officerHash(hashIdentifier: (value: string) => string, userId: string): string {
  return hashIdentifier(`user:${userId}`);
}

/** The officer's identifier encrypted to the inspectorate's public key. */
export function sealOfficer(publicKey: KeyObject, userId: string): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(userId, 'utf8'));
}

/** What only the inspectorate can do: recover the identifier with its private key. */
export function unsealOfficer(privateKey: KeyObject, sealed: Buffer): string {
  return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, sealed).toString('utf8');
}

/**
 * The inspectorate's public key from a PEM file (SPKI, or an RSA public key). A private key is
 * refused: the gateway must not be able to decrypt what it seals.
 */
export function loadInspectorateKey(file: string): KeyObject {
  const pem = readFileSync(file, 'utf8');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new Error(`${file} holds a private key: give the inspectorate's public key only (the gateway must not be able to decrypt officer identifiers)`);
  }
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`${file} is not an RSA public key (${key.asymmetricKeyType ?? 'unknown'})`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_MODULUS_BITS) throw new Error(`${file} is a ${bits}-bit RSA key; at least ${MIN_MODULUS_BITS} bits are required`);
  return key;
}

export interface OfficerRecord {
  userHash: string;
  /** The agency of the client the officer first acted through. */
  agency: string;
  sealed: Buffer;
  /** ISO 8601, UTC. */
  firstSeen: string;
}

export interface OfficerRegistry {
  /** Stores the officer once (insert-or-ignore); officers already seen cost a set lookup. */
  remember(userId: string, agency: string): Promise<void>;
  sealed(userHash: string): Promise<OfficerRecord | undefined>;
}

export function createOfficerRegistry(deps: {
  db: Kysely<Database>;
  publicKey: KeyObject;
  hashIdentifier: (value: string) => string;
  now?: () => Date;
}): OfficerRegistry {
  const now = deps.now ?? (() => new Date());
  const known = new Set<string>();
  const pending = new Map<string, Promise<void>>();
  return {
    remember(userId, agency) {
      const userHash = officerHash(deps.hashIdentifier, userId);
      // Too long to seal: only a refused request can name one (requireAccountability refuses it).
      if (known.has(userHash) || Buffer.byteLength(userId, 'utf8') > MAX_SEALED_ID_BYTES) return Promise.resolve();
      let writing = pending.get(userHash);
      if (!writing) {
        writing = deps.db
          .insertInto('officer_registry')
          .values({ user_hash: userHash, agency, sealed: sealOfficer(deps.publicKey, userId).toString('base64'), first_seen: now().toISOString() })
          .onConflict((c) => c.column('user_hash').doNothing())
          .execute()
          .then(() => {
            known.add(userHash);
          })
          .finally(() => pending.delete(userHash));
        pending.set(userHash, writing);
      }
      return writing;
    },
    async sealed(userHash) {
      const row = await deps.db.selectFrom('officer_registry').selectAll().where('user_hash', '=', userHash).executeTakeFirst();
      return row ? { userHash: row.user_hash, agency: row.agency, sealed: Buffer.from(row.sealed, 'base64'), firstSeen: row.first_seen } : undefined;
    },
  };
}
