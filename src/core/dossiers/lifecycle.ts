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

/** The status a dossier starts in unless the portal hands it over already accepted. */
export const INITIAL_STATUS: DossierStatus = 1;
/** A dossier may be handed over newly registered or, accepted at the desk, already accepted. */
export const INITIAL_STATUSES: readonly DossierStatus[] = [1, 2];

const ALL_STATUSES = Object.keys(DOSSIER_STATUSES).map(Number) as DossierStatus[];
/** 3 (not accepted or refused), 7 (withdrawn), 8 (stopped) and 10 (returned) end the dossier. */
const CLOSING: ReadonlySet<DossierStatus> = new Set<DossierStatus>([3, 7, 8, 10]);

/**
 * Allowed next statuses. Real one-stop systems skip steps (2→9 and 2→10 without 4, 4→3 as a
 * refusal after acceptance), so only what cannot be is refused: leaving a closed dossier, and
 * going back to 1. Repeating the current status is a resend, not a change of course.
 */
export const TRANSITIONS: Readonly<Record<DossierStatus, readonly DossierStatus[]>> = Object.fromEntries(
  ALL_STATUSES.map((from) => [from, CLOSING.has(from) ? [] : ALL_STATUSES.filter((to) => to !== 1)]),
) as unknown as Record<DossierStatus, readonly DossierStatus[]>;

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
  return CLOSING.has(status);
}

/**
 * The on-time rule of the national service index (Decision 766/QĐ-TTg, DOMAIN.md):
 * - only dossiers that were accepted are rated; one refused without acceptance (1→3) is not, nor
 *   one without a due date (procedures with no deadline);
 * - processing ends at the first of finished (9), returned (10), stopped (8) or refused after
 *   acceptance (3);
 * - the comparison is by calendar day in Vietnam time: ended on the due day, at any hour, is on
 *   time;
 * - waiting for the applicant's supplement is subtracted in whole calendar days (the days from
 *   the request to the resumption), matching the calendar-day comparison; a second supplement
 *   request makes the dossier late whatever the dates.
 * *(inferred)* A dossier withdrawn by the applicant (7) before processing ended is not rated: the
 * index rates dossiers that were resolved, and a withdrawn one was not.
 */
const ENDS_PROCESSING: ReadonlySet<DossierStatus> = new Set<DossierStatus>([3, 8, 9, 10]);
const SUPPLEMENT: DossierStatus = 5;
/** Statuses that can only follow acceptance. */
const AFTER_ACCEPTANCE: ReadonlySet<DossierStatus> = new Set<DossierStatus>([2, 4, 5, 6, 8, 9, 10]);

/** What the on-time rule needs to remember of a dossier's history. Instants are ISO 8601. */
export interface OnTimeClock {
  /** The promised day (ngày hẹn trả); null for procedures with no deadline. */
  dueAt: string | null;
  /** When the dossier was first accepted (or reached a status that follows acceptance). */
  acceptedAt?: string | null;
  supplementRequests: number;
  /** Supplement waits that have ended, in milliseconds. */
  supplementWaitMs: number;
  /** Supplement waits that have ended, in calendar days (Vietnam time). */
  supplementDays?: number;
  /** When the current supplement wait began, while the dossier waits for the applicant. */
  supplementSince: string | null;
  /** The first status change that ended processing, and that status (7 when withdrawn first). */
  endedAt: string | null;
  endedBy?: DossierStatus | null;
  /** When the second supplement request came (it makes the dossier late), for the service index's judgement at a period's end. */
  repeatedSupplementAt?: string | null;
}

export function startClock(dueAt: string | null, initialStatus: DossierStatus = INITIAL_STATUS, receivedAt: string | null = null): OnTimeClock {
  return {
    dueAt,
    acceptedAt: AFTER_ACCEPTANCE.has(initialStatus) ? receivedAt : null,
    supplementRequests: 0,
    supplementWaitMs: 0,
    supplementDays: 0,
    supplementSince: null,
    endedAt: null,
    endedBy: null,
  };
}

/**
 * A clock as stored, brought to the current shape. Clocks written before acceptance and the
 * ending status were recorded date from the stricter table, where 3 could only follow 1 and
 * nothing followed 7: the current status tells both. Their supplement waits were kept only in
 * milliseconds; those count as days rounded up.
 */
