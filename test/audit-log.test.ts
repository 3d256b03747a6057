import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createIntegrator } from '../src/audit/integrator.ts';
import { MerkleAccumulator, rangeRoot, rootHash, type GetNode } from '../src/audit/merkle.ts';
import { createLogger } from '../src/logging.ts';
import { openStore, type Store } from '../src/store/store.ts';

const pgUrl = process.env.TEST_DATABASE_URL;
if (!pgUrl) console.log('two-process exchange log test on PostgreSQL skipped: TEST_DATABASE_URL is not set');

interface Writer {
  acks: Set<string>;
  exited: Promise<number | null>;
  kill(): void;
  waitForAcks(n: number): Promise<void>;
}

function writer(args: string[]): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/log-writer.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks = new Set<string>();
  let buffered = '';
  let stderr = '';
  const waiters: { n: number; resolve: () => void }[] = [];
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('ack ')) acks.add(line.slice(4));
    for (const w of waiters.splice(0)) {
      if (acks.size >= w.n) w.resolve();
      else waiters.push(w);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  void exited.then((code) => {
    if (code !== 0 && code !== null) console.error(stderr);
  });
  return {
    acks,
    exited,
    kill: () => child.kill('SIGKILL'),
    waitForAcks: (n) => new Promise((resolve) => (acks.size >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

/** Appends whatever is queued and checks the whole log: indexes, hashes, nodes, root, checkpoint. */
async function integrateAndCheck(store: Store, acknowledged: Set<string>): Promise<number> {
  const integrator = createIntegrator(
    { db: store.db, dialect: store.dialect, log: createLogger({ level: 'silent' }), signCheckpoint: async () => Buffer.from('sig') },
    { origin: 'test.lienthong/log', intervalMs: 1000, batchSize: 1000, timestampEveryMs: 60_000 },
  );
  await integrator.runOnce();
  expect(await store.db.selectFrom('exchange_queue').select('seq').execute()).toEqual([]);
  const entries = await store.db.selectFrom('exchange_entries').select(['idx', 'exchange_id', 'leaf_hash']).orderBy('idx').execute();
  // No gap, no duplicate: index i is the i-th entry.
  entries.forEach((e, i) => expect(e.idx).toBe(i));
  expect(new Set(entries.map((e) => e.exchange_id)).size).toBe(entries.length);
  const present = new Set(entries.map((e) => e.exchange_id));
  for (const id of acknowledged) expect(present.has(id), `acknowledged ${id} was lost`).toBe(true);
  const leaves = entries.map((e) => Buffer.from(e.leaf_hash, 'hex'));
  const nodes = new Map((await store.db.selectFrom('merkle_nodes').selectAll().execute()).map((n) => [`${n.level}:${n.idx}`, Buffer.from(n.hash, 'hex')]));
  const getNode: GetNode = (level, index) => {
    const hash = level === 0 ? leaves[index] : nodes.get(`${level}:${index}`);
    if (!hash) throw new Error(`missing node ${level}:${index}`);
    return hash;
  };
  const root = rootHash(leaves);
  expect(rangeRoot(0, leaves.length, getNode).equals(root)).toBe(true);
  const state = await store.db.selectFrom('exchange_log_state').selectAll().executeTakeFirstOrThrow();
  expect(state.tree_size).toBe(leaves.length);
  expect(MerkleAccumulator.fromJSON(JSON.parse(state.frontier)).root().equals(root)).toBe(true);
  const checkpoint = await store.db.selectFrom('checkpoints').selectAll().orderBy('tree_size', 'desc').limit(1).executeTakeFirstOrThrow();
  expect(checkpoint.tree_size).toBe(leaves.length);
  expect(checkpoint.body).toBe(`test.lienthong/log\n${leaves.length}\n${root.toString('base64')}\n`);
  return leaves.length;
}

describe('exchange log crash safety (SQLite)', () => {
  it('loses no acknowledged exchange and leaves no gap or duplicate after kill -9', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lienthong-crash-')), 'log.db');
    const acknowledged = new Set<string>();
    for (const [round, atAcks] of [120, 260, 410].entries()) {
      const w = writer([path]);
      await w.waitForAcks(atAcks);
      // Somewhere in the middle of enqueueing and integrating.
      await new Promise((resolve) => setTimeout(resolve, 7 * round));
      w.kill();
      await w.exited;
      for (const id of w.acks) acknowledged.add(id);
    }
    const store = await openStore({ sqlitePath: path });
    try {
      const size = await integrateAndCheck(store, acknowledged);
      expect(size).toBeGreaterThanOrEqual(acknowledged.size);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe.skipIf(!pgUrl)('exchange log on PostgreSQL with two processes', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });

  it('lets both enqueue while exactly one integrates at a time, with one gapless log', async () => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`create schema ${schema}`);
    await client.end();
    // Migrate once before the writers start, as a deployment would.
    await (await openStore({ url: pgUrl!, searchPath: schema, poolSize: 1 })).close();
    const [a, b] = [writer([pgUrl!, schema, '400']), writer([pgUrl!, schema, '400'])];
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const store = await openStore({ url: pgUrl!, searchPath: schema, poolSize: 2 });
    try {
      expect(await integrateAndCheck(store, new Set([...a.acks, ...b.acks]))).toBe(800);
    } finally {
      await store.close();
    }
  }, 120_000);
});
