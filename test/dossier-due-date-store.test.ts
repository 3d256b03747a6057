import { randomBytes } from 'node:crypto';
import { Migrator } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createDossierService, type Actor, type DossierScope } from '../src/core/dossiers/service.ts';
import { createDossierSealer } from '../src/store/dossier-sealer.ts';
import { createDossierStore } from '../src/store/dossiers.ts';
import type { Dossier } from '../src/core/dossiers/port.ts';
import { createDatabase } from '../src/store/database.ts';
import { migrateToLatest, migrations } from '../src/store/migrations.ts';
import { openStore } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';
import { sampleDossier } from './helpers/dossiers.ts';

const { backends, cleanup } = storeBackends('dossier due date');
afterAll(cleanup);

const EVERY_DOSSIER: DossierScope = { all: true, clientId: 'operator', agencies: [] };
const actor: Actor = { clientId: 'sandbox-portal', agency: 'H52', userHash: 'u'.repeat(64), purpose: 'TIEP_NHAN_HO_SO' };
const sealer = createDossierSealer(randomBytes(32));

describe.each(backends)('a dossier without a due date on $name', (backend) => {
  it.skipIf(backend.skip)('is stored, shown with dueAt null and not rated', async () => {
    const store = await openStore(await backend.options());
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier: (v) => `h:${v}`, sealer });
      const { dueAt: _dueAt, ...withoutDue } = sampleDossier(41);
      const answer = await service.create(actor, withoutDue as unknown as Dossier);
      expect(answer.status).toBe(202);
      const state = await service.get(EVERY_DOSSIER, String(withoutDue.code));
      expect(state.dueAt).toBeNull();
      expect(state.onTime).toMatchObject({ state: 'not_rated', rated: false, dueDate: null, reason: 'no due date' });
      // Never listed as overdue, whatever the day.
      expect((await service.list(EVERY_DOSSIER, { overdue: true, page: 1, pageSize: 100 })).items.map((i) => i.code)).not.toContain(withoutDue.code);
    } finally {
      await store.close();
    }
  });

  it.skipIf(backend.skip)('keeps the dossiers, their changes and the references between them across the migration', async () => {
    const options = await backend.options();
    const handle = createDatabase(options);
    try {
      const migrator = new Migrator({ db: handle.db, provider: { getMigrations: async () => migrations }, ...(handle.schema ? { migrationTableSchema: handle.schema } : {}) });
      const before = await migrator.migrateTo('0006_sso_sign_ons');
      expect(before.error).toBeUndefined();
      const at = new Date().toISOString();
      await handle.db
        .insertInto('dossiers')
        .values({ code: 'H52-261127-0001', procedure_code: 'P', status: 1, received_at: at, due_at: at, document: 'd', content_hash: 'c', clock: '{}', on_time_state: 'pending', deadline_at: at, supplement_since: null, last_sequence: 1, portal_known: 0, client_id: 'c', agency: 'H52', purpose: null, subject_hash: 's', created_at: at, updated_at: at })
        .execute();
      await handle.db
        .insertInto('dossier_events')
        .values({ id: 'e1', dossier_code: 'H52-261127-0001', sequence: 1, kind: 'created', status: 1, at, payload: 'p', client_id: 'c', agency: 'H52', user_hash: 'u', created_at: at })
        .execute();

      await migrateToLatest(handle);

      expect(await handle.db.selectFrom('dossiers').select(['code', 'due_at']).execute()).toEqual([{ code: 'H52-261127-0001', due_at: at }]);
      expect(await handle.db.selectFrom('dossier_events').select('id').execute()).toEqual([{ id: 'e1' }]);
      // The rebuilt table is still the one dossier_events refers to, and still indexed.
      await expect(
        handle.db.insertInto('dossier_events').values({ id: 'e2', dossier_code: 'H52-261127-9999', sequence: 1, kind: 'created', status: 1, at, payload: 'p', client_id: 'c', agency: 'H52', user_hash: 'u', created_at: at }).execute(),
      ).rejects.toThrow(/foreign key/i);
      await handle.db.insertInto('dossier_events').values({ id: 'e3', dossier_code: 'H52-261127-0001', sequence: 2, kind: 'status', status: 2, at, payload: 'p', client_id: 'c', agency: 'H52', user_hash: 'u', created_at: at }).execute();
      await handle.db.updateTable('dossiers').set({ due_at: null }).execute();
      expect(await handle.db.selectFrom('dossiers').select('due_at').executeTakeFirst()).toEqual({ due_at: null });
      if (handle.dialect === 'sqlite') {
        const { sql } = await import('kysely');
        const indexes = await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'dossiers' and sql is not null order by name`.execute(handle.db);
        // Those of 0005 and 0012 kept through the rebuild, and those 0014 added after it.
        expect(indexes.rows.map((r) => r.name)).toEqual(['dossiers_accepted_at', 'dossiers_created_at', 'dossiers_open_accepted_at', 'dossiers_processing_ended_at', 'dossiers_received_at', 'dossiers_received_month', 'dossiers_status']);
      }
    } finally {
      await handle.db.destroy();
    }
  });
});
