import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUBJECTS, testLeaf } from '../../test/helpers/audit-log.ts';
import { storeBackends } from '../../test/helpers/backends.ts';
import { createLogger } from '../logging.ts';
import { createSubjectHasher } from '../signing/attestation.ts';
import { openStore, type Store } from '../store/store.ts';
import { outsideRetention, runPurge } from '../cli/purge.ts';
import { AuditUsageError } from '../cli/audit.ts';
import { BodyIntegrityError, createBodyVault, periodOf, type BodyVault } from './bodies.ts';
import { createExchangeLog } from './exchange-log.ts';
import { createIntegrator } from './integrator.ts';
import { bodiesMatchLeaf, leafDigests, sha256Hex } from './leaf.ts';
import { leafHash, verifyInclusion } from './merkle.ts';
import { createAuditStore } from './store.ts';

const { backends, cleanup } = storeBackends('exchange bodies');
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-bodies-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await cleanup();
});

const MASTER = Buffer.alloc(32, 11);
const NAME = 'Nguyễn Thị Hồng Nhung';
const ID_NUMBER = '001203004567';
const personalRequest = () => JSON.stringify({ idNumber: ID_NUMBER, fullName: NAME, dateOfBirth: '2003-04-05' });
const personalResponse = () => JSON.stringify({ match: true, fullName: NAME, permanentAddress: 'Bản Hìn, xã Chiềng Cơi, Sơn La' });

