import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../logging.ts';
import { startWitness, type WitnessedLog } from '../audit/witness.ts';
import { AuditUsageError } from './audit.ts';

export const WITNESS_USAGE = `  audit witness --key KEY.pem --name NAME --log ORIGIN=CERT_OR_PUBKEY.pem [--log ...]
                --state DIR [--listen HOST:PORT]
                                 run a witness (c2sp.org/tlog-witness) of exchange logs, as an
                                 inspectorate does: POST /add-checkpoint cosigns (cosignature/v1)
                                 a log's checkpoint signed by its log signer (certificate or
                                 public key) once proven consistent with the last one it
                                 cosigned, kept in DIR (one file per log, ORIGIN.checkpoint,
                                 what \`audit verify --witness-checkpoint\` reads). KEY.pem: the
                                 witness's Ed25519 private key; its verifier key is printed at
                                 start. Listens on 127.0.0.1:8099 unless --listen
`;

/** A log signer's certificate, or its public key (SPKI PEM). */
function readLogKey(file: string): X509Certificate | KeyObject {
  const pem = readFileSync(file, 'utf8');
  return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem) : createPublicKey(pem);
}

function parseLog(value: string): WitnessedLog {
  const eq = value.lastIndexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new AuditUsageError(`--log ${value}: expected ORIGIN=FILE.pem`);
  const origin = value.slice(0, eq);
  const file = value.slice(eq + 1);
  try {
    return { origin, key: readLogKey(file) };
  } catch (err) {
    throw new AuditUsageError(`--log ${value}: ${(err as Error).message}`);
  }
}

function parseListen(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new AuditUsageError(`--listen ${value}: expected HOST:PORT`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** `lienthong audit witness`: runs until SIGINT or SIGTERM. */
export async function runWitness(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      key: { type: 'string' },
      name: { type: 'string' },
      log: { type: 'string', multiple: true },
      state: { type: 'string' },
      listen: { type: 'string' },
    },
    strict: true,
  });
  if (!values.key || !values.name || !values.log?.length || !values.state) throw new AuditUsageError('audit witness needs --key, --name, --log ORIGIN=FILE.pem and --state');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(values.key));
  } catch (err) {
    throw new AuditUsageError(`--key ${values.key}: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AuditUsageError(`--key ${values.key}: a witness key is an Ed25519 private key`);
  const logs = values.log.map(parseLog);
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:8099');
  const log = createLogger({ level: env.LOG_LEVEL ?? 'info' });
  let started;
  try {
    started = await startWitness({ name: values.name, privateKey, logs, stateDir: values.state, log, host, port });
  } catch (err) {
    if ((err as Error).name === 'NoteError') throw new AuditUsageError((err as Error).message);
    throw err;
  }
  const { witness, server } = started;
  out(`witness ${witness.name} listening on ${server.url}/add-checkpoint for ${logs.map((l) => l.origin).join(', ')}`);
  out(`verifier key: ${witness.vkey}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
  });
  await server.close(2000);
  return 0;
}
