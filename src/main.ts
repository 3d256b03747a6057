import type { DestinationStream } from 'pino';
import { createApp } from './app.ts';
import type { Config, SystemId } from './config/schema.ts';
import { loadContract } from './http/contract.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import type { ReadinessCheck } from './http/routes/operations.ts';
import { createLogger, type Logger } from './logging.ts';
import { createMetrics } from './metrics.ts';
import type { UpstreamPolicy } from './resilience/policy.ts';
import type { Sandbox } from './sandbox/sandbox.ts';
import { createAttestationSigner, createSubjectHasher } from './signing/attestation.ts';
import { loadClientTrust } from './signing/client-trust.ts';
import { buildAdapters } from './gateway/adapters.ts';
import { startAuditPipeline } from './gateway/audit.ts';
import { loadMaterial, startInfrastructure } from './gateway/infrastructure.ts';
import { Lifecycle } from './gateway/lifecycle.ts';
import { startListeners } from './gateway/listeners.ts';
import { composeServices } from './gateway/services.ts';
import { createConsoleSessions } from './store/console-sessions.ts';

export interface Gateway {
  url: string;
  /** The HTTPS listener (mutual TLS), when enabled. */
  tlsUrl: string | undefined;
  log: Logger;
  /** The sandbox the gateway started because upstream URLs were missing, if it did. */
  sandbox: Sandbox | undefined;
  upstreamUrls: Record<SystemId, string>;
  policies: Map<SystemId, UpstreamPolicy>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where log lines go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
}

/**
 * The composition root: material → infrastructure (store, sandbox) → adapters → exchange log →
 * use cases → app → listeners. Each step lives in src/gateway/; whatever a step started is
 * undone, in reverse, on close or when a later step fails.
 */
export async function startGateway(config: Config, options: StartOptions = {}): Promise<Gateway> {
  const log = createLogger(config.log, options.logDestination);
  const lifecycle = new Lifecycle(log);
  try {
    const metrics = createMetrics();
    const material = loadMaterial(config, metrics);
    const infrastructure = await startInfrastructure(config, { log, metrics, material, lifecycle });
    const upstreams = await buildAdapters(config, { log, metrics, signing: material.signing, sandbox: infrastructure.sandbox, lifecycle });
    const hashIdentifier = createSubjectHasher(material.hashKey);
    const contract = loadContract();
    const audit = await startAuditPipeline(config, { log, metrics, material, infrastructure, contract, lifecycle, hashIdentifier });
    const attester = await createAttestationSigner(material.signing.credentials, { issuer: config.signing.issuer });
    let listeningUrl = '';
    const services = composeServices(config, {
      log,
      metrics,
      store: infrastructure.store,
      adapters: upstreams.adapters,
      exchangeLog: audit.exchangeLog,
      attester,
      hashKey: material.hashKey,
      hashIdentifier,
      listeningUrl: () => listeningUrl,
      lifecycle,
      signingTrust: material.signing.trust,
      sandboxTsaUrl: infrastructure.sandbox?.tsaUrl,
    });

    const { store, redis } = infrastructure;
    const readiness: ReadinessCheck[] = [{ name: 'store', check: () => store.ping() }, audit.readiness];
    if (redis) readiness.push({ name: 'redis', check: async () => void (await redis.ping()) });
    let shuttingDown = false;
    const clientTrust = loadClientTrust(config);
    const app = createApp({
      config,
      log,
      metrics,
      contract,
      limiter: createRateLimiter(redis),
      ...(clientTrust ? { clientTrust } : {}),
      exchangeLog: audit.exchangeLog,
      ...(audit.bodies ? { bodies: audit.bodies } : {}),
      audit: audit.audit,
      hashIdentifier,
      ...(audit.officers ? { officers: audit.officers } : {}),
      consoleSessions: createConsoleSessions({ db: store.db, hashIdentifier, idleSeconds: config.console.sessionIdleSeconds, maxSeconds: config.console.sessionMaxSeconds }),
      services: { ...services, registered: upstreams.routes },
      jwks: () => attester.jwks(),
      upstreams: upstreams.status,
      readiness,
      isShuttingDown: () => shuttingDown,
    });
    const listeners = await startListeners(config, app, { log, intermediates: material.signing.trust.intermediates, clientTrust, lifecycle });
    listeningUrl = listeners.http.url;
    if (infrastructure.sandbox && services.documents) {
      // The sandbox's sample documents, deposited once (their addresses are the gateway's: once it listens); loaded only here, as the sandbox is.
      const { depositSampleDocuments } = await import('./sandbox/sample-documents.ts');
      await depositSampleDocuments({ documents: services.documents, log: log.child({ component: 'sandbox' }), hashIdentifier });
    }
    if (infrastructure.sandbox && config.sandbox.sampleDossiers) {
      // The sample dossiers, handed over once through the dossier service (delivered to the sandbox's national portal).
      const { depositSampleDossiers } = await import('./sandbox/sample-dossiers.ts');
      await depositSampleDossiers({ dossiers: services.dossiers, log: log.child({ component: 'sandbox' }), hashIdentifier });
    }
    log.info({ url: listeners.http.url, tls: listeners.tls?.url, store: store.dialect, rateLimits: redis ? 'redis' : 'memory' }, 'gateway listening');

    return {
      url: listeners.http.url,
      tlsUrl: listeners.tls?.url,
      log,
      sandbox: infrastructure.sandbox,
      upstreamUrls: upstreams.upstreamUrls,
      policies: upstreams.policies,
      close: async () => {
        shuttingDown = true;
        log.info({ graceMs: config.server.shutdownGraceMs }, 'shutting down');
        await Promise.all([listeners.http.close(config.server.shutdownGraceMs), listeners.tls?.close(config.server.shutdownGraceMs)]);
        await lifecycle.close();
        log.info('stopped');
      },
    };
  } catch (err) {
    await lifecycle.close();
    throw err;
  }
}
