import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { officerHash } from '../audit/officers.ts';
import type { Database } from './schema.ts';

/**
 * Staff sessions of the console. The browser holds a random 32-byte token (base64url, in an
 * HttpOnly cookie); the database holds what the token opens, never the token:
 * - the session's id is the SHA-256 (hex) of the token: a copy of the table signs nobody in;
 * - the officer, as everywhere else the gateway keeps officers, by their keyed hash (the exchange
 *   log's userHash, so an inspector ties a session to its entries through the officer registry)
 *   and their identifier sealed (AES-256-GCM) under a key derived from the token: the gateway
 *   reads it back to fill X-User-Id only while the browser presents the cookie;
 * - the CSRF token is derived from the token (HKDF) rather than stored: the same one can be given
 *   again to a reloaded page, and nothing in the table tells it.
 * - a fingerprint of the client's key (a keyed hash of its configured keyHash): a session opened
 *   with a key that has since been replaced or removed is ended when next used.
 * A session ends `idleSeconds` after its last use or `maxSeconds` after it began, whichever is
 * first, or when ended; a client keeps at most `maxLivePerClient` live sessions (its oldest end
 * as new ones open). A row is kept until its absolute expiry, ended or not: until then the
 * browser may still send its cookie (whose Max-Age is the same), and the gateway tells an ended
 * session (refused, the cookie cleared, no failed authentication) from a token it never issued.
 */

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** Live sessions a client may hold at once, unless told otherwise. */
export const MAX_LIVE_SESSIONS_PER_CLIENT = 20;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface ConsoleSession {
  /** SHA-256 (hex) of the token. */
  id: string;
  clientId: string;
  userId: string;
  /** The officer's keyed hash, as the exchange log names them. */
  userHash: string;
  /** Send as X-CSRF-Token on every call that changes something. */
  csrfToken: string;
  /** The fingerprint of the client's key at sign-in (keyFingerprint). */
  keyFingerprint: string;
  createdAt: Date;
  idleExpiresAt: Date;
  expiresAt: Date;
}

export interface ConsoleSessions {
  /**
   * A new session for this client and officer, signed in with the key whose configured hash is
   * `keyHash`: the token goes into the cookie, nowhere else. The client's oldest live sessions
   * beyond `maxLivePerClient` end.
   */
  open(clientId: string, userId: string, keyHash: string): Promise<{ token: string; session: ConsoleSession }>;
  /**
   * The session a cookie's token names, if it has neither ended nor expired, used now: its idle
   * expiry moves on (never past its absolute expiry). `'ended'` for a token of a session that has
   * ended or expired (the table holds it until its absolute expiry); undefined for any other
   * token (malformed, or never issued).
   */
  use(token: string): Promise<ConsoleSession | 'ended' | undefined>;
  /** What a session opened with the key of configured hash `keyHash` holds as keyFingerprint. */
  keyFingerprint(clientId: string, keyHash: string | undefined): string;
  /** Ends the session at once; false when it had ended already. */
  end(id: string): Promise<boolean>;
  /** Removes the sessions past their absolute expiry (ended or not); how many. */
  purge(): Promise<number>;
}

/** The session id a token names: what the table is keyed by. */
export function sessionId(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function derived(token: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(token, 'base64url'), Buffer.alloc(0), `lienthong console ${purpose}`, 32));
}

/** The CSRF token of the session a token opens. */
export function csrfTokenOf(token: string): string {
  return derived(token, 'csrf').toString('base64url');
}

