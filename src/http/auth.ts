import { randomUUID, timingSafeEqual } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import { commonName, type TrustStore } from '../signing/trust-store.ts';
import type { Request, RequestHandler, Response } from 'express';
import { hashApiKey } from '../config/load.ts';
import type { ClientConfig, Config, DistinguishedName } from '../config/schema.ts';
import { MAX_SEALED_ID_BYTES } from '../audit/officers.ts';
import type { CallContext } from '../core/ports.ts';
import { procedureExists } from '../core/procedures.ts';
import { GatewayError, isGatewayError } from '../errors/gateway-error.ts';
import type { Operation } from './contract.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { ConsoleSessions } from '../store/console-sessions.ts';
import { attachConsoleSession, clearConsoleCookie, CONSOLE_COOKIE, consoleCookieAuthenticator, consoleRefusal } from './console-session.ts';
import { withoutCredentials } from './cors.ts';

/**
 * An answer to a call made with the console's cookie: kept by no cache, shared (Vary) with no
 * request without the same cookie, and readable by no other origin, whatever server.cors lets
 * through for key holders (CORS answered before anyone was authenticated).
 */
function cookieAnswer(res: Response): void {
  res.setHeader('cache-control', 'no-store');
  res.vary('Cookie');
  withoutCredentials(res);
}

/**
 * Whose dossiers and account links a client may see: all (operators), or its own, those handed
 * over by clients of the agencies it acts for (`agencies`, as recorded with a dossier) and those
 * made by the clients registered under those agencies (`clients`, itself included).
 */
export interface Scope {
  all: boolean;
  clientId: string;
  agencies: readonly string[];
  clients: readonly string[];
}

/** The authenticated caller, set on res.locals.client. */
export interface AuthenticatedClient {
  id: string;
  agency: string;
  roles: ClientConfig['roles'];
  operations: string[];
  rateLimit: { points: number; durationSeconds: number };
  /** Absent for a caller that is not a configured client (a sign-on callback): its own records only. */
  scope?: Scope;
}

/** The client's scope; a caller without one sees only what it made itself. */
export function scopeOf(client: AuthenticatedClient): Scope {
  return client.scope ?? { all: false, clientId: client.id, agencies: [], clients: [client.id] };
}

function scopeFor(client: ClientConfig, clients: readonly ClientConfig[]): Scope {
  const agencies = [...new Set(client.actsFor)];
  const peers = clients.filter((c) => agencies.includes(c.agency)).map((c) => c.id);
  return { all: client.roles.includes('operator'), clientId: client.id, agencies, clients: [...new Set([client.id, ...peers])] };
}

interface KeyEntry {
  hash: Buffer;
  client: ClientConfig;
}

/**
 * Finds the client whose key hash equals the presented key's hash. Every entry is compared, with
 * timingSafeEqual, so the time taken says nothing about which client or how much matched.
 */
export function createKeyRing(clients: readonly ClientConfig[]) {
  const entries: KeyEntry[] = clients.filter((c) => c.keyHash).map((client) => ({ hash: Buffer.from(client.keyHash!.slice(7), 'hex'), client }));
  return (presented: string): ClientConfig | undefined => {
    const hash = Buffer.from(hashApiKey(presented).slice(7), 'hex');
    let found: ClientConfig | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(entry.hash, hash) && !found) found = entry.client;
    }
    return found;
  };
}

const BEARER = /^Bearer ([\x21-\x7e]{8,512})$/;

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

type NameAttributes = Map<string, string[]>;

/** A name's attributes (NFC), from X509Certificate#toLegacyObject() or from config. */
function attributes(name: Record<string, string | string[]> | undefined): NameAttributes {
  const out: NameAttributes = new Map();
  for (const [key, value] of Object.entries(name ?? {})) out.set(key, (Array.isArray(value) ? value : [value]).map((v) => v.normalize('NFC')));
  return out;
}

