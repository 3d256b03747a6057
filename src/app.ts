import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Config } from './config/schema.ts';
import type { AccountLinkService } from './core/account-links.ts';
import type { CitizenService } from './core/citizens.ts';
import type { EnterpriseService } from './core/enterprises.ts';
import type { ProcedureService } from './core/procedures.ts';
import type { SsoService } from './core/national-sso.ts';
import { GatewayError } from './errors/gateway-error.ts';
import { authenticate, authorize, clientIdentity, createKeyRing, rateLimit, requireAccountability, type AuthenticatedClient } from './http/auth.ts';
import type { Contract, Operation } from './http/contract.ts';
import { carriesBody, createValidation, markEmptyBody, mediaTypeOf, type Validation } from './http/validation.ts';
import { notImplemented, type Handlers } from './http/handlers.ts';
import { problemHandler } from './http/problem.ts';
import { corsPolicy } from './http/cors.ts';
import type { RateLimiter } from './http/rate-limit.ts';
import { accountHandlers } from './http/routes/accounts.ts';
import { citizenHandlers } from './http/routes/citizens.ts';
import { enterpriseHandlers } from './http/routes/enterprises.ts';
import { procedureHandlers } from './http/routes/procedures.ts';
import { upstreamHandlers, type UpstreamStatus } from './http/routes/upstreams.ts';
import { auditHandlers } from './http/routes/audit.ts';
import { dossierHandlers } from './http/routes/dossiers.ts';
import { documentHandlers } from './http/routes/documents.ts';
import type { DocumentService } from './core/documents/service.ts';
import { reportHandlers } from './http/routes/reports.ts';
import { subjectHandlers } from './http/routes/subjects.ts';
import { operationSummaries } from './audit/accesses.ts';
import type { DocumentFigures } from './store/document-figures.ts';
import type { ServiceIndexCounts } from './store/service-index.ts';
import type { DocumentLinks } from './signing/document-links.ts';
import type { DossierService } from './core/dossiers/service.ts';
import type { AuditStore } from './audit/store.ts';
import type { BundleCertificates } from './audit/bundle.ts';
import { operationsRouter, type ReadinessCheck } from './http/routes/operations.ts';
import { deferredLogger, maskedPath, type Logger } from './logging.ts';
import type { Metrics } from './metrics.ts';
import type { TrustStore } from './signing/trust-store.ts';
import type { ExchangeLog } from './audit/exchange-log.ts';
import { recordExchanges, type BodyRecording } from './http/exchange-recorder.ts';
import { consoleRouter } from './http/console.ts';
import { consoleSessionHandlers } from './http/console-session.ts';
import type { ConsoleSessions } from './store/console-sessions.ts';
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
  /** Staff sessions of the console; without them no one signs in to it (the session operations answer 404). */
  consoleSessions?: ConsoleSessions;
  /** The exchange log's read side for auditors and the certificates export bundles carry; without it the audit operations answer 501. */
  audit?: { store: AuditStore; certificates: BundleCertificates; timestampedAnchor?: boolean };
  services: {
    enterprises: EnterpriseService;
    citizens: CitizenService;
    procedures: ProcedureService;
    dossiers: DossierService;
    accountLinks: AccountLinkService;
    /** National sign-on; `redirectUri` is the gateway's callback as registered with the national service. */
    sso: { service: SsoService; redirectUri: () => string };
    /** The electronic document store: deposits, reads and content; without it the document operations answer 501. */
    documents?: DocumentService;
    /** The handlers national systems' modules register for their own use cases, by operationId (adapters/index.ts). */
    registered?: Handlers;
    /** The addresses the national portal downloads documents from (getSharedDocumentContent). */
    documentLinks?: DocumentLinks;
    /** The digitisation figures (dossiers and documents); without them the report answers 501. */
    figures?: DocumentFigures;
    /** The counts behind the national service index; without them the report answers 501. */
    serviceIndex?: ServiceIndexCounts;
  };
  /** Public keys for checking the gateway's attestations. */
  jwks(): { keys: object[] };
  /** Each national system's breaker, error rate, latency, in-flight calls and certificate expiry. */
  upstreams(): UpstreamStatus[];
  readiness: ReadinessCheck[];
  isShuttingDown(): boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'http' {
  interface IncomingMessage {
    /** The request's logger: the gateway's, bound to the request id, method and path (made when first used). */
    log: Logger;
  }
}

