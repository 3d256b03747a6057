import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, ExchangeBodiesTable } from '../store/schema.ts';

/**
 * Exchange bodies, kept apart from the Merkle tree: each request and response is encrypted with
 * AES-256-GCM under a key of its retention period (a calendar month, UTC). Period keys are stored
 * wrapped under a key derived from the privacy hash key. Purging a period deletes its key and its
 * bodies; the log's leaves hold only digests, so every checkpoint and proof still verifies. A
 * body is confirmed against its leaf by the gateway, holding the key (see `bodiesMatchLeaf`).
 */

/** HKDF-SHA-256 `info` for the key that wraps period keys. */
export const BODY_KEY_INFO = 'lienthong body keys';
/** A retention period: YYYY-MM (UTC calendar month). */
export const PERIOD_PATTERN = /^[0-9]{4}-(0[1-9]|1[0-2])$/;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A body row ready to insert: what the exchange log writes in the leaf's transaction. */
export type SealedBody = ExchangeBodiesTable;

export interface ExchangeBodies {
  request: Buffer;
  response: Buffer;
}

export interface PurgeResult {
  /** Periods whose key and/or bodies were deleted, ascending. */
  periods: string[];
  /** How many exchanges' bodies were deleted. */
  bodies: number;
}

export interface BodyVault {
  /** Encrypts both parts (creating the period's key on first use) without writing the body row. */
  seal(exchangeId: string, at: Date, request: Buffer | string, response: Buffer | string): Promise<SealedBody>;
  /** seal() and insert, on its own (outside the exchange log's transaction). */
  store(exchangeId: string, at: Date, request: Buffer | string, response: Buffer | string): Promise<void>;
  /** The decrypted bodies; undefined when there are none or their period was purged. Throws when a stored byte was altered. */
  read(exchangeId: string): Promise<ExchangeBodies | undefined>;
  /** Deletes the keys and bodies of every period before `before` (exclusive), in one transaction. */
  purge(before: string): Promise<PurgeResult>;
  /** Periods that have a key, ascending. */
  periods(): Promise<string[]>;
}

/** A body could not be authenticated: the stored ciphertext, IV or key was altered. */
export class BodyIntegrityError extends Error {
  override name = 'BodyIntegrityError';
}

/** The retention period of an instant: its UTC calendar month. */
export function periodOf(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** The first instant of a period (UTC). */
export function periodStart(period: string): Date {
  if (!PERIOD_PATTERN.test(period)) throw new RangeError(`"${period}" is not a period (YYYY-MM)`);
  return new Date(`${period}-01T00:00:00.000Z`);
}

function encrypt(key: Buffer, iv: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Throws when the tag does not verify. */
function decrypt(key: Buffer, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < TAG_BYTES) throw new Error('ciphertext shorter than its tag');
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
}

/** A 32-byte key for one purpose, derived from the master key (HKDF-SHA-256, `info` names the purpose). */
export function deriveKey(masterKey: Buffer, info: string): Buffer {
  if (masterKey.length < KEY_BYTES) throw new RangeError('the master key must hold at least 32 bytes');
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, KEY_BYTES));
}

/** AES-256-GCM with a fresh random IV, bound to `aad`: IV ‖ ciphertext ‖ tag, in base64. */
export function sealBytes(key: Buffer, plaintext: Buffer, aad: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  return Buffer.concat([iv, encrypt(key, iv, plaintext, aad)]).toString('base64');
}

/** The plaintext of `sealBytes`'s output; throws when it does not authenticate (altered, moved, or another key). */
export function openBytes(key: Buffer, sealed: string, aad: Buffer): Buffer {
  const data = Buffer.from(sealed, 'base64');
  if (data.length < IV_BYTES + TAG_BYTES) throw new Error('sealed data shorter than its IV and tag');
  return decrypt(key, data.subarray(0, IV_BYTES), data.subarray(IV_BYTES), aad);
}

/** Binds a ciphertext to its exchange and part, so parts cannot be swapped or moved between rows. */
const partAad = (exchangeId: string, part: 'request' | 'response') => Buffer.from(`lienthong body\0${exchangeId}\0${part}`, 'utf8');
const keyAad = (period: string) => Buffer.from(`lienthong body key\0${period}`, 'utf8');

