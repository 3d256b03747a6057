import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyPlugin } from 'kysely';
import { BASE_TIME, SUBJECTS, createTestLog, type TestLog } from '../../test/helpers/audit-log.ts';
import { storeBackends } from '../../test/helpers/backends.ts';
import { leafText } from './leaf.ts';
import { createAuditStore } from './store.ts';
import { emptyRoot, leafHash, rootHash, verifyConsistency, verifyInclusion } from './merkle.ts';

const BATCHES = [1, 6, 25, 32, 33, 40, 63];

const { backends, cleanup } = storeBackends('audit store');
afterAll(cleanup);

const total = () => BATCHES.reduce((a, b) => a + b, 0);

/** A seeded generator, so a failure names reproducible indexes. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

for (const backend of backends) describe.skipIf(backend.skip)(`the audit store on ${backend.name}`, () => {
  let log: TestLog;
  beforeAll(async () => {
    log = await createTestLog({ database: await backend.options() });
    for (const [i, n] of BATCHES.entries()) await log.append(n, { timestamp: i % 3 === 0 });
  });
  afterAll(() => log.close());

  it('serves the latest checkpoint with its body, signature and timestamp', async () => {
    const checkpoint = (await log.audit.latestCheckpoint())!;
    const leaves = log.leaves.map((l) => leafHash(Buffer.from(leafText(l))));
    expect(checkpoint.treeSize).toBe(total());
    expect(checkpoint.rootHash.equals(rootHash(leaves))).toBe(true);
    expect(checkpoint.body).toBe(`${checkpoint.origin}\n${total()}\n${rootHash(leaves).toString('base64')}\n`);
    expect(checkpoint.signature.length).toBeGreaterThan(500);
    expect(checkpoint.timestampReply).not.toBeNull(); // the last batch (index 6) was timestamped
    expect(await log.checkpointSizes()).toEqual(BATCHES.map((_, i) => BATCHES.slice(0, i + 1).reduce((a, b) => a + b, 0)));
  });

  it('knows when the log is empty', async () => {
    const empty = await createTestLog({ database: await backend.options() });
    try {
      expect(await empty.audit.latestCheckpoint()).toBeUndefined();
      expect(await empty.audit.listEntries({ from: 0, limit: 10 })).toEqual({ items: [], nextFrom: null });
    } finally {
      await empty.close();
    }
  });

  it('pages through entries with nextFrom until null', async () => {
    const seen: number[] = [];
    let from: number | null = 0;
    while (from !== null) {
      const page = await log.audit.listEntries({ from, limit: 17 });
      seen.push(...page.items.map((e) => e.index));
      for (const e of page.items) expect(e.leaf).toBe(leafText(log.leaves[e.index]!));
      from = page.nextFrom;
    }
    expect(seen).toEqual(Array.from({ length: total() }, (_, i) => i));
  });

  it('filters by client, operation, upstream, outcome, subject and time', async () => {
    const all = (await log.audit.listEntries({ from: 0, limit: 1000 })).items;
    const check = async (filter: Parameters<typeof log.audit.listEntries>[0], keep: (i: number) => boolean) => {
      const got = (await log.audit.listEntries(filter)).items.map((e) => e.index);
      expect(got).toEqual(all.map((e) => e.index).filter(keep));
    };
    const leaf = (i: number) => log.leaves[i]!;
    await check({ from: 0, limit: 1000, client: 'sandbox-agency' }, (i) => leaf(i).client === 'sandbox-agency');
    await check({ from: 0, limit: 1000, operation: 'getTaxpayer' }, (i) => leaf(i).operation === 'getTaxpayer');
    await check({ from: 0, limit: 1000, upstream: 'population', outcome: 'success' }, (i) => leaf(i).upstream === 'population' && leaf(i).outcome === 'success');
    const subjectHash = log.hashIdentifier(SUBJECTS[1]);
    await check({ from: 0, limit: 1000, subjectHash }, (i) => leaf(i).subjectHash === subjectHash);
    const since = new Date(BASE_TIME + 20_000).toISOString();
    const until = new Date(BASE_TIME + 50_000).toISOString();
    await check({ from: 0, limit: 1000, since, until }, (i) => i >= 20 && i < 50);
    // A filtered page continues after its last match, not after the rows it skipped.
    const page = await log.audit.listEntries({ from: 0, limit: 3, subjectHash });
    expect(page.nextFrom).toBe(page.items[2]!.index + 1);
  });

  it('proves random entries in the latest tree and in every checkpointed tree', async () => {
    const sizes = await log.checkpointSizes();
    const next = random(9162);
    for (const treeSize of [...sizes, 2, 3, 5, 100, total()]) {
      const expectedRoot = rootHash(log.leaves.slice(0, treeSize).map((l) => leafHash(Buffer.from(leafText(l)))));
      for (let k = 0; k < 6; k++) {
        const index = Math.floor(next() * treeSize);
        const proof = await log.audit.inclusionProof(index, treeSize);
        expect(proof.rootHash.equals(expectedRoot), `root of ${treeSize}`).toBe(true);
        expect(proof.leafHash.equals(leafHash(Buffer.from(leafText(log.leaves[index]!))))).toBe(true);
        expect(verifyInclusion(proof.leafHash, index, treeSize, proof.auditPath, proof.rootHash), `${index} in ${treeSize}`).toBe(true);
      }
    }
  });

  it('proves consistency between any two sizes, roots computed from the stored nodes', async () => {
    const next = random(6962);
    const checkpoints = new Map((await log.audit.checkpoints(await log.checkpointSizes())).map((c) => [c.treeSize, c.rootHash]));
    for (let k = 0; k < 60; k++) {
      const a = 1 + Math.floor(next() * total());
      const b = a + Math.floor(next() * (total() - a + 1));
      const proof = await log.audit.consistencyProof(a, b);
      expect(verifyConsistency(a, b, proof.firstRoot, proof.secondRoot, proof.proof), `${a} → ${b}`).toBe(true);
      if (checkpoints.has(a)) expect(proof.firstRoot.equals(checkpoints.get(a)!)).toBe(true);
      if (checkpoints.has(b)) expect(proof.secondRoot.equals(checkpoints.get(b)!)).toBe(true);
    }
    const same = await log.audit.consistencyProof(40, 40);
    expect(same.proof).toEqual([]);
    expect(verifyConsistency(40, 40, same.firstRoot, same.secondRoot, same.proof)).toBe(true);
    expect(emptyRoot().equals(same.firstRoot)).toBe(false);
  });

  it('reads the nodes of one proof in a single query', async () => {
    let queries = 0;
    // transformResult runs once per executed statement (transformQuery also runs for sub-queries).
    const counting: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        queries++;
        return args.result;
      },
    };
    const audit = createAuditStore({ db: log.store.db.withPlugin(counting) });
    await audit.inclusionProof(77, total());
    expect(queries).toBe(1);
    queries = 0;
    await audit.consistencyProof(37, 199);
    expect(queries).toBe(1);
  });

  it('streams a range of entries in order', async () => {
    const indexes: number[] = [];
    for await (const e of log.audit.entries(5, 150)) indexes.push(e.index);
    expect(indexes).toEqual(Array.from({ length: 145 }, (_, i) => i + 5));
  });
});