/** Every attribute, with its values in order, and no other. */
function sameName(a: NameAttributes, b: NameAttributes): boolean {
  if (a.size !== b.size) return false;
  for (const [key, values] of a) {
    const other = b.get(key);
    if (!other || other.length !== values.length || values.some((v, i) => v !== other[i])) return false;
  }
  return true;
}

interface CertificatePin {
  client: ClientConfig;
  subject: NameAttributes;
  issuer: NameAttributes;
}

/**
 * Resolves the client a TLS peer certificate belongs to. The certificate must chain to the
 * client CAs (dates, CRL), allow client authentication, and carry the exact subject and issuer
 * registered for one client: a common name alone is not enough, since any CA under the roots
 * could issue a certificate with it.
 */
export function createCertificateRing(clients: readonly ClientConfig[], trust: TrustStore | undefined) {
  const pins: CertificatePin[] = clients
    .filter((c) => c.certificate)
    .map((client) => ({ client, subject: attributes(client.certificate!.subject as DistinguishedName), issuer: attributes(client.certificate!.issuer as DistinguishedName) }));
  return (socket: unknown): { client?: ClientConfig; problem?: string } => {
    if (!trust || !(socket instanceof TLSSocket)) return {};
    const peer = socket.getPeerX509Certificate();
    if (!peer) return {};
    try {
      trust.verify(peer);
    } catch (err) {
      return { problem: `the client certificate is refused: ${(err as Error).message}` };
    }
    // Node names the extendedKeyUsage purposes keyUsage; absent, the certificate allows no purpose we accept.
    if (!(peer.keyUsage ?? []).includes(CLIENT_AUTH)) {
      return { problem: `the client certificate "${commonName(peer)}" does not allow client authentication (extendedKeyUsage clientAuth)` };
    }
    const legacy = peer.toLegacyObject();
    const subject = attributes(legacy.subject as unknown as Record<string, string | string[]>);
    const issuer = attributes(legacy.issuer as unknown as Record<string, string | string[]>);
    const pin = pins.find((p) => sameName(p.subject, subject) && sameName(p.issuer, issuer));
    return pin ? { client: pin.client } : { problem: `no client is registered for certificate "${commonName(peer)}" from this issuer` };
  };
}

/** A configured client as authenticate names the caller (res.locals.client). */
export function clientIdentity(config: Config): (client: ClientConfig) => AuthenticatedClient {
  const scopes = new Map(config.clients.map((c) => [c.id, scopeFor(c, config.clients)]));
  return (client) => ({
    id: client.id,
    agency: client.agency,
    roles: client.roles,
    operations: client.operations,
    rateLimit: client.rateLimit ?? config.rateLimit.default,
    scope: scopes.get(client.id)!,
  });
}

/**
 * Who calls: a Bearer key, else a client certificate over HTTPS, else a console session's cookie
 * (`consoleSessions`; the key and certificate paths never touch the database). A call made with
 * a session is its client's, with res.locals.consoleSession set; a change without the session's
 * CSRF token, or naming another officer, is refused by authorize (once the recorder is in place,
 * so the refusal is logged).
 */
