import type { AppDeps } from '../app.ts';
import { createBodyVault } from '../audit/bodies.ts';
import { createExchangeLog, type ExchangeLog } from '../audit/exchange-log.ts';
import { createIntegrator } from '../audit/integrator.ts';
import { logNoteSigner } from '../audit/note.ts';
import { createOfficerRegistry, loadInspectorateKey, type OfficerRegistry } from '../audit/officers.ts';
import { createAuditStore } from '../audit/store.ts';
import { createWitnessing, loadWitnessKey, type WitnessTarget } from '../audit/witnessing.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Contract } from '../http/contract.ts';
import type { ReadinessCheck } from '../http/routes/operations.ts';
import type { Logger } from '../logging.ts';
import type { Metrics } from '../metrics.ts';
import { sample } from '../signing/material.ts';
import { requestTimestamp } from '../signing/tsa.ts';
import type { Infrastructure, Material } from './infrastructure.ts';
import type { Lifecycle } from './lifecycle.ts';

/** The exchange log as the request path and the auditors' operations use it. */
export interface AuditPipeline {
  exchangeLog: ExchangeLog;
  /** Operations whose bodies are kept, encrypted, beside the log. */
  bodies: AppDeps['bodies'];
  /** Acting officers sealed to the inspectorate's key. */
  officers: OfficerRegistry | undefined;
  /** The read side for auditors and the certificates export bundles carry. */
  audit: NonNullable<AppDeps['audit']>;
  readiness: ReadinessCheck;
}

/** Witnesses from the configuration, or the sandbox's own when the sandbox runs and none is configured. */
async function witnessTargets(config: Config, deps: { log: Logger; material: Material; infrastructure: Infrastructure; lifecycle: Lifecycle }): Promise<WitnessTarget[]> {
  const targets: WitnessTarget[] = config.audit.witnesses.map((w, i) => {
    try {
      return { url: w.url, key: loadWitnessKey(w.vkey), timeoutMs: w.timeoutMs };
    } catch (err) {
      throw new ConfigError([`audit.witnesses.${i}.vkey: ${(err as Error).message}`]);
    }
  });
  if (deps.infrastructure.sandbox && targets.length === 0) {
    // Loaded only here, like the sandbox: the inspectorate's witness as the sandbox plays it.
    const { startSandboxWitness, sandboxWitnessStateDir } = await import('../sandbox/witness.ts');
    const witness = await startSandboxWitness(
      { log: deps.log.child({ component: 'sandbox-witness' }) },
      {
        host: config.sandbox.host,
        sandboxPort: config.sandbox.port,
        origin: config.audit.origin,
        logCertificate: deps.material.logSigner.certificate,
        stateDir: sandboxWitnessStateDir(config),
      },
    );
    deps.lifecycle.defer(() => witness.close());
    targets.push(witness.target);
    deps.log.info({ url: witness.url, vkey: witness.vkey }, 'sandbox witness started');
  }
  if (targets.length === 0) deps.log.warn('no witness configured (audit.witnesses): nobody outside the gateway can tell its checkpoints from a rewritten history');
  return targets;
}

/**
 * The exchange log: where exchanges are made durable, the integrator that appends them to the
 * Merkle tree and signs (and timestamps) checkpoints, the witnesses that cosign them, the sealed
 * officer registry and the auditors' read side.
 */
export async function startAuditPipeline(
  config: Config,
  deps: { log: Logger; metrics: Metrics; material: Material; infrastructure: Infrastructure; contract: Contract; lifecycle: Lifecycle; hashIdentifier: (value: string) => string },
): Promise<AuditPipeline> {
  const { log, metrics, material, lifecycle } = deps;
  const { store, sandbox } = deps.infrastructure;
  const { signing, logSigner, hashKey } = material;

  const bodyOperations = new Set(config.audit.bodies.operations);
  const notExchanges = [...bodyOperations].filter((id) => !deps.contract.byId.get(id)?.exchange);
  if (notExchanges.length > 0) {
    throw new ConfigError(notExchanges.map((id) => `audit.bodies.operations: "${id}" is not an operation that reaches a national system`));
  }
  let noteSigner: ReturnType<typeof logNoteSigner>;
  try {
    noteSigner = logNoteSigner(config.audit.origin, logSigner.privateKey);
  } catch (err) {
    throw new ConfigError([`audit.signer: ${(err as Error).message} (the log signer also signs checkpoints as signed notes: an EC P-256 key)`]);
  }
  // Acting officers, sealed to the inspectorate's public key (the sample key outside production).
  const inspectorateKeyFile = config.audit.inspectorate?.publicKeyFile ?? (config.env.production ? undefined : sample('inspectorate.pub.pem'));
  let officers: OfficerRegistry | undefined;
  if (inspectorateKeyFile) {
    try {
      officers = createOfficerRegistry({ db: store.db, publicKey: loadInspectorateKey(inspectorateKeyFile), hashIdentifier: deps.hashIdentifier });
    } catch (err) {
      throw new ConfigError([`audit.inspectorate.publicKeyFile: ${(err as Error).message}`]);
    }
  }

  const tsaUrl = config.audit.tsaUrl ?? sandbox?.tsaUrl;
  if (!tsaUrl) log.warn('no TSA configured (audit.tsaUrl): checkpoints are signed but not timestamped');
  // One read side of the log, for the witnesses' submissions and the auditors' operations.
  const auditStore = createAuditStore({ db: store.db });
  const witnessing = createWitnessing(
    {
      db: store.db,
      store: auditStore,
      log: log.child({ component: 'witnessing' }),
      onOutcome: (witness, outcome) => metrics.witnessCosignatures.inc({ witness, outcome }),
      onLag: (witness, entries) => metrics.witnessLag.set({ witness }, entries),
    },
    await witnessTargets(config, deps),
    { timestampedOnly: Boolean(tsaUrl) },
  );
  witnessing.start();
  lifecycle.defer(() => witnessing.stop());
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
  lifecycle.defer(async () => {
    // Whatever was acknowledged is appended before the store closes.
    await integrator.stop();
    await integrator.runOnce();
  });

  return {
    exchangeLog: createExchangeLog({ db: store.db, masterKey: hashKey }),
    bodies: bodyOperations.size > 0 ? { operations: bodyOperations, vault: createBodyVault({ db: store.db, masterKey: hashKey }) } : undefined,
    officers,
    audit: {
      store: auditStore,
      certificates: { signer: [logSigner.certificate, ...logSigner.chain], roots: [...signing.trust.roots], intermediates: [...signing.trust.intermediates] },
      timestampedAnchor: tsaUrl !== undefined,
    },
    readiness: {
      name: 'timestamping',
      check: async () => {
        const lag = integrator.timestampLagSeconds();
        if (lag > 10 * config.audit.timestampEverySeconds) throw new Error(`the newest checkpoint has waited ${lag} s for a timestamp`);
      },
    },
  };
}
