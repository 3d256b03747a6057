import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseOptions } from '../../src/store/database.ts';

export interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  /** PostgreSQL without TEST_DATABASE_URL. */
  skip: boolean;
  /** Options for one fresh, isolated database: a new SQLite file, or a new PostgreSQL schema. */
  options(): Promise<DatabaseOptions>;
}

/**
 * The two stores every store-backed test runs on. Each call to `options()` gives a database no
 * other test sees; `cleanup()` (in afterAll) removes them.
 */
export function storeBackends(label: string): { backends: Backend[]; pgUrl: string | undefined; cleanup(): Promise<void> } {
  const pgUrl = process.env.TEST_DATABASE_URL;
  if (!pgUrl) console.log(`${label} on PostgreSQL skipped: TEST_DATABASE_URL is not set (CI sets it; see README)`);
  const dirs: string[] = [];
  const schemas: string[] = [];
  return {
    pgUrl,
    backends: [
      {
        name: 'SQLite',
        skip: false,
        options: async () => {
          const dir = mkdtempSync(join(tmpdir(), `lienthong-${label.replace(/\W+/g, '-')}-`));
          dirs.push(dir);
          return { sqlitePath: join(dir, 'gateway.db') };
        },
      },
      {
        name: 'PostgreSQL',
        skip: !pgUrl,
        options: async () => {
          const schema = `t_${randomBytes(6).toString('hex')}`;
          const client = new pg.Client({ connectionString: pgUrl });
          await client.connect();
          await client.query(`create schema ${schema}`);
          await client.end();
          schemas.push(schema);
          return { url: pgUrl!, searchPath: schema, poolSize: 4 };
        },
      },
    ],
    async cleanup() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      if (!pgUrl || schemas.length === 0) return;
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}
