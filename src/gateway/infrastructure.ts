import { Redis } from 'ioredis';
import { adapterModules } from '../../adapters/index.ts';
import { ConfigError } from '../config/load.ts';
import { messageSecurityProblems } from '../config/message-security.ts';
import { logSignerProblems, notConnected, productionProblems } from '../config/production.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logging.ts';
import type { Metrics } from '../metrics.ts';
import type { Sandbox } from '../sandbox/sandbox.ts';
import { loadHashKey } from '../signing/attestation.ts';
import { createCrlReloader } from '../signing/crl-reload.ts';
import { loadLogSigner, type LogSigner } from '../signing/log-signer.ts';
import { loadSigningMaterial, sample, type SigningMaterial } from '../signing/material.ts';
import { readCertificates } from '../signing/trust-store.ts';
import { openStore, type Store } from '../store/store.ts';
import type { Lifecycle } from './lifecycle.ts';

/** The keys and certificates the gateway runs with, all checked before anything starts. */
export interface Material {
  signing: SigningMaterial;
  /** The exchange log's own signer, apart from the TLS and message-signing certificates. */
  logSigner: LogSigner;
  /** The privacy key: keyed hashes of identifiers, and the keys that seal stored personal data. */
  hashKey: Buffer;
}

/** What the adapters and use cases are built on. */
export interface Infrastructure {
  store: Store;
  redis: Redis | undefined;
  /** The sandbox the gateway started because upstream URLs were missing, if it did. */
  sandbox: Sandbox | undefined;
}

const expiry = (certificate: { validTo: string }) => Math.floor(new Date(certificate.validTo).getTime() / 1000);

/**
 * Loads and checks the configuration's keys and certificates. Every refusal at once (ConfigError),
 * so that an operator fixes the configuration in one go.
 */
export function loadMaterial(config: Config, metrics: Metrics): Material {
  const problems = [...messageSecurityProblems(config, adapterModules), ...productionProblems(config, adapterModules)];
  let signing: SigningMaterial | undefined;
  try {
    signing = loadSigningMaterial(config, {
      onPeer: (id, certificate) => metrics.certificateExpiry.set({ role: 'upstream', name: id }, expiry(certificate)),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
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
  let hashKey: Buffer | undefined;
  try {
    hashKey = loadHashKey(config.privacy.hashKeyFile, { create: !config.env.production });
  } catch (err) {
    problems.push(`privacy.hashKeyFile: ${(err as Error).message}`);
  }
  if (problems.length > 0 || !signing || !logSigner || !hashKey) throw new ConfigError(problems);
  metrics.certificateExpiry.set({ role: 'gateway', name: 'signing' }, expiry(signing.credentials.certificate));
  return { signing, logSigner, hashKey };
}

/**
 * Puts the material to work and opens what the gateway keeps state in: CRL reloading, the store,
 * Redis when configured, and the sandbox for every system without a configured URL.
 */
export async function startInfrastructure(config: Config, deps: { log: Logger; metrics: Metrics; material: Material; lifecycle: Lifecycle }): Promise<Infrastructure> {
  const { log, metrics, lifecycle } = deps;
  const { signing } = deps.material;
  // A CRL replaced in its file is put in use without a restart, before the old one runs out.
  const crlReloader = createCrlReloader(
    { trust: signing.trust, log: log.child({ component: 'crl' }), onCrl: (crl) => crl.nextUpdate && metrics.crlNextUpdate.set({ issuer: crl.issuer }, Math.floor(crl.nextUpdate.getTime() / 1000)) },
    { files: signing.crlFiles },
  );
  crlReloader.check();
  crlReloader.start();
  lifecycle.defer(() => crlReloader.stop());
  log.info({ certificate: signing.credentials.certificate.subject.replaceAll('\n', ', '), expires: signing.credentials.certificate.validTo }, 'signing certificate loaded');

  const store = await openStore({ url: config.database.url, sqlitePath: config.database.sqlitePath, searchPath: config.database.schema });
  lifecycle.defer(() => store.close());
  log.info({ store: store.location, installation: store.installationId }, 'store ready');

  let redis: Redis | undefined;
  if (config.redis.url) {
    const client = new Redis(config.redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    client.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
    await client.connect();
    lifecycle.defer(async () => void (await client.quit()));
    redis = client;
  }

  let sandbox: Sandbox | undefined;
  const missing = adapterModules.filter((m) => !config.upstreams[m.id].url && !notConnected(config, m)).map((m) => m.id);
  if (missing.length > 0) {
    // Loaded only here: in production the simulators and their synthetic people stay on disk.
    const { startSandbox } = await import('../sandbox/sandbox.ts');
    const started = await startSandbox({ log: log.child({ component: 'sandbox' }) }, config.sandbox);
    lifecycle.defer(() => started.close());
    log.info({ control: started.controlUrl, systems: started.urls }, `no URL configured for ${missing.join(', ')}: using the sandbox`);
    sandbox = started;
  }
  return { store, redis, sandbox };
}
