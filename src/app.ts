import { randomUUID } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import * as OpenApiValidator from 'express-openapi-validator';
import { memoizeRoutePatterns } from './http/route-patterns.ts';
import type { Config } from './config/schema.ts';
import type { AccountLinkService } from './core/account-links.ts';
import type { CitizenService } from './core/citizens.ts';
import type { EnterpriseService } from './core/enterprises.ts';
import type { ProcedureService } from './core/procedures.ts';
import type { SsoService } from './core/national-sso.ts';
import type { createSocialInsuranceService, createTaxpayerService } from './core/registries.ts';
import { GatewayError } from './errors/gateway-error.ts';
import { authenticate, authorize, rateLimit, requireAccountability, type AuthenticatedClient } from './http/auth.ts';
import type { Contract, Operation } from './http/contract.ts';
import { notImplemented, type Handlers } from './http/handlers.ts';
import { problemHandler } from './http/problem.ts';
import { corsPolicy } from './http/cors.ts';
import type { RateLimiter } from './http/rate-limit.ts';
import { accountHandlers } from './http/routes/accounts.ts';
import { citizenHandlers } from './http/routes/citizens.ts';
import { enterpriseHandlers } from './http/routes/enterprises.ts';
import { procedureHandlers } from './http/routes/procedures.ts';
import { registryHandlers } from './http/routes/registries.ts';
import { upstreamHandlers, type UpstreamStatus } from './http/routes/upstreams.ts';
import { auditHandlers } from './http/routes/audit.ts';
import { dossierHandlers } from './http/routes/dossiers.ts';
import type { DossierService } from './core/dossiers/service.ts';
import type { AuditStore } from './audit/store.ts';
import type { BundleCertificates } from './audit/bundle.ts';
import { operationsRouter, type ReadinessCheck } from './http/routes/operations.ts';
import { maskIdentifiers, serializeError, type Logger } from './logging.ts';
import type { Metrics } from './metrics.ts';
import type { TrustStore } from './signing/trust-store.ts';
import type { ExchangeLog } from './audit/exchange-log.ts';
import { recordExchanges, type BodyRecording } from './http/exchange-recorder.ts';
import type { OfficerRegistry } from './audit/officers.ts';

/** Everything the HTTP layer needs; built by main.ts (or a test), never inside createApp. */
export interface AppDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  contract: Contract;
  limiter: RateLimiter;
  /** Trust for client certificates (mutual TLS). */
  clientTrust?: TrustStore;
  /** Where every exchange with a national system is made durable before it is answered. */
  exchangeLog: ExchangeLog;
  /** Operations whose request and response bodies are kept, encrypted, beside the exchange log. */
  bodies?: BodyRecording;
  /** Keyed hash (HMAC-SHA-256, hex) of an identifier, for the exchange log. */
  hashIdentifier(value: string): string;
  /** Acting officers sealed to the inspectorate's key; without it officers cannot be resolved (404). */
  officers?: OfficerRegistry;
  /** The exchange log's read side for auditors and the certificates export bundles carry; without it the audit operations answer 501. */
  audit?: { store: AuditStore; certificates: BundleCertificates; timestampedAnchor?: boolean };
  services: {
    enterprises: EnterpriseService;
    citizens: CitizenService;
    taxpayers: ReturnType<typeof createTaxpayerService>;
    socialInsurance: ReturnType<typeof createSocialInsuranceService>;
    procedures: ProcedureService;
    dossiers: DossierService;
    accountLinks: AccountLinkService;
    /** National sign-on; `redirectUri` is the gateway's callback as registered with the national service. */
    sso: { service: SsoService; redirectUri: () => string };
  };
  /** Public keys for checking the gateway's attestations. */
  jwks(): { keys: object[] };
  /** Each national system's breaker, error rate, latency, in-flight calls and certificate expiry. */
  upstreams(): UpstreamStatus[];
  readiness: ReadinessCheck[];
  isShuttingDown(): boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestId(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', id);
    next();
  };
}

/**
 * A `+` in a query string is a space (application/x-www-form-urlencoded, what URLSearchParams and
 * HTML forms send), and the query parser reads it so; the request validator, which checks the raw
 * query for reserved characters, would refuse it. Spelt `%20` before validation, it means the same.
 */
function plusAsSpace(): RequestHandler {
  return (req, _res, next) => {
    const at = req.url.indexOf('?');
    if (at >= 0 && req.url.includes('+', at)) {
      const path = req.url.slice(0, at);
      req.url = path + req.url.slice(at).replaceAll('+', '%20');
      const original = req.originalUrl.indexOf('?');
      if (original >= 0) req.originalUrl = req.originalUrl.slice(0, original) + req.originalUrl.slice(original).replaceAll('+', '%20');
    }
    next();
  };
}

