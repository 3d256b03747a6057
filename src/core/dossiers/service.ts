import { randomUUID } from 'node:crypto';
import type { components } from '../../generated/gateway.ts';
import { GatewayError } from '../../errors/gateway-error.ts';
import { requestHash, type StoredAnswer } from '../idempotency.ts';
import { parseDossierCode } from '../identifiers/dossier-code.ts';
import { parseIdNumber } from '../identifiers/id-number.ts';
import { parseTaxCode } from '../identifiers/tax-code.ts';
import type { DocumentSubjectType, DossierDocuments } from '../documents/port.ts';
import { answeredInstant, toVietnamIso } from '../time.ts';
import { checkAttachmentForms, completeAttachments, documentSubjectOf, dossierFigures, type DossierDocumentStore } from './documents.ts';
import {
  DOSSIER_STATUSES,
  INITIAL_STATUS,
  INITIAL_STATUSES,
  allowedNext,
  canMove,
  clockColumns,
  isClosed,
  onTime,
  readClock,
  startClock,
  tick,
  type DossierStatus,
} from './lifecycle.ts';
import { PORTAL_SERVICES, type Dossier, type DossierEvent } from './port.ts';
import type { DossierSealer } from './sealed.ts';
import type { DeliveryJob, DossierReads, DossierRecord, DossierScope, DossierStore, DossierWrites } from './store.ts';

export type { DossierScope };

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

export interface ListFilter {
  code?: string | undefined;
  deliveryState?: DeliveryState | undefined;
  status?: number | undefined;
  overdue?: boolean | undefined;
  page: number;
  pageSize: number;
}

/** Dossier use cases; with the document store's needs of dossiers (DossierDocuments: deposits for a dossier). */
export interface DossierService extends DossierDocuments {
  create(actor: Actor, dossier: Dossier, idempotencyKey?: string): Promise<StoredAnswer>;
  addEvent(actor: Actor, code: string, event: DossierEvent, idempotencyKey?: string): Promise<StoredAnswer>;
  /** The dossier as the caller may see it; `onSubjectHash` learns whose it is (the applicant's keyed hash), for the exchange log. */
  get(scope: DossierScope, code: string, onSubjectHash?: (hash: string) => void): Promise<DossierState>;
  list(scope: DossierScope, filter: ListFilter): Promise<DossierPage>;
  /** Puts the dossier's dead deliveries back in the outbox; how many. */
  redeliver(scope: DossierScope, code: string): Promise<number>;
  /**
   * Corrects the dossier's fields (a JSON merge patch of its correctable members, RFC 7396): the
   * document is resealed with the corrections, an update is queued for the portal, and the
   * dossier's dead deliveries are requeued ahead of it. 202 when a correction was queued, 200
   * when the patch changes nothing.
   */
  correct(actor: Actor, code: string, patch: DossierCorrection, options?: CorrectionOptions): Promise<StoredAnswer>;
}

export type DossierCorrection = components['schemas']['DossierCorrection'];

export interface CorrectionOptions {
  idempotencyKey?: string | undefined;
  /**
   * Whether the national procedure catalogue holds a procedure code (the caller's cached copy);
   * asked before anything is written when the patch names one. Throws when it cannot tell.
   */
  procedureKnown?: (procedureCode: string) => Promise<boolean>;
  /**
   * Told the applicant's identifier as soon as the dossier is found (before anything may be
   * refused), so that the exchange-log entry of the call, accepted or refused, names whom it is about.
   */
  onSubject?: (identifier: string) => void;
}

/** The kind of change a correction is, in the dossier's history. */
export const CORRECTION = 'correction';
/** The kind of change a result deposited for the dossier is: an update carrying it to the portal. */
export const RESULT = 'result';

/**
 * RFC 7396 JSON merge patch: members of the patch replace the target's, `null` removes one,
 * objects merge member by member, anything else (arrays included) replaces as a whole.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete result[name];
    else result[name] = mergePatch(result[name], value);
  }
  return result;
}

export interface DossierServiceDeps {
  store: DossierStore;
  /** Keyed hash of an identifier (the applicant's), for the exchange log. */
  hashIdentifier(value: string): string;
  /** Encrypts the dossier as received and the changes' payloads (personal data) at rest. */
  sealer: DossierSealer;
  /** Called once a change is committed, so the outbox worker need not wait for its next poll. */
  onQueued?: () => void;
  /**
   * The document store, for attachments that name a stored document (`documentCode`); without
   * it such attachments are refused.
   */
  documents?: DossierDocumentStore;
  now?: () => Date;
}

