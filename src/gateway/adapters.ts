import type { X509Certificate } from 'node:crypto';
import { adapterModules, createAdapters, type Adapters } from '../../adapters/index.ts';
import { messageSecurityOf } from '../config/message-security.ts';
import { notConnected } from '../config/production.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Config, SystemId } from '../config/schema.ts';
import { toVietnamIso } from '../core/time.ts';
import type { Handlers } from '../http/handlers.ts';
import type { UpstreamStatus } from '../http/routes/upstreams.ts';
import type { Logger } from '../logging.ts';
import type { Metrics } from '../metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../resilience/policy.ts';
import type { Sandbox } from '../sandbox/sandbox.ts';
import type { SigningMaterial } from '../signing/material.ts';
import type { Lifecycle } from './lifecycle.ts';

/** Every national system's client, its policy (timeout, bulkhead, breaker) and where it is reached. */
export interface BuiltAdapters {
  adapters: Adapters;
  policies: Map<SystemId, UpstreamPolicy>;
  upstreamUrls: Record<SystemId, string>;
  /** Each system's breaker, error rate, latency, calls in flight and certificate expiry (GET /v1/upstreams). */
  status(): UpstreamStatus[];
  /** The handlers, by operationId, of the use cases modules serve themselves (their `routes`). */
  routes: Handlers;
}

/** The operations of a system that is not connected: each call answers 503, naming the missing setting. */
function notConnectedOps(module: { id: SystemId; name: string }): never {
  const refuse = () =>
    Promise.reject(new GatewayError('UPSTREAM_UNAVAILABLE', { detail: `${module.name} is not connected to this gateway (upstreams.${module.id}.url is not set)` }));
  // Every operation refuses; `then` stays undefined so that the object is never taken for a promise.
  return new Proxy({}, { get: (_target, name) => (name === 'then' || typeof name === 'symbol' ? undefined : refuse) }) as never;
}

/** Builds one adapter per registered module, at its configured URL or the sandbox's, and the routes modules register. */
export async function buildAdapters(
  config: Config,
  deps: { log: Logger; metrics: Metrics; signing: SigningMaterial; sandbox: Sandbox | undefined; lifecycle: Lifecycle },
): Promise<BuiltAdapters> {
  const { log, metrics, signing, sandbox, lifecycle } = deps;
  const policies = new Map<SystemId, UpstreamPolicy>();
  const upstreamUrls = {} as Record<SystemId, string>;
  const upstreamSigning = new Map<SystemId, ReturnType<typeof signing.forUpstream>>();
  const connected = adapterModules.filter((module) => !notConnected(config, module));
  for (const module of adapterModules.filter((m) => !connected.includes(m))) {
    log.warn({ upstream: module.id }, `${module.name} is not connected (no upstreams.${module.id}.url): its operations answer 503`);
  }
  const adapters = await createAdapters(connected, (module, create) => {
    const upstream = config.upstreams[module.id];
    const url = upstream.url ?? sandbox!.urls[module.id]!;
    const messageSecurity = messageSecurityOf(config, module);
    const policy = createPolicy({ log, metrics }, module.id, { ...upstream, messageSecurity });
    lifecycle.defer(() => policy.shutdown());
    policies.set(module.id, policy);
    upstreamUrls[module.id] = url;
    const moduleSigning = signing.forUpstream(module.id);
    upstreamSigning.set(module.id, moduleSigning);
    const adapter = create(
      { log: log.child({ upstream: module.id }), policy, signing: moduleSigning },
      {
        url,
        maxResponseBytes: upstream.maxResponseBytes,
        retryAfterSeconds: upstream.retryAfterSeconds,
        credentials: upstream.credentials,
        gatewayAgency: config.gateway.agency,
        messageSecurity,
        section: upstream,
      },
    );
    lifecycle.defer(() => adapter.close());
    return adapter;
  });
  const routes: Handlers = {};
  for (const module of adapterModules) {
    if (!module.routes) continue;
    const ops = connected.includes(module) ? adapters[module.id].ops : notConnectedOps(module);
    for (const [operationId, handler] of Object.entries((await module.routes())(ops, { log: log.child({ upstream: module.id }) }))) {
      // A module serves operations of its own: one that another already serves is a mistake in the registry.
      if (routes[operationId]) throw new Error(`${module.id} registers a handler for ${operationId}, which another module already serves`);
      routes[operationId] = handler;
    }
  }
  const crlNextUpdate = (peer: X509Certificate | undefined): string | null => {
    const next = peer ? signing.trust.crls().find((crl) => crl.issuerSubject === peer.issuer)?.nextUpdate : undefined;
    return next ? toVietnamIso(next) : null;
  };
  const status = (): UpstreamStatus[] =>
    connected.map((module) => {
      const stats = policies.get(module.id)!.stats();
      const peer = upstreamSigning.get(module.id)?.lastPeer?.();
      return {
        id: module.id,
        name: module.name,
        protocol: module.protocol,
        url: upstreamUrls[module.id],
        breaker: stats.state,
        errorRate: stats.errorRate,
        latencyMs: stats.latencyMs,
        inFlight: stats.inFlight,
        queued: stats.queued,
        maxInFlight: stats.maxInFlight,
        maxQueued: stats.maxQueued,
        certificateExpiresAt: peer ? toVietnamIso(new Date(peer.validTo)) : null,
        // The CRL that decides whether that certificate is revoked: its issuer's.
        crlNextUpdate: crlNextUpdate(peer),
      };
    });
  return { adapters, policies, upstreamUrls, status, routes };
}