/** Finds the contract operation for the request: 404 and 405 come from here. */
function resolveOperation(contract: Contract): RequestHandler {
  return (req, res, next) => {
    const found = contract.match(req.method, req.path);
    if (!found) return next(new GatewayError('ROUTE_NOT_FOUND', { detail: `no resource at ${maskIdentifiers(req.path)}` }));
    if ('allowed' in found) {
      return next(
        new GatewayError('METHOD_NOT_ALLOWED', {
          detail: `${req.method} is not allowed here; use ${found.allowed.join(', ')}`,
          headers: { allow: found.allowed.join(', ') },
        }),
      );
    }
    res.locals.operation = found.operation;
    next();
  };
}

function measure(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const operation = (res.locals.operation as Operation | undefined)?.operationId ?? (req.path.startsWith('/docs') ? 'apiReference' : 'unmatched');
      const labels = { operation, method: req.method, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/** The operation and client of a request, for its completion log line. */
function whoAndWhat(res: unknown): { operation?: string; client?: string } {
  const locals = (res as { locals?: Record<string, unknown> }).locals ?? {};
  return { operation: (locals.operation as Operation | undefined)?.operationId, client: (locals.client as AuthenticatedClient | undefined)?.id };
}

export function createApp(deps: AppDeps): Express {
  const { config, contract } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestId());
  app.use(
    pinoHttp({
      logger: deps.log,
      genReqId: (_req, res) => String(res.getHeader('x-request-id')),
      // Headers, query strings and bodies are never logged: they carry keys and personal data.
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: maskIdentifiers(req.url.split('?')[0] ?? '') }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: serializeError,
      },
      // Named on the completion line only, and only when it is written: computed earlier (customProps)
      // they would cost two child loggers per request and be empty anyway, before authentication.
      customSuccessObject: (_req, res, value: Record<string, unknown>) => ({ ...value, ...whoAndWhat(res) }),
      customErrorObject: (_req, res, _err, value: Record<string, unknown>) => ({ ...value, ...whoAndWhat(res) }),
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'info'),
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: {
        // No upgrade-insecure-requests: the sandbox serves /docs over plain http on localhost.
        directives: { 'script-src': ["'self'"], 'img-src': ["'self'", 'data:'], 'connect-src': ["'self'"], 'upgrade-insecure-requests': null },
      },
    }),
  );
  // Before anything that authenticates: a browser's preflight carries no credentials.
  const corsHandler = corsPolicy(config.server.cors);
  if (corsHandler) app.use(corsHandler);
  app.use(measure(deps.metrics));
  app.use(
    operationsRouter({ metrics: deps.metrics, document: contract.document, checks: deps.readiness, isShuttingDown: deps.isShuttingDown, jwks: deps.jwks }),
  );

  app.use(plusAsSpace());
  app.use(resolveOperation(contract));
  app.use(authenticate({ config, limiter: deps.limiter, ...(deps.clientTrust ? { clientTrust: deps.clientTrust } : {}) }));
  // Right after authentication: refusals of a known client (role, purpose, validation) are recorded too.
  app.use(recordExchanges({ log: deps.exchangeLog, hashIdentifier: deps.hashIdentifier, bodies: deps.bodies, officers: deps.officers }));
  app.use(authorize());
  app.use(rateLimit({ limiter: deps.limiter }));
  app.use(requireAccountability({ config, procedures: deps.services.procedures, officers: deps.officers }));
  // Bodies are read only once the caller is known and allowed.
  app.use(express.json({ limit: config.server.bodyLimitBytes, type: ['application/json', 'application/*+json'], strict: true }));
  memoizeRoutePatterns();
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(contract.document) as never,
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true },
      validateResponses: config.server.validateResponses ? { removeAdditional: false } : false,
      validateSecurity: false,
      validateFormats: true,
      // The contract is checked by `npm run lint:openapi` and test/contract.test.ts, not at run time.
      validateApiSpec: false,
      ignoreUndocumented: true,
      $refParser: { mode: 'dereference' },
    }),
  );

  const { services } = deps;
  const handlers: Handlers = {
    ...enterpriseHandlers({ enterprises: services.enterprises }),
    ...citizenHandlers({ citizens: services.citizens }),
    ...registryHandlers({ taxpayers: services.taxpayers, socialInsurance: services.socialInsurance }),
    ...procedureHandlers({ procedures: services.procedures }),
    ...accountHandlers({ links: services.accountLinks, sso: services.sso }),
    ...upstreamHandlers({ upstreams: deps.upstreams }),
    ...(deps.audit ? auditHandlers({ ...deps.audit, hashIdentifier: deps.hashIdentifier, officers: deps.officers }) : {}),
    ...dossierHandlers({ dossiers: services.dossiers, hashIdentifier: deps.hashIdentifier }),
  };
  for (const operation of contract.operations) {
    const handler = handlers[operation.operationId];
    // Operational endpoints (security: []) are served by the operations router; the sign-on callback, reached by a browser, is here.
    if (!operation.authenticated && !handler) continue;
    app[operation.method](operation.expressPath, handler ?? notImplemented);
  }
  app.use(problemHandler());
  return app;
}