const REQUEST_LOG = Symbol('request log');

/**
 * `req.log` on every request, a child of the gateway's logger made only when something logs at an
 * enabled level: most requests never do, and a child logger per request would cost every one.
 */
function requestLoggers(app: Express, root: Logger): void {
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Request & { [REQUEST_LOG]?: Logger }) {
      return (this[REQUEST_LOG] ??= deferredLogger(root, () => root.child({ req: requestFields(this) })));
    },
    set(this: Request & { [REQUEST_LOG]?: Logger }, value: Logger) {
      this[REQUEST_LOG] = value;
    },
  });
}

/** How a request is named in a log line: never its query, headers or body (keys and personal data). */
function requestFields(req: Request): { id: string; method: string; path: string } {
  return { id: String(req.res?.getHeader('x-request-id') ?? ''), method: req.method, path: maskedPath(req.path) };
}

/** The operation and client of a request, for its completion log line. */
function whoAndWhat(res: Response): { operation?: string; client?: string } {
  const locals = res.locals;
  return { operation: (locals.operation as Operation | undefined)?.operationId, client: (locals.client as AuthenticatedClient | undefined)?.id };
}

/**
 * The request id (the caller's X-Request-Id when well formed), and once the answer is sent its
 * metrics and its completion log line (on the root logger; health and metrics scrapes are not logged).
 */