export function authenticate(deps: { config: Config; limiter: RateLimiter; clientTrust?: TrustStore; consoleSessions?: ConsoleSessions }): RequestHandler {
  const findClient = createKeyRing(deps.config.clients);
  const certificateClient = createCertificateRing(deps.config.clients, deps.clientTrust);
  const identify = clientIdentity(deps.config);
  const bySession = deps.consoleSessions && deps.config.console.enabled ? consoleCookieAuthenticator({ sessions: deps.consoleSessions, config: deps.config }) : undefined;
  const failureLimit = deps.config.rateLimit.authFailures;
  return async (req, res, next) => {
    const operation = res.locals.operation as Operation;
    if (!operation.authenticated) return next();
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    // Brute force: an address that has failed too often is refused before its key is looked at.
    const blocked = await deps.limiter.exhausted('auth-failures', address, failureLimit);
    if (blocked.exhausted) {
      return next(new GatewayError('RATE_LIMITED', { detail: 'too many failed authentications from this address', retryAfter: blocked.retryAfter }));
    }
    const header = req.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    // A Bearer key wins; without one, a trusted client certificate on an HTTPS connection.
    const byCertificate = header ? {} : certificateClient(req.socket);
    // Neither: a console session's cookie, if the request carries one.
    const session = header || byCertificate.client || byCertificate.problem || !bySession ? undefined : await bySession(req);
    if (session) {
      // Whatever the cookie proves, the answer is for this browser alone (see console-session.ts).
      cookieAnswer(res);
    }
    if (session && 'problem' in session) {
      // Dropped by the browser, so an ended session's cookie is not sent again and again.
      clearConsoleCookie(req, res);
      if (session.failure) await deps.limiter.consume('auth-failures', address, failureLimit);
      return next(new GatewayError('UNAUTHENTICATED', { detail: session.problem, errors: [{ field: `cookie.${CONSOLE_COOKIE}`, message: session.problem }] }));
    }
    if (session) {
      res.locals.client = identify(session.client);
      attachConsoleSession(res, session.session);
      res.locals.consoleRefusal = consoleRefusal(req, session.session);
      return next();
    }
    const client = match ? findClient(match[1]!) : byCertificate.client;
    if (!client || client.disabled) {
      await deps.limiter.consume('auth-failures', address, failureLimit);
      const detail = client?.disabled
        ? 'this client is disabled'
        : byCertificate.problem
          ? byCertificate.problem
          : !header
            ? 'send Authorization: Bearer <api key>, or a client certificate over HTTPS'
            : !match
              ? 'the Authorization header must be "Bearer <api key>"'
              : 'the API key is not valid';
      return next(new GatewayError('UNAUTHENTICATED', { detail, errors: [{ field: 'header.authorization', message: detail }] }));
    }
    res.locals.client = identify(client);
    next();
  };
}

/** 403 unless one of the client's roles is in the operation's x-roles and the client lists it. */
export function authorize(): RequestHandler {
  return (_req, res, next) => {
    const operation = res.locals.operation as Operation;
    const client = res.locals.client as AuthenticatedClient | undefined;
    // A console session's call that did not prove its origin, or named another officer (authenticate).
    const refusal = res.locals.consoleRefusal as GatewayError | undefined;
    if (refusal) return next(refusal);
    if (!operation.authenticated || !client) return next();
    const roleAllows = client.roles.some((r) => operation.roles.includes(r));
    const listed = client.operations.includes('*') || client.operations.includes(operation.operationId);
    if (!roleAllows || !listed) {
      return next(new GatewayError('FORBIDDEN', { detail: `client ${client.id} may not call ${operation.operationId}` }));
    }
    next();
  };
}

/**
 * Spends one request of the client's budget and says so in the RateLimit headers; the refusal
 * (429, with Retry-After) when none is left. Also used by the console's sign-in, which has no
 * security scheme and so never reaches rateLimit below.
 */
export async function spendClientBudget(limiter: RateLimiter, res: Response, client: AuthenticatedClient): Promise<GatewayError | undefined> {
  const decision = await limiter.consume('client', client.id, client.rateLimit);
  res.setHeader('ratelimit-limit', String(client.rateLimit.points));
  res.setHeader('ratelimit-reset', String(decision.resetSeconds));
  if (!decision.allowed) {
    res.setHeader('ratelimit-remaining', '0');
    return new GatewayError('RATE_LIMITED', { detail: `client ${client.id} exceeded ${client.rateLimit.points} requests per ${client.rateLimit.durationSeconds} s`, retryAfter: decision.retryAfter });
  }
  res.setHeader('ratelimit-remaining', String(decision.remaining));
  return undefined;
}

export function rateLimit(deps: { limiter: RateLimiter }): RequestHandler {
  return async (_req, res, next) => {
    const client = res.locals.client as AuthenticatedClient | undefined;
    if (!client) return next();
    next(await spendClientBudget(deps.limiter, res, client));
  };
}

