import { randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { components } from '../../generated/gateway.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { idempotent, requestHash, type StoredAnswer } from '../../store/idempotency.ts';
import type { Database, DossiersTable } from '../../store/schema.ts';
import { parseDossierCode } from '../identifiers/dossier-code.ts';
import { parseIdNumber } from '../identifiers/id-number.ts';
import { parseTaxCode } from '../identifiers/tax-code.ts';
import { toVietnamIso } from '../time.ts';
import {
  DOSSIER_STATUSES,
  INITIAL_STATUS,
  INITIAL_STATUSES,
  allowedNext,
  canMove,
  isClosed,
  onTime,
  overdueColumns,
  readClock,
  startClock,
  tick,
  type DossierStatus,
} from './lifecycle.ts';
import { PORTAL_SERVICES, type Dossier, type DossierEvent } from './port.ts';
import type { DossierSealer } from './sealed.ts';

export type DossierState = components['schemas']['DossierState'];
export type DossierSummary = components['schemas']['DossierSummary'];
export type DossierPage = components['schemas']['DossierPage'];
export type DeliveryState = components['schemas']['DeliveryState'];
type HistoryItem = components['schemas']['DossierHistoryItem'];

/** Who hands a change over: recorded with it, and in the exchange log entries of its deliveries. */
export interface Actor {
  clientId: string;
  agency: string;
  /** Keyed hash of the acting user (X-User-Id), as the exchange log writes it. */
  userHash: string;
  purpose: string | null;
  /** Whose dossiers the actor may change; absent, only those it handed over itself. */
  scope?: DossierScope;
}

/**
 * Whose dossiers a caller may see and change: all of them (operators), or those it handed over
 * and those handed over by clients of the agencies it acts for. To anyone else a dossier does
 * not exist.
 */
export interface DossierScope {
  all: boolean;
  clientId: string;
  agencies: readonly string[];
}

export interface ListFilter {
  deliveryState?: DeliveryState | undefined;
  status?: number | undefined;
  overdue?: boolean | undefined;
  page: number;
  pageSize: number;
}

export interface DossierService {
  create(actor: Actor, dossier: Dossier, idempotencyKey?: string): Promise<StoredAnswer>;
  addEvent(actor: Actor, code: string, event: DossierEvent, idempotencyKey?: string): Promise<StoredAnswer>;
  get(scope: DossierScope, code: string): Promise<DossierState>;
  list(scope: DossierScope, filter: ListFilter): Promise<DossierPage>;
  /** Puts the dossier's dead deliveries back in the outbox; how many. */
  redeliver(scope: DossierScope, code: string): Promise<number>;
}

export interface DossierServiceDeps {
  db: Kysely<Database>;
  /** Keyed hash of an identifier (the applicant's), for the exchange log. */
  hashIdentifier(value: string): string;
  /** Encrypts the dossier as received and the changes' payloads (personal data) at rest. */
  sealer: DossierSealer;
  /** Called once a change is committed, so the outbox worker need not wait for its next poll. */
  onQueued?: () => void;
  now?: () => Date;
}

const notFound = (code: string) => new GatewayError('ROUTE_NOT_FOUND', { detail: `no dossier ${code} was handed to the gateway` });
const invalid = (field: string, message: string) => new GatewayError('VALIDATION_FAILED', { detail: `${field} ${message}`, errors: [{ field, message }] });

const scopeOfActor = (actor: Actor): DossierScope => actor.scope ?? { all: false, clientId: actor.clientId, agencies: [] };

function mayTouch(scope: DossierScope, row: Pick<Selectable<DossiersTable>, 'client_id' | 'agency'>): boolean {
  return scope.all || row.client_id === scope.clientId || scope.agencies.includes(row.agency);
}

/** The condition mayTouch states, for queries on the dossiers table (the caller skips it when scope.all). */
const visibleTo = (scope: DossierScope) => (eb: ExpressionBuilder<Database, 'dossiers'>) =>
  eb.or([eb('client_id', '=', scope.clientId), ...(scope.agencies.length > 0 ? [eb('agency', 'in', [...scope.agencies])] : [])]);

/** Worst first: one dead change makes the dossier dead, one pending change pending. */
function worst(states: Iterable<string>): DeliveryState {
  let result: DeliveryState = 'delivered';
  for (const s of states) {
    if (s === 'dead') return 'dead';
    if (s === 'pending') result = 'pending';
  }
  return result;
}

function statusOf(value: number): DossierStatus {
  return value as DossierStatus;
}

function onTimeView(row: Pick<Selectable<DossiersTable>, 'clock' | 'status'>, now: Date): DossierSummary['onTime'] {
  const { overdue: _overdue, ...view } = onTime(readClock(row.clock, statusOf(row.status)), now);
  return view;
}

function summary(row: Selectable<DossiersTable>, deliveryState: DeliveryState, now: Date): DossierSummary {
  const status = statusOf(row.status);
  return {
    code: row.code,
    procedureCode: row.procedure_code,
    status,
    statusName: DOSSIER_STATUSES[status],
    receivedAt: row.received_at,
    dueAt: row.due_at,
    onTime: onTimeView(row, now),
    deliveryState,
  };
}

/**
 * Use cases of dossier synchronisation. Every accepted change is written with its delivery job in
 * one transaction (and with the client's Idempotency-Key, when given); the outbox worker delivers.
 */
export function createDossierService(deps: DossierServiceDeps): DossierService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());

  async function state(trx: Kysely<Database>, code: string, scope: DossierScope): Promise<DossierState | undefined> {
    const row = await trx.selectFrom('dossiers').selectAll().where('code', '=', code).executeTakeFirst();
    if (!row || !mayTouch(scope, row)) return undefined;
    const events = await trx
      .selectFrom('dossier_events as e')
      .innerJoin('outbox_jobs as j', (join) => join.onRef('j.dossier_code', '=', 'e.dossier_code').onRef('j.sequence', '=', 'e.sequence'))
      .select(['e.sequence', 'e.kind', 'e.status', 'e.at', 'j.state', 'j.attempts', 'j.last_error', 'j.delivered_at'])
      .where('e.dossier_code', '=', code)
      .orderBy('e.sequence')
      .execute();
    const history: HistoryItem[] = events.map((e) => ({
      sequence: e.sequence,
      kind: e.kind as HistoryItem['kind'],
      ...(e.status !== null ? { status: e.status } : {}),
      at: e.at,
      deliveryState: e.state as DeliveryState,
      attempts: e.attempts,
      lastError: e.last_error,
      deliveredAt: e.delivered_at ? toVietnamIso(new Date(e.delivered_at)) : null,
    }));
    const { onTime: times, ...rest } = summary(row, worst(events.map((e) => e.state)), now());
    return { ...rest, history, onTime: times };
  }

  /** One change and its delivery job, at the dossier's next sequence. */
  async function append(trx: Transaction<Database>, actor: Actor, code: string, sequence: number, event: { kind: 'created' | 'status' | 'progress'; status: number | null; at: string; payload: unknown }) {
    const id = randomUUID();
    const at = now().toISOString();
    await trx
      .insertInto('dossier_events')
      .values({ id, dossier_code: code, sequence, kind: event.kind, status: event.status, at: event.at, payload: deps.sealer.seal({ code, sequence }, event.payload), client_id: actor.clientId, agency: actor.agency, user_hash: actor.userHash, created_at: at })
      .execute();
    await trx
      .insertInto('outbox_jobs')
      .values({
        id,
        dossier_code: code,
        sequence,
        service: event.kind === 'progress' ? PORTAL_SERVICES.progress : PORTAL_SERVICES.sync,
        state: 'pending',
        attempts: 0,
        enqueued_at: at,
        next_attempt_at: at,
        last_error: null,
        delivered_at: null,
        lease_owner: null,
        lease_expires_at: null,
      })
      .execute();
    return id;
  }

  const queued = <T>(answer: T): T => {
    deps.onQueued?.();
    return answer;
  };

  return {
    async create(actor, dossier, idempotencyKey) {
      const parsed = parseDossierCode(dossier.code);
      if (!parsed.ok) {
        throw new GatewayError('INVALID_IDENTIFIER', { detail: `the dossier code ${parsed.reason}`, errors: [{ field: 'body.code', message: parsed.reason }] });
      }
      // A citizen by personal ID number; a business by enterprise code, or a household business by its owner's ID number.
      const applicant = dossier.applicant.type === 'citizen' ? parseIdNumber(dossier.applicant.identifier) : parseTaxCode(dossier.applicant.identifier);
      if (!applicant.ok) {
        throw new GatewayError('INVALID_IDENTIFIER', { detail: `the applicant's identifier ${applicant.reason}`, errors: [{ field: 'body.applicant.identifier', message: applicant.reason }] });
      }
      if (dossier.dueAt !== undefined && new Date(dossier.dueAt).getTime() <= new Date(dossier.receivedAt).getTime()) throw invalid('body.dueAt', 'must be after receivedAt');
      const initialStatus: DossierStatus = (dossier.status as DossierStatus | undefined) ?? INITIAL_STATUS;
      if (!INITIAL_STATUSES.includes(initialStatus)) throw invalid('body.status', `must be one of ${INITIAL_STATUSES.join(', ')}`);
      const contentHash = deps.sealer.contentDigest(dossier);
      const answer = await idempotent(db, { clientId: actor.clientId, key: idempotencyKey, operation: 'createDossier', requestHash: requestHash(deps.sealer.requestDigest, 'createDossier', {}, dossier) }, async (trx) => {
        const existing = await trx.selectFrom('dossiers').select(['content_hash', 'client_id', 'agency']).where('code', '=', dossier.code).executeTakeFirst();
        // Codes are unique across clients, so the caller must learn that this one is taken; nothing
        // else about the other client's dossier (not even whether the content is the same).
        if (existing && !mayTouch(scopeOfActor(actor), existing)) {
          throw new GatewayError('CONFLICT', { detail: `dossier code ${dossier.code} is already taken by a dossier handed over by another client; use another code` });
        }
        if (existing) {
          if (existing.content_hash !== contentHash) {
            throw new GatewayError('CONFLICT', { detail: `dossier ${dossier.code} was already handed over with different content` });
          }
          return { status: 202, body: await state(trx, dossier.code, scopeOfActor(actor)) };
        }
        const clock = startClock(dossier.dueAt ?? null, initialStatus, dossier.receivedAt);
        const at = now().toISOString();
        await trx
          .insertInto('dossiers')
          .values({
            code: dossier.code,
            procedure_code: dossier.procedureCode,
            status: initialStatus,
            received_at: dossier.receivedAt,
            due_at: dossier.dueAt ?? null,
            document: deps.sealer.seal({ code: dossier.code }, dossier),
            content_hash: contentHash,
            clock: JSON.stringify(clock),
            ...overdueColumns(clock),
            last_sequence: 1,
            portal_known: 0,
            client_id: actor.clientId,
            agency: actor.agency,
            purpose: actor.purpose,
            subject_hash: deps.hashIdentifier(dossier.applicant.identifier),
            created_at: at,
            updated_at: at,
          })
          .execute();
        await append(trx, actor, dossier.code, 1, { kind: 'created', status: initialStatus, at: dossier.receivedAt, payload: null });
        return { status: 202, body: await state(trx, dossier.code, scopeOfActor(actor)) };
      });
      return queued(answer);
    },

    async addEvent(actor, code, event, idempotencyKey) {
      if (event.kind === 'progress' && new Date(event.dueAt).getTime() < new Date(event.startedAt).getTime()) throw invalid('body.dueAt', 'must not be before startedAt');
      const answer = await idempotent(db, { clientId: actor.clientId, key: idempotencyKey, operation: 'addDossierEvent', requestHash: requestHash(deps.sealer.requestDigest, 'addDossierEvent', { code }, event) }, async (trx) => {
        // Taking the next sequence locks the dossier's row (PostgreSQL) until commit: changes to one
        // dossier are decided one after the other, against the status the previous one left.
        const scope = scopeOfActor(actor);
        let claim = trx
          .updateTable('dossiers')
          .set({ last_sequence: sql<number>`last_sequence + 1`, updated_at: now().toISOString() })
          .where('code', '=', code);
        // Another client's dossier is not found: nothing of it is changed or delivered.
        if (!scope.all) claim = claim.where(visibleTo(scope));
        const row = await claim.returningAll().executeTakeFirst();
        if (!row) throw notFound(code);
        if (new Date(event.at).getTime() < new Date(row.received_at).getTime()) throw invalid('body.at', 'must not be before the dossier was received');
        const from = statusOf(row.status);
        if (event.kind === 'status') {
          const to = event.status as DossierStatus;
          if (!canMove(from, to)) {
            const allowed = allowedNext(from);
            throw new GatewayError('INVALID_TRANSITION', {
              detail: `a dossier in status ${from} (${DOSSIER_STATUSES[from]}) cannot move to status ${to} (${DOSSIER_STATUSES[to]})${allowed.length ? `; allowed: ${allowed.join(', ')}` : '; it is closed'}`,
              extensions: { allowed },
            });
          }
          const clock = tick(readClock(row.clock, from), from, to, event.at);
          await trx
            .updateTable('dossiers')
            .set({ status: to, clock: JSON.stringify(clock), ...overdueColumns(clock) })
            .where('code', '=', code)
            .execute();
        } else if (isClosed(from)) {
          throw new GatewayError('CONFLICT', { detail: `dossier ${code} is closed (status ${from}, ${DOSSIER_STATUSES[from]}): no processing step can follow` });
        }
        const eventId = await append(trx, actor, code, row.last_sequence, { kind: event.kind, status: event.kind === 'status' ? event.status : null, at: event.at, payload: event });
        return { status: 202, body: { eventId, sequence: row.last_sequence, deliveryState: 'pending' } };
      });
      return queued(answer);
    },

    async get(scope, code) {
      const found = await state(db, code, scope);
      if (!found) throw notFound(code);
      return found;
    },

    async list(scope, filter) {
      const at = now();
      const nowIso = at.toISOString();
      let query = db.selectFrom('dossiers as d');
      if (!scope.all) {
        query = query.where((eb) => eb.or([eb('d.client_id', '=', scope.clientId), ...(scope.agencies.length > 0 ? [eb('d.agency', 'in', [...scope.agencies])] : [])]));
      }
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
      const states = new Map<string, string[]>();
      if (rows.length > 0) {
        const jobs = await db
          .selectFrom('outbox_jobs')
          .select(['dossier_code', 'state'])
          .where('dossier_code', 'in', rows.map((r) => r.code))
          .groupBy(['dossier_code', 'state'])
          .execute();
        for (const j of jobs) states.set(j.dossier_code, [...(states.get(j.dossier_code) ?? []), j.state]);
      }
      return { items: rows.map((r) => summary(r, worst(states.get(r.code) ?? []), at)), page: filter.page, pageSize: filter.pageSize, total };
    },

    async redeliver(scope, code) {
      const exists = await db.selectFrom('dossiers').select(['client_id', 'agency']).where('code', '=', code).executeTakeFirst();
      if (!exists || !mayTouch(scope, exists)) throw notFound(code);
      const at = now().toISOString();
      const result = await db
        .updateTable('outbox_jobs')
        .set({ state: 'pending', attempts: 0, last_error: null, enqueued_at: at, next_attempt_at: at, lease_owner: null, lease_expires_at: null })
        .where('dossier_code', '=', code)
        .where('state', '=', 'dead')
        .executeTakeFirst();
      return queued(Number(result.numUpdatedRows));
    },
  };
}
