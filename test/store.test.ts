import { run } from './helpers/cli.ts';
import { storeBackends } from './helpers/backends.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/store/database.ts';
import { MIGRATION_NAMES, migrateToLatest } from '../src/store/migrations.ts';
import { openStore, type Store } from '../src/store/store.ts';

const { backends, cleanup } = storeBackends('store tests');
afterAll(cleanup);

for (const backend of backends) {
  describe.skipIf(backend.skip)(`store on ${backend.name}`, () => {
    const open: Store[] = [];
    afterAll(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    it('migrates a new database to the latest schema and answers readiness', async () => {
      const store = await openStore(await backend.options());
      open.push(store);
      expect(store.dialect).toBe(backend.name === 'SQLite' ? 'sqlite' : 'postgres');
      await expect(store.ping()).resolves.toBeUndefined();
      const applied = await store.db.selectFrom('kysely_migration' as never).select('name' as never).execute();
      expect(applied.map((r) => (r as { name: string }).name)).toEqual(MIGRATION_NAMES);
      expect(store.location).not.toMatch(/@/); // no credentials in what gets logged
    });

    it('keeps meta values and its installation id across reopenings', async () => {
      const options = await backend.options();
      const first = await openStore(options);
      await first.setMeta('origin', 'lienthong.sonla.gov.vn/log');
      await first.setMeta('origin', 'lienthong.sonla.gov.vn/exchange-log');
      const id = first.installationId;
      await first.close();
      const again = await openStore(options);
      open.push(again);
      expect(again.installationId).toBe(id);
      expect(await again.getMeta('origin')).toBe('lienthong.sonla.gov.vn/exchange-log');
      expect(await again.getMeta('absent')).toBeUndefined();
    });

    it('runs migrations once when several processes start together', async () => {
      const options = await backend.options();
      if (backend.name === 'SQLite') {
        // better-sqlite3 blocks its thread while waiting for a lock, so the contenders must be
        // separate processes, as they would be in real life.
        const runs = await Promise.all([1, 2, 3].map(() => run(['migrate'], { SQLITE_PATH: options.sqlitePath! })));
        for (const r of runs) expect(r.code, r.stderr).toBe(0);
        expect(runs.filter((r) => r.stdout.includes('0001_gateway_meta Success'))).toHaveLength(1);
        expect(runs.filter((r) => r.stdout.includes('schema is up to date'))).toHaveLength(2);
      }
      const stores = await Promise.all([openStore(options), openStore(options), openStore(options)]);
      open.push(...stores);
      expect(new Set(stores.map((s) => s.installationId)).size).toBe(1);
      const handle = createDatabase(options);
      try {
        const result = await migrateToLatest(handle);
        expect(result.results).toEqual([]);
      } finally {
        await handle.db.destroy();
      }
    });
  });
}

describe('store failures', () => {
  it('refuses to open a database it cannot reach, and says where', async () => {
    await expect(openStore({ url: 'postgres://nobody@127.0.0.1:1/none', poolSize: 1 })).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