export function readClock(stored: string, status: DossierStatus): OnTimeClock {
  const clock = JSON.parse(stored) as OnTimeClock;
  if (clock.acceptedAt !== undefined) return clock;
  return {
    ...clock,
    // Only whether it was accepted matters to the rule; when is not known.
    acceptedAt: status === 1 || status === 3 ? null : (clock.endedAt ?? clock.dueAt ?? 'unknown'),
    supplementDays: Math.ceil(clock.supplementWaitMs / DAY_MS),
    endedBy: clock.endedAt === null ? null : status === 3 || status === 7 ? status : (clock.endedBy ?? null),
  };
}

// Offsets without minutes (`+07`, `+0700`) were accepted before the contract refused them; a
// clock stored then still holds them, and Date cannot read them.
const ms = (iso: string) => new Date(iso.replace(/(T[\d:.]+[+-]\d\d):?(\d\d)?$/, (_, time: string, minutes?: string) => `${time}:${minutes ?? '00'}`)).getTime();
const DAY_MS = 86_400_000;
const VIETNAM_MS = 7 * 3_600_000;

/** The calendar day (yyyy-MM-dd) an instant falls on in Vietnam time. */
export function vietnamDate(iso: string | Date): string {
  const t = typeof iso === 'string' ? ms(iso) : iso.getTime();
  return new Date(t + VIETNAM_MS).toISOString().slice(0, 10);
}

