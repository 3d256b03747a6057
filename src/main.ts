import { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { adapterModules, type Adapters } from '../adapters/index.ts';
import { createApp } from './app.ts';
import { createBodyVault } from './audit/bodies.ts';
import { createExchangeLog } from './audit/exchange-log.ts';
import { createIntegrator } from './audit/integrator.ts';
import { logNoteSigner } from './audit/note.ts';
import { createWitnessing, loadWitnessKey, type WitnessTarget } from './audit/witnessing.ts';
import { createAuditStore } from './audit/store.ts';
import { createOfficerRegistry, loadInspectorateKey } from './audit/officers.ts';
import { requestTimestamp } from './signing/tsa.ts';
import { ConfigError } from './config/load.ts';
import { messageSecurityOf, messageSecurityProblems } from './config/message-security.ts';
import { logSignerProblems, productionProblems } from './config/production.ts';
import type { Config, SystemId } from './config/schema.ts';
import { createCitizenService, type CitizenField } from './core/citizens.ts';
import { createAccountLinkService } from './core/account-links.ts';
import { createEnterpriseService } from './core/enterprises.ts';
import { createOutbox } from './core/dossiers/outbox.ts';
import { createDossierService } from './core/dossiers/service.ts';
import { createDossierSealer } from './core/dossiers/sealed.ts';
import { createSsoService } from './core/national-sso.ts';
import { createProcedureService } from './core/procedures.ts';
import { toVietnamIso } from './core/time.ts';
import { createSocialInsuranceService, createTaxpayerService } from './core/registries.ts';
import { createAttestationSigner, createSubjectHasher, loadHashKey } from './signing/attestation.ts';
import { loadClientTrust } from './signing/client-trust.ts';
import { createCrlReloader } from './signing/crl-reload.ts';
import { loadLogSigner, type LogSigner } from './signing/log-signer.ts';
import { loadSigningMaterial, sample, type SigningMaterial } from './signing/material.ts';
import { loadPemCredentials, readCertificates, withChain } from './signing/trust-store.ts';
import { loadContract } from './http/contract.ts';
import { listen, TLS_CIPHERS } from './http/listen.ts';
import { clientErrorHandler } from './http/problem.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import type { ReadinessCheck } from './http/routes/operations.ts';
import { createLogger, type Logger } from './logging.ts';
import { createMetrics } from './metrics.ts';
import { createPolicy, type UpstreamPolicy } from './resilience/policy.ts';
import type { Sandbox } from './sandbox/sandbox.ts';
import { createAccountLinkStore, createSsoFlowStore } from './store/account-links.ts';
import { openStore } from './store/store.ts';

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
 * The composition root: config → logger → store → sandbox (if needed) → policies → adapters →
 * use cases → app → listen. The only place that builds things.
 */
export async function startGateway(config: Config, options: StartOptions = {}): Promise<Gateway> {
  const log = createLogger(config.log, options.logDestination);
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, 'error while shutting down');
      }
    }
    cleanups.length = 0;
  };

  try {
    const missing = adapterModules.filter((m) => !config.upstreams[m.id].url).map((m) => m.id);
    // Every refusal at once, so that an operator fixes the configuration in one go.
    const problems = [...messageSecurityProblems(config, adapterModules), ...productionProblems(config, adapterModules)];
    const metrics = createMetrics();
    const expiry = (certificate: { validTo: string }) => Math.floor(new Date(certificate.validTo).getTime() / 1000);
    let signing: SigningMaterial | undefined;
    try {
      signing = loadSigningMaterial(config, {
        onPeer: (id, certificate) => metrics.certificateExpiry.set({ role: 'upstream', name: id }, expiry(certificate)),
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
    // The exchange log's own signer, apart from the TLS and message-signing certificates.
    let logSigner: LogSigner | undefined;
    const logSignerFiles = config.audit.signer ?? (config.env.production ? undefined : { certificateFile: sample('log-signer.pem'), keyFile: sample('log-signer.key.pem') });
    if (logSignerFiles) {
      try {
        logSigner = loadLogSigner(logSignerFiles, signing?.trust.intermediates ?? []);
        const others = signing ? [{ setting: 'signing', certificate: signing.credentials.certificate }] : [];
        if (config.server.tls.enabled && config.server.tls.certificateFile) others.push({ setting: 'server.tls', certificate: readCertificates(config.server.tls.certificateFile)[0]! });
        problems.push(...logSignerProblems(config, logSigner.certificate, others));
      } catch (err) {
        problems.push(`audit.signer: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0 || !signing || !logSigner) throw new ConfigError(problems);
    // A CRL replaced in its file is put in use without a restart, before the old one runs out.
    const crlReloader = createCrlReloader(
      { trust: signing.trust, log: log.child({ component: 'crl' }), onCrl: (crl) => crl.nextUpdate && metrics.crlNextUpdate.set({ issuer: crl.issuer }, Math.floor(crl.nextUpdate.getTime() / 1000)) },
      { files: signing.crlFiles },
    );
    crlReloader.check();
    crlReloader.start();
    cleanups.push(() => crlReloader.stop());
    metrics.certificateExpiry.set({ role: 'gateway', name: 'signing' }, expiry(signing.credentials.certificate));
    log.info({ certificate: signing.credentials.certificate.subject.replaceAll('\n', ', '), expires: signing.credentials.certificate.validTo }, 'signing certificate loaded');

    const store = await openStore({ url: config.database.url, sqlitePath: config.database.sqlitePath, searchPath: config.database.schema });
    cleanups.push(() => store.close());
    log.info({ store: store.location, installation: store.installationId }, 'store ready');

    let redis: Redis | undefined;
    if (config.redis.url) {
      redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
      redis.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
      await redis.connect();
      cleanups.push(async () => {
        await redis?.quit();
      });
    }

    let sandbox: Sandbox | undefined;
    if (missing.length > 0) {
      // Loaded only here: in production the simulators and their synthetic people stay on disk.
      const { startSandbox } = await import('./sandbox/sandbox.ts');
      sandbox = await startSandbox({ log: log.child({ component: 'sandbox' }) }, config.sandbox);
      cleanups.push(() => sandbox?.close());
      log.info({ control: sandbox.controlUrl, systems: sandbox.urls }, `no URL configured for ${missing.join(', ')}: using the sandbox`);
    }

    const policies = new Map<SystemId, UpstreamPolicy>();
    const upstreamUrls = {} as Record<SystemId, string>;
    const built: Partial<Record<SystemId, unknown>> = {};
    const upstreamSigning = new Map<SystemId, ReturnType<typeof signing.forUpstream>>();
    for (const module of adapterModules) {
      const upstream = config.upstreams[module.id];
      const url = upstream.url ?? sandbox!.urls[module.id]!;
      const messageSecurity = messageSecurityOf(config, module);
      const policy = createPolicy({ log, metrics }, module.id, { ...upstream, messageSecurity });
      cleanups.push(() => policy.shutdown());
      policies.set(module.id, policy);
      upstreamUrls[module.id] = url;
      const adapter = module.create(
        { log: log.child({ upstream: module.id }), policy, signing: upstreamSigning.set(module.id, signing.forUpstream(module.id)).get(module.id)! },
        {
          url,
          maxResponseBytes: upstream.maxResponseBytes,
          retryAfterSeconds: upstream.retryAfterSeconds,
          credentials: upstream.credentials,
          gatewayAgency: config.gateway.agency,
          messageSecurity,
          ...(module.id === 'population' ? { population: config.upstreams.population } : {}),
        },
      );
      cleanups.push(() => adapter.close());
      built[module.id] = adapter;
    }
    const adapters = built as Adapters;

    const tsaUrl = config.audit.tsaUrl ?? sandbox?.tsaUrl;
    if (!tsaUrl) log.warn('no TSA configured (audit.tsaUrl): checkpoints are signed but not timestamped');
    const witnessTargets: WitnessTarget[] = config.audit.witnesses.map((w, i) => {
      try {
        return { url: w.url, key: loadWitnessKey(w.vkey), timeoutMs: w.timeoutMs };
      } catch (err) {
        throw new ConfigError([`audit.witnesses.${i}.vkey: ${(err as Error).message}`]);
      }
    });
    if (sandbox && witnessTargets.length === 0) {
      // Loaded only here, like the sandbox: the inspectorate's witness as the sandbox plays it.
      const { startSandboxWitness, sandboxWitnessStateDir } = await import('./sandbox/witness.ts');
      const witness = await startSandboxWitness(
        { log: log.child({ component: 'sandbox-witness' }) },
        { host: config.sandbox.host, port: config.sandbox.port === 0 ? 0 : config.sandbox.port + 8, origin: config.audit.origin, logCertificate: logSigner.certificate, stateDir: sandboxWitnessStateDir(config) },
      );
      cleanups.push(() => witness.close());
      witnessTargets.push(witness.target);
      log.info({ url: witness.url, vkey: witness.vkey }, 'sandbox witness started');
    }
    if (witnessTargets.length === 0) log.warn('no witness configured (audit.witnesses): nobody outside the gateway can tell its checkpoints from a rewritten history');
    const witnessing = createWitnessing(
      {
        db: store.db,
        store: createAuditStore({ db: store.db }),
        log: log.child({ component: 'witnessing' }),
        onOutcome: (witness, outcome) => metrics.witnessCosignatures.inc({ witness, outcome }),
        onLag: (witness, entries) => metrics.witnessLag.set({ witness }, entries),
      },
      witnessTargets,
      { timestampedOnly: Boolean(tsaUrl) },
    );
    witnessing.start();
    cleanups.push(() => witnessing.stop());
    let noteSigner: ReturnType<typeof logNoteSigner>;
    try {
      noteSigner = logNoteSigner(config.audit.origin, logSigner.privateKey);
    } catch (err) {
      throw new ConfigError([`audit.signer: ${(err as Error).message} (the log signer also signs checkpoints as signed notes: an EC P-256 key)`]);
    }
    const integrator = createIntegrator(
      {
        db: store.db,
        dialect: store.dialect,
        log: log.child({ component: 'exchange-log' }),
        signCheckpoint: (body) => logSigner.sign(Buffer.from(body, 'utf8')),
        signNote: (body) => noteSigner.sign(body),
        timestamp: tsaUrl ? async (body) => (await requestTimestamp(tsaUrl, Buffer.from(body, 'utf8'), { trust: signing.trust, timeoutMs: 5000 })).response : undefined,
        onTimestampLag: (seconds) => metrics.logTimestampLag.set(seconds),
        onCheckpoint: (size) => {
          metrics.logTreeSize.set(size);
          if (!tsaUrl) witnessing.notify();
        },
        onTimestamped: () => witnessing.notify(),
      },
      {
        origin: config.audit.origin,
        intervalMs: config.audit.integrateIntervalMs,
        batchSize: config.audit.batchSize,
        timestampEveryMs: config.audit.timestampEverySeconds * 1000,
      },
    );
    integrator.start();
    cleanups.push(async () => {
      // Whatever was acknowledged is appended before the store closes.
      await integrator.stop();
      await integrator.runOnce();
    });

    const readiness: ReadinessCheck[] = [
      { name: 'store', check: () => store.ping() },
      {
        name: 'timestamping',
        check: async () => {
          const lag = integrator.timestampLagSeconds();
          if (lag > 10 * config.audit.timestampEverySeconds) throw new Error(`the newest checkpoint has waited ${lag} s for a timestamp`);
        },
      },
    ];
    if (redis) readiness.push({ name: 'redis', check: async () => void (await redis.ping()) });

    const attester = await createAttestationSigner(signing.credentials, { issuer: config.signing.issuer });
    let hashKey: Buffer;
    try {
      hashKey = loadHashKey(config.privacy.hashKeyFile, { create: !config.env.production });
    } catch (err) {
      throw new ConfigError([`privacy.hashKeyFile: ${(err as Error).message}`]);
    }
    const hashSubject = createSubjectHasher(hashKey);
    const contract = loadContract();
    const bodyOperations = new Set(config.audit.bodies.operations);
    const notExchanges = [...bodyOperations].filter((id) => !contract.byId.get(id)?.exchange);
    if (notExchanges.length > 0) {
      throw new ConfigError(notExchanges.map((id) => `audit.bodies.operations: "${id}" is not an operation that reaches a national system`));
    }
    const clientFields = new Map(config.clients.map((c) => [c.id, c.citizenFields]));
    const fieldPolicy = (clientId: string, purpose: string | undefined): readonly CitizenField[] => {
      const byPurpose = clientFields.get(clientId);
      return (purpose ? byPurpose?.[purpose] : undefined) ?? byPurpose?.['*'] ?? config.citizenLookup.defaultFields;
    };

    const enterprises = createEnterpriseService({ registry: adapters['business-registry'].ops });
    const citizens = createCitizenService({ population: adapters.population.ops, attester, fieldPolicy, hashSubject });
    const accountLinks = createAccountLinkService(
      { store: createAccountLinkStore({ db: store.db }), citizens, enterprises, hashIdentifier: hashSubject },
      { pendingTtlMs: config.accounts.pendingLinkTtlSeconds * 1000 },
    );
    // The callback address is known once the gateway listens, unless configured (behind a proxy).
    let listeningUrl = '';
    const redirectUri = () => config.sso.redirectUri ?? `${listeningUrl}/v1/accounts/sso/callback`;
    const sso = createSsoService(
      { signOn: adapters.vneid.ops, flows: createSsoFlowStore({ db: store.db }), links: accountLinks, attester },
      { redirectUri, returnToAllowList: config.sso.returnToAllowList, acrValues: config.sso.acrValues, flowTtlMs: config.sso.flowTtlSeconds * 1000, resultTtlSeconds: config.sso.resultTtlSeconds },
    );

    // A lease shorter than one delivery (a lookup and a sync, each up to the portal's timeout,
    // plus a login) would let a second worker send the same change while the first still waits.
    // Each of the three may also wait for a call slot (the bulkhead's queue); the worker still cuts a delivery short before its lease ends.
    const deliveryBudgetMs = 3 * (config.upstreams.dvcqg.timeoutMs + config.upstreams.dvcqg.concurrency.queueTimeoutMs);
    if (config.outbox.leaseSeconds * 1000 < deliveryBudgetMs) {
      throw new ConfigError([`outbox.leaseSeconds: must be at least three times upstreams.dvcqg.timeoutMs plus its concurrency.queueTimeoutMs (${Math.ceil(deliveryBudgetMs / 1000)} s)`]);
    }
    // One exchange log for the request path and the outbox's delivery attempts.
    const exchangeLog = createExchangeLog({ db: store.db, masterKey: hashKey });
    // Dossiers' personal data is kept encrypted, under a key derived from the privacy key (as exchange bodies' keys are).
    const dossierSealer = createDossierSealer(hashKey);
    // Dossier changes are accepted into the outbox; this process's worker delivers them (so may others on PostgreSQL).
    const outbox = createOutbox(
      { db: store.db, dialect: store.dialect, portal: adapters.dvcqg.ops, sealer: dossierSealer, exchangeLog, log: log.child({ component: 'outbox' }), metrics },
      config.outbox,
    );
    const dossiers = createDossierService({ db: store.db, hashIdentifier: hashSubject, sealer: dossierSealer, onQueued: () => outbox.wake() });
    if (config.outbox.enabled) {
      outbox.start();
      // Runs before the integrator's and the store's cleanups: attempts under way are settled or released first.
      cleanups.push(() => outbox.stop(Math.min(config.server.shutdownGraceMs, 5000)));
    }

    // Acting officers, sealed to the inspectorate's public key (the sample key outside production).
    const inspectorateKeyFile = config.audit.inspectorate?.publicKeyFile ?? (config.env.production ? undefined : sample('inspectorate.pub.pem'));
    let officers: ReturnType<typeof createOfficerRegistry> | undefined;
    if (inspectorateKeyFile) {
      try {
        officers = createOfficerRegistry({ db: store.db, publicKey: loadInspectorateKey(inspectorateKeyFile), hashIdentifier: hashSubject });
      } catch (err) {
        throw new ConfigError([`audit.inspectorate.publicKeyFile: ${(err as Error).message}`]);
      }
    }

    let shuttingDown = false;
    const clientTrust = loadClientTrust(config);
    const app = createApp({
      config,
      log,
      metrics,
      contract,
      limiter: createRateLimiter(redis),
      ...(clientTrust ? { clientTrust } : {}),
      exchangeLog,
      ...(bodyOperations.size > 0 ? { bodies: { operations: bodyOperations, vault: createBodyVault({ db: store.db, masterKey: hashKey }) } } : {}),
      audit: {
        store: createAuditStore({ db: store.db }),
        certificates: {
          signer: [logSigner.certificate, ...logSigner.chain],
          roots: [...signing.trust.roots],
          intermediates: [...signing.trust.intermediates],
        },
        timestampedAnchor: tsaUrl !== undefined,
      },
      hashIdentifier: hashSubject,
      ...(officers ? { officers } : {}),
      services: {
        enterprises,
        citizens,
        taxpayers: createTaxpayerService({ tax: adapters.tax.ops }),
        socialInsurance: createSocialInsuranceService({ socialInsurance: adapters['social-insurance'].ops }),
        procedures: createProcedureService(
          { catalogue: adapters.dvcqg.ops },
          { ttlMs: config.catalogue.ttlSeconds * 1000, maxStaleMs: config.catalogue.maxStaleSeconds * 1000 },
        ),
        dossiers,
        accountLinks,
        sso: { service: sso, redirectUri },
      },
      jwks: () => attester.jwks(),
      upstreams: () =>
        adapterModules.map((module) => {
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
          };
        }),
      readiness,
      isShuttingDown: () => shuttingDown,
    });
    const server = await listen(app, config.server.host, config.server.port);
    server.server.on('clientError', clientErrorHandler(log));
    cleanups.push(() => server.close(0));
    listeningUrl = server.url;
    let tlsServer: Awaited<ReturnType<typeof listen>> | undefined;
    if (config.server.tls.enabled) {
      const tls = loadPemCredentials(
        config.server.tls.certificateFile ?? sample('gateway.pem'),
        config.server.tls.keyFile ?? sample('gateway.key.pem'),
      );
      // The certificate is asked for, not required: a client without one may still use a key,
      // and a refused certificate gets a problem+json answer instead of a failed handshake.
      tlsServer = await listen(app, config.server.host, config.server.tls.port, {
        key: tls.key.export({ type: 'pkcs8', format: 'pem' }),
        cert: [tls.certificate, ...withChain(tls, signing.trust.intermediates).chain].map((c) => c.toString()).join(''),
        // Client certificates are asked for under the client CAs only, not the national roots.
        ...(clientTrust ? { ca: [...clientTrust.roots, ...clientTrust.intermediates].map((c) => c.toString()) } : {}),
        requestCert: clientTrust !== undefined,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        ciphers: TLS_CIPHERS,
      });
      tlsServer.server.on('clientError', clientErrorHandler(log));
      cleanups.push(() => tlsServer?.close(0));
    }
    log.info({ url: server.url, tls: tlsServer?.url, store: store.dialect, rateLimits: redis ? 'redis' : 'memory' }, 'gateway listening');

    return {
      url: server.url,
      tlsUrl: tlsServer?.url,
      log,
      sandbox,
      upstreamUrls,
      policies,
      close: async () => {
        shuttingDown = true;
        log.info({ graceMs: config.server.shutdownGraceMs }, 'shutting down');
        await Promise.all([server.close(config.server.shutdownGraceMs), tlsServer?.close(config.server.shutdownGraceMs)]);
        await cleanup();
        log.info('stopped');
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
