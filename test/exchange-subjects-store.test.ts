import { randomBytes } from 'node:crypto';
import { Migrator } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditStore } from '../src/audit/store.ts';
import { createExchangeLog } from '../src/audit/exchange-log.ts';
import { createIntegrator, entryRow } from '../src/audit/integrator.ts';
import { keyedLeaf, leafText } from '../src/audit/leaf.ts';
import { createLogger } from '../src/logging.ts';
import { createKeyedDigest, createSubjectHasher } from '../src/signing/attestation.ts';
import { createDatabase } from '../src/store/database.ts';
import { migrateToLatest, migrations } from '../src/store/migrations.ts';
import { storeBackends } from './helpers/backends.ts';
import { testLeaf } from './helpers/audit-log.ts';

const { backends, cleanup } = storeBackends('exchange subjects');
afterAll(cleanup);

const key = randomBytes(32);
const hash = createSubjectHasher(key);
const digest = createKeyedDigest(key, 'exchange-bodies');
const ID_NUMBER = '014089001234';
const INSURANCE = '1412345678';

/** A format 3 leaf of a social insurance lookup by insurance code whose answer named the ID number. */
function insuranceLeaf(id: string) {
  const base = testLeaf(0, hash, id, digest);
  const { v: _v, requestMac: _q, responseMac: _r, bindingHash: _b, ...fields } = base as unknown as Record<string, unknown>;
  return keyedLeaf(
    { ...(fields as Omit<Parameters<typeof keyedLeaf>[0], 'operation'>), id, operation: 'lookupSocialInsurance', subjectHash: hash(INSURANCE), code: null, subjects: [hash(INSURANCE), hash(ID_NUMBER)], result: null, caseId: null, resultCount: null, criteria: null },
    digest,
    `request ${id}`,
    `response ${id}`,
  );
}

describe.each(backends)('exchange subjects on $name', (backend) => {
  it.skipIf(backend.skip)('are backfilled from the stored leaves of every format by the migration', async () => {
    const handle = createDatabase(await backend.options());
    try {
      const migrator = new Migrator({ db: handle.db, provider: { getMigrations: async () => migrations }, ...(handle.schema ? { migrationTableSchema: handle.schema } : {}) });
      expect((await migrator.migrateTo('0008_checkpoint_cosignatures')).error).toBeUndefined();
      const v1 = testLeaf(1, hash); // format 1, subjectHash of SUBJECTS[1]
      const v2 = testLeaf(2, hash, '', digest); // format 2
      const none = testLeaf(6, hash, '', digest); // subjectHash null
      const v3 = insuranceLeaf('ex-v3');
      const rows = [v1, v2, none, v3].map((leaf, idx) => entryRow(idx, leaf.id, leafText(leaf), Buffer.alloc(32)));
      await handle.db.insertInto('exchange_entries').values(rows).execute();
      await migrateToLatest(handle);
      const subjects = await handle.db.selectFrom('exchange_subjects').selectAll().orderBy('idx').orderBy('subject_hash').execute();
      expect(subjects.map((s) => [Number(s.idx), s.subject_hash])).toEqual([
        [0, v1.subjectHash],
        [1, v2.subjectHash],
        ...[hash(INSURANCE), hash(ID_NUMBER)].sort().map((h) => [3, h]),
      ]);
      // A search by the ID number finds the lookup made by insurance code.
      const page = await createAuditStore({ db: handle.db }).listEntries({ from: 0, limit: 10, subjectHash: hash(ID_NUMBER) });
      expect(page.items.map((e) => e.index)).toEqual([3]);
    } finally {
      await handle.db.destroy();
    }
  });

  it.skipIf(backend.skip)('are written by the integrator with the entries, so any identifier finds the entry', async () => {
    const handle = createDatabase(await backend.options());
    try {
      await migrateToLatest(handle);
      const log = createExchangeLog({ db: handle.db, masterKey: key });
      const integrator = createIntegrator(
        { db: handle.db, dialect: handle.dialect, log: createLogger({ level: 'silent' }), signCheckpoint: async () => Buffer.alloc(0) },
        { origin: 'test', intervalMs: 60_000, batchSize: 1000, timestampEveryMs: 3_600_000 },
      );
      await log.enqueue(testLeaf(1, hash, '', digest));
      await log.enqueue(insuranceLeaf('ex-a'));
      await log.enqueue(insuranceLeaf('ex-b'));
      expect(await integrator.runOnce()).toBe(3);
      const store = createAuditStore({ db: handle.db });
      for (const subject of [ID_NUMBER, INSURANCE]) {
        expect((await store.listEntries({ from: 0, limit: 10, subjectHash: hash(subject) })).items.map((e) => e.index)).toEqual([1, 2]);
      }
      // Paging over the subject's entries.
      expect(await store.listEntries({ from: 0, limit: 1, subjectHash: hash(ID_NUMBER) })).toMatchObject({ nextFrom: 2 });
      expect((await store.listEntries({ from: 0, limit: 10, subjectHash: hash('014089009999') })).items).toEqual([]);
    } finally {
      await handle.db.destroy();
    }
  });
});
