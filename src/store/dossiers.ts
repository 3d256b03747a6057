import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import type {
  ChangeRecord,
  DeliveryJob,
  DeliveredChange,
  DossierFigures,
  DossierOwner,
  DossierQuery,
  DossierRecord,
  DossierScope,
  DossierStore,
  DossierWrites,
  NewDossier,
} from '../core/dossiers/store.ts';
import { vietnamMonth } from '../core/time.ts';
import { idempotent } from './idempotency.ts';
import type { Database, DossierEventsTable, DossiersTable } from './schema.ts';

export function toDossier(row: Selectable<DossiersTable>): DossierRecord {
  return {
    code: row.code,
    procedureCode: row.procedure_code,
    status: row.status,
    receivedAt: row.received_at,
    dueAt: row.due_at,
    document: row.document,
    contentHash: row.content_hash,
    clock: row.clock,
    lastSequence: row.last_sequence,
    portalKnown: row.portal_known === 1,
    clientId: row.client_id,
    agency: row.agency,
    purpose: row.purpose,
    subjectHash: row.subject_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toChange(row: Selectable<DossierEventsTable>): ChangeRecord {
  return {
    id: row.id,
    dossierCode: row.dossier_code,
    sequence: row.sequence,
    kind: row.kind,
    status: row.status,
    at: row.at,
    payload: row.payload,
    clientId: row.client_id,
    agency: row.agency,
    userHash: row.user_hash,
    createdAt: row.created_at,
  };
}

const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0);

/** The clear columns the digitisation figures and the service index read. */
const figureColumns = (figures: DossierFigures) => ({
  handling_agency: figures.handlingAgency,
  digitised_submission: figures.digitisedSubmission ? 1 : 0,
  reused_document: figures.reusedDocument ? 1 : 0,
  channel: figures.channel ?? null,
  online_payment: flag(figures.onlinePayment),
  fee_due: flag(figures.feeDue),
  population_data: flag(figures.populationData),
  result_listed: flag(figures.resultListed),
});

/** The dossiers a scope may touch, as a condition on the dossiers table (the caller skips it when scope.all). */
const visibleTo = (scope: DossierScope) => (eb: ExpressionBuilder<Database, 'dossiers'>) =>
  eb.or([eb('client_id', '=', scope.clientId), ...(scope.agencies.length > 0 ? [eb('agency', 'in', [...scope.agencies])] : [])]);

/** Reads and writes on one connection or transaction. */
/**
 * Takes a dossier's row as a writer, within the caller's transaction, and reads it: an update that
 * changes nothing, one statement both dialects run as a writer (a row lock on PostgreSQL, the
 * write lock on SQLite), so the decision that follows sees the latest committed state.
 */
export async function lockDossier(db: Kysely<Database>, code: string, scope?: DossierScope): Promise<DossierRecord | undefined> {
  let lock = db
    .updateTable('dossiers')
    .set({ last_sequence: sql<number>`last_sequence` })
    .where('code', '=', code);
  if (scope && !scope.all) lock = lock.where(visibleTo(scope));
  const row = await lock.returningAll().executeTakeFirst();
  return row && toDossier(row);
}

function dossierWrites(db: Kysely<Database>): DossierWrites {
  return {
    async find(code) {
      const row = await db.selectFrom('dossiers').selectAll().where('code', '=', code).executeTakeFirst();
      return row && toDossier(row);
    },

    async owner(code): Promise<DossierOwner | undefined> {
      const row = await db.selectFrom('dossiers').select(['content_hash', 'client_id', 'agency']).where('code', '=', code).executeTakeFirst();
      return row && { contentHash: row.content_hash, clientId: row.client_id, agency: row.agency };
    },

    async history(code): Promise<DeliveredChange[]> {
      const rows = await db
        .selectFrom('dossier_events as e')
        .innerJoin('outbox_jobs as j', (join) => join.onRef('j.dossier_code', '=', 'e.dossier_code').onRef('j.sequence', '=', 'e.sequence'))
        .select(['e.sequence', 'e.kind', 'e.status', 'e.at', 'j.state', 'j.attempts', 'j.last_error', 'j.delivered_at', 'j.next_attempt_at'])
        .where('e.dossier_code', '=', code)
        .orderBy('e.sequence')
        .execute();
      return rows.map((e) => ({
        sequence: e.sequence,
        kind: e.kind,
        status: e.status,
        at: e.at,
        state: e.state,
        attempts: e.attempts,
        lastError: e.last_error,
        deliveredAt: e.delivered_at,
        nextAttemptAt: e.next_attempt_at,
      }));
    },

    async insert(dossier: NewDossier) {
      await db
        .insertInto('dossiers')
        .values({
          code: dossier.code,
          procedure_code: dossier.procedureCode,
          status: dossier.status,
          received_at: dossier.receivedAt,
          due_at: dossier.dueAt,
          document: dossier.document,
          content_hash: dossier.contentHash,
          clock: dossier.clock,
          ...dossier.overdue,
          last_sequence: dossier.lastSequence,
          portal_known: 0,
          client_id: dossier.clientId,
          agency: dossier.agency,
          purpose: dossier.purpose,
          subject_hash: dossier.subjectHash,
          created_at: dossier.createdAt,
          updated_at: dossier.updatedAt,
          received_month: vietnamMonth(new Date(dossier.receivedAt)),
          ...figureColumns(dossier.figures),
        })
        .execute();
    },

    async append(change, service) {
      await db
        .insertInto('dossier_events')
        .values({
          id: change.id,
          dossier_code: change.dossierCode,
          sequence: change.sequence,
          kind: change.kind,
          status: change.status,
          at: change.at,
          payload: change.payload,
          client_id: change.clientId,
          agency: change.agency,
          user_hash: change.userHash,
          created_at: change.createdAt,
        })
        .execute();
      await db
        .insertInto('outbox_jobs')
        .values({
          id: change.id,
          dossier_code: change.dossierCode,
          sequence: change.sequence,
          service,
          state: 'pending',
          attempts: 0,
          enqueued_at: change.createdAt,
          next_attempt_at: change.createdAt,
          last_error: null,
          delivered_at: null,
          lease_owner: null,
          lease_expires_at: null,
        })
        .execute();
    },

    async claimNext(code, scope, updatedAt) {
      let claim = db
        .updateTable('dossiers')
        .set({ last_sequence: sql<number>`last_sequence + 1`, updated_at: updatedAt })
        .where('code', '=', code);
      if (!scope.all) claim = claim.where(visibleTo(scope));
      const row = await claim.returningAll().executeTakeFirst();
      return row && toDossier(row);
    },

    async setStatus(code, status, clock, overdue) {
      const { accepted_at: acceptedAt, ...columns } = overdue;
      await db
        .updateTable('dossiers')
        // When a dossier was accepted does not change; a clock written before acceptance was
        // recorded knows it only roughly, and the column (from migration 0014) is kept instead.
        .set({ status, clock, ...columns, ...(acceptedAt !== undefined ? { accepted_at: sql<string | null>`coalesce(accepted_at, ${acceptedAt})` } : {}) })
        .where('code', '=', code)
        .execute();
    },

    lock: (code, scope) => lockDossier(db, code, scope),

    async replaceDocument(code, corrected) {
      await db
        .updateTable('dossiers')
        .set({ procedure_code: corrected.procedureCode, document: corrected.document, content_hash: corrected.contentHash, ...figureColumns(corrected.figures) })
        .where('code', '=', code)
        .execute();
    },

    async requeueDead(code, at) {
      const result = await db
        .updateTable('outbox_jobs')
        .set({ state: 'pending', attempts: 0, last_error: null, enqueued_at: at, next_attempt_at: at, lease_owner: null, lease_expires_at: null })
        .where('dossier_code', '=', code)
        .where('state', '=', 'dead')
        .executeTakeFirst();
      const requeued = Number(result.numUpdatedRows);
      // The changes that waited behind the dead ones count their age from now too: otherwise the
      // first failure after a late redelivery or correction finds them past the maximum age, and
      // gives them up at once.
      if (requeued > 0) await db.updateTable('outbox_jobs').set({ enqueued_at: at }).where('dossier_code', '=', code).where('state', '=', 'pending').execute();
      return requeued;
    },
  };
}

/** Dossiers and their changes on SQLite or PostgreSQL; every write is one transaction, kept with its Idempotency-Key. */
export function createDossierStore(db: Kysely<Database>): DossierStore {
  const reads = dossierWrites(db);
  return {
    find: reads.find,
    owner: reads.owner,
    history: reads.history,

    write: (write, work, check) => idempotent(db, write, (trx) => work(dossierWrites(trx)), check),

    async page(scope: DossierScope, filter: DossierQuery, at: Date) {
      const nowIso = at.toISOString();
      let query = db.selectFrom('dossiers as d');
      if (!scope.all) {
        query = query.where((eb) => eb.or([eb('d.client_id', '=', scope.clientId), ...(scope.agencies.length > 0 ? [eb('d.agency', 'in', [...scope.agencies])] : [])]));
      }
      if (filter.code !== undefined) query = query.where('d.code', '=', filter.code);
      if (filter.status !== undefined) query = query.where('d.status', '=', filter.status);
      if (filter.deliveryState !== undefined) {
        const having = (state: string) => (eb: ExpressionBuilder<Database & { d: DossiersTable }, 'd'>) =>
          eb.exists(eb.selectFrom('outbox_jobs as j').select('j.id').whereRef('j.dossier_code', '=', 'd.code').where('j.state', '=', state));
        if (filter.deliveryState === 'dead') query = query.where(having('dead'));
        else if (filter.deliveryState === 'pending') query = query.where((eb) => eb.and([having('pending')(eb), eb.not(having('dead')(eb))]));
        else query = query.where((eb) => eb.and([eb.not(having('pending')(eb)), eb.not(having('dead')(eb))]));
      }
      if (filter.overdue !== undefined) {
        // Late, or still open past its deadline (a running supplement wait stops the clock).
        query = query.where((eb) => {
          const overdue = eb.or([
            eb('d.on_time_state', '=', 'late'),
            eb.and([
              eb('d.on_time_state', '=', 'pending'),
              eb.or([
                eb.and([eb('d.supplement_since', 'is', null), eb('d.deadline_at', '<', nowIso)]),
                eb.and([eb('d.supplement_since', 'is not', null), eb('d.deadline_at', '<', eb.ref('d.supplement_since'))]),
              ]),
            ]),
          ]);
          return filter.overdue ? overdue : eb.not(overdue);
        });
      }
      const total = Number((await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
      const rows = await query
        .selectAll('d')
        .orderBy('d.created_at', 'desc')
        .orderBy('d.code', 'desc')
        .limit(filter.pageSize)
        .offset((filter.page - 1) * filter.pageSize)
        .execute();
      return { total, rows: rows.map(toDossier) };
    },

    async deliveryStates(codes) {
      const jobs = new Map<string, DeliveryJob[]>();
      if (codes.length === 0) return jobs;
      // A dossier has few changes: every job, in the order of its changes.
      const rows = await db
        .selectFrom('outbox_jobs')
        .select(['dossier_code', 'state', 'last_error'])
        .where('dossier_code', 'in', [...codes])
        .orderBy('sequence')
        .execute();
      for (const j of rows) jobs.set(j.dossier_code, [...(jobs.get(j.dossier_code) ?? []), { state: j.state, lastError: j.last_error }]);
      return jobs;
    },

    redeliver: (code, at) => reads.requeueDead(code, at),
  };
}
