import { timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { ClientConfig, Config } from '../config/schema.ts';
import { toVietnamIso } from '../core/time.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { components } from '../generated/gateway.ts';
import type { Logger } from '../logging.ts';
import type { ConsoleSession, ConsoleSessions } from '../store/console-sessions.ts';
import { MAX_SEALED_ID_BYTES } from '../audit/officers.ts';
import { spendClientBudget, USER_ID, type AuthenticatedClient } from './auth.ts';
import type { RecordLocals } from './exchange-recorder.ts';
import type { Handlers } from './handlers.ts';
import type { RateLimiter } from './rate-limit.ts';

/**
 * Console sessions over HTTP: signing in with a staff client's key (createConsoleSession), the
 * cookie that then authenticates the browser's calls to the API (read by authenticate in
 * auth.ts), the CSRF rules those calls follow, and signing out.
 *
 * The cookie is HttpOnly (no script reads it) and SameSite=Strict; over HTTPS it is Secure and
 * carries the __Host- prefix, so no sibling host can set one in its place. SameSite=Strict keeps
 * pages of other sites from sending it, but not pages of the same site: a sibling host
 * (another *.sonla.gov.vn) is the same site, and its <img>, links and fetches carry the cookie.
 * So every call made with the cookie, reading ones too, must come from the gateway's own origin
 * as the browser tells it: Sec-Fetch-Site, when sent, `same-origin`, and Origin, when sent, the
 * gateway itself (403 CSRF_REJECTED otherwise). A call that changes something also carries the
 * session's CSRF token in X-CSRF-Token (only a page that asked the API for it knows it). An
 * answer to a call made with the cookie is never shared with another origin
 * (Access-Control-Allow-Credentials is taken off whatever server.cors allows) nor kept by a
 * cache (Cache-Control: no-store, Vary: Cookie).
 */

/** The cookie on plain HTTP (the sandbox on localhost). */
export const CONSOLE_COOKIE = 'lienthong_console';
/** The cookie over HTTPS: Secure, Path=/, no Domain, as the __Host- prefix requires. */
export const SECURE_CONSOLE_COOKIE = '__Host-lienthong_console';

/** Clients that may sign in to the console. */
export const STAFF_ROLES: readonly ClientConfig['roles'][number][] = ['auditor', 'operator'];

/** Methods that change nothing: no CSRF token asked (the contract names these two only). */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** What authenticate leaves on res.locals for a call made with a console session. */
export interface ConsoleSessionLocals {
  id: string;
  userId: string;
}

/** The session itself, for this module's handlers. */
const SESSION = Symbol('console session');

type SessionLocals = Record<string | symbol, unknown> & { consoleSession?: ConsoleSessionLocals; [SESSION]?: ConsoleSession };

function cookieName(req: Request): string {
  return req.secure ? SECURE_CONSOLE_COOKIE : CONSOLE_COOKIE;
}

function cookieOptions(req: Request) {
  return { httpOnly: true, sameSite: 'strict' as const, path: '/', secure: req.secure };
}

/** Tells the browser to drop the console's cookie (an expired one under the same name). */
export function clearConsoleCookie(req: Request, res: Response): void {
  res.clearCookie(cookieName(req), cookieOptions(req));
}

/**
 * The value of the console's cookie in the Cookie header, under the name this connection uses
 * (only the __Host- one over HTTPS). Only this one cookie is looked for; its value is a base64url
 * token, which never needs decoding.
 */
export function consoleCookie(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  const prefix = `${cookieName(req)}=`;
  for (const part of header.split(';')) {
    const pair = part.trim();
    if (pair.startsWith(prefix)) return pair.slice(prefix.length);
  }
  return undefined;
}

function hasStaffRole(client: ClientConfig): boolean {
  return client.roles.some((role) => STAFF_ROLES.includes(role));
}

/** Why a cookie authenticates nobody, and whether that counts as a failed authentication. */
export interface CookieProblem {
  problem: string;
  /**
   * A token the gateway never issued (or malformed): counted against the address like a wrong
   * key. A session that ended (expired, signed out, its client's key replaced) is not: an idle
   * browser would otherwise lock its whole address out, API clients included.
   */
  failure: boolean;
}

/**
 * What a console cookie proves, for authenticate: nothing when the request carries none; a
 * problem (401) when its session has ended, expired or never was, or its client may no longer
 * sign in with the key it signed in with; else the session, used now, and its client.
 */
export function consoleCookieAuthenticator(deps: { sessions: ConsoleSessions; config: Config }) {
  const clients = new Map(deps.config.clients.map((c) => [c.id, c]));
  return async (req: Request): Promise<undefined | CookieProblem | { client: ClientConfig; session: ConsoleSession }> => {
    const token = consoleCookie(req);
    if (token === undefined) return undefined;
    const session = await deps.sessions.use(token);
    if (session === 'ended') return { problem: 'the console session has ended (signed out or expired): sign in again', failure: false };
    if (!session) return { problem: 'the console session has ended (signed out, expired or unknown): sign in again', failure: true };
    const client = clients.get(session.clientId);
    if (!client || client.disabled || !hasStaffRole(client)) {
      await deps.sessions.end(session.id);
      return { problem: `the console session has ended: client ${session.clientId} may no longer sign in to the console`, failure: false };
    }
    // The key signed in with has been replaced or removed since: what it opened ends with it.
    if (session.keyFingerprint !== deps.sessions.keyFingerprint(client.id, client.keyHash)) {
      await deps.sessions.end(session.id);
      return { problem: `the console session has ended: the key client ${client.id} signed in with has changed`, failure: false };
    }
    return { client, session };
  };
}

/** The gateway's own origin as the request reached it (scheme and host as express reads them). */
function ownOrigin(req: Request): string | undefined {
  const host = req.host;
  if (!host || (req.protocol !== 'http' && req.protocol !== 'https')) return undefined;
  try {
    return new URL(`${req.protocol}://${host}`).origin;
  } catch {
    return undefined;
  }
}

/** Whether an Origin header names the gateway itself (`null`, an opaque origin, never does). */
export function sameOrigin(req: Request, origin: string): boolean {
  const own = ownOrigin(req);
  try {
    return own !== undefined && new URL(origin).origin === own;
  } catch {
    return false;
  }
}

function csrfRejected(field: string, message: string): GatewayError {
  return new GatewayError('CSRF_REJECTED', { detail: `${field} ${message}`, errors: [{ field, message }] });
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Why a request is refused as not coming from the gateway's own pages, if the browser says so:
 * Sec-Fetch-Site other than `same-origin` (another site, a sibling host of the same site, or
 * none: typed in the address bar), or an Origin other than the gateway's.
 */
function crossOrigin(req: Request): GatewayError | undefined {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return csrfRejected('header.sec-fetch-site', "must be same-origin: a console session's calls come from the console's own page");
  const origin = req.get('origin');
  if (origin !== undefined && !sameOrigin(req, origin)) return csrfRejected('header.origin', 'is not the origin of this gateway');
  return undefined;
}

/**
 * Why a call made with a console session is refused, if it is: any call from another origin
 * (above), a change without the session's CSRF token (403 CSRF_REJECTED), or naming another
 * officer than the session's (403 FORBIDDEN). Absent, X-User-Id becomes the session's officer.
 */
export function consoleRefusal(req: Request, session: ConsoleSession): GatewayError | undefined {
  const claimed = req.get('x-user-id');
  if (claimed === undefined) req.headers['x-user-id'] = session.userId;
  const foreign = crossOrigin(req);
  if (foreign) return foreign;
  if (!SAFE_METHODS.has(req.method)) {
    const given = req.get('x-csrf-token');
    if (!given) return csrfRejected('header.x-csrf-token', "is required with a console session: the session's csrfToken");
    if (!sameToken(given, session.csrfToken)) return csrfRejected('header.x-csrf-token', "is not this console session's csrfToken");
  }
  if (claimed !== undefined && claimed !== session.userId) {
    const message = "must be the console session's officer (or left out)";
    return new GatewayError('FORBIDDEN', { detail: `header.x-user-id ${message}`, errors: [{ field: 'header.x-user-id', message }] });
  }
  return undefined;
}

/** Keeps the session with the request, for this module's handlers and the recorder. */
export function attachConsoleSession(res: Response, session: ConsoleSession): void {
  const locals = res.locals as SessionLocals;
  locals.consoleSession = { id: session.id, userId: session.userId } satisfies ConsoleSessionLocals;
  // The officer acting, whatever the request claims: the log names them even on a refusal.
  locals.userId = session.userId;
  locals[SESSION] = session;
}

function sessionAnswer(client: ClientConfig, session: ConsoleSession): components['schemas']['ConsoleSession'] {
  return {
    client: client.id,
    agency: client.agency,
    roles: [...client.roles],
    userId: session.userId,
    purposes: [...client.purposes],
    expiresAt: toVietnamIso(session.expiresAt),
    idleExpiresAt: toVietnamIso(session.idleExpiresAt),
    csrfToken: session.csrfToken,
  };
}

function noSession(): GatewayError {
  const message = 'this operation is for a console session: sign in with createConsoleSession';
  return new GatewayError('UNAUTHENTICATED', { detail: message, errors: [{ field: `cookie.${CONSOLE_COOKIE}`, message }] });
}

export function consoleSessionHandlers(deps: {
  config: Config;
  limiter: RateLimiter;
  sessions: ConsoleSessions;
  /** The key ring authenticate uses (createKeyRing). */
  findClient: (key: string) => ClientConfig | undefined;
  /** The caller as authenticate would name it. */
  identify: (client: ClientConfig) => AuthenticatedClient;
  log: Logger;
}): Handlers {
  const failureLimit = deps.config.rateLimit.authFailures;
  const clients = new Map(deps.config.clients.map((c) => [c.id, c]));
  const sessionOf = (res: Response) => (res.locals as SessionLocals)[SESSION];
  return {
    createConsoleSession: async (req, res) => {
      res.setHeader('cache-control', 'no-store');
      // Signing a browser in to a session of someone else's choosing is refused like any forged change.
      const foreign = crossOrigin(req);
      if (foreign) throw foreign;
      const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const blocked = await deps.limiter.exhausted('auth-failures', address, failureLimit);
      if (blocked.exhausted) throw new GatewayError('RATE_LIMITED', { detail: 'too many failed authentications from this address', retryAfter: blocked.retryAfter });
      const { apiKey, userId } = req.body as components['schemas']['ConsoleSessionRequest'];
      // The officer is every call's X-User-Id, sealed to the inspectorate: what requireAccountability takes.
      const badUser = !USER_ID.test(userId) ? "must be 1-128 letters, digits or ._@:-" : Buffer.byteLength(userId, 'utf8') > MAX_SEALED_ID_BYTES ? `must be at most ${MAX_SEALED_ID_BYTES} bytes in UTF-8` : undefined;
      if (badUser) throw new GatewayError('VALIDATION_FAILED', { detail: `body.userId ${badUser}`, errors: [{ field: 'body.userId', message: badUser }] });
      const client = deps.findClient(apiKey);
      if (!client || client.disabled) {
        await deps.limiter.consume('auth-failures', address, failureLimit);
        const message = client ? 'this client is disabled' : 'the API key is not valid';
        throw new GatewayError('UNAUTHENTICATED', { detail: message, errors: [{ field: 'body.apiKey', message }] });
      }
      // From here the caller is known: the exchange log records the sign-in, or its refusal,
      // under the client and the officer, and what it digests of the request leaves the key out.
      const identity = deps.identify(client);
      res.locals.client = identity;
      res.locals.userId = userId;
      req.body = { userId };
      // A sign-in spends the client's request budget like any of its calls (the operation has no
      // security scheme, so the gateway-wide rate limit does not see it): a key holder cannot fill
      // the log and the session table faster than it may call the API. Refused: no log entry.
      const limited = await spendClientBudget(deps.limiter, res, identity);
      if (limited) throw limited;
      if (!hasStaffRole(client)) {
        throw new GatewayError('FORBIDDEN', { detail: `client ${client.id} may not sign in to the console: only clients with the ${STAFF_ROLES.join(' or ')} role may` });
      }
      // The log holds the sign-in before any session exists: a sign-in it could not record leaves
      // no cookie that works (the error answers instead, and nothing was opened).
      res.status(201);
      await (res.locals as RecordLocals).commitRecord?.();
      const { token, session } = await deps.sessions.open(client.id, userId, client.keyHash!);
      // Sessions past their absolute expiry go as new ones come (see ConsoleSessions.purge).
      deps.sessions.purge().catch((err: unknown) => deps.log.warn({ err }, 'console sessions could not be purged'));
      res.cookie(cookieName(req), token, { ...cookieOptions(req), maxAge: deps.config.console.sessionMaxSeconds * 1000 });
      res.json(sessionAnswer(client, session));
    },

    getConsoleSession: (_req, res) => {
      const session = sessionOf(res);
      if (!session) throw noSession();
      res.setHeader('cache-control', 'no-store');
      res.json(sessionAnswer(clients.get(session.clientId)!, session));
    },

    deleteConsoleSession: async (req, res) => {
      const session = sessionOf(res);
      if (!session) throw noSession();
      await deps.sessions.end(session.id);
      clearConsoleCookie(req, res);
      // Through send, as every answer the exchange log records.
      res.status(204).send();
    },
  };
}