const notFound = (code: string) => new GatewayError('DOSSIER_NOT_FOUND', { detail: `no dossier ${code} was handed to the gateway` });
const invalid = (field: string, message: string) => new GatewayError('VALIDATION_FAILED', { detail: `${field} ${message}`, errors: [{ field, message }] });

const scopeOfActor = (actor: Actor): DossierScope => actor.scope ?? { all: false, clientId: actor.clientId, agencies: [] };

function mayTouch(scope: DossierScope, row: Pick<DossierRecord, 'clientId' | 'agency'>): boolean {
  return scope.all || row.clientId === scope.clientId || scope.agencies.includes(row.agency);
}

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

function onTimeView(row: Pick<DossierRecord, 'clock' | 'status'>, now: Date): DossierSummary['onTime'] {
  const { overdue: _overdue, ...view } = onTime(readClock(row.clock, statusOf(row.status)), now);
  return { ...view, processingEndedAt: answeredInstant(view.processingEndedAt) };
}

/**
 * The newest failure of a change not delivered: a dead change's (what a redelivery must fix)
 * before a pending one's, which may still go through.
 */
function deliveryError(jobs: readonly DeliveryJob[]): string | null {
  const newest = (state: string) => jobs.findLast((j) => j.state === state && j.lastError)?.lastError ?? null;
  return newest('dead') ?? newest('pending');
}

function summary(row: DossierRecord, jobs: readonly DeliveryJob[], now: Date): DossierSummary {
  const status = statusOf(row.status);
  return {
    code: row.code,
    procedureCode: row.procedureCode,
    status,
    statusName: DOSSIER_STATUSES[status],
    receivedAt: answeredInstant(row.receivedAt),
    dueAt: answeredInstant(row.dueAt),
    onTime: onTimeView(row, now),
    deliveryState: worst(jobs.map((j) => j.state)),
    deliveryError: deliveryError(jobs),
  };
}

/**
 * Use cases of dossier synchronisation. Every accepted change is written with its delivery job in
 * one transaction (and with the client's Idempotency-Key, when given); the outbox worker delivers.
 */