const PROCEDURE_CODE = /^\d\.\d{6}\.\d{3}\.\d{2}\.\d{2}\.[A-Z][A-Z0-9.]*$/;
/** What X-User-Id (and a console session's officer) may be: letters, digits and ._@:-, 1 to 128 of them. */
export const USER_ID = /^[\p{L}\p{N}._@:-]{1,128}$/u;
/** A case reference: a dossier code (H52-261127-0001) or an agency's own case number. */
const CASE_ID = /^[A-Za-z0-9._/-]{1,64}$/;

/**
 * Whether a client may claim a purpose: a purpose code it lists by name, or a procedure code it
 * lists or that one of its patterns (`*` for any characters) matches. Patterns never match
 * purpose codes, so `*` grants procedures, not every configured purpose.
 */
export function purposeMatcher(allowed: readonly string[]): (purpose: string) => boolean {
  const exact = new Set(allowed.filter((p) => !p.includes('*')));
  const patterns = allowed
    .filter((p) => p.includes('*'))
    .map((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.]/g, '\\.')).join('.*')}$`));
  return (purpose) => exact.has(purpose) || (PROCEDURE_CODE.test(purpose) && patterns.some((re) => re.test(purpose)));
}

/** What the purpose check needs of the procedure catalogue: one procedure by code (cached). */
export interface ProcedureLookup {
  get(ctx: CallContext, code: string): Promise<unknown>;
}

/** How long a code the catalogue does not hold is remembered as unknown, and how many are. */
const UNKNOWN_TTL_MS = 60_000;
const UNKNOWN_MAX = 10_000;
/** How long the purpose check waits for the national portal. */
const CATALOGUE_WAIT_MS = 10_000;

/**
 * Whether a procedure code is in the national catalogue, through the cached procedure service (a
 * cached copy answers at once, a stale one while the portal fails). Codes the catalogue does not
 * hold are remembered for a minute, so a client repeating one does not send the portal a lookup
 * each time. An unreachable catalogue with no copy is an error, never a pass.
 */
function catalogueCheck(procedures: ProcedureLookup, now: () => number) {
  const unknown = new Map<string, number>();
  return async (req: Request, client: AuthenticatedClient, code: string): Promise<boolean> => {
    const until = unknown.get(code);
    if (until !== undefined) {
      if (until > now()) return false;
      unknown.delete(code);
    }
    let signal: AbortSignal | undefined;
    const ctx: CallContext = {
      requestId: String(req.res?.getHeader('x-request-id') ?? ''),
      exchangeId: randomUUID(),
      // Made only if the portal is asked: a cached procedure (the usual case) needs no timer.
      get signal() {
        return (signal ??= AbortSignal.timeout(CATALOGUE_WAIT_MS));
      },
      deadline: now() + CATALOGUE_WAIT_MS,
      log: req.log,
      clientId: client.id,
      agency: client.agency,
    };
    try {
      if (await procedureExists(procedures, ctx, code)) return true;
      if (unknown.size >= UNKNOWN_MAX) unknown.clear();
      unknown.set(code, now() + UNKNOWN_TTL_MS);
      return false;
    } catch (err) {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', {
        detail: `X-Purpose ${code} cannot be checked: the national procedure catalogue cannot be reached and no copy of this procedure is cached (${isGatewayError(err) ? err.code : 'error'}); an unchecked purpose is not let through`,
        errors: [{ field: 'header.x-purpose', message: 'cannot be checked against the national procedure catalogue now' }],
        cause: err,
      });
    }
  };
}

function notAllowed(detail: string, message: string): GatewayError {
  return new GatewayError('PURPOSE_NOT_ALLOWED', { detail, errors: [{ field: 'header.x-purpose', message }] });
}

/**
 * Operations that touch personal data need the acting person (X-User-Id) and a purpose
 * (X-Purpose: a procedure code or a configured purpose code), so every access is traceable. So
 * does a search by a personal identifier (a query parameter marked x-personal-data), such as an
 * auditor looking for the exchanges about one person. The purpose must be one the client is
 * registered for (the field policy of lookups is keyed by it), of the right kind (a client with
 * the auditor role claims audit purposes only, no other client claims one), and a procedure code
 * must exist in the national procedure catalogue: 403 otherwise, before any national system is
 * called. An optional case reference (X-Case-Id) goes with the exchange into the log.
 */
export function requireAccountability(deps: {
  config: Config;
  procedures: ProcedureLookup;
  /** The officer registry: an accepted officer is sealed to the inspectorate before the call goes on. */
  officers?: { remember(userId: string, agency: string): Promise<void> } | undefined;
  now?: () => number;
}): RequestHandler {
  const purposes = new Set(deps.config.purposes.map((p) => p.code));
  const auditPurposes = new Set(deps.config.purposes.filter((p) => p.audit).map((p) => p.code));
  const mayClaim = new Map(deps.config.clients.map((c) => [c.id, purposeMatcher(c.purposes)]));
  const inCatalogue = catalogueCheck(deps.procedures, deps.now ?? Date.now);
  return (req, res, next) => {
    const operation = res.locals.operation as Operation;
    if (!operation.personalData && !operation.personalDataParameters.some((name) => req.query[name] !== undefined)) return next();
    const errors: { field: string; message: string }[] = [];
    const userId = req.get('x-user-id');
    const purpose = req.get('x-purpose');
    const caseId = req.get('x-case-id');
    if (!userId) errors.push({ field: 'header.x-user-id', message: 'is required: the officer or citizen acting' });
    else if (!USER_ID.test(userId)) errors.push({ field: 'header.x-user-id', message: 'must be 1-128 letters, digits or ._@:-' });
    else if (Buffer.byteLength(userId, 'utf8') > MAX_SEALED_ID_BYTES) errors.push({ field: 'header.x-user-id', message: `must be at most ${MAX_SEALED_ID_BYTES} bytes in UTF-8` });
    if (!purpose) errors.push({ field: 'header.x-purpose', message: 'is required: a procedure code (MaTTHC) or a purpose code' });
    else if (!PROCEDURE_CODE.test(purpose) && !purposes.has(purpose)) {
      errors.push({ field: 'header.x-purpose', message: 'must be a procedure code such as 1.004616.000.00.00.H52 or a configured purpose code' });
    }
    if (errors.length > 0) {
      return next(new GatewayError('ACCOUNTABILITY_REQUIRED', { detail: errors.map((e) => `${e.field} ${e.message}`).join('; '), errors }));
    }
    if (caseId !== undefined && !CASE_ID.test(caseId)) {
      const message = 'must be 1-64 letters, digits or ._/- (a dossier code or case number)';
      return next(new GatewayError('VALIDATION_FAILED', { detail: `header.x-case-id ${message}`, errors: [{ field: 'header.x-case-id', message }] }));
    }
    const client = res.locals.client as AuthenticatedClient | undefined;
    const accept = () => {
      res.locals.userId = userId;
      res.locals.purpose = purpose;
      res.locals.caseId = caseId ?? null;
      // Entries may name this officer long after the request (a dossier's delivery): made resolvable now.
      if (!client || !deps.officers) return next();
      deps.officers.remember(userId!, client.agency).then(() => next(), next);
    };
    if (!client) return accept();
    if (!mayClaim.get(client.id)?.(purpose!)) {
      return next(notAllowed(`client ${client.id} is not registered for purpose ${purpose!}`, 'is not among the purposes registered for this client'));
    }
    const auditor = client.roles.includes('auditor');
    if (auditor && !auditPurposes.has(purpose!)) {
      return next(notAllowed(`client ${client.id} has the auditor role and may claim audit purposes only, not ${purpose!}`, 'must be an audit purpose for a client with the auditor role'));
    }
    if (!auditor && auditPurposes.has(purpose!)) {
      return next(notAllowed(`${purpose!} is an audit purpose: only clients with the auditor role may claim it`, 'is an audit purpose, for auditors only'));
    }
    if (purposes.has(purpose!)) return accept();
    inCatalogue(req, client, purpose!).then(
      (exists) => (exists ? accept() : next(notAllowed(`no procedure ${purpose!} in the national catalogue`, `no procedure ${purpose!} in the national catalogue`))),
      next,
    );
  };
}
