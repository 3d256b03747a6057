import { createPrivateKey, type X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logging.ts';
import { parseWitnessKey } from '../audit/note.ts';
import { startWitness } from '../audit/witness.ts';
import type { WitnessTarget } from '../audit/witnessing.ts';
import { sample } from '../signing/material.ts';
import { RESERVED_PORT_OFFSETS } from './sandbox.ts';

/** The sample witness's key name (certs-sample/witness.key.pem, certs-sample/witness.vkey). */
export const SANDBOX_WITNESS_NAME = 'thanhtra.sonla.gov.vn/witness-sandbox';

export interface SandboxWitness {
  url: string;
  vkey: string;
  /** What the gateway submits its checkpoints to. */
  target: WitnessTarget;
  close(): Promise<void>;
}

/**
 * Where the sandbox witness keeps its state: beside the gateway's SQLite file (./data/witness by
 * default), so that a fresh database comes with a fresh witness; a temporary directory for an
 * in-memory database; per schema under the system's temporary directory on PostgreSQL.
 */
export function sandboxWitnessStateDir(config: Pick<Config, 'database'>): string {
  if (config.database.url) return join(tmpdir(), 'lienthong-witness', config.database.schema ?? 'public');
  if (config.database.sqlitePath === ':memory:') return mkdtempSync(join(tmpdir(), 'lienthong-witness-'));
  return join(dirname(config.database.sqlitePath), 'witness');
}

/**
 * The inspectorate's witness as the sandbox runs it: the sample witness key, following the
 * gateway's log (its origin, its log signer's certificate), its state under `stateDir`.
 */
export async function startSandboxWitness(
  deps: { log: Logger },
  options: { host: string; /** The sandbox's control port (0: any free port): the witness takes its reserved offset from it. */ sandboxPort: number; origin: string; logCertificate: X509Certificate; stateDir: string },
): Promise<SandboxWitness> {
  const { witness, server } = await startWitness({
    name: SANDBOX_WITNESS_NAME,
    privateKey: createPrivateKey(readFileSync(sample('witness.key.pem'))),
    logs: [{ origin: options.origin, key: options.logCertificate }],
    stateDir: options.stateDir,
    log: deps.log,
    host: options.host,
    port: options.sandboxPort === 0 ? 0 : options.sandboxPort + RESERVED_PORT_OFFSETS.witness,
  });
  return {
    url: server.url,
    vkey: witness.vkey,
    target: { url: server.url, key: parseWitnessKey(witness.vkey), timeoutMs: 5000 },
    close: () => server.close(0),
  };
}
