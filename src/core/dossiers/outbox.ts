import { randomUUID } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import { GatewayError, isGatewayError } from '../../errors/gateway-error.ts';
import type { ExchangeRecorder, UpstreamCall } from '../exchanges.ts';
import type { Logger } from '../logger.ts';
import type { CallContext, SystemId } from '../ports.ts';
import type { DossierStatus } from './lifecycle.ts';
import { withDepositedResults, withDocumentUrls, type DocumentUrl, type DossierDocumentStore } from './documents.ts';
import { DossierDataError, type DossierSealer } from './sealed.ts';
import { PORTAL_SERVICES, type DeliveryMark, type Dossier, type DossierPortal, type DossierProgressEvent, type DossierSnapshot, type PortalService } from './port.ts';
import type { OutboxJob as Job, OutboxStore } from './store.ts';

/** How the worker runs (the `outbox` section of the configuration). */
export interface OutboxOptions {
  pollIntervalMs: number;
  batchSize: number;
  concurrency: number;
  leaseSeconds: number;
  maxAgeSeconds: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** A counter and a gauge, as the worker uses its metrics (prom-client's satisfy them). */
interface Counter<L extends string> {
  inc(labels: Record<L, string>): void;
}
interface Gauge {
  set(value: number): void;
}

/** The outbox's metrics. */
export interface OutboxMetrics {
  outboxDeliveries: Counter<'service'>;
  outboxFailures: Counter<'service' | 'code'>;
  outboxDead: Counter<'service'>;
  outboxDepth: Gauge;
  outboxDeadJobs: Gauge;
  outboxOldestPendingAge: Gauge;
}

/** The delay before retry number `attempt` (0 for the first), exponential with jitter, capped. */
export type Backoff = (policy: { maxRetries: number; baseDelayMs: number; maxDelayMs: number }, attempt: number) => number;

/** The exchange-log operation of a delivery attempt (a background exchange, not an API call). */
export const DELIVERY_OPERATION = 'deliverDossier';

export interface Outbox {
  start(): void;
  /** Look for due deliveries now (a change was just accepted or requeued). */
  wake(): void;
  /**
   * Stops claiming; lets deliveries under way finish for up to `graceMs`, then abandons the rest:
   * their calls are aborted and their leases released, so another worker takes them at once.
   */
  stop(graceMs?: number): Promise<void>;
}

export interface OutboxDeps {
  store: OutboxStore;
  portal: DossierPortal;
  /** The national system behind the portal port, as the exchange log names it. */
  upstream: SystemId;
  /** Opens the dossier and the changes' payloads, kept encrypted at rest. */
  sealer: DossierSealer;
  /** Where delivery attempts are recorded, as exchanges of their own. */
  exchangeLog: ExchangeRecorder;
  log: Logger;
  metrics: OutboxMetrics;
  backoffMs: Backoff;
  /**
   * The document store: the results deposited for a dossier are added to what the portal
   * receives of it (DanhSachGiayToKetQua), with their content URL (`documentUrl`, required with it).
   */
  documents?: DossierDocumentStore;
  documentUrl?: DocumentUrl;
  /** Identifies this process among the workers sharing the outbox (in leases and logs). */
  workerId?: string;
  now?: () => Date;
}

/** Statuses whose change ends processing (NgayKetThucXuLy), and the return of the result (NgayTra). */
const ENDING: ReadonlySet<number> = new Set([3, 7, 8, 9, 10]);
const RETURNED = 10;

class Abandoned extends Error {}
/** Why a delivery is cut short when its lease is about to pass to another worker. */
class LeaseRunningOut extends Error {}

/** Refusals that sent nothing to the portal (its breaker is open, or no call slot was free): not delivery attempts. */
const NOT_SENT: ReadonlySet<string> = new Set(['UPSTREAM_CIRCUIT_OPEN', 'UPSTREAM_BUSY']);
/** `outbox_jobs.last_error` holds at most this many characters (the column is text since migration 0011). */
export const LAST_ERROR_CHARS = 300;
/** How a breaker-open refusal names the failure before it: "UPSTREAM_CIRCUIT_OPEN: …; last failure: …". */
const LAST_FAILURE = '; last failure: ';

/**
 * What lies under a failure, without the national system's own text (that goes to the log
 * only): a network error by its code (ECONNREFUSED, UND_ERR_SOCKET), an answer by its HTTP
 * status and the portal's error_code. A permanent refusal keeps what the portal said of the item
 * (the adapter's `upstreamReason`, meant for operators).
 */
function underneath(cause: unknown): string | undefined {
  if (!(cause instanceof Error)) return undefined;
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string' && /^(E[A-Z0-9_]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
  const answer = /^HTTP \d{3}(, error_code [\w-]{1,10})?/.exec(cause.message);
  if (answer) return answer[0];
  return underneath(cause.cause);
}

/** A failure in words: its code, then what the upstream said or what failed underneath. */
function failureText(code: string, failure: unknown): string {
  if (failure instanceof DossierDataError) return `${code}: stored data cannot be read`;
  if (!isGatewayError(failure)) return code;
  if (failure.permanent && failure.upstreamReason) return `${code}: ${failure.upstreamReason}`;
  const below = underneath(failure.cause);
  const detail = failure.detail ?? failure.message;
  return `${code}: ${detail}${below ? ` (${below})` : ''}`;
}

/**
 * A failure as another dossier's job may show it: its code and what failed underneath (a network
 * error's code, an HTTP status), never a detail that could name that dossier or its data.
 */
function failureKind(failure: unknown): string {
  if (!isGatewayError(failure)) return 'INTERNAL_ERROR';
  const below = underneath(failure.cause);
  return `${failure.code}${below ? ` (${below})` : ''}`;
}

const trim = (text: string) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= LAST_ERROR_CHARS ? flat : `${flat.slice(0, LAST_ERROR_CHARS - 1)}…`;
};

/**
 * What the job's row keeps of a failure (`lastError`): the error code and its cause. A try the
 * open breaker refused names the failure it stands for: the one the breaker gave as its cause,
 * else the last upstream failure this worker saw (both by their kind only, as they may be another
 * client's dossier), else the job's own previous error.
 */
export function describeFailure(code: string, failure: unknown, before: { lastUpstreamFailure?: string | undefined; previous?: string | null | undefined } = {}): string {
  if (code !== 'UPSTREAM_CIRCUIT_OPEN') return trim(failureText(code, failure));
  const cause = isGatewayError(failure) ? failure.cause : undefined;
  const own = isGatewayError(failure) ? `${code}: ${failure.detail ?? failure.message}` : code;
  const previous = before.previous?.startsWith('UPSTREAM_CIRCUIT_OPEN') ? before.previous.split(LAST_FAILURE)[1] : (before.previous ?? undefined);
  const last = isGatewayError(cause) ? failureKind(cause) : (before.lastUpstreamFailure ?? previous);
  return trim(last ? `${own}${LAST_FAILURE}${last}` : own);
}

/** Sent again unchanged, it fails again: a refusal of the item as invalid, or stored data that cannot be read. */
const isPermanent = (failure: unknown) => failure instanceof DossierDataError || (isGatewayError(failure) && failure.permanent);

/**
 * The outbox worker. Jobs are claimed with a lease, atomically across processes (how, per
 * database, is the store's: src/store/outbox.ts). Only a dossier's oldest undelivered job can be
 * claimed, so each dossier's changes reach the portal strictly in order while different dossiers
 * are delivered concurrently (up to `concurrency`). A failed delivery is retried with exponential
 * backoff and full jitter until it is older than `maxAgeSeconds`, then it is dead; a permanent
 * refusal (the portal refused the item as invalid: sent again, it would be refused again) is dead
 * at once, so it does not hold the dossier's later changes back for days. A call the breaker or
 * the bulkhead refused sent nothing: it is not counted as an attempt, only put off until the
 * Retry-After it came with. Dead jobs wait for an operator's redelivery. Delivery is at
 * least once: a worker that dies mid-call leaves its lease to expire and the job is sent again,
 * with the same delivery mark, which the portal recognises as a change it already holds.
 */
export function createOutbox(deps: OutboxDeps, options: OutboxOptions): Outbox {
  const { store, log, metrics } = deps;
  const now = deps.now ?? (() => new Date());
  const workerId = deps.workerId ?? randomUUID();
  if (deps.documents && !deps.documentUrl) throw new Error('the outbox needs documentUrl with documents');
  const inFlight = new Map<string, { done: Promise<void>; abort: AbortController }>();
  let started = false;
  let stopping = false;
  let pumping: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let gaugesAt = 0;
  /** The last failure of the portal itself this worker saw, to explain a later breaker-open refusal. */
  let lastUpstreamFailure: string | undefined;

  const schedule = () => {
    clearTimeout(timer);
    if (!started || stopping) return;
    timer = setTimeout(() => void pump(), options.pollIntervalMs);
    timer.unref();
  };

  async function claim(limit: number): Promise<{ jobs: Job[]; token: string }> {
    const at = now();
    const token = `${workerId}:${randomUUID()}`;
    const jobs = await store.claim(limit, at, token, new Date(at.getTime() + options.leaseSeconds * 1000));
    return { jobs, token };
  }

  /** The dossier as the portal should hold it after change `sequence`, and that change. */
  async function load(job: Job) {
    const { dossier, changes: events } = await store.load(job);
    const event = events.at(-1);
    if (!event || event.sequence !== job.sequence) throw new Error(`job ${job.id} has no change ${job.sequence} of ${job.dossierCode}`);
    let status = 1;
    let processingEndedAt: string | null = null;
    let returnedAt: string | null = null;
    for (const e of events) {
      if (e.status === null) continue;
      status = e.status;
      if (ENDING.has(e.status)) processingEndedAt ??= e.at;
      if (e.status === RETURNED) returnedAt ??= e.at;
    }
    const document = deps.sealer.open<Dossier>({ code: job.dossierCode }, dossier.document);
    // Stored documents at their address as the portal receives them, and the results deposited for
    // the dossier as they are now (a later deposit queues another update); progress steps carry neither.
    if (deps.documentUrl && event.kind !== 'progress') {
      const attachments = withDocumentUrls(document.attachments, deps.documentUrl);
      if (attachments) document.attachments = attachments;
      if (deps.documents) {
        const results = withDepositedResults(document.results, await deps.documents.forDossier(job.dossierCode), deps.documentUrl);
        if (results) document.results = results;
      }
    }
    const snapshot: DossierSnapshot = { dossier: document, status: status as DossierStatus, processingEndedAt, returnedAt };
    return { dossier, event, snapshot };
  }

  /** One delivery attempt; resolves whatever happens (the job's row records the outcome). */
  async function deliver(job: Job, token: string, abort: AbortController): Promise<void> {
    const started = performance.now();
    const startedAt = now();
    const exchangeId = randomUUID();
    const calls: UpstreamCall[] = [];
    let reached = false;
    let failure: unknown;
    let duplicate: boolean | null = null;
    let loaded: Awaited<ReturnType<typeof load>> | undefined;
    const mark: DeliveryMark = { id: job.id, sequence: job.sequence };
    const jobLog = log.child({ dossier: job.dossierCode, sequence: job.sequence, exchangeId });

    /** One portal call, counted per service. */
    const call = async <T>(service: PortalService, run: () => Promise<T>): Promise<T> => {
      try {
        const result = await run();
        metrics.outboxDeliveries.inc({ service });
        return result;
      } catch (err) {
        if (!abort.signal.aborted) metrics.outboxFailures.inc({ service, code: isGatewayError(err) ? err.code : 'INTERNAL_ERROR' });
        throw err;
      }
    };

    try {
      loaded = await load(job);
      const ctx: CallContext = {
        requestId: exchangeId,
        exchangeId,
        signal: abort.signal,
        log: jobLog,
        clientId: loaded.event.clientId,
        agency: loaded.event.agency,
        purpose: loaded.dossier.purpose ?? undefined,
        exchangeStarted: () => {
          reached = true;
        },
        recordCall: (c) => calls.push(c),
      };
      const { snapshot, event } = loaded;
      if (event.kind === 'progress') {
        const step = { code: job.dossierCode, status: snapshot.status, event: deps.sealer.open<DossierProgressEvent>({ code: job.dossierCode, sequence: event.sequence }, event.payload) };
        duplicate = (await call(PORTAL_SERVICES.progress, () => deps.portal.progress(ctx, step, mark))).duplicate;
      } else {
        // Public integrations ask first whether the portal knows the dossier: create, or update.
        const known = loaded.dossier.portalKnown || (await call(PORTAL_SERVICES.lookup, () => deps.portal.lookup(ctx, job.dossierCode)));
        duplicate = (await call(PORTAL_SERVICES.sync, () => deps.portal.sync(ctx, snapshot, { isUpdating: known, mark }))).duplicate;
      }
    } catch (err) {
      if (!abort.signal.aborted) failure = err;
      // Cut short before the lease passes to another worker, so no two workers ever send one change at once: an attempt that timed out.
      else if (abort.signal.reason instanceof LeaseRunningOut) failure = new GatewayError('UPSTREAM_TIMEOUT', { detail: 'the delivery did not finish within its lease', upstreamFailure: true, cause: err });
      else failure = new Abandoned('stopped while delivering', { cause: err });
    }

    const code = failure === undefined ? null : isGatewayError(failure) ? failure.code : failure instanceof Abandoned ? 'CALLER_ABORTED' : 'INTERNAL_ERROR';
    // Refused before anything went out (every call rejected by the breaker or the bulkhead): no attempt.
    const notSent = code !== null && NOT_SENT.has(code) && calls.every((c) => c.outcome === 'rejected');
    if (reached && loaded && !notSent) {
      const status = failure === undefined ? 200 : isGatewayError(failure) ? failure.status : 500;
      // The attempt is logged before its job is settled: a crash in between repeats the attempt, never hides one.
      await deps.exchangeLog
        .record({
          id: exchangeId,
          startedAt,
          client: loaded.event.clientId,
          agency: loaded.event.agency,
          operation: DELIVERY_OPERATION,
          upstream: deps.upstream,
          purpose: loaded.dossier.purpose,
          userHash: loaded.event.userHash,
          subjectHash: loaded.dossier.subjectHash,
          status,
          latencyMs: Math.round(performance.now() - started),
          upstreamCalls: calls,
          // The applicant is the dossier's one subject (its keyed hash, as stored); the dossier is the case.
          code,
          subjects: [],
          result: null,
          caseId: job.dossierCode,
          resultCount: null,
          criteria: null,
          request: canonicalize({ operation: DELIVERY_OPERATION, dossier: job.dossierCode, sequence: job.sequence, delivery: job.id, attempt: job.attempts + 1, service: job.service }),
          response: canonicalize({ status, code, duplicate }),
        })
        .catch((err: unknown) => jobLog.error({ err }, 'delivery attempt could not be written to the exchange log'));
    }

    const at = now();
    if (failure instanceof Abandoned) {
      await store.release(job, token);
      jobLog.info('delivery abandoned at shutdown; lease released');
      return;
    }
    if (failure === undefined) {
      if (!(await store.delivered(job, token, job.attempts + 1, at))) jobLog.warn('delivered after the lease had passed to another worker');
      jobLog.debug({ duplicate, attempts: job.attempts + 1 }, 'delivered');
      return;
    }
    const attempts = notSent ? job.attempts : job.attempts + 1;
    const permanent = isPermanent(failure);
    const tooOld = at.getTime() - new Date(job.enqueuedAt).getTime() >= options.maxAgeSeconds * 1000;
    const dead = permanent || tooOld;
    const retryAfter = isGatewayError(failure) ? failure.retryAfter : undefined;
    const delay =
      notSent && retryAfter !== undefined ? retryAfter * 1000 : deps.backoffMs({ maxRetries: 0, baseDelayMs: options.backoffBaseMs, maxDelayMs: options.backoffMaxMs }, Math.max(0, attempts - 1));
    const lastError = describeFailure(code ?? 'INTERNAL_ERROR', failure, { lastUpstreamFailure, previous: job.lastError });
    if (isGatewayError(failure) && failure.upstreamFailure) lastUpstreamFailure = failureKind(failure);
    const settled = await store.failed(job, token, {
      state: dead ? 'dead' : 'pending',
      attempts,
      lastError,
      nextAttemptAt: new Date(at.getTime() + delay).toISOString(),
      at: at.toISOString(),
      ...(loaded ? { sentContentHash: loaded.dossier.contentHash } : {}),
    });
    if (dead && settled === 'pending') {
      jobLog.info({ code, attempts, lastError }, 'delivery refused, but the dossier was corrected meanwhile: the corrected version is sent next');
    } else if (dead) {
      metrics.outboxDead.inc({ service: job.service });
      if (permanent) {
        const err = isGatewayError(failure) ? failure.cause : failure;
        const why = failure instanceof DossierDataError ? 'its stored data cannot be read' : 'refused as invalid, it would be refused again';
        jobLog.error({ code, attempts, lastError, err }, `delivery given up: ${why} (redeliver once the cause is fixed)`);
      } else jobLog.error({ code, attempts }, 'delivery given up: older than the maximum age (redeliver to retry)');
    } else if (notSent) {
      jobLog.info({ code, attempts, retryInMs: delay }, 'delivery put off: the portal is not being called now (not an attempt)');
    } else {
      const level = isGatewayError(failure) ? 'info' : 'error';
      jobLog[level]({ code, attempts, retryInMs: delay, err: isGatewayError(failure) ? undefined : failure }, 'delivery failed; will retry');
    }
  }

  async function refreshGauges(): Promise<void> {
    const at = now();
    if (at.getTime() - gaugesAt < 1000) return;
    gaugesAt = at.getTime();
    const depth = await store.depth();
    metrics.outboxDepth.set(depth.pending);
    metrics.outboxDeadJobs.set(depth.dead);
    metrics.outboxOldestPendingAge.set(depth.oldestPending ? Math.max(0, (at.getTime() - new Date(depth.oldestPending).getTime()) / 1000) : 0);
  }

  /** Claims what there is room for and starts it; again whenever a delivery ends. */
  async function pumpOnce(): Promise<void> {
    do {
      again = false;
      const room = options.concurrency - inFlight.size;
      if (room <= 0 || stopping) return;
      const { jobs, token } = await claim(Math.min(room, options.batchSize));
      for (const job of jobs) {
        const abort = new AbortController();
        // Stop the delivery a margin before its lease ends: past it, another worker may claim the job.
        const leaseMs = options.leaseSeconds * 1000;
        const expiring = setTimeout(() => abort.abort(new LeaseRunningOut('lease running out')), leaseMs - Math.min(5000, leaseMs / 5));
        const done = deliver(job, token, abort)
          .catch((err: unknown) => log.error({ err, dossier: job.dossierCode, sequence: job.sequence }, 'outbox job could not be settled'))
          .finally(() => {
            clearTimeout(expiring);
            inFlight.delete(job.id);
            if (!stopping) void pump();
          });
        inFlight.set(job.id, { done, abort });
      }
      if (jobs.length > 0 && jobs.length === room) again = true;
    } while (again && !stopping);
  }

  function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = (async () => {
      try {
        await pumpOnce();
        await refreshGauges();
      } catch (err) {
        log.error({ err }, 'outbox poll failed');
      } finally {
        pumping = undefined;
        // A delivery that ended while this pass was finishing freed a slot (and maybe its
        // dossier's next change): look again now rather than at the next poll.
        if (again && started && !stopping) void pump();
        else schedule();
      }
    })();
    return pumping;
  }

  return {
    start() {
      if (started) return;
      started = true;
      log.info({ workerId, concurrency: options.concurrency, dialect: store.dialect }, 'outbox worker started');
      void pump();
    },
    wake() {
      if (started && !stopping) void pump();
    },
    async stop(graceMs = 5000) {
      stopping = true;
      clearTimeout(timer);
      await pumping;
      const pending = () => Promise.all([...inFlight.values()].map((f) => f.done));
      if (inFlight.size > 0) {
        let graceTimer: NodeJS.Timeout | undefined;
        await Promise.race([pending(), new Promise((resolve) => (graceTimer = setTimeout(resolve, graceMs)))]);
        clearTimeout(graceTimer);
        for (const f of inFlight.values()) f.abort.abort(new Error('outbox stopping'));
        await pending();
      }
      started = false;
    },
  };
}

