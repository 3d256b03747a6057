/**
 * A process that writes to the exchange log as the gateway does: it enqueues leaves, printing
 * `ack <id>` once each is durable, while its integrator appends them. Tests kill it with SIGKILL
 * at random moments, or run two at once on PostgreSQL.
 * Usage: node --import tsx test/helpers/log-writer.ts <sqlite path | postgres url> [schema] [count]
 */
import { randomBytes, randomUUID, sign } from 'node:crypto';
import { createExchangeLog } from '../../src/audit/exchange-log.ts';
import { createIntegrator } from '../../src/audit/integrator.ts';
import { bindingHash, sha256Hex, type ExchangeLeaf } from '../../src/audit/leaf.ts';
import { createLogger } from '../../src/logging.ts';
import { sample } from '../../src/signing/material.ts';
import { loadPemCredentials } from '../../src/signing/trust-store.ts';
import { openStore } from '../../src/store/store.ts';

const [target = '', schema, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 100_000);
const store = await openStore(target.startsWith('postgres') ? { url: target, ...(schema ? { searchPath: schema } : {}), poolSize: 4 } : { sqlitePath: target });
const credentials = loadPemCredentials(sample('gateway.pem'), sample('gateway.key.pem'));
const integrator = createIntegrator(
  {
    db: store.db,
    dialect: store.dialect,
    log: createLogger({ level: 'silent' }),
    // The crash tests are about indexes, not CMS: a raw signature stands in.
    signCheckpoint: async (body) => sign('sha256', Buffer.from(body), credentials.key),
  },
  { origin: 'test.lienthong/log', intervalMs: 5, batchSize: 50, timestampEveryMs: 60_000 },
);
integrator.start();
const log = createExchangeLog({ db: store.db, masterKey: randomBytes(32) });

function leaf(i: number): ExchangeLeaf {
  const id = randomUUID();
  const requestHash = sha256Hex(`request ${i}`);
  const responseHash = sha256Hex(`response ${i}`);
  return {
    id,
    time: new Date().toISOString(),
    client: `client-${process.pid}`,
    agency: 'H52',
    operation: 'getEnterprise',
    upstream: 'business-registry',
    purpose: null,
    userHash: sha256Hex('user'),
    subjectHash: null,
    requestHash,
    responseHash,
    bindingHash: bindingHash(id, requestHash, responseHash),
    outcome: 'success',
    status: 200,
    latencyMs: 1,
    upstreamCalls: [],
  };
}

for (let i = 0; i < count; i++) {
  const l = leaf(i);
  await log.enqueue(l);
  process.stdout.write(`ack ${l.id}\n`);
}
await integrator.stop();
await integrator.runOnce();
await store.close();
process.stdout.write('done\n');
