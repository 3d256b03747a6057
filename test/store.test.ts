import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { run } from './helpers/cli.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/store/database.ts';
import { MIGRATION_NAMES, migrateToLatest } from '../src/store/migrations.ts';
import { openStore, type Store } from '../src/store/store.ts';

const pgUrl = process.env.TEST_DATABASE_URL;
if (!pgUrl) console.log('store tests on PostgreSQL skipped: TEST_DATABASE_URL is not set (CI sets it; see README)');

interface Backend {
  name: string;
  /** Options for one fresh, isolated database. */
  fresh(): Promise<Parameters<typeof openStore>[0]>;
  skip: boolean;
}

const schemas: string[] = [];
const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    fresh: async () => ({ sqlitePath: join(mkdtempSync(join(tmpdir(), 'lienthong-store-')), 'gateway.db') }),
  },
  {
    name: 'PostgreSQL',
    skip: !pgUrl,
    fresh: async () => {
      // Each test gets its own schema, so runs never see each other's tables.
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`create schema ${schema}`);
      await client.end();
      schemas.push(schema);
      return { url: pgUrl!, searchPath: schema, poolSize: 4 };
    },
  },
];

afterAll(async () => {
  if (!pgUrl || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
});

for (const backend of backends) {
  describe.skipIf(backend.skip)(`store on ${backend.name}`, () => {
    const open: Store[] = [];
    afterAll(async () => {
      await Promise.all(open.map((s) => s.close()));
    });

    it('migrates a new database to the latest schema and answers readiness', async () => {
      const store = await openStore(await backend.fresh());
      open.push(store);
      expect(store.dialect).toBe(backend.name === 'SQLite' ? 'sqlite' : 'postgres');
      await expect(store.ping()).resolves.toBeUndefined();
      const applied = await store.db.selectFrom('kysely_migration' as never).select('name' as never).execute();
      expect(applied.map((r) => (r as { name: string }).name)).toEqual(MIGRATION_NAMES);
      expect(store.location).not.toMatch(/@/); // no credentials in what gets logged
    });

    it('keeps meta values and its installation id across reopenings', async () => {
      const options = await backend.fresh();
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
      const options = await backend.fresh();
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
