import type { IdempotentWrite, StoredAnswer } from '../idempotency.ts';
import type { indexColumns, overdueColumns } from './lifecycle.ts';

/**
 * Ports: where dossiers, their changes and their delivery jobs live (src/store implements them on
 * SQLite and PostgreSQL). The use cases decide; the store runs each decision as the statements
 * and transactions described here, and keeps concurrent processes from deciding twice.
 */

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

/** One change's delivery, as the outbox keeps it. */
export interface DeliveryJob {
  state: string;
  lastError: string | null;
}

/** A dossier as stored: its document and changes' payloads sealed, the applicant only as a keyed hash. */
export interface DossierRecord {
  code: string;
  procedureCode: string;
  status: number;
  receivedAt: string;
  dueAt: string | null;
  /** The dossier as received, sealed (DossierSealer). */
  document: string;
  contentHash: string;
  /** The on-time rule's memory (OnTimeClock, JSON). */
  clock: string;
  /** Sequence of the newest change (the dossier itself is 1). */
  lastSequence: number;
  /** Once the national portal confirmed it holds the dossier. */
  portalKnown: boolean;
  clientId: string;
  agency: string;
  purpose: string | null;
  subjectHash: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * The columns the overdue filter reads, as the on-time rule decides them, and those the service
 * index reads of the clock (clockColumns; left out, they stay null: not known).
 */
export type OverdueColumns = ReturnType<typeof overdueColumns> & Partial<ReturnType<typeof indexColumns>>;

/**
 * What the digitisation figures count of a dossier, kept in clear beside it (no personal data):
 * the agency handling it, and whether an attachment still in it was digitised (or names a stored
 * document) and whether one was reused (or names a stored document).
 */
export interface DossierFigures {
  handlingAgency: string;
  digitisedSubmission: boolean;
  reusedDocument: boolean;
  /**
   * What the national service index counts of the dossier as it stands (Decision 766, see
   * src/core/service-index.ts): how it was submitted, whether fees are due and were paid online,
   * whether population data was used (VNeID-verified account, or the population database
   * consulted), whether the one-stop system listed an electronic result. Left out: not known.
   */
  channel?: 'in_person' | 'online' | 'postal';
  onlinePayment?: boolean;
  feeDue?: boolean;
  populationData?: boolean;
  resultListed?: boolean;
}

/** A new dossier: as stored, with its overdue columns and its figures. */
export type NewDossier = Omit<DossierRecord, 'portalKnown'> & { overdue: OverdueColumns; figures: DossierFigures };

/** Who handed a dossier over, and what: enough to tell a repeated hand-over and to check scope. */
export type DossierOwner = Pick<DossierRecord, 'contentHash' | 'clientId' | 'agency'>;

/** A change as stored (sequence 1 is the dossier itself). */
export interface ChangeRecord {
  id: string;
  dossierCode: string;
  sequence: number;
  kind: string;
  status: number | null;
  at: string;
  /** The change as received, sealed (DossierSealer). */
  payload: string;
  clientId: string;
  agency: string;
  userHash: string;
  createdAt: string;
}

/** A change with the state of its delivery, for the dossier's history. */
export interface DeliveredChange {
  sequence: number;
  kind: string;
  status: number | null;
  at: string;
  state: string;
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
  /** When a pending delivery is tried next (ISO 8601 UTC, as stored). */
  nextAttemptAt: string;
}

/** What a correction replaces in the dossier's row: the document, and the columns derived from it. */
export interface CorrectedDocument {
  procedureCode: string;
  /** The corrected dossier, sealed (DossierSealer). */
  document: string;
  contentHash: string;
  figures: DossierFigures;
}

/** What the dossier list filters on. */
export interface DossierQuery {
  /** Only the dossier with this code (still within the scope). */
  code?: string | undefined;
  deliveryState?: 'pending' | 'delivered' | 'dead' | undefined;
  status?: number | undefined;
  overdue?: boolean | undefined;
  page: number;
  pageSize: number;
}

/** Reads, inside a write's transaction or on their own. */
export interface DossierReads {
  find(code: string): Promise<DossierRecord | undefined>;
  owner(code: string): Promise<DossierOwner | undefined>;
  /** Every change of the dossier with its delivery, in sequence. */
  history(code: string): Promise<DeliveredChange[]>;
}

/** What a write may do, all in its one transaction. */
export interface DossierWrites extends DossierReads {
  insert(dossier: NewDossier): Promise<void>;
  /** Stores a change and queues its delivery to `service` (pending, due at once). */
  append(change: ChangeRecord, service: string): Promise<void>;
  /**
   * Takes the dossier's next sequence, if it is in scope, and answers the dossier as it is after
   * that. On PostgreSQL this locks the dossier's row until commit.
   */
  claimNext(code: string, scope: DossierScope, updatedAt: string): Promise<DossierRecord | undefined>;
  setStatus(code: string, status: number, clock: string, overdue: OverdueColumns): Promise<void>;
  /**
   * The dossier, if it is in scope, locked for a change decided on it: on PostgreSQL its row until
   * commit, on SQLite the database's write lock (the transaction becomes the writer at once).
   */
  lock(code: string, scope: DossierScope): Promise<DossierRecord | undefined>;
  /** Replaces the dossier's document (a correction). */
  replaceDocument(code: string, corrected: CorrectedDocument): Promise<void>;
  /** Puts the dossier's dead deliveries back in the queue, due at `at`, attempts reset; how many. */
  requeueDead(code: string, at: string): Promise<number>;
}

export interface DossierStore extends DossierReads {
  /**
   * Runs `work` in one transaction and keeps its answer under the client's Idempotency-Key in
   * that same transaction; the same key and request get the kept answer again, another request
   * 422 IDEMPOTENCY_KEY_REUSED. A write that lost a race to a concurrent one is run again against
   * the winner's state, or answered with the winner's kept answer. `check` (checks that may call
   * other systems, so are not run inside the transaction) runs before it, only when no answer is
   * kept: a retried request gets its first answer, whatever those systems say now.
   */
  write(write: IdempotentWrite, work: (tx: DossierWrites) => Promise<StoredAnswer>, check?: () => Promise<void>): Promise<StoredAnswer>;
  /** A page of the dossiers in scope, newest first, and how many match in all. */
  page(scope: DossierScope, query: DossierQuery, now: Date): Promise<{ total: number; rows: DossierRecord[] }>;
  /** The deliveries of each dossier named, in the order of its changes. */
  deliveryStates(codes: readonly string[]): Promise<Map<string, DeliveryJob[]>>;
  /** Puts the dossier's dead deliveries back in the queue, due at `at`; how many. */
  redeliver(code: string, at: string): Promise<number>;
}

/** A delivery job as the outbox worker sees it. */
export interface OutboxJob {
  id: string;
  dossierCode: string;
  sequence: number;
  service: string;
  attempts: number;
  enqueuedAt: string;
  /** What the previous try left (null when none failed yet). */
  lastError: string | null;
}

/** How a failed attempt leaves its job. */
export interface JobFailure {
  state: 'pending' | 'dead';
  attempts: number;
  lastError: string;
  nextAttemptAt: string;
  /** When the attempt ended. */
  at: string;
  /**
   * For a job given up (`dead`): the dossier's content hash the attempt sent. If the dossier was
   * corrected meanwhile (another hash now), the refusal was of a version no longer current: the
   * job stays pending, due at once and counted afresh from `at` (attempts and age, as a requeued
   * job is), not dead behind a correction that already requeued the dossier's dead jobs.
   */
  sentContentHash?: string;
}

/** The outbox's counts, for its gauges. */
export interface OutboxDepth {
  pending: number;
  dead: number;
  /** When the oldest pending job was queued; null when none is. */
  oldestPending: string | null;
}

/**
 * Port: the delivery queue. Jobs are leased by a token; every settlement names the token, so a
 * worker whose lease passed to another settles nothing.
 */
export interface OutboxStore {
  /** The database behind it, for the worker's start log. */
  readonly dialect: string;
  /**
   * Leases up to `limit` due jobs under `token` until `leaseExpiresAt`: pending, not leased (or
   * their lease expired), and each the oldest undelivered change of its dossier.
   */
  claim(limit: number, now: Date, token: string, leaseExpiresAt: Date): Promise<OutboxJob[]>;
  /** The dossier and its changes up to the job's, in sequence. */
  load(job: OutboxJob): Promise<{ dossier: DossierRecord; changes: ChangeRecord[] }>;
  /** Gives the lease up, the job untouched. */
  release(job: OutboxJob, token: string): Promise<void>;
  /** The job delivered and the dossier known to the portal, in one transaction; false when the lease was no longer held. */
  delivered(job: OutboxJob, token: string, attempts: number, at: Date): Promise<boolean>;
  /** Settles a failed attempt; answers the state the job was left in (see JobFailure.sentContentHash). */
  failed(job: OutboxJob, token: string, failure: JobFailure): Promise<JobFailure['state']>;
  depth(): Promise<OutboxDepth>;
}
