/**
 * The dossier lifecycle (`TrangThaiHoSo`, DOMAIN.md): the status codes, the one table of allowed
 * transitions, and the on-time rule. The national interface does not publish the transitions;
 * this table is the inferred one of DOMAIN.md and the only place that knows it.
 */

export const DOSSIER_STATUSES = {
  1: 'registered',
  2: 'accepted',
  3: 'not_accepted',
  4: 'processing',
  5: 'supplement_requested',
  6: 'financial_obligation_requested',
  7: 'withdrawn',
  8: 'stopped',
  9: 'finished',
  10: 'returned',
} as const;

export type DossierStatus = keyof typeof DOSSIER_STATUSES;
export type DossierStatusName = (typeof DOSSIER_STATUSES)[DossierStatus];

/** The status every dossier starts in. */
export const INITIAL_STATUS: DossierStatus = 1;

/**
 * Allowed next statuses. 1→2 or 3; 2→4; 4↔5 and 4↔6; 4→9→10. Withdrawal (7) by the applicant is
 * possible until processing has finished; stopping (8) once the dossier was accepted. 3, 7, 8 and
 * 10 end the dossier.
 */
export const TRANSITIONS: Readonly<Record<DossierStatus, readonly DossierStatus[]>> = {
  1: [2, 3, 7],
  2: [4, 7, 8],
  3: [],
  4: [5, 6, 7, 8, 9],
  5: [4, 7, 8],
  6: [4, 7, 8],
  7: [],
  8: [],
  9: [10],
  10: [],
};

export function isDossierStatus(value: number): value is DossierStatus {
  return Number.isInteger(value) && value >= 1 && value <= 10;
}

export function allowedNext(from: DossierStatus): readonly DossierStatus[] {
  return TRANSITIONS[from];
}

export function canMove(from: DossierStatus, to: DossierStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** No change of any kind is accepted after these. */
export function isClosed(status: DossierStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

/**
 * Statuses that end processing for the on-time rule: refused, stopped, finished, returned
 * (DOMAIN.md), and a withdrawal, after which nothing can be processed either.
 */
const ENDS_PROCESSING: ReadonlySet<DossierStatus> = new Set<DossierStatus>([3, 7, 8, 9, 10]);
const SUPPLEMENT: DossierStatus = 5;

/** What the on-time rule needs to remember of a dossier's history. Instants are ISO 8601. */
export interface OnTimeClock {
  dueAt: string;
  supplementRequests: number;
  /** Supplement waits that have ended, in milliseconds. */
  supplementWaitMs: number;
  /** When the current supplement wait began, while the dossier waits for the applicant. */
  supplementSince: string | null;
  /** The first status change that ended processing. */
  endedAt: string | null;
}

export function startClock(dueAt: string): OnTimeClock {
  return { dueAt, supplementRequests: 0, supplementWaitMs: 0, supplementSince: null, endedAt: null };
}

const ms = (iso: string) => new Date(iso).getTime();

/** The clock after a status change from `from` to `to` at `at`. */
export function tick(clock: OnTimeClock, from: DossierStatus, to: DossierStatus, at: string): OnTimeClock {
  const next = { ...clock };
  if (from === SUPPLEMENT && next.supplementSince) {
    next.supplementWaitMs += Math.max(0, ms(at) - ms(next.supplementSince));
    next.supplementSince = null;
  }
  if (to === SUPPLEMENT) {
    next.supplementRequests += 1;
    next.supplementSince = at;
  }
  if (ENDS_PROCESSING.has(to) && next.endedAt === null) next.endedAt = at;
  return next;
}

export interface OnTimeResult {
  state: 'on_time' | 'late' | 'pending';
  processingEndedAt: string | null;
  supplementWaitSeconds: number;
  supplementRequests: number;
  reason: string | null;
  /** Late, or still open past its (supplement-extended) due date. */
  overdue: boolean;
}

export const LATE_REASONS = {
  repeatedSupplement: 'supplement requested more than once',
  endedAfterDue: 'processing ended after the due date',
} as const;

/**
 * On time: processing ended no later than the due date, the time spent waiting for the
 * applicant's supplement not counted; a supplement requested more than once is late whatever
 * the dates.
 */
export function onTime(clock: OnTimeClock, now: Date): OnTimeResult {
  const ongoingWait = clock.supplementSince ? Math.max(0, now.getTime() - ms(clock.supplementSince)) : 0;
  const deadline = ms(clock.dueAt) + clock.supplementWaitMs;
  const base = {
    processingEndedAt: clock.endedAt,
    supplementWaitSeconds: Math.floor((clock.supplementWaitMs + ongoingWait) / 1000),
    supplementRequests: clock.supplementRequests,
  };
  if (clock.supplementRequests > 1) return { ...base, state: 'late', reason: LATE_REASONS.repeatedSupplement, overdue: true };
  if (clock.endedAt !== null) {
    const late = ms(clock.endedAt) > deadline;
    return { ...base, state: late ? 'late' : 'on_time', reason: late ? LATE_REASONS.endedAfterDue : null, overdue: late };
  }
  // While the applicant is asked for documents the clock stands still.
  const at = clock.supplementSince ? ms(clock.supplementSince) : now.getTime();
  return { ...base, state: 'pending', reason: null, overdue: at > deadline };
}

/** The columns a store filters `overdue` on: the decided state, the deadline so far, the running wait. */
export function overdueColumns(clock: OnTimeClock): { on_time_state: 'on_time' | 'late' | 'pending'; deadline_at: string; supplement_since: string | null } {
  const decided = onTime(clock, new Date(0));
  return {
    on_time_state: decided.state,
    deadline_at: new Date(ms(clock.dueAt) + clock.supplementWaitMs).toISOString(),
    supplement_since: clock.supplementSince ? new Date(ms(clock.supplementSince)).toISOString() : null,
  };
}