/** Deletes the keys and bodies of every period before `before`; needs no key, so the CLI uses it directly. */
export async function purgeBodies(db: Kysely<Database>, before: string): Promise<PurgeResult> {
  periodStart(before);
  return db.transaction().execute(async (trx) => {
    const keyPeriods = await trx.selectFrom('body_keys').select('period').where('period', '<', before).execute();
    const bodyPeriods = await trx.selectFrom('exchange_bodies').select('period').distinct().where('period', '<', before).execute();
    const deleted = await trx.deleteFrom('exchange_bodies').where('period', '<', before).executeTakeFirst();
    await trx.deleteFrom('body_keys').where('period', '<', before).execute();
    const periods = [...new Set([...keyPeriods, ...bodyPeriods].map((r) => r.period))].sort();
    return { periods, bodies: Number(deleted.numDeletedRows) };
  });
}

export function createBodyVault(deps: { db: Kysely<Database>; masterKey: Buffer }): BodyVault {
  const { db } = deps;
  const wrappingKey = deriveKey(deps.masterKey, BODY_KEY_INFO);

  const unwrap = (period: string, wrapped: string): Buffer => {
    try {
      const key = openBytes(wrappingKey, wrapped, keyAad(period));
      if (key.length !== KEY_BYTES) throw new Error(`unwrapped key has ${key.length} bytes`);
      return key;
    } catch (err) {
      throw new BodyIntegrityError(`the body key of ${period} cannot be unwrapped (altered, or another master key)`, { cause: err });
    }
  };

  /** The period's key, created on first use; concurrent creators agree on the first one written. */
  const periodKey = async (period: string): Promise<Buffer> => {
    let row = await db.selectFrom('body_keys').select('key').where('period', '=', period).executeTakeFirst();
    if (!row) {
      const wrapped = sealBytes(wrappingKey, randomBytes(KEY_BYTES), keyAad(period));
      await db
        .insertInto('body_keys')
        .values({ period, key: wrapped, created_at: new Date().toISOString() })
        .onConflict((oc) => oc.column('period').doNothing())
        .execute();
      row = await db.selectFrom('body_keys').select('key').where('period', '=', period).executeTakeFirstOrThrow();
    }
    return unwrap(period, row.key);
  };

  const seal: BodyVault['seal'] = async (exchangeId, at, request, response) => {
    const period = periodOf(at);
    const key = await periodKey(period);
    // One fresh random IV per message: the two parts never share an IV under the same key.
    const requestIv = randomBytes(IV_BYTES);
    const responseIv = randomBytes(IV_BYTES);
    const bytes = (v: Buffer | string) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
    return {
      exchange_id: exchangeId,
      period,
      iv: Buffer.concat([requestIv, responseIv]).toString('base64'),
      request: encrypt(key, requestIv, bytes(request), partAad(exchangeId, 'request')).toString('base64'),
      response: encrypt(key, responseIv, bytes(response), partAad(exchangeId, 'response')).toString('base64'),
      stored_at: new Date().toISOString(),
    };
  };

  return {
    seal,
    async store(exchangeId, at, request, response) {
      await db.insertInto('exchange_bodies').values(await seal(exchangeId, at, request, response)).execute();
    },
    async read(exchangeId) {
      const row = await db
        .selectFrom('exchange_bodies')
        .innerJoin('body_keys', 'body_keys.period', 'exchange_bodies.period')
        .select(['exchange_bodies.period', 'exchange_bodies.iv', 'exchange_bodies.request', 'exchange_bodies.response', 'body_keys.key'])
        .where('exchange_bodies.exchange_id', '=', exchangeId)
        .executeTakeFirst();
      // No body, or a body whose period key is gone: either way, nothing can be read.
      if (!row) return undefined;
      const key = unwrap(row.period, row.key);
      const ivs = Buffer.from(row.iv, 'base64');
      if (ivs.length !== 2 * IV_BYTES) throw new BodyIntegrityError(`the body of exchange ${exchangeId} has a malformed IV`);
      try {
        return {
          request: decrypt(key, ivs.subarray(0, IV_BYTES), Buffer.from(row.request, 'base64'), partAad(exchangeId, 'request')),
          response: decrypt(key, ivs.subarray(IV_BYTES), Buffer.from(row.response, 'base64'), partAad(exchangeId, 'response')),
        };
      } catch (err) {
        throw new BodyIntegrityError(`the body of exchange ${exchangeId} does not authenticate: it was altered`, { cause: err });
      }
    },
    purge: (before) => purgeBodies(db, before),
    async periods() {
      return (await db.selectFrom('body_keys').select('period').orderBy('period').execute()).map((r) => r.period);
    },
  };
}
