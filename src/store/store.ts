import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createDatabase, pingDatabase, type DatabaseOptions, type Dialect } from './database.ts';
import { migrateToLatest } from './migrations.ts';
import type { Database } from './schema.ts';

/** The gateway's persistent state, on SQLite or PostgreSQL behind the same Kysely API. */
export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  readonly location: string;
  /** The id this database was given when it was first migrated. */
  readonly installationId: string;
  ping(): Promise<void>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens the database and brings its schema to the latest migration. */
export async function openStore(options: DatabaseOptions): Promise<Store> {
  const { db, dialect, location, schema } = createDatabase(options);
  try {
    await migrateToLatest({ db, dialect, schema });
    const now = () => new Date().toISOString();

    const getMeta = async (key: string) =>
      (await db.selectFrom('gateway_meta').select('value').where('key', '=', key).executeTakeFirst())?.value;
    const setMeta = async (key: string, value: string) => {
      await db
        .insertInto('gateway_meta')
        .values({ key, value, updated_at: now() })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now() }))
        .execute();
    };

    // First writer wins, so concurrent first starts agree on one id.
    await db
      .insertInto('gateway_meta')
      .values({ key: 'installation_id', value: randomUUID(), updated_at: now() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const installationId = (await getMeta('installation_id'))!;

    return {
      db,
      dialect,
      location,
      installationId,
      ping: () => pingDatabase(db),
      getMeta,
      setMeta,
      close: () => db.destroy(),
    };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}