function seal(token: string, id: string, userId: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', derived(token, 'user'), iv).setAAD(Buffer.from(id, 'utf8'));
  return Buffer.concat([iv, cipher.update(userId, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
}

function unseal(token: string, id: string, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', derived(token, 'user'), bytes.subarray(0, IV_BYTES)).setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

const earlier = (a: Date, b: Date) => (a.getTime() <= b.getTime() ? a : b);

export function createConsoleSessions(deps: {
  db: Kysely<Database>;
  /** The exchange log's keyed hash: a session names its officer as the log does. */
  hashIdentifier: (value: string) => string;
  idleSeconds: number;
  maxSeconds: number;
  maxLivePerClient?: number;
  now?: () => Date;
}): ConsoleSessions {
  const now = deps.now ?? (() => new Date());
  const maxLive = deps.maxLivePerClient ?? MAX_LIVE_SESSIONS_PER_CLIENT;
  const table = () => deps.db.selectFrom('console_sessions');
  // Keyed, so a copy of the table cannot be used to test guessed keys; bound to the client.
  const keyFingerprint = (clientId: string, keyHash: string | undefined) => deps.hashIdentifier(`console-key:${clientId}:${keyHash ?? ''}`);
  const end = async (ids: readonly string[]) => {
    if (ids.length === 0) return 0;
    const at = now().toISOString();
    // An ended session expires now too: a live session is one with neither ended_at nor a past idle expiry.
    const ended = await deps.db.updateTable('console_sessions').set({ ended_at: at, idle_expires_at: at }).where('id', 'in', ids).where('ended_at', 'is', null).executeTakeFirst();
    return Number(ended.numUpdatedRows);
  };
  return {
    keyFingerprint,

    async open(clientId, userId, keyHash) {
      const token = randomBytes(32).toString('base64url');
      const id = sessionId(token);
      const createdAt = now();
      const expiresAt = new Date(createdAt.getTime() + deps.maxSeconds * 1000);
      const idleExpiresAt = earlier(new Date(createdAt.getTime() + deps.idleSeconds * 1000), expiresAt);
      const userHash = officerHash(deps.hashIdentifier, userId);
      const fingerprint = keyFingerprint(clientId, keyHash);
      await deps.db
        .insertInto('console_sessions')
        .values({
          id,
          client_id: clientId,
          user_hash: userHash,
          user_sealed: seal(token, id, userId),
          key_fingerprint: fingerprint,
          created_at: createdAt.toISOString(),
          last_used_at: createdAt.toISOString(),
          idle_expires_at: idleExpiresAt.toISOString(),
          expires_at: expiresAt.toISOString(),
          ended_at: null,
        })
        .execute();
      // A key holder signing in again and again does not pile up live sessions: the oldest end.
      const older = await table()
        .select('id')
        .where('client_id', '=', clientId)
        .where('id', '!=', id)
        .where('ended_at', 'is', null)
        .where('idle_expires_at', '>', createdAt.toISOString())
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute();
      await end(older.slice(Math.max(0, maxLive - 1)).map((r) => r.id));
      return { token, session: { id, clientId, userId, userHash, csrfToken: csrfTokenOf(token), keyFingerprint: fingerprint, createdAt, idleExpiresAt, expiresAt } };
    },

    async use(token) {
      if (!TOKEN.test(token)) return undefined;
      const id = sessionId(token);
      const at = now();
      const row = await table().selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const userId = unseal(token, id, row.user_sealed);
      if (userId === undefined) return undefined;
      if (row.ended_at !== null || Date.parse(row.idle_expires_at) <= at.getTime()) return 'ended';
      const expiresAt = new Date(row.expires_at);
      const idleExpiresAt = earlier(new Date(at.getTime() + deps.idleSeconds * 1000), expiresAt);
      // Only a session still open moves on: one ended or expired since it was read stays so.
      const touched = await deps.db
        .updateTable('console_sessions')
        .set({ last_used_at: at.toISOString(), idle_expires_at: idleExpiresAt.toISOString() })
        .where('id', '=', id)
        .where('ended_at', 'is', null)
        .where('idle_expires_at', '>', at.toISOString())
        .executeTakeFirst();
      if (Number(touched.numUpdatedRows) === 0) return 'ended';
      return { id, clientId: row.client_id, userId, userHash: row.user_hash, csrfToken: csrfTokenOf(token), keyFingerprint: row.key_fingerprint, createdAt: new Date(row.created_at), idleExpiresAt, expiresAt };
    },

    async end(id) {
      return (await end([id])) > 0;
    },

    async purge() {
      // Past its absolute expiry the browser no longer sends the cookie (its Max-Age is the same).
      const purged = await deps.db.deleteFrom('console_sessions').where('expires_at', '<=', now().toISOString()).executeTakeFirst();
      return Number(purged.numDeletedRows);
    },
  };
}
