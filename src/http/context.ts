import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { CallContext } from '../core/ports.ts';
import { deferredLogger } from '../logging.ts';
import { officerHash } from '../audit/officers.ts';
import type { Actor } from '../core/dossiers/service.ts';
import { scopeOf, type AuthenticatedClient, type Scope } from './auth.ts';
import type { ExchangeState } from './exchange-recorder.ts';

/**
 * The context for a call that may reach a national system. It gets an exchange id, returned as
 * X-Exchange-Id (on success and failure alike) once the call goes out, and an AbortSignal that
 * fires if the caller hangs up.
 */
export function exchangeContext(req: Request, res: Response): CallContext {
  const client = res.locals.client as AuthenticatedClient;
  const exchangeId = randomUUID();
  const state: ExchangeState = { id: exchangeId, started: performance.now(), startedAt: Date.now(), upstream: null, calls: [], reached: false };
  res.locals.exchange = state;
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  let log: CallContext['log'] | undefined;
  return {
    requestId: String(res.getHeader('x-request-id')),
    exchangeId,
    signal: controller.signal,
    // Made when the call logs something: most calls never do.
    get log() {
      return (log ??= deferredLogger(req.log, () => req.log.child({ exchangeId })));
    },
    clientId: client.id,
    agency: client.agency,
    purpose: res.locals.purpose as string | undefined,
    userId: res.locals.userId as string | undefined,
    // Only a request that reached a national system names an exchange.
    exchangeStarted: (upstream) => {
      state.reached = true;
      state.upstream ??= upstream;
      if (!res.headersSent) res.setHeader('x-exchange-id', exchangeId);
    },
    recordCall: (call) => {
      state.calls.push(call);
    },
  };
}

/**
 * Who acts in a request that changes something: the client, its agency and scope, and the acting
 * user hashed as the exchange recorder hashes it, so that entries the change leads to later (a
 * dossier's delivery) name the same officer as the API call's entry.
 */
export function actorOf(res: Response, hashIdentifier: (value: string) => string): Actor & { scope: Scope } {
  const client = res.locals.client as AuthenticatedClient;
  return {
    clientId: client.id,
    agency: client.agency,
    userHash: officerHash(hashIdentifier, (res.locals.userId as string | undefined) ?? ''),
    purpose: (res.locals.purpose as string | undefined) ?? null,
    scope: scopeOf(client),
  };
}