for (const backend of backends) describe.skipIf(backend.skip)(`exchange bodies on ${backend.name}`, () => {
  let store: Store;
  let vault: BodyVault;
  beforeEach(async () => {
    store = await openStore(await backend.options());
    vault = createBodyVault({ db: store.db, masterKey: MASTER });
  });
  afterEach(() => store.close());

  it('returns what was stored, strings and bytes alike, and nothing for an unknown exchange', async () => {
    const binary = randomBytes(300);
    await vault.store('ex-1', new Date('2026-11-27T01:00:00Z'), personalRequest(), binary);
    await vault.store('ex-2', new Date('2026-11-30T23:59:59Z'), '', Buffer.alloc(0));
    const one = await vault.read('ex-1');
    expect(one?.request.toString('utf8')).toBe(personalRequest());
    expect(one?.response.equals(binary)).toBe(true);
    const two = await vault.read('ex-2');
    expect(two?.request.length).toBe(0);
    expect(two?.response.length).toBe(0);
    expect(await vault.read('ex-unknown')).toBeUndefined();
    expect(await vault.periods()).toEqual(['2026-11']);
  });

  it('stores no plaintext: neither the name nor the ID number is in any raw row, and keys are wrapped', async () => {
    await vault.store('ex-pii', new Date('2026-11-27T01:00:00Z'), personalRequest(), personalResponse());
    const bodies = await store.db.selectFrom('exchange_bodies').selectAll().execute();
    const keys = await store.db.selectFrom('body_keys').selectAll().execute();
    const raw = JSON.stringify([bodies, keys]);
    const needles = [NAME, NAME.normalize('NFD'), ID_NUMBER, 'Chiềng Cơi'];
    for (const needle of needles) expect(raw).not.toContain(needle);
    // Nor in the decoded bytes of any base64 column.
    for (const value of [...bodies.flatMap((r) => [r.iv, r.request, r.response]), ...keys.map((k) => k.key)]) {
      const bytes = Buffer.from(value, 'base64');
      for (const needle of needles) expect(bytes.includes(Buffer.from(needle, 'utf8'))).toBe(false);
    }
    // Wrapped: IV, 32-byte key and tag, decrypted only under the right master key.
    expect(keys).toHaveLength(1);
    expect(Buffer.from(keys[0]!.key, 'base64')).toHaveLength(12 + 32 + 16);
    await expect(createBodyVault({ db: store.db, masterKey: Buffer.alloc(32, 12) }).read('ex-pii')).rejects.toThrow(BodyIntegrityError);
  });

  it('never reuses an IV: each part and each message gets its own', async () => {
    const at = new Date('2026-11-27T01:00:00Z');
    for (const id of ['ex-a', 'ex-b', 'ex-c']) await vault.store(id, at, 'same text', 'same text');
    const rows = await store.db.selectFrom('exchange_bodies').selectAll().execute();
    const ivs = rows.flatMap((r) => {
      const both = Buffer.from(r.iv, 'base64');
      expect(both).toHaveLength(24);
      return [both.subarray(0, 12).toString('hex'), both.subarray(12).toString('hex')];
    });
    expect(new Set(ivs).size).toBe(6);
    expect(new Set(rows.flatMap((r) => [r.request, r.response])).size).toBe(6);
  });

  it('refuses a body whose ciphertext, tag or IV was altered, or whose parts were swapped', async () => {
    const at = new Date('2026-11-27T01:00:00Z');
    const flip = (b64: string, index: number) => {
      const bytes = Buffer.from(b64, 'base64');
      const i = index < 0 ? bytes.length + index : index;
      bytes[i] = bytes[i]! ^ 0x01;
      return bytes.toString('base64');
    };
    const cases: [string, (row: { iv: string; request: string; response: string }) => Record<string, string>][] = [
      ['request byte', (r) => ({ request: flip(r.request, 3) })],
      ['response tag', (r) => ({ response: flip(r.response, -1) })],
      ['IV', (r) => ({ iv: flip(r.iv, 0) })],
      ['swapped parts', (r) => ({ request: r.response, response: r.request })],
    ];
    for (const [what, change] of cases) {
      const id = `ex-tamper-${what.replace(' ', '-')}`;
      await vault.store(id, at, personalRequest(), personalResponse());
      expect(await vault.read(id)).toBeDefined();
      const row = await store.db.selectFrom('exchange_bodies').selectAll().where('exchange_id', '=', id).executeTakeFirstOrThrow();
      await store.db.updateTable('exchange_bodies').set(change(row)).where('exchange_id', '=', id).execute();
      await expect(vault.read(id), what).rejects.toThrow(BodyIntegrityError);
    }
    // A body moved under another exchange id does not authenticate either.
    await vault.store('ex-original', at, 'a', 'b');
    await store.db.updateTable('exchange_bodies').set({ exchange_id: 'ex-moved' }).where('exchange_id', '=', 'ex-original').execute();
    await expect(vault.read('ex-moved')).rejects.toThrow(BodyIntegrityError);
  });

  it('creates one key per period even when writers race for it', async () => {
    const at = new Date('2026-12-01T00:00:00Z');
    const other = createBodyVault({ db: store.db, masterKey: MASTER });
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? vault : other).store(`ex-race-${i}`, at, `request ${i}`, `response ${i}`)));
    expect(await vault.periods()).toEqual(['2026-12']);
    for (let i = 0; i < 10; i++) expect((await vault.read(`ex-race-${i}`))?.request.toString()).toBe(`request ${i}`);
  });

  it('purges the keys and bodies of older periods only', async () => {
    const months = ['2026-01-15T10:00:00Z', '2026-01-31T23:59:59Z', '2026-02-10T00:00:00Z', '2026-03-01T00:00:00Z', '2026-04-20T00:00:00Z'];
    for (const [i, at] of months.entries()) await vault.store(`ex-${i}`, new Date(at), `request ${i}`, `response ${i}`);
    expect(await vault.periods()).toEqual(['2026-01', '2026-02', '2026-03', '2026-04']);

    expect(await vault.purge('2026-03')).toEqual({ periods: ['2026-01', '2026-02'], bodies: 3 });
    expect(await vault.periods()).toEqual(['2026-03', '2026-04']);
    for (const i of [0, 1, 2]) expect(await vault.read(`ex-${i}`)).toBeUndefined();
    expect((await vault.read('ex-3'))?.response.toString()).toBe('response 3');
    expect((await vault.read('ex-4'))?.response.toString()).toBe('response 4');
    const left = await store.db.selectFrom('exchange_bodies').select('period').orderBy('period').execute();
    expect(left.map((r) => r.period)).toEqual(['2026-03', '2026-04']);

    expect(await vault.purge('2026-03')).toEqual({ periods: [], bodies: 0 });
    await expect(vault.purge('2026-3')).rejects.toThrow(RangeError);
    // A new exchange in a purged period gets a new key, not the deleted one.
    await vault.store('ex-late', new Date('2026-01-20T00:00:00Z'), 'late', 'late');
    expect((await vault.read('ex-late'))?.request.toString()).toBe('late');
  });

  it('commits a body in the same transaction as its leaf: both or neither', async () => {
    const hasher = createSubjectHasher(MASTER);
    const log = createExchangeLog({ db: store.db, masterKey: MASTER });
    const [a, b] = [testLeaf(0, hasher, 'tx-'), testLeaf(1, hasher, 'tx-')];
    await log.enqueue(a!, await vault.seal(a!.id, new Date(a!.time), 'request a', 'response a'));
    // The body of b already exists, so its insert fails and takes the leaf with it.
    await vault.store(b!.id, new Date(b!.time), 'other', 'other');
    await expect(log.enqueue(b!, await vault.seal(b!.id, new Date(b!.time), 'request b', 'response b'))).rejects.toThrow();
    const queued = await store.db.selectFrom('exchange_queue').select('exchange_id').execute();
    expect(queued.map((r) => r.exchange_id)).toEqual([a!.id]);
    await expect(log.enqueue(a!, await vault.seal(b!.id, new Date(), 'x', 'y'))).rejects.toThrow(/body is of exchange/);
  });

  it('leaves the exchange log, its checkpoints and every inclusion proof untouched by a purge', async () => {
    const hasher = createSubjectHasher(MASTER);
    const log = createExchangeLog({ db: store.db, masterKey: MASTER });
    const integrator = createIntegrator(
      {
        db: store.db,
        dialect: store.dialect,
        log: createLogger({ level: 'silent' }),
        // Proofs are what matters here, not CMS: a stand-in signature.
        signCheckpoint: async (body) => createHash('sha256').update(`stub signature of ${body}`).digest(),
      },
      { origin: 'test.lienthong/bodies', intervalMs: 60_000, batchSize: 1000, timestampEveryMs: 60_000 },
    );
    const months = ['2026-09', '2026-10', '2026-11'];
    const leaves = Array.from({ length: 12 }, (_, i) => ({ ...testLeaf(i, hasher, 'purge-', log.digest), time: `${months[i % 3]}-${String(10 + i).padStart(2, '0')}T03:00:00.000Z` }));
    for (const [i, leaf] of leaves.entries()) {
      // The bytes digested into the leaf: the gateway can check a stored body against the tree.
      await log.enqueue(leaf, await vault.seal(leaf.id, new Date(leaf.time), `request purge-${i}`, `response ${i}`));
      if (i === 5) await integrator.runOnce();
    }
    await integrator.runOnce();
    const audit = createAuditStore({ db: store.db });

    const snapshot = async () => ({
      checkpoints: await store.db.selectFrom('checkpoints').selectAll().orderBy('tree_size').execute(),
      entries: await store.db.selectFrom('exchange_entries').selectAll().orderBy('idx').execute(),
      nodes: await store.db.selectFrom('merkle_nodes').selectAll().orderBy('level').orderBy('idx').execute(),
    });
    const proofsVerify = async () => {
      const head = (await audit.latestCheckpoint())!;
      expect(head.treeSize).toBe(leaves.length);
      for (let index = 0; index < head.treeSize; index++) {
        const entry = (await audit.entry(index))!;
        const proof = await audit.inclusionProof(index, head.treeSize);
        expect(proof.rootHash.equals(head.rootHash)).toBe(true);
        expect(verifyInclusion(leafHash(Buffer.from(entry.leaf, 'utf8')), index, head.treeSize, proof.auditPath, head.rootHash)).toBe(true);
      }
      // And the proof to the earlier checkpoint of 6 entries.
      const early = (await audit.checkpoints([6]))[0]!;
      const proof = await audit.inclusionProof(2, 6);
      expect(verifyInclusion(leafHash(Buffer.from((await audit.entry(2))!.leaf, 'utf8')), 2, 6, proof.auditPath, early.rootHash)).toBe(true);
    };

    await proofsVerify();
    const before = await snapshot();
    expect(before.checkpoints.map((c) => Number(c.tree_size))).toEqual([6, 12]);

    expect(await vault.purge('2026-11')).toEqual({ periods: ['2026-09', '2026-10'], bodies: 8 });

    expect(await snapshot()).toEqual(before);
    await proofsVerify();
    for (const [i, leaf] of leaves.entries()) {
      const body = await vault.read(leaf.id);
      if (periodOf(new Date(leaf.time)) < '2026-11') {
        expect(body).toBeUndefined();
      } else {
        // Keyed: the gateway (holding the key) confirms the body; a plain SHA-256 of it is nowhere in the leaf.
        expect(log.digest(body!.request)).toBe(leafDigests(leaf).request);
        if (leafDigests(leaf).response !== null) expect(bodiesMatchLeaf(leaf, body!.request, body!.response, log.digest)).toBe(true);
        expect(bodiesMatchLeaf(leaf, body!.request, body!.response, createExchangeLog({ db: store.db, masterKey: randomBytes(32) }).digest)).toBe(false);
        expect(JSON.stringify(leaf)).not.toContain(sha256Hex(body!.request));
        expect(body!.response.toString()).toBe(`response ${i}`);
      }
    }
  });
});

