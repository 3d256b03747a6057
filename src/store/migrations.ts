import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import type { DatabaseHandle } from './database.ts';

/**
 * The one list of migrations, for SQLite and PostgreSQL alike: only types and statements both
 * understand. Names sort in the order they run; never edit one that has shipped.
 */
const migrations: Record<string, Migration> = {
  '0001_gateway_meta': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('gateway_meta')
        .addColumn('key', 'varchar(100)', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('gateway_meta').execute();
    },
  },
  '0002_exchange_log': {
    async up(db: Kysely<unknown>) {
      // The only dialect difference: how an increasing key is generated.
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      await db.schema
        .createTable('exchange_queue')
        .addColumn('seq', postgres ? 'serial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('exchange_id', 'varchar(80)', (c) => c.notNull().unique())
        .addColumn('leaf', 'text', (c) => c.notNull())
        .addColumn('enqueued_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('exchange_entries')
        .addColumn('idx', 'integer', (c) => c.primaryKey())
        .addColumn('exchange_id', 'varchar(80)', (c) => c.notNull().unique())
        .addColumn('leaf', 'text', (c) => c.notNull())
        .addColumn('leaf_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('time', 'varchar(40)', (c) => c.notNull())
        .addColumn('client', 'varchar(80)', (c) => c.notNull())
        .addColumn('operation', 'varchar(80)', (c) => c.notNull())
        .addColumn('upstream', 'varchar(40)')
        .addColumn('outcome', 'varchar(20)', (c) => c.notNull())
        .addColumn('subject_hash', 'varchar(64)')
        .execute();
      for (const column of ['time', 'client', 'operation', 'subject_hash', 'outcome']) {
        await db.schema.createIndex(`exchange_entries_${column}`).on('exchange_entries').column(column).execute();
      }
      await db.schema
        .createTable('merkle_nodes')
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('hash', 'varchar(64)', (c) => c.notNull())
        .addPrimaryKeyConstraint('merkle_nodes_pk', ['level', 'idx'])
        .execute();
      await db.schema
        .createTable('exchange_log_state')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('tree_size', 'integer', (c) => c.notNull())
        .addColumn('frontier', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('checkpoints')
        .addColumn('tree_size', 'integer', (c) => c.primaryKey())
        .addColumn('root_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('signed_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('timestamp_reply', 'text')
        .addColumn('timestamped_at', 'varchar(40)')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['checkpoints', 'exchange_log_state', 'merkle_nodes', 'exchange_entries', 'exchange_queue']) await db.schema.dropTable(table).execute();
    },
  },
  '0003_exchange_bodies': {
    async up(db: Kysely<unknown>) {
      // Kept apart from the tree: purging a period's key and bodies leaves every leaf and proof intact.
      await db.schema
        .createTable('body_keys')
        .addColumn('period', 'varchar(20)', (c) => c.primaryKey())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('exchange_bodies')
        .addColumn('exchange_id', 'varchar(80)', (c) => c.primaryKey())
        .addColumn('period', 'varchar(20)', (c) => c.notNull())
        .addColumn('iv', 'text', (c) => c.notNull())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('stored_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('exchange_bodies_period').on('exchange_bodies').column('period').execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['exchange_bodies', 'body_keys']) await db.schema.dropTable(table).execute();
    },
  },
};

export const MIGRATION_NAMES = Object.keys(migrations).sort();

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/**
 * Brings the schema to the latest migration; safe to run from several processes at once.
 * PostgreSQL: Kysely's advisory lock and one transaction. SQLite: Kysely takes no lock there, so
 * the whole run sits in one BEGIN IMMEDIATE transaction that other processes wait for.
 */
export async function migrateToLatest(handle: Pick<DatabaseHandle, 'db' | 'dialect' | 'schema'>): Promise<MigrationResultSet> {
  const { db, dialect, schema } = handle;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // Named explicitly: otherwise a migration table in another schema is taken for ours.
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  let result: MigrationResultSet;
  const pending = async () => (await migrator.getMigrations()).some((m) => m.executedAt === undefined);
  if (dialect === 'sqlite' && !(await pending())) {
    result = { results: [] };
  } else if (dialect === 'sqlite') {
    // better-sqlite3 is one connection: these statements and the migrator's share it.
    await sql`begin immediate`.execute(db);
    try {
      result = await migrator.migrateToLatest();
    } finally {
      await sql.raw(result! && !result.error ? 'commit' : 'rollback').execute(db);
    }
  } else {
    result = await migrator.migrateToLatest();
  }
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationError(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${String(result.error)}`, {
      cause: result.error,
    });
  }
  return result;
}
