import { timingSafeEqual } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import { commonName, type TrustStore } from '../signing/trust-store.ts';
import type { RequestHandler } from 'express';
import { hashApiKey } from '../config/load.ts';
import type { ClientConfig, Config } from '../config/schema.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Operation } from './contract.ts';
import type { RateLimiter } from './rate-limit.ts';

/** The authenticated caller, set on res.locals.client. */
export interface AuthenticatedClient {
  id: string;
  agency: string;
  roles: ClientConfig['roles'];
  operations: string[];
  rateLimit: { points: number; durationSeconds: number };
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

/**
 * The client a TLS peer certificate names, if the certificate is trusted (chain to the roots,
 * dates, CRL); the reason otherwise.
 */
function certificateClient(socket: unknown, clients: readonly ClientConfig[], trust: TrustStore | undefined): { client?: ClientConfig; problem?: string } {
  if (!trust || !(socket instanceof TLSSocket)) return {};
  const peer = socket.getPeerX509Certificate();
  if (!peer) return {};
  try {
    trust.verify(peer);
  } catch (err) {
    return { problem: `the client certificate is refused: ${(err as Error).message}` };
  }
  const name = commonName(peer);
  const client = clients.find((c) => c.certificateName !== undefined && c.certificateName === name);
  return client ? { client } : { problem: `no client is registered for certificate "${name}"` };
}

export function authenticate(deps: { config: Config; limiter: RateLimiter; clientTrust?: TrustStore }): RequestHandler {
  const findClient = createKeyRing(deps.config.clients);
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
    const byCertificate = header ? {} : certificateClient(req.socket, deps.config.clients, deps.clientTrust);
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
    const authenticated: AuthenticatedClient = {
      id: client.id,
      agency: client.agency,
      roles: client.roles,
      operations: client.operations,
      rateLimit: client.rateLimit ?? deps.config.rateLimit.default,
    };
    res.locals.client = authenticated;
    next();
  };
}

/** 403 unless one of the client's roles is in the operation's x-roles and the client lists it. */
export function authorize(): RequestHandler {
  return (_req, res, next) => {
    const operation = res.locals.operation as Operation;
    const client = res.locals.client as AuthenticatedClient | undefined;
    if (!operation.authenticated || !client) return next();
    const roleAllows = client.roles.some((r) => operation.roles.includes(r));
    const listed = client.operations.includes('*') || client.operations.includes(operation.operationId);
    if (!roleAllows || !listed) {
      return next(new GatewayError('FORBIDDEN', { detail: `client ${client.id} may not call ${operation.operationId}` }));
    }
    next();
  };
}

export function rateLimit(deps: { limiter: RateLimiter }): RequestHandler {
  return async (_req, res, next) => {
    const client = res.locals.client as AuthenticatedClient | undefined;
    if (!client) return next();
    const decision = await deps.limiter.consume('client', client.id, client.rateLimit);
    res.setHeader('ratelimit-limit', String(client.rateLimit.points));
    res.setHeader('ratelimit-reset', String(decision.resetSeconds));
    if (!decision.allowed) {
      res.setHeader('ratelimit-remaining', '0');
      return next(new GatewayError('RATE_LIMITED', { detail: `client ${client.id} exceeded ${client.rateLimit.points} requests per ${client.rateLimit.durationSeconds} s`, retryAfter: decision.retryAfter }));
    }
    res.setHeader('ratelimit-remaining', String(decision.remaining));
    next();
  };
}

const PROCEDURE_CODE = /^\d\.\d{6}\.\d{3}\.\d{2}\.\d{2}\.[A-Z][A-Z0-9.]*$/;
const USER_ID = /^[\p{L}\p{N}._@:-]{1,128}$/u;

/**
 * Operations that touch personal data need the acting person (X-User-Id) and a purpose
 * (X-Purpose: a procedure code or a configured purpose code), so every access is traceable. So
 * does a search by a personal identifier (a query parameter marked x-personal-data), such as an
 * auditor looking for the exchanges about one person.
 */
export function requireAccountability(deps: { config: Config }): RequestHandler {
  const purposes = new Set(deps.config.purposes.map((p) => p.code));
  return (req, res, next) => {
    const operation = res.locals.operation as Operation;
    if (!operation.personalData && !operation.personalDataParameters.some((name) => req.query[name] !== undefined)) return next();
    const errors: { field: string; message: string }[] = [];
    const userId = req.get('x-user-id');
    const purpose = req.get('x-purpose');
    if (!userId) errors.push({ field: 'header.x-user-id', message: 'is required: the officer or citizen acting' });
    else if (!USER_ID.test(userId)) errors.push({ field: 'header.x-user-id', message: 'must be 1-128 letters, digits or ._@:-' });
    if (!purpose) errors.push({ field: 'header.x-purpose', message: 'is required: a procedure code (MaTTHC) or a purpose code' });
    else if (!PROCEDURE_CODE.test(purpose) && !purposes.has(purpose)) {
      errors.push({ field: 'header.x-purpose', message: 'must be a procedure code such as 1.004616.000.00.00.H52 or a configured purpose code' });
    }
    if (errors.length > 0) {
      return next(new GatewayError('ACCOUNTABILITY_REQUIRED', { detail: errors.map((e) => `${e.field} ${e.message}`).join('; '), errors }));
    }
    res.locals.userId = userId;
    res.locals.purpose = purpose;
    next();
  };
}
