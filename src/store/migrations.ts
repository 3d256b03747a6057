import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import type { DatabaseHandle } from './database.ts';
import { leafSubjects } from '../audit/leaf.ts';

/**
 * The one list of migrations, for SQLite and PostgreSQL alike: only types and statements both
 * understand. Names sort in the order they run; never edit one that has shipped.
 */
export const migrations: Record<string, Migration> = {
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
  '0004_account_links': {
    async up(db: Kysely<unknown>) {
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      // No identifier in clear: subject_hash is the keyed hash (HMAC) the exchange log uses too,
      // subject_masked what the API shows. The active_* columns are set only while a link is
      // active and cleared when it ends: their UNIQUE constraints (several NULLs allowed in both
      // dialects) make one identity link to one account, one account to one identity and one
      // national account to one link, however many gateway processes insert at once.
      await db.schema
        .createTable('account_links')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('portal_account_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('subject_type', 'varchar(20)', (c) => c.notNull())
        .addColumn('subject_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('subject_masked', 'varchar(20)', (c) => c.notNull())
        .addColumn('national_account_id', 'varchar(255)')
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('active_account', 'varchar(64)', (c) => c.unique())
        .addColumn('active_subject', 'varchar(100)', (c) => c.unique())
        .addColumn('active_national', 'varchar(255)', (c) => c.unique())
        .addColumn('verification_method', 'varchar(30)', (c) => c.notNull())
        .addColumn('verified_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('exchange_id', 'varchar(80)')
        .addColumn('created_by', 'varchar(80)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('supersedes', 'varchar(36)')
        .addColumn('expires_at', 'varchar(40)')
        .addColumn('ended_at', 'varchar(40)')
        .execute();
      for (const column of ['portal_account_id', 'subject_hash', 'national_account_id']) {
        await db.schema.createIndex(`account_links_${column}`).on('account_links').column(column).execute();
      }
      await db.schema
        .createTable('account_link_events')
        .addColumn('seq', postgres ? 'serial' : 'integer', (c) => (postgres ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('link_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('event', 'varchar(20)', (c) => c.notNull())
        .addColumn('client', 'varchar(80)', (c) => c.notNull())
        .addColumn('user_hash', 'varchar(64)')
        .addColumn('reason', 'text')
        .addColumn('exchange_id', 'varchar(80)')
        .addColumn('at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('account_link_events_link_id').on('account_link_events').column('link_id').execute();
      // National sign-on flows in progress, shared by every gateway process; each used once.
      await db.schema
        .createTable('sso_flows')
        .addColumn('state_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('nonce', 'varchar(128)', (c) => c.notNull())
        .addColumn('code_verifier', 'varchar(128)', (c) => c.notNull())
        .addColumn('client_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('agency', 'varchar(80)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('purpose', 'varchar(100)', (c) => c.notNull())
        .addColumn('portal_account_id', 'varchar(64)')
        .addColumn('return_to', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('used_at', 'varchar(40)')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['sso_flows', 'account_link_events', 'account_links']) await db.schema.dropTable(table).execute();
    },
  },
  '0005_dossiers': {
    async up(db: Kysely<unknown>) {
      // Instants are ISO 8601 UTC text (toISOString), so that comparing them as text orders them.
      await db.schema
        .createTable('dossiers')
        .addColumn('code', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('procedure_code', 'varchar(64)', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('received_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('due_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('clock', 'text', (c) => c.notNull())
        .addColumn('on_time_state', 'varchar(10)', (c) => c.notNull())
        .addColumn('deadline_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('supplement_since', 'varchar(40)')
        .addColumn('last_sequence', 'integer', (c) => c.notNull())
        .addColumn('portal_known', 'integer', (c) => c.notNull())
        .addColumn('client_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('agency', 'varchar(80)', (c) => c.notNull())
        .addColumn('purpose', 'varchar(100)')
        .addColumn('subject_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('dossiers_status').on('dossiers').column('status').execute();
      await db.schema.createIndex('dossiers_created_at').on('dossiers').column('created_at').execute();
      // One row per change handed over; (dossier, sequence) unique orders them and stops two
      // concurrent writers from giving two changes one place.
      await db.schema
        .createTable('dossier_events')
        .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
        .addColumn('dossier_code', 'varchar(64)', (c) => c.notNull().references('dossiers.code'))
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('kind', 'varchar(10)', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('at', 'varchar(40)', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('client_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('agency', 'varchar(80)', (c) => c.notNull())
        .addColumn('user_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addUniqueConstraint('dossier_events_sequence', ['dossier_code', 'sequence'])
        .execute();
      // The outbox: one delivery job per change, delivered strictly in sequence per dossier.
      await db.schema
        .createTable('outbox_jobs')
        .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
        .addColumn('dossier_code', 'varchar(64)', (c) => c.notNull())
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('service', 'varchar(40)', (c) => c.notNull())
        .addColumn('state', 'varchar(10)', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('enqueued_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('next_attempt_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('last_error', 'varchar(80)')
        .addColumn('delivered_at', 'varchar(40)')
        .addColumn('lease_owner', 'varchar(80)')
        .addColumn('lease_expires_at', 'varchar(40)')
        .addUniqueConstraint('outbox_jobs_sequence', ['dossier_code', 'sequence'])
        .execute();
      await db.schema.createIndex('outbox_jobs_due').on('outbox_jobs').columns(['state', 'next_attempt_at']).execute();
      // Same client and key: one record, however many processes answer at once.
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('client_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('key', 'varchar(255)', (c) => c.notNull())
        .addColumn('operation', 'varchar(80)', (c) => c.notNull())
        .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['client_id', 'key'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['idempotency_keys', 'outbox_jobs', 'dossier_events', 'dossiers']) await db.schema.dropTable(table).execute();
    },
  },
  '0006_sso_sign_ons': {
    async up(db: Kysely<unknown>) {
      // A completed sign-on is only recorded here: the portal that started it confirms it, with
      // the returnTo bound at start, before any link is made or any sign-in answered.
      await db.schema
        .createTable('sso_sign_ons')
        .addColumn('sign_on_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('client_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('portal_account_id', 'varchar(64)')
        .addColumn('return_to', 'text', (c) => c.notNull())
        .addColumn('national_account_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('subject_type', 'varchar(20)', (c) => c.notNull())
        .addColumn('subject_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('subject_masked', 'varchar(20)', (c) => c.notNull())
        .addColumn('acr', 'varchar(200)', (c) => c.notNull())
        .addColumn('exchange_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('used_at', 'varchar(40)')
        .execute();
      await db.schema.createIndex('sso_sign_ons_expires_at').on('sso_sign_ons').column('expires_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('sso_sign_ons').execute();
    },
  },
  '0007_dossier_due_at_optional': {
    async up(db: Kysely<unknown>) {
      // Procedures with no deadline hand dossiers over without a due date.
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      if (postgres) {
        await db.schema.alterTable('dossiers').alterColumn('due_at', (c) => c.dropNotNull()).execute();
        return;
      }
      // SQLite cannot drop NOT NULL: rebuild the table from its own definition (whatever columns
      // it has by now). Foreign keys stay on inside the migration's transaction, and renaming a
      // table rewrites the references to it, so the tables referring to dossiers are rebuilt as
      // well, from their definitions as they were; then nothing refers to the old tables and
      // dropping them deletes no referenced row.
      const tables = await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'table'`.execute(db);
      const definition = tables.rows.find((t) => t.name === 'dossiers')?.sql ?? '';
      const relaxed = definition.replace(/("due_at"\s+varchar\(40\))\s+not null/i, '$1');
      if (relaxed === definition) throw new Error('dossiers.due_at is not the NOT NULL column 0005 created');
      const children = tables.rows.filter((t) => t.name !== 'dossiers' && /references\s+"?dossiers"?\s*\(/i.test(t.sql));
      const names = ['dossiers', ...children.map((c) => c.name)];
      const indexes = await sql<{ sql: string }>`select sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${sql.join(names)})`.execute(db);
      const aside = (name: string) => sql.id(`${name}_before_0007`);
      const rebuild = async (name: string, create: string) => {
        await sql`alter table ${sql.id(name)} rename to ${aside(name)}`.execute(db);
        await sql.raw(create).execute(db);
        await sql`insert into ${sql.id(name)} select * from ${aside(name)}`.execute(db);
      };
      await rebuild('dossiers', relaxed);
      for (const child of children) {
        await rebuild(child.name, child.sql);
        await sql`drop table ${aside(child.name)}`.execute(db);
      }
      await sql`drop table ${aside('dossiers')}`.execute(db);
      for (const index of indexes.rows) await sql.raw(index.sql).execute(db);
    },
    async down(db: Kysely<unknown>) {
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      if (postgres) await db.schema.alterTable('dossiers').alterColumn('due_at', (c) => c.setNotNull()).execute();
    },
  },
  '0009_exchange_subjects': {
    async up(db: Kysely<unknown>) {
      // Every subject of every entry (a leaf of format 3 lists several; older leaves their one
      // subjectHash), so a search by any of a person's identifiers finds all their exchanges.
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      // On SQLite the rows live in the primary key's own b-tree (no rowid table beside it): one
      // insert per row instead of two, which keeps the integrator's append rate.
      await db.schema
        .createTable('exchange_subjects')
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('subject_hash', 'varchar(64)', (c) => c.notNull())
        .addPrimaryKeyConstraint('exchange_subjects_pk', ['subject_hash', 'idx'])
        .$call((t) => (postgres ? t : t.modifyEnd(sql`without rowid`)))
        .execute();
      // Searches by subject read exchange_subjects now: the index on the primary subject alone is
      // not used any more, and maintaining it would cost every append.
      await db.schema.dropIndex('exchange_entries_subject_hash').execute();
      // The entries already in the log, from their stored leaves, a page at a time.
      const raw = db as unknown as Kysely<{ exchange_entries: { idx: number; leaf: string }; exchange_subjects: { idx: number; subject_hash: string } }>;
      for (let from = 0; ; ) {
        const page = await raw.selectFrom('exchange_entries').select(['idx', 'leaf']).where('idx', '>=', from).orderBy('idx').limit(2000).execute();
        if (page.length === 0) break;
        const rows = page.flatMap((entry) => leafSubjects(JSON.parse(entry.leaf) as Record<string, unknown>).map((subject_hash) => ({ idx: Number(entry.idx), subject_hash })));
        for (let i = 0; i < rows.length; i += 400) await raw.insertInto('exchange_subjects').values(rows.slice(i, i + 400)).execute();
        from = Number(page[page.length - 1]!.idx) + 1;
      }
    },
    async down(db: Kysely<unknown>) {
      await db.schema.createIndex('exchange_entries_subject_hash').on('exchange_entries').column('subject_hash').execute();
      await db.schema.dropTable('exchange_subjects').execute();
    },
  },
  '0010_officer_registry': {
    async up(db: Kysely<unknown>) {
      // Once per acting officer: the identifier encrypted to the inspectorate's key (base64).
      await db.schema
        .createTable('officer_registry')
        .addColumn('user_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('agency', 'varchar(80)', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('first_seen', 'varchar(40)', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('officer_registry').execute();
    },
  },
  '0008_checkpoint_cosignatures': {
    async up(db: Kysely<unknown>) {
      // The checkpoint as a signed note; null for checkpoints signed before notes existed.
      await db.schema.alterTable('checkpoints').addColumn('note', 'text').execute();
      await db.schema
        .createTable('checkpoint_cosignatures')
        .addColumn('tree_size', 'integer', (c) => c.notNull())
        .addColumn('witness', 'varchar(255)', (c) => c.notNull())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addColumn('received_at', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('checkpoint_cosignatures_pk', ['tree_size', 'witness'])
        .execute();
      await db.schema.createIndex('checkpoint_cosignatures_witness').on('checkpoint_cosignatures').columns(['witness', 'tree_size']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('checkpoint_cosignatures').execute();
      await db.schema.alterTable('checkpoints').dropColumn('note').execute();
    },
  },
  '0011_outbox_last_error_text': {
    async up(db: Kysely<unknown>) {
      // A failed delivery's last error keeps its cause now (what the portal or the network said,
      // the failure behind an open breaker): up to 300 characters, more than varchar(80). SQLite
      // does not enforce a varchar's length, so only PostgreSQL's column changes.
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      if (postgres) await db.schema.alterTable('outbox_jobs').alterColumn('last_error', (c) => c.setDataType('text')).execute();
    },
    async down(db: Kysely<unknown>) {
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      if (postgres) await sql`alter table outbox_jobs alter column last_error type varchar(80) using left(last_error, 80)`.execute(db);
    },
  },
  '0012_documents': {
    async up(db: Kysely<unknown>) {
      const postgres = (db.getExecutor().adapter as object).constructor.name === 'PostgresAdapter';
      // The electronic document store (src/store/documents.ts). Personal data only sealed: the
      // subject's identifier and the document's name are AES-GCM ciphertexts bound to the code;
      // lists filter on subject_hash (the keyed hash). wrapped_key and content_address are cleared
      // when the content is destroyed; every other column stays.
      await db.schema
        .createTable('documents')
        .addColumn('code', 'varchar(120)', (c) => c.primaryKey())
        .addColumn('kind', 'varchar(20)', (c) => c.notNull())
        .addColumn('subject_type', 'varchar(20)', (c) => c.notNull())
        .addColumn('subject_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('subject_sealed', 'text', (c) => c.notNull())
        .addColumn('document_type', 'varchar(64)', (c) => c.notNull())
        .addColumn('name_sealed', 'text', (c) => c.notNull())
        .addColumn('media_type', 'varchar(100)', (c) => c.notNull())
        .addColumn('procedure_code', 'varchar(64)')
        .addColumn('dossier_code', 'varchar(64)')
        .addColumn('issuing_agency', 'varchar(80)', (c) => c.notNull())
        .addColumn('issued_on', 'varchar(10)')
        .addColumn('valid_until', 'varchar(10)')
        .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('signatures', 'text', (c) => c.notNull())
        .addColumn('seal_cms', 'text')
        .addColumn('deposited_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('client_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('agency', 'varchar(80)', (c) => c.notNull())
        .addColumn('user_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('retain_until', 'varchar(40)')
        .addColumn('legal_hold', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('destroyed_at', 'varchar(40)')
        .addColumn('wrapped_key', 'text')
        .addColumn('content_address', 'varchar(80)')
        .execute();
      await db.schema.createIndex('documents_subject').on('documents').columns(['subject_hash', 'document_type']).execute();
      for (const column of ['dossier_code', 'retain_until', 'content_address']) {
        await db.schema.createIndex(`documents_${column}`).on('documents').column(column).execute();
      }
      // One counter per code prefix, taken by an upsert in the document's own transaction.
      await db.schema
        .createTable('document_sequences')
        .addColumn('prefix', 'varchar(100)', (c) => c.primaryKey())
        .addColumn('last', 'integer', (c) => c.notNull())
        .execute();
      // Encrypted content with PostgreSQL: one row per stored chunk (the filesystem holds it with SQLite).
      await db.schema
        .createTable('document_chunks')
        .addColumn('address', 'varchar(80)', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('data', postgres ? 'bytea' : 'blob', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('document_chunks_pk', ['address', 'idx'])
        .execute();
      // In clear, for the digitisation figures: no personal data.
      await db.schema.alterTable('dossiers').addColumn('handling_agency', 'varchar(500)').execute();
      await db.schema.alterTable('dossiers').addColumn('digitised_submission', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('dossiers').addColumn('reused_document', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      // The figures select dossiers by the month they were received in (src/store/document-figures.ts).
      await db.schema.createIndex('dossiers_received_at').on('dossiers').column('received_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('dossiers_received_at').execute();
      for (const column of ['reused_document', 'digitised_submission', 'handling_agency']) await db.schema.alterTable('dossiers').dropColumn(column).execute();
      for (const table of ['document_chunks', 'document_sequences', 'documents']) await db.schema.dropTable(table).execute();
    },
  },
  '0013_console_sessions': {
    async up(db: Kysely<unknown>) {
      // Staff sessions of the console (src/store/console-sessions.ts). Nothing here lets a reader
      // of the database act as staff or learn who they are: the id is the SHA-256 of the cookie's
      // token (never stored), the officer a keyed hash, their identifier sealed under a key only
      // the cookie's token gives.
      await db.schema
        .createTable('console_sessions')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('client_id', 'varchar(80)', (c) => c.notNull())
        .addColumn('user_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_sealed', 'text', (c) => c.notNull())
        // A keyed hash of the client's key hash at sign-in: a session ends with the key it was opened with.
        .addColumn('key_fingerprint', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('last_used_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('idle_expires_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('ended_at', 'varchar(40)')
        .execute();
      // Purging looks at the absolute expiry; a sign-in at its client's live sessions.
      await db.schema.createIndex('console_sessions_expires_at').on('console_sessions').column('expires_at').execute();
      await db.schema.createIndex('console_sessions_client_id').on('console_sessions').columns(['client_id', 'created_at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('console_sessions').execute();
    },
  },
  '0014_service_index': {
    async up(db: Kysely<unknown>) {
      // In clear, for the national service index (src/store/service-index.ts): no personal data.
      // What only the sealed document tells (channel, payment, fees, population data, listed
      // results) stays null on the dossiers already stored: not known, and reported as such.
      for (const [column, type] of SERVICE_INDEX_COLUMNS) await db.schema.alterTable('dossiers').addColumn(column, type).execute();
      // What the clear columns and the status events tell is filled in: the month of receipt
      // (Vietnam time) and the clock's instants, 500 dossiers a statement (the table is locked
      // while this runs).
      for (let after = ''; ; ) {
        const rows = (
          await sql<{ code: string; status: number; clock: string; received_at: string }>`select code, status, clock, received_at from dossiers where code > ${after} order by code limit ${BACKFILL_BATCH}`.execute(db)
        ).rows;
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!.code;
        const events = new Map<string, { status: number; at: string }[]>();
        const stored = await sql<{ dossier_code: string; status: number; at: string }>`select dossier_code, status, at from dossier_events
          where dossier_code in (${sql.join(rows.map((r) => r.code))}) and status is not null order by dossier_code, sequence`.execute(db);
        for (const e of stored.rows) events.set(e.dossier_code, [...(events.get(e.dossier_code) ?? []), { status: Number(e.status), at: e.at }]);
        const filled = rows.map((row) => ({ code: row.code, ...backfilledColumns(row, events.get(row.code) ?? []) }));
        const column = (name: keyof ReturnType<typeof backfilledColumns>, type: 'integer' | 'varchar(40)') =>
          sql`${sql.ref(name)} = case code ${sql.join(
            filled.map((f) => sql`when ${f.code} then cast(${f[name]} as ${sql.raw(type)})`),
            sql` `,
          )} end`;
        await sql`update dossiers set ${sql.join([
          column('received_month', 'varchar(40)'),
          column('accepted_at', 'varchar(40)'),
          column('processing_ended_at', 'varchar(40)'),
          column('processing_end_status', 'integer'),
          column('second_supplement_at', 'varchar(40)'),
        ])} where code in (${sql.join(filled.map((f) => f.code))})`.execute(db);
      }
      for (const column of ['received_month', 'accepted_at', 'processing_ended_at']) {
        await db.schema.createIndex(`dossiers_${column}`).on('dossiers').column(column).execute();
      }
      // The dossiers still open, by acceptance: what the on-time figure reads besides those ended in the period.
      await db.schema.createIndex('dossiers_open_accepted_at').on('dossiers').column('accepted_at').where(sql.ref('processing_ended_at'), 'is', null).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('dossiers_open_accepted_at').execute();
      for (const column of ['received_month', 'accepted_at', 'processing_ended_at']) await db.schema.dropIndex(`dossiers_${column}`).execute();
      for (const [column] of [...SERVICE_INDEX_COLUMNS].reverse()) await db.schema.alterTable('dossiers').dropColumn(column).execute();
    },
  },
};

/** The dossier columns 0014 adds. */
const SERVICE_INDEX_COLUMNS: [string, 'varchar(7)' | 'varchar(20)' | 'varchar(40)' | 'integer'][] = [
  ['received_month', 'varchar(7)'],
  ['channel', 'varchar(20)'],
  ['online_payment', 'integer'],
  ['fee_due', 'integer'],
  ['population_data', 'integer'],
  ['result_listed', 'integer'],
  ['accepted_at', 'varchar(40)'],
  ['processing_ended_at', 'varchar(40)'],
  ['processing_end_status', 'integer'],
  ['second_supplement_at', 'varchar(40)'],
];

const BACKFILL_BATCH = 500;

/**
 * What 0014 reads of a dossier stored before it: a copy frozen here, on purpose, of what the
 * lifecycle (src/core/dossiers/lifecycle.ts) knew of its clock when 0014 was written. A migration
 * must give the same columns whenever it runs; the live code will change with the rules.
 * Clocks written before acceptance or the ending status were recorded date from the stricter
 * table (3 only after 1, nothing after 7): the status events, else the current status, tell them.
 */
function backfilledColumns(
  row: { status: number; clock: string; received_at: string },
  events: readonly { status: number; at: string }[],
): { received_month: string | null; accepted_at: string | null; processing_ended_at: string | null; processing_end_status: number | null; second_supplement_at: string | null } {
  const clock = JSON.parse(row.clock) as { acceptedAt?: string | null; endedAt?: string | null; endedBy?: number | null; repeatedSupplementAt?: string | null };
  const afterAcceptance = [2, 4, 5, 6, 8, 9, 10];
  const ending = [3, 7, 8, 9, 10];
  const acceptedAt =
    clock.acceptedAt !== undefined
      ? clock.acceptedAt
      : (events.find((e) => afterAcceptance.includes(e.status))?.at ?? (row.status === 1 || row.status === 3 ? null : row.received_at));
  const ended = events.find((e) => ending.includes(e.status));
  const endedAt = clock.endedAt ?? ended?.at ?? null;
  const endedBy = endedAt === null ? null : (clock.endedBy ?? ended?.status ?? (ending.includes(row.status) ? row.status : null));
  // The second supplement request: a resent 5 (5 after 5) is the same request.
  let second: string | null = clock.repeatedSupplementAt ?? null;
  if (second === null) {
    let requests = 0;
    let previous = 0;
    for (const e of events) {
      if (e.status === 5 && previous !== 5 && ++requests === 2) {
        second = e.at;
        break;
      }
      previous = e.status;
    }
  }
  const received = instant(row.received_at);
  return {
    received_month: received ? new Date(Date.parse(received) + 7 * 3_600_000).toISOString().slice(0, 7) : null,
    accepted_at: instant(acceptedAt),
    processing_ended_at: instant(endedAt),
    processing_end_status: endedBy,
    second_supplement_at: instant(second),
  };
}

/** An instant as UTC ISO 8601, also from the offsets once accepted (`+07`, `+0700`) that Date.parse cannot read; null when none. */
function instant(value: string | null | undefined): string | null {
  if (!value) return null;
  const t = Date.parse(value.replace(/(T[\d:.]+[+-]\d\d):?(\d\d)?$/, (_, time: string, minutes?: string) => `${time}:${minutes ?? '00'}`));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

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