function requestLifecycle(log: Logger, metrics: Metrics): RequestHandler {
  return function lifecycle(req, res, next) {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', id);
    const started = process.hrtime.bigint();
    res.once('close', function answered() {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const operation = (res.locals.operation as Operation | undefined)?.operationId ?? (req.path.startsWith('/docs') ? 'apiReference' : req.path.startsWith('/console') ? 'consolePage' : 'unmatched');
      const finished = res.writableFinished;
      if (finished) {
        const labels = { operation, method: req.method, status: String(res.statusCode) };
        metrics.httpRequests.inc(labels);
        metrics.httpDuration.observe(labels, seconds);
      }
      // A caller that hangs up is the caller's business: info, like any answer below 500.
      const level = finished && res.statusCode >= 500 ? 'error' : 'info';
      if (!log.isLevelEnabled(level) || req.url === '/healthz' || req.url === '/metrics') return;
      log[level](
        { req: requestFields(req), res: { statusCode: res.statusCode }, responseTime: Math.round(seconds * 1000), ...whoAndWhat(res) },
        finished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}

/**
 * Finds the contract operation for the request, the one routing it gets: 404 and 405 come from
 * here. Operational endpoints (security: []), the API reference and paths of no operation go to
 * the operations router first; the API's own operations skip it. The path parameters go to
 * `res.locals.params` (checked with the request) and the query is read once, into a plain
 * property that validation may coerce (express 5 parses it again on every read of `req.query`).
 */
function resolveOperation(contract: Contract, operations: RequestHandler): RequestHandler {
  const resolved = (req: Request, res: Response, next: (err?: unknown) => void, found: ReturnType<Contract['match']>) => {
    if (!found) return next(new GatewayError('ROUTE_NOT_FOUND', { detail: `no resource at ${maskedPath(req.path)}` }));
    if ('allowed' in found) {
      return next(
        new GatewayError('METHOD_NOT_ALLOWED', {
          detail: `${req.method} is not allowed here; use ${found.allowed.join(', ')}`,
          headers: { allow: found.allowed.join(', ') },
        }),
      );
    }
    res.locals.operation = found.operation;
    res.locals.params = found.params;
    Object.defineProperty(req, 'query', { value: req.query, writable: true, enumerable: true, configurable: true });
    // A path that is not valid percent-encoding is refused with the other validation problems
    // (dispatch), once the caller is known: 401 first, and a known client's refusal is logged.
    next();
  };
  return function routeOnce(req, res, next) {
    const found = contract.match(req.method, req.path);
    if (found && 'operation' in found && found.operation.authenticated) return resolved(req, res, next, found);
    operations(req, res, (err?: unknown) => (err ? next(err) : resolved(req, res, next, found)));
  };
}

/**
 * Helmet's headers, worked out once: with fixed directives they are the same for every answer,
 * and helmet would build them again for each.
 */
function securityHeaders(middleware: RequestHandler): RequestHandler {
  const set: [string, string | number | readonly string[]][] = [];
  const removed: string[] = [];
  let called = false;
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.push([name, value]);
      return recorder;
    },
    removeHeader(name: string) {
      removed.push(name);
    },
    getHeader: () => undefined,
    locals: {},
  };
  void middleware({ method: 'GET', url: '/', headers: {} } as Request, recorder as unknown as Response, (err?: unknown) => {
    if (err) throw err;
    called = true;
  });
  if (!called) throw new Error('the security headers middleware did not finish at once; it cannot be precomputed');
  return function fixedSecurityHeaders(_req, res, next) {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}

/** An answer that does not conform to the contract (only checked where `server.validateResponses` is set). */
class ResponseNotInContract extends Error {
  constructor(operationId: string, problems: { field: string; message: string }[]) {
    super(`${operationId} answered outside its contract: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`);
    this.name = 'ResponseNotInContract';
  }
}

/**
 * Checks the request against its operation's compiled validators and calls the operation's
 * handler: one middleware for every operation, so a request is routed once. Where responses are
 * validated (tests), a JSON answer that breaks the contract becomes a 500 instead.
 */
function dispatch(validation: Validation, handlers: Handlers, validateResponses: boolean): RequestHandler {
  return function dispatchOperation(req, res, next) {
    const operation = res.locals.operation as Operation;
    const handler = handlers[operation.operationId];
    // Operational endpoints (security: []) are served by the operations router; the sign-on callback, reached by a browser, is here.
    if (!operation.authenticated && !handler) return next(new GatewayError('ROUTE_NOT_FOUND', { detail: `no resource at ${maskedPath(req.path)}` }));
    if (!res.locals.params) {
      return next(new GatewayError('VALIDATION_FAILED', { detail: 'the path is not valid percent-encoding', errors: [{ field: 'path', message: 'is not valid percent-encoding' }] }));
    }
    // An answer about a person is kept by no cache on its way (a handler may say more, never less).
    if (operation.personalData) res.setHeader('cache-control', 'no-store');
    const checks = validation.of(operation.operationId);
    const headers = req.headers;
    const { params, query } = checks.request({
      params: res.locals.params as Record<string, string>,
      query: req.query as Record<string, unknown>,
      headers,
      contentType: mediaTypeOf(headers['content-type']),
      hasBody: carriesBody(req),
      body: req.body,
    });
    req.params = params as Record<string, string>;
    req.query = query as typeof req.query;
    if (validateResponses) {
      const json = res.json;
      res.json = function checkedJson(this: Response, body: unknown) {
        const problems = checks.response(this.statusCode, this.getHeader('content-type') as string | undefined, body);
        if (problems.length > 0) {
          next(new ResponseNotInContract(operation.operationId, problems));
          return this;
        }
        return json.call(this, body);
      };
    }
    return (handler ?? notImplemented)(req, res, next);
  };
}

/**
 * Runs middleware one after the other as a single express middleware: what express's router does
 * for a stack of `app.use`, without matching a path for each step. An error, thrown or rejected,
 * goes to the error handler; a step that neither answers nor calls `next` ends the request's
 * processing there, as with express.
 */
function inOrder(handlers: readonly RequestHandler[]): RequestHandler {
  return function steps(req, res, done) {
    let index = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null && err !== 'route' && err !== 'router') return done(err);
      const handler = handlers[index++];
      if (!handler) return done();
      try {
        const result = handler(req, res, next) as unknown;
        if (result instanceof Promise) result.then(undefined, (rejection: unknown) => done(rejection ?? new Error('a middleware rejected without a reason')));
      } catch (thrown) {
        done(thrown);
      }
    };
    next();
  };
}

/** The console switched off (console.enabled: false) or without a session store: its operations are not there. */
const consoleOff: Handlers = Object.fromEntries(
  ['createConsoleSession', 'getConsoleSession', 'deleteConsoleSession'].map((operationId) => [
    operationId,
    (req: Request) => {
      throw new GatewayError('ROUTE_NOT_FOUND', { detail: `no resource at ${maskedPath(req.path)}: the console is not enabled` });
    },
  ]),
);

export function createApp(deps: AppDeps): Express {
  const { config, contract } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.set('etag', false);
  app.set('query parser', 'simple');

  requestLoggers(app, deps.log);
  // The steps of every request, in order, run as one middleware (see inOrder).
  const steps: RequestHandler[] = [
    requestLifecycle(deps.log, deps.metrics),
    securityHeaders(
      helmet({
        contentSecurityPolicy: {
          // No upgrade-insecure-requests: the sandbox serves /docs over plain http on localhost.
          directives: { 'script-src': ["'self'"], 'img-src': ["'self'", 'data:'], 'connect-src': ["'self'"], 'upgrade-insecure-requests': null },
        },
      }),
    ),
  ];
  // Before anything that authenticates: a browser's preflight carries no credentials.
  const corsHandler = corsPolicy(config.server.cors);
  if (corsHandler) steps.push(corsHandler);

  // Compiled here, once: a contract the validators cannot be built from stops the start.
  const validation = createValidation(contract);
  const operations = inOrder([
    operationsRouter({ metrics: deps.metrics, document: contract.document, checks: deps.readiness, isShuttingDown: deps.isShuttingDown, jwks: deps.jwks }),
    // The console's page and files (security: [], like the API reference).
    consoleRouter({ enabled: config.console.enabled, log: deps.log }),
  ]);
  steps.push(
    resolveOperation(contract, operations),
    authenticate({ config, limiter: deps.limiter, ...(deps.clientTrust ? { clientTrust: deps.clientTrust } : {}), ...(deps.consoleSessions ? { consoleSessions: deps.consoleSessions } : {}) }),
    // Right after authentication: refusals of a known client (role, purpose, validation) are recorded too.
    recordExchanges({ log: deps.exchangeLog, hashIdentifier: deps.hashIdentifier, bodies: deps.bodies, officers: deps.officers }),
    authorize(),
    rateLimit({ limiter: deps.limiter }),
    requireAccountability({ config, procedures: deps.services.procedures, officers: deps.officers }),
    // Bodies are read only once the caller is known and allowed.
    express.json({ limit: config.server.bodyLimitBytes, type: ['application/json', 'application/*+json'], strict: true, verify: markEmptyBody }),
  );

  const { services } = deps;
  const handlers: Handlers = {
    ...enterpriseHandlers({ enterprises: services.enterprises }),
    ...citizenHandlers({ citizens: services.citizens }),
    ...procedureHandlers({ procedures: services.procedures }),
    ...accountHandlers({ links: services.accountLinks, sso: services.sso }),
    ...upstreamHandlers({ upstreams: deps.upstreams }),
    ...(deps.audit ? auditHandlers({ ...deps.audit, hashIdentifier: deps.hashIdentifier, officers: deps.officers }) : {}),
    ...dossierHandlers({ dossiers: services.dossiers, procedures: services.procedures, hashIdentifier: deps.hashIdentifier }),
    ...(services.documents ? documentHandlers({ documents: services.documents, validation, maxBytes: config.documents.maxBytes, hashIdentifier: deps.hashIdentifier, links: services.documentLinks }) : {}),
    ...reportHandlers({ figures: services.figures, serviceIndex: services.serviceIndex }),
    ...(deps.consoleSessions && config.console.enabled
      ? consoleSessionHandlers({ config, limiter: deps.limiter, sessions: deps.consoleSessions, findClient: createKeyRing(config.clients), identify: clientIdentity(config), log: deps.log })
      : consoleOff),
    ...(deps.audit
      ? subjectHandlers({
          store: deps.audit.store,
          links: services.accountLinks,
          hashIdentifier: deps.hashIdentifier,
          terms: { summaries: operationSummaries(contract.document), purposes: new Map(config.purposes.map((p) => [p.code, p.description])), officer: config.subjectAccesses.officer },
        })
      : {}),
  };
  // A module serves operations of its own, never one the composed use cases serve.
  for (const [operationId, handler] of Object.entries(services.registered ?? {})) {
    if (handlers[operationId]) throw new Error(`a national system's module registers ${operationId}, which the gateway's own use cases serve`);
    handlers[operationId] = handler;
  }
  app.use(inOrder([...steps, dispatch(validation, handlers, config.server.validateResponses)]));
  app.use(problemHandler());
  return app;
}