/** Day number (days since 1970-01-01) of a yyyy-MM-dd. */
const dayNumber = (date: string) => Math.round(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
const dateOfDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const daysBetween = (from: string | Date, to: string | Date) => Math.max(0, dayNumber(vietnamDate(to)) - dayNumber(vietnamDate(from)));

/** The clock after a status change from `from` to `to` at `at`. */
export function tick(clock: OnTimeClock, from: DossierStatus, to: DossierStatus, at: string): OnTimeClock {
  const next: OnTimeClock = { ...clock };
  if (AFTER_ACCEPTANCE.has(to) && !next.acceptedAt) next.acceptedAt = at;
  // A resent 5 is the same request, not a second one.
  if (from === SUPPLEMENT && to === SUPPLEMENT) return next;
  if (from === SUPPLEMENT && next.supplementSince) {
    next.supplementWaitMs += Math.max(0, ms(at) - ms(next.supplementSince));
    next.supplementDays = (next.supplementDays ?? 0) + daysBetween(next.supplementSince, at);
    next.supplementSince = null;
  }
  if (to === SUPPLEMENT) {
    next.supplementRequests += 1;
    next.supplementSince = at;
    // `>=`: a clock stored before the instant was kept may already count two requests.
    if (next.supplementRequests >= 2 && !next.repeatedSupplementAt) next.repeatedSupplementAt = at;
  }
  if (next.endedAt === null && (ENDS_PROCESSING.has(to) || to === 7)) {
    next.endedAt = at;
    next.endedBy = to;
  }
  return next;
}

export type OnTimeState = 'on_time' | 'late' | 'pending' | 'not_rated';

export interface OnTimeResult {
  state: OnTimeState;
  /** Whether the national index rates the dossier (or will, once its processing ends). */
  rated: boolean;
  /** The due day in Vietnam time, and that day moved on by the supplement days. */
  dueDate: string | null;
  deadlineDate: string | null;
  processingEndedAt: string | null;
  /** The calendar day (Vietnam time) processing ended: what is compared with the deadline. */
  processingEndedOn: string | null;
  supplementDays: number;
  supplementWaitSeconds: number;
  supplementRequests: number;
  /** Why the dossier is late or not rated. */
  reason: string | null;
  /** Late, or still open past its (supplement-extended) due day. */
  overdue: boolean;
}

export const LATE_REASONS = {
  repeatedSupplement: 'supplement requested more than once',
  endedAfterDue: 'processing ended after the due date',
} as const;

export const NOT_RATED_REASONS = {
  noDueDate: 'no due date',
  neverAccepted: 'never accepted',
  withdrawn: 'withdrawn by the applicant before processing ended',
} as const;

export function onTime(clock: OnTimeClock, now: Date): OnTimeResult {
  const accepted = Boolean(clock.acceptedAt);
  const waiting = clock.supplementSince;
  const runningDays = waiting ? daysBetween(waiting, now) : 0;
  const supplementDays = (clock.supplementDays ?? 0) + runningDays;
  const dueDate = clock.dueAt ? vietnamDate(clock.dueAt) : null;
  const deadlineDate = dueDate ? dateOfDay(dayNumber(dueDate) + supplementDays) : null;
  const endedBy = clock.endedBy ?? null;
  const base = {
    dueDate,
    deadlineDate,
    processingEndedAt: endedBy === 7 ? null : clock.endedAt,
    processingEndedOn: clock.endedAt && endedBy !== 7 ? vietnamDate(clock.endedAt) : null,
    supplementDays,
    supplementWaitSeconds: Math.floor((clock.supplementWaitMs + (waiting ? Math.max(0, now.getTime() - ms(waiting)) : 0)) / 1000),
    supplementRequests: clock.supplementRequests,
  };
  const notRated = (reason: string): OnTimeResult => ({ ...base, state: 'not_rated', rated: false, reason, overdue: false });
  if (!dueDate || !deadlineDate) return notRated(NOT_RATED_REASONS.noDueDate);
  if (clock.endedAt !== null && !accepted) return notRated(NOT_RATED_REASONS.neverAccepted);
  if (endedBy === 7) return notRated(accepted ? NOT_RATED_REASONS.withdrawn : NOT_RATED_REASONS.neverAccepted);
  if (clock.supplementRequests > 1) return { ...base, state: 'late', rated: true, reason: LATE_REASONS.repeatedSupplement, overdue: true };
  if (base.processingEndedOn !== null) {
    const late = base.processingEndedOn > deadlineDate;
    return { ...base, state: late ? 'late' : 'on_time', rated: true, reason: late ? LATE_REASONS.endedAfterDue : null, overdue: late };
  }
  // While the applicant is asked for documents the clock stands still: the deadline moves with it.
  const today = waiting ? vietnamDate(waiting) : vietnamDate(now);
  const deadlineSoFar = dateOfDay(dayNumber(dueDate) + (clock.supplementDays ?? 0));
  return { ...base, state: 'pending', rated: accepted, reason: null, overdue: today > deadlineSoFar };
}

/** The last instant of a Vietnam calendar day, as the store compares instants (UTC ISO). */
const endOfVietnamDay = (date: string) => new Date(dayNumber(date) * DAY_MS + DAY_MS - VIETNAM_MS - 1).toISOString();

/**
 * The columns a store filters `overdue` on: the decided state, the end of the deadline day so far
 * (empty when there is no due date: such a dossier is never overdue), the running wait.
 */
export function overdueColumns(clock: OnTimeClock): { on_time_state: OnTimeState; deadline_at: string; supplement_since: string | null } {
  const decided = onTime({ ...clock, supplementSince: null }, new Date(0));
  const dueDate = clock.dueAt ? vietnamDate(clock.dueAt) : null;
  return {
    on_time_state: decided.state,
    deadline_at: dueDate ? endOfVietnamDay(dateOfDay(dayNumber(dueDate) + (clock.supplementDays ?? 0))) : '',
    supplement_since: clock.supplementSince ? new Date(ms(clock.supplementSince)).toISOString() : null,
  };
}

/** An instant as the store compares instants: UTC ISO 8601, null kept. */
const utc = (iso: string | null | undefined) => (iso ? new Date(ms(iso)).toISOString() : null);

/**
 * The columns the national service index reads of the clock (src/store/service-index.ts), besides
 * the overdue ones: when the dossier was accepted (null: never, or not known), when its processing
 * ended and by which status (null: not ended; a withdrawal is kept, status 7, so the index can
 * leave it out), and when a second supplement request made it late. Instants in UTC, so the store
 * compares them as text.
 */
export function indexColumns(clock: OnTimeClock): {
  accepted_at: string | null;
  processing_ended_at: string | null;
  processing_end_status: number | null;
  second_supplement_at: string | null;
} {
  return {
    accepted_at: clock.acceptedAt && clock.acceptedAt !== 'unknown' ? utc(clock.acceptedAt) : null,
    processing_ended_at: utc(clock.endedAt),
    processing_end_status: clock.endedAt ? (clock.endedBy ?? null) : null,
    second_supplement_at: utc(clock.repeatedSupplementAt),
  };
}

/** Every column derived from the clock: the overdue filter's and the service index's. */
export function clockColumns(clock: OnTimeClock): ReturnType<typeof overdueColumns> & ReturnType<typeof indexColumns> {
  return { ...overdueColumns(clock), ...indexColumns(clock) };
}