describe('lienthong audit purge', () => {
  const now = new Date('2026-11-27T01:00:00Z');

  it('keeps the retention window unless forced', () => {
    // Periods before 2025-12 all ended by 2025-12-01, more than 361 days before `now`.
    expect(outsideRetention('2025-12', 361, now)).toBe(true);
    expect(outsideRetention('2025-12', 365, now)).toBe(false);
    expect(outsideRetention('2025-11', 365, now)).toBe(true);
  });

  it('refuses a bad --before and a period inside the retention window, and purges otherwise', async () => {
    const dir = tempDir();
    const file = join(dir, 'lienthong.yaml');
    writeFileSync(file, `database:\n  sqlitePath: ${JSON.stringify(join(dir, 'gateway.db'))}\naudit:\n  bodies:\n    retentionDays: 30\n`);
    const store = await openStore({ sqlitePath: join(dir, 'gateway.db') });
    const vault = createBodyVault({ db: store.db, masterKey: MASTER });
    await vault.store('ex-old', new Date('2026-09-03T00:00:00Z'), SUBJECTS[0], 'old');
    await vault.store('ex-new', new Date('2026-11-03T00:00:00Z'), SUBJECTS[1], 'new');
    await store.close();

    const lines: string[] = [];
    const out = (line: string) => lines.push(line);
    await expect(runPurge(['--config', file], {}, out, now)).rejects.toThrow(AuditUsageError);
    await expect(runPurge(['--before', '2026-13', '--config', file], {}, out, now)).rejects.toThrow(/YYYY-MM/);
    await expect(runPurge(['--before', '2026-11', '--config', file], {}, out, now)).rejects.toThrow(/retention of 30 days.*--force/);

    expect(await runPurge(['--before', '2026-10', '--config', file], {}, out, now)).toBe(0);
    expect(lines.pop()).toMatch(/deleted the keys and 1 exchange bodies of 2026-09; the exchange log is untouched/);
    expect(await runPurge(['--before', '2026-12', '--force', '--config', file], {}, out, now)).toBe(0);
    expect(lines.pop()).toMatch(/deleted the keys and 1 exchange bodies of 2026-11/);
    expect(await runPurge(['--before', '2026-12', '--force', '--config', file], {}, out, now)).toBe(0);
    expect(lines.pop()).toMatch(/no body keys or bodies before 2026-12/);
  });
});