export function createDossierService(deps: DossierServiceDeps): DossierService {
  const { store } = deps;
  const now = deps.now ?? (() => new Date());

  /** The attachments with those naming a stored document checked and completed (reads only). */
  const complete = (attachments: Dossier['attachments'], applicant: Dossier['applicant'], held?: Dossier['attachments']) =>
    completeAttachments(attachments, applicant, { documents: deps.documents, hashIdentifier: deps.hashIdentifier, now: now(), held });

  async function state(reads: DossierReads, code: string, scope: DossierScope, onSubjectHash?: (hash: string) => void): Promise<DossierState | undefined> {
    const row = await reads.find(code);
    if (!row || !mayTouch(scope, row)) return undefined;
    onSubjectHash?.(row.subjectHash);
    const events = await reads.history(code);
    const history: HistoryItem[] = events.map((e) => ({
      sequence: e.sequence,
      kind: e.kind as HistoryItem['kind'],
      ...(e.status !== null ? { status: e.status } : {}),
      at: answeredInstant(e.at),
      deliveryState: e.state as DeliveryState,
      attempts: e.attempts,
      lastError: e.lastError,
      deliveredAt: answeredInstant(e.deliveredAt),
      nextAttemptAt: e.state === 'pending' ? toVietnamIso(new Date(e.nextAttemptAt)) : null,
    }));
    const { onTime: times, ...rest } = summary(row, events, now());
    return { ...rest, history, onTime: times };
  }

  /** One change and its delivery job, at the dossier's next sequence. */
  async function append(tx: DossierWrites, actor: Actor, code: string, sequence: number, event: { kind: 'created' | 'status' | 'progress' | typeof CORRECTION | typeof RESULT; status: number | null; at: string; payload: unknown }) {
    const id = randomUUID();
    const at = now().toISOString();
    await tx.append(
      { id, dossierCode: code, sequence, kind: event.kind, status: event.status, at: event.at, payload: deps.sealer.seal({ code, sequence }, event.payload), clientId: actor.clientId, agency: actor.agency, userHash: actor.userHash, createdAt: at },
      event.kind === 'progress' ? PORTAL_SERVICES.progress : PORTAL_SERVICES.sync,
    );
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
      checkAttachmentForms(dossier.attachments);
      // The dossier as stored and delivered: attachments naming stored documents completed, once
      // checked (outside the transaction, and only for a request not answered yet).
      let completed: Dossier = dossier;
      const check = dossier.attachments?.some((a) => a.documentCode !== undefined)
        ? async () => {
            completed = { ...dossier, attachments: await complete(dossier.attachments, dossier.applicant) };
          }
        : undefined;
      const answer = await store.write({ clientId: actor.clientId, key: idempotencyKey, operation: 'createDossier', requestHash: requestHash(deps.sealer.requestDigest, 'createDossier', {}, dossier) }, async (trx) => {
        const contentHash = deps.sealer.contentDigest(completed);
        const existing = await trx.owner(dossier.code);
        // Codes are unique across clients, so the caller must learn that this one is taken; nothing
        // else about the other client's dossier (not even whether the content is the same).
        if (existing && !mayTouch(scopeOfActor(actor), existing)) {
          throw new GatewayError('CONFLICT', { detail: `dossier code ${dossier.code} is already taken by a dossier handed over by another client; use another code` });
        }
        if (existing) {
          if (existing.contentHash !== contentHash) {
            throw new GatewayError('CONFLICT', { detail: `dossier ${dossier.code} was already handed over with different content` });
          }
          return { status: 202, body: await state(trx, dossier.code, scopeOfActor(actor)) };
        }
        const clock = startClock(dossier.dueAt ?? null, initialStatus, dossier.receivedAt);
        const at = now().toISOString();
        await trx.insert({
          code: dossier.code,
          procedureCode: dossier.procedureCode,
          status: initialStatus,
          receivedAt: dossier.receivedAt,
          dueAt: dossier.dueAt ?? null,
          document: deps.sealer.seal({ code: dossier.code }, completed),
          contentHash,
          clock: JSON.stringify(clock),
          overdue: clockColumns(clock),
          lastSequence: 1,
          clientId: actor.clientId,
          agency: actor.agency,
          purpose: actor.purpose,
          subjectHash: deps.hashIdentifier(dossier.applicant.identifier),
          createdAt: at,
          updatedAt: at,
          figures: dossierFigures(completed),
        });
        await append(trx, actor, dossier.code, 1, { kind: 'created', status: initialStatus, at: dossier.receivedAt, payload: null });
        return { status: 202, body: await state(trx, dossier.code, scopeOfActor(actor)) };
      }, check);
      return queued(answer);
    },

    async addEvent(actor, code, event, idempotencyKey) {
      if (event.kind === 'progress' && new Date(event.dueAt).getTime() < new Date(event.startedAt).getTime()) throw invalid('body.dueAt', 'must not be before startedAt');
      const answer = await store.write({ clientId: actor.clientId, key: idempotencyKey, operation: 'addDossierEvent', requestHash: requestHash(deps.sealer.requestDigest, 'addDossierEvent', { code }, event) }, async (trx) => {
        // Taking the next sequence locks the dossier's row (PostgreSQL) until commit: changes to one
        // dossier are decided one after the other, against the status the previous one left.
        // Another client's dossier is not found: nothing of it is changed or delivered.
        const row = await trx.claimNext(code, scopeOfActor(actor), now().toISOString());
        if (!row) throw notFound(code);
        if (new Date(event.at).getTime() < new Date(row.receivedAt).getTime()) throw invalid('body.at', 'must not be before the dossier was received');
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
          await trx.setStatus(code, to, JSON.stringify(clock), clockColumns(clock));
        } else if (isClosed(from)) {
          throw new GatewayError('CONFLICT', { detail: `dossier ${code} is closed (status ${from}, ${DOSSIER_STATUSES[from]}): no processing step can follow` });
        }
        const eventId = await append(trx, actor, code, row.lastSequence, { kind: event.kind, status: event.kind === 'status' ? event.status : null, at: event.at, payload: event });
        return { status: 202, body: { eventId, sequence: row.lastSequence, deliveryState: 'pending' } };
      });
      return queued(answer);
    },

    async get(scope, code, onSubjectHash) {
      const found = await state(store, code, scope, onSubjectHash);
      if (!found) throw notFound(code);
      return found;
    },

    async list(scope, filter) {
      const at = now();
      const { total, rows } = await store.page(scope, filter, at);
      const states = await store.deliveryStates(rows.map((r) => r.code));
      return { items: rows.map((r) => summary(r, states.get(r.code) ?? [], at)), page: filter.page, pageSize: filter.pageSize, total };
    },

    async redeliver(scope, code) {
      const exists = await store.owner(code);
      if (!exists || !mayTouch(scope, exists)) throw notFound(code);
      return queued(await store.redeliver(code, now().toISOString()));
    },

    async correct(actor, code, patch, options = {}) {
      const scope = scopeOfActor(actor);
      const found = await store.find(code);
      if (!found || !mayTouch(scope, found)) throw notFound(code);
      // The applicant is not correctable: who the exchange is about is known before the write.
      const { applicant, attachments: held } = deps.sealer.open<Dossier>({ code }, found.document);
      options.onSubject?.(applicant.identifier);
      if (Object.keys(patch).length === 0) throw invalid('body', 'must name at least one member to correct');
      // Attachments are replaced whole: those the patch gives are checked, the others were when they came.
      const attachments = patch.attachments ?? undefined;
      checkAttachmentForms(attachments);
      let completedAttachments: Dossier['attachments'];
      // Asked before the transaction (no lock is held while the catalogue may be called), and only
      // for a request not answered yet: a retry gets its first answer whatever the catalogue says now.
      const procedureCode = patch.procedureCode;
      const known = options.procedureKnown;
      const checkProcedure =
        procedureCode !== undefined && known
          ? async () => {
              if (!(await known(procedureCode))) throw invalid('body.procedureCode', 'is not in the national procedure catalogue');
            }
          : undefined;
      const checkDocuments = attachments?.some((a) => a.documentCode !== undefined)
        ? async () => {
            completedAttachments = await complete(attachments, applicant, held);
          }
        : undefined;
      const check =
        checkProcedure || checkDocuments
          ? async () => {
              await checkProcedure?.();
              await checkDocuments?.();
            }
          : undefined;
      const write = { clientId: actor.clientId, key: options.idempotencyKey, operation: 'correctDossier', requestHash: requestHash(deps.sealer.requestDigest, 'correctDossier', { code }, patch) };
      const answer = await store.write(write, async (trx) => {
        // Locked first: the correction applies to the document as the last committed change left it.
        const row = await trx.lock(code, scope);
        if (!row) throw notFound(code);
        const corrected = mergePatch(deps.sealer.open<Dossier>({ code }, row.document), patch) as Dossier;
        if (completedAttachments) corrected.attachments = completedAttachments;
        const contentHash = deps.sealer.contentDigest(corrected);
        // Nothing changes: nothing is queued (and nothing requeued: redeliverDossier does that).
        if (contentHash === row.contentHash) return { status: 200, body: await state(trx, code, scope) };
        const claimed = await trx.claimNext(code, scope, now().toISOString());
        if (!claimed) throw notFound(code);
        await trx.replaceDocument(code, { procedureCode: corrected.procedureCode, document: deps.sealer.seal({ code }, corrected), contentHash, figures: dossierFigures(corrected) });
        const at = now();
        // The dead changes go again, in their order, now with the corrected document; the correction follows them.
        await trx.requeueDead(code, at.toISOString());
        await append(trx, actor, code, claimed.lastSequence, { kind: CORRECTION, status: null, at: toVietnamIso(at), payload: patch });
        return { status: 202, body: await state(trx, code, scope) };
      }, check);
      return answer.status === 202 ? queued(answer) : answer;
    },

    async checkDepositFor(scope, dossierCode, subject) {
      const found = await store.find(dossierCode);
      if (!found || !mayTouch(scope, found)) throw notFound(dossierCode);
      if (!isApplicant(found, subject)) {
        const message = "is a dossier of another applicant than the document's subject";
        throw new GatewayError('DOCUMENT_NOT_REUSABLE', { detail: `body.dossierCode ${message}`, errors: [{ field: 'body.dossierCode', message }] });
      }
    },

    async resultDeposited(actor, dossierCode, documentCode) {
      // An update still waiting to carry deposited results carries this one too: the outbox reads
      // the dossier's results as it delivers. (Two deposits at the same moment may both queue one.)
      if ((await store.history(dossierCode)).some((c) => c.kind === RESULT && c.state !== 'delivered')) return;
      const write = { clientId: actor.clientId, key: undefined, operation: 'depositResult', requestHash: '' };
      await store.write(write, async (trx) => {
        // The dossier's next change: an update delivered after those queued, carrying its deposited results (the outbox adds them).
        const claimed = await trx.claimNext(dossierCode, scopeOfActor(actor), now().toISOString());
        if (!claimed) throw notFound(dossierCode);
        await append(trx, actor, dossierCode, claimed.lastSequence, { kind: RESULT, status: null, at: toVietnamIso(now()), payload: { documentCode } });
        return { status: 202, body: null };
      });
      deps.onQueued?.();
    },
  };

  /** Whether a document's subject is the dossier's applicant: the same keyed hash, and a matching kind of subject. */
  function isApplicant(row: DossierRecord, subject: { type: DocumentSubjectType; identifier: string }): boolean {
    const { applicant } = deps.sealer.open<Dossier>({ code: row.code }, row.document);
    return documentSubjectOf(applicant) === subject.type && row.subjectHash === deps.hashIdentifier(subject.identifier);
  }
}
