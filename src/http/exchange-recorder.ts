import type { Request, RequestHandler, Response } from 'express';
import { canonicalize } from 'json-canonicalize';
import { keyedLeaf, outcomeOf, type UpstreamCall } from '../audit/leaf.ts';
import type { BodyVault } from '../audit/bodies.ts';
import type { ExchangeLog } from '../audit/exchange-log.ts';
import type { AuthenticatedClient } from './auth.ts';
import type { Operation } from './contract.ts';

/** What exchangeContext leaves on res.locals for the recorder. */
export interface ExchangeState {
  id: string;
  /** performance.now() and wall-clock time when the exchange began. */
  started: number;
  startedAt: number;
  upstream: string | null;
  calls: UpstreamCall[];
  /** Set when the call really went out to a national system. */
  reached: boolean;
}

/** The identifier of the person or enterprise the exchange is about, wherever the operation carries it. */
function subjectOf(req: Request): string | undefined {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const subject = body.subject as Record<string, unknown> | undefined;
  const candidates = [body.idNumber, body.insuranceCode, subject?.idNumber, subject?.enterpriseCode, req.params.taxCode, req.params.enterpriseCode];
  return candidates.find((c): c is string => typeof c === 'string' && c.length > 0);
}

/** Operations whose bodies are kept, and the vault that encrypts them. */
export interface BodyRecording {
  operations: ReadonlySet<string>;
  vault: BodyVault;
}

/**
 * For operations that reach a national system: the answer is held back until its exchange-log
 * leaf is durable, so nothing is ever answered that the log does not hold. A leaf that cannot be
 * written turns the answer into an error rather than an unlogged success. For operations listed
 * in `bodies`, the encrypted request and response are committed in the leaf's transaction: the
 * bytes stored are exactly those digested into the leaf's requestMac and responseMac.
 */
export function recordExchanges(deps: { log: ExchangeLog; hashIdentifier: (value: string) => string; bodies?: BodyRecording | undefined }): RequestHandler {
  return (req, res, next) => {
    const operation = res.locals.operation as Operation | undefined;
    if (!operation?.exchange) return next();
    const send = res.send.bind(res) as (body?: unknown) => Response;
    let recorded = false;
    res.send = ((body?: unknown) => {
      const exchange = res.locals.exchange as ExchangeState | undefined;
      if (recorded || !exchange?.reached) return send(body);
      recorded = true;
      const client = res.locals.client as AuthenticatedClient;
      const responseText = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const requestText = canonicalize({ method: req.method, path: req.path, query: req.query ?? {}, body: req.body ?? null });
      // A handler that learns the subject only from the national system (sign-on) names it in res.locals.subject.
      const subject = (res.locals.subject as string | undefined) ?? subjectOf(req);
      const leaf = keyedLeaf(
        {
          id: exchange.id,
          time: new Date(exchange.startedAt).toISOString(),
          client: client.id,
          agency: client.agency,
          operation: operation.operationId,
          upstream: exchange.upstream,
          purpose: (res.locals.purpose as string | undefined) ?? null,
          userHash: deps.hashIdentifier(`user:${(res.locals.userId as string | undefined) ?? ''}`),
          subjectHash: subject ? deps.hashIdentifier(subject) : null,
          outcome: outcomeOf(res.statusCode, res.locals.errorCode as string | undefined),
          status: res.statusCode,
          latencyMs: Math.round(performance.now() - exchange.started),
          upstreamCalls: exchange.calls,
        },
        deps.log.digest,
        requestText,
        responseText ?? '',
      );
      const bodies = deps.bodies?.operations.has(operation.operationId) ? deps.bodies.vault : undefined;
      const durable = bodies
        ? bodies.seal(exchange.id, new Date(exchange.startedAt), requestText, responseText ?? '').then((body) => deps.log.enqueue(leaf, body))
        : deps.log.enqueue(leaf);
      durable.then(
        () => send(body),
        (err: unknown) => {
          req.log.error({ err, exchangeId: exchange.id }, 'exchange could not be logged; answer withheld');
          res.removeHeader('x-exchange-id');
          res.status(500).type('application/problem+json');
          send(JSON.stringify({ type: 'https://lienthong.sonla.gov.vn/problems/internal-error', title: 'Internal error', status: 500, detail: 'the exchange could not be recorded; nothing was answered', code: 'INTERNAL_ERROR', requestId: String(res.getHeader('x-request-id') ?? '') }));
        },
      );
      return res;
    }) as typeof res.send;
    next();
  };
}
