import { describe, expect, it } from 'vitest';
import {
  DOSSIER_STATUSES,
  INITIAL_STATUSES,
  LATE_REASONS,
  NOT_RATED_REASONS,
  TRANSITIONS,
  allowedNext,
  canMove,
  isClosed,
  onTime,
  overdueColumns,
  readClock,
  startClock,
  tick,
  vietnamDate,
  type DossierStatus,
  type OnTimeClock,
} from './lifecycle.ts';

const ALL = Object.keys(DOSSIER_STATUSES).map(Number) as DossierStatus[];

describe('dossier transitions', () => {
  it('take what real one-stop systems send: 2→9 and 2→10 directly, 4→3 as a refusal after acceptance', () => {
    for (const [from, to] of [[1, 2], [1, 3], [2, 4], [2, 9], [2, 10], [4, 3], [4, 5], [5, 4], [4, 6], [6, 4], [4, 9], [9, 10], [1, 9], [5, 9]] as const) {
      expect(canMove(from, to), `${from}→${to}`).toBe(true);
    }
  });

  it('refuse only what cannot be: leaving a closed dossier, and going back to 1', () => {
    for (const from of [3, 7, 8, 10] as const) for (const to of ALL) expect(canMove(from, to), `${from}→${to}`).toBe(false);
    for (const from of ALL) expect(canMove(from, 1), `${from}→1`).toBe(false);
    expect(allowedNext(2)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('end the dossier at 3, 7, 8 and 10, and nowhere else', () => {
    expect(ALL.filter(isClosed)).toEqual([3, 7, 8, 10]);
    for (const from of ALL) expect(TRANSITIONS[from].length === 0).toBe(isClosed(from));
  });

  it('start at 1, or at 2 for a dossier accepted at the desk', () => {
    expect(INITIAL_STATUSES).toEqual([1, 2]);
  });
});

/** Runs statuses (with their instants) through the clock from `start`. */
function run(dueAt: string | null, steps: [DossierStatus, string][], start: DossierStatus = 1, receivedAt = '2026-11-27T08:00:00+07:00'): OnTimeClock {
  let clock = startClock(dueAt, start, receivedAt);
  let from: DossierStatus = start;
  for (const [to, at] of steps) {
    expect(canMove(from, to), `${from}→${to}`).toBe(true);
    clock = tick(clock, from, to, at);
    from = to;
  }
  return clock;
}

// An injected clock: the rule is a pure function of the history and `now`.
const DUE = '2026-12-02T17:00:00+07:00';
const NOW_BEFORE_DUE = new Date('2026-12-01T00:00:00+07:00');
const NOW_AFTER_DUE = new Date('2026-12-10T00:00:00+07:00');
const ACCEPT: [DossierStatus, string][] = [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00']];

describe('on time as Decision 766 computes it', () => {
  it('compares calendar days in Vietnam time: finished at 18:00 on the due day is on time', () => {
    const clock = run(DUE, [...ACCEPT, [9, '2026-12-02T18:00:00+07:00'], [10, '2026-12-05T08:00:00+07:00']]);
    // Returned days later, but processing ended (9) on the due day, an hour after the due hour.
    expect(onTime(clock, NOW_AFTER_DUE)).toEqual({
      state: 'on_time',
      rated: true,
      dueDate: '2026-12-02',
      deadlineDate: '2026-12-02',
      processingEndedAt: '2026-12-02T18:00:00+07:00',
      processingEndedOn: '2026-12-02',
      supplementDays: 0,
      supplementWaitSeconds: 0,
      supplementRequests: 0,
      reason: null,
      overdue: false,
    });
    // 23:59 in Vietnam is still the due day (16:59 UTC); 00:00 the next day is late.
    expect(onTime(run(DUE, [...ACCEPT, [9, '2026-12-02T16:59:00Z']]), NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', processingEndedOn: '2026-12-02' });
    expect(onTime(run(DUE, [...ACCEPT, [9, '2026-12-02T17:00:00Z']]), NOW_AFTER_DUE)).toMatchObject({ state: 'late', processingEndedOn: '2026-12-03', reason: LATE_REASONS.endedAfterDue, overdue: true });
  });

  it('reads the due day in Vietnam time whatever offset it was sent with', () => {
    expect(vietnamDate('2026-12-02T20:00:00Z')).toBe('2026-12-03');
    expect(onTime(run('2026-12-02T20:00:00Z', [...ACCEPT]), NOW_BEFORE_DUE)).toMatchObject({ dueDate: '2026-12-03' });
  });

  it('does not rate a dossier that was never accepted (1→3), nor one withdrawn before acceptance', () => {
    expect(onTime(run(DUE, [[3, '2026-11-27T10:00:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'not_rated', rated: false, reason: NOT_RATED_REASONS.neverAccepted, overdue: false });
    expect(onTime(run(DUE, [[7, '2026-11-27T10:00:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'not_rated', reason: NOT_RATED_REASONS.neverAccepted });
    expect(overdueColumns(run(DUE, [[3, '2026-11-27T10:00:00+07:00']])).on_time_state).toBe('not_rated');
  });

  it('does not rate a dossier without a due date, whatever happens to it', () => {
    const clock = run(null, [...ACCEPT, [9, '2027-03-01T10:00:00+07:00']]);
    expect(onTime(clock, NOW_AFTER_DUE)).toMatchObject({ state: 'not_rated', rated: false, dueDate: null, deadlineDate: null, reason: NOT_RATED_REASONS.noDueDate, processingEndedOn: '2027-03-01' });
    expect(overdueColumns(clock)).toEqual({ on_time_state: 'not_rated', deadline_at: '', supplement_since: null });
  });

  it('counts a second supplement request as late, even when finished early', () => {
    const clock = run(DUE, [
      ...ACCEPT,
      [5, '2026-11-27T10:00:00+07:00'],
      [4, '2026-11-27T11:00:00+07:00'],
      [5, '2026-11-27T12:00:00+07:00'],
      [4, '2026-11-27T13:00:00+07:00'],
      [9, '2026-11-28T09:00:00+07:00'],
    ]);
    expect(onTime(clock, NOW_BEFORE_DUE)).toMatchObject({ state: 'late', rated: true, reason: LATE_REASONS.repeatedSupplement, supplementRequests: 2, supplementDays: 0, supplementWaitSeconds: 7200 });
    // Decided as soon as the second request is made, before processing ends.
    const open = run(DUE, [...ACCEPT, [5, '2026-11-27T10:00:00+07:00'], [4, '2026-11-27T11:00:00+07:00'], [5, '2026-11-27T12:00:00+07:00']]);
    expect(onTime(open, NOW_BEFORE_DUE)).toMatchObject({ state: 'late', overdue: true, processingEndedAt: null });
    // A resent 5 is the same request.
    const resent = run(DUE, [...ACCEPT, [5, '2026-11-27T10:00:00+07:00'], [5, '2026-11-27T10:05:00+07:00'], [4, '2026-11-28T11:00:00+07:00'], [9, '2026-12-01T09:00:00+07:00']]);
    expect(onTime(resent, NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', supplementRequests: 1 });
  });

  it('subtracts the supplement wait in calendar days', () => {
    // Asked on 28/11, resumed on 29/11: one day; finished on 03/12, the day after the due day: on time.
    const steps: [DossierStatus, string][] = [...ACCEPT, [5, '2026-11-28T16:00:00+07:00'], [4, '2026-11-29T08:00:00+07:00']];
    expect(onTime(run(DUE, [...steps, [9, '2026-12-03T17:30:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', supplementDays: 1, deadlineDate: '2026-12-03', supplementWaitSeconds: 16 * 3600 });
    expect(onTime(run(DUE, [...steps, [9, '2026-12-04T08:00:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'late', deadlineDate: '2026-12-03' });
    // Asked and answered on one day: nothing to subtract.
    const sameDay = run(DUE, [...ACCEPT, [5, '2026-11-28T08:00:00+07:00'], [4, '2026-11-28T17:00:00+07:00'], [9, '2026-12-03T08:00:00+07:00']]);
    expect(onTime(sameDay, NOW_AFTER_DUE)).toMatchObject({ state: 'late', supplementDays: 0 });
  });

  it('rates 2→9 directly, and a dossier handed over already accepted', () => {
    expect(onTime(run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [9, '2026-11-30T10:00:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', rated: true, processingEndedOn: '2026-11-30' });
    const direct = run(DUE, [[10, '2026-12-04T10:00:00+07:00']], 2);
    expect(onTime(direct, NOW_AFTER_DUE)).toMatchObject({ state: 'late', rated: true, processingEndedAt: '2026-12-04T10:00:00+07:00' });
    expect(onTime(startClock(DUE, 2, '2026-11-27T08:00:00+07:00'), NOW_BEFORE_DUE)).toMatchObject({ state: 'pending', rated: true });
    expect(onTime(startClock(DUE, 1, '2026-11-27T08:00:00+07:00'), NOW_BEFORE_DUE)).toMatchObject({ state: 'pending', rated: false });
  });

  it('ends processing at a refusal after acceptance (4→3) or a stop, whichever comes first', () => {
    const refused = run(DUE, [...ACCEPT, [3, '2026-11-29T10:00:00+07:00']]);
    expect(onTime(refused, NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', rated: true, processingEndedAt: '2026-11-29T10:00:00+07:00' });
    const refusedLate = run(DUE, [...ACCEPT, [3, '2026-12-03T10:00:00+07:00']]);
    expect(onTime(refusedLate, NOW_AFTER_DUE)).toMatchObject({ state: 'late', processingEndedOn: '2026-12-03' });
    const stopped = run(DUE, [...ACCEPT, [8, '2026-12-04T09:00:00+07:00']]);
    expect(onTime(stopped, NOW_AFTER_DUE)).toMatchObject({ state: 'late', processingEndedAt: '2026-12-04T09:00:00+07:00' });
    // Finished first, then returned late: the first ending counts.
    expect(onTime(run(DUE, [...ACCEPT, [9, '2026-12-01T09:00:00+07:00'], [10, '2026-12-09T09:00:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'on_time' });
  });

  it('does not rate a dossier the applicant withdrew before processing ended', () => {
    expect(onTime(run(DUE, [...ACCEPT, [7, '2026-11-29T10:00:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'not_rated', rated: false, reason: NOT_RATED_REASONS.withdrawn, processingEndedAt: null });
  });

  it('is pending while processing goes on, and overdue from the day after the due day', () => {
    const clock = run(DUE, [...ACCEPT]);
    expect(onTime(clock, NOW_BEFORE_DUE)).toMatchObject({ state: 'pending', rated: true, overdue: false, processingEndedAt: null });
    expect(onTime(clock, new Date('2026-12-02T23:59:00+07:00'))).toMatchObject({ state: 'pending', overdue: false });
    expect(onTime(clock, new Date('2026-12-03T00:00:00+07:00'))).toMatchObject({ state: 'pending', overdue: true });
    // The store's column: the last instant of the due day.
    expect(overdueColumns(clock)).toEqual({ on_time_state: 'pending', deadline_at: '2026-12-02T16:59:59.999Z', supplement_since: null });
  });

  it('stops the clock while the applicant is asked for documents', () => {
    const waiting = run(DUE, [...ACCEPT, [5, '2026-12-01T09:00:00+07:00']]);
    // Asked before the due day had passed: not overdue however long the applicant takes.
    expect(onTime(waiting, NOW_AFTER_DUE)).toMatchObject({ state: 'pending', overdue: false, supplementRequests: 1, supplementDays: 9, deadlineDate: '2026-12-11' });
    expect(overdueColumns(waiting).supplement_since).toBe('2026-12-01T02:00:00.000Z');
    // Asked after the due day: overdue.
    const tooLate = run(DUE, [...ACCEPT, [5, '2026-12-03T09:00:00+07:00']]);
    expect(onTime(tooLate, NOW_AFTER_DUE)).toMatchObject({ state: 'pending', overdue: true });
  });
});

describe('clocks stored before acceptance was recorded', () => {
  const legacy = (endedAt: string | null, supplementWaitMs = 0) => JSON.stringify({ dueAt: DUE, supplementRequests: supplementWaitMs ? 1 : 0, supplementWaitMs, supplementSince: null, endedAt });

  it('read acceptance and the ending from the status the stricter table allowed', () => {
    expect(onTime(readClock(legacy('2026-11-27T10:00:00+07:00'), 3), NOW_AFTER_DUE)).toMatchObject({ state: 'not_rated', reason: NOT_RATED_REASONS.neverAccepted });
    expect(onTime(readClock(legacy('2026-11-29T10:00:00+07:00'), 7), NOW_AFTER_DUE)).toMatchObject({ state: 'not_rated', reason: NOT_RATED_REASONS.withdrawn });
    expect(onTime(readClock(legacy('2026-12-02T18:00:00+07:00'), 10), NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', rated: true });
    expect(onTime(readClock(legacy(null), 4), NOW_BEFORE_DUE)).toMatchObject({ state: 'pending', rated: true });
    expect(onTime(readClock(legacy(null), 1), NOW_BEFORE_DUE)).toMatchObject({ state: 'pending', rated: false });
    // A wait of 20 hours counts as one day.
    expect(onTime(readClock(legacy('2026-12-03T10:00:00+07:00', 20 * 3_600_000), 9), NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', supplementDays: 1 });
  });

  it('leave a current clock as it is', () => {
    const clock = run(DUE, [...ACCEPT]);
    expect(readClock(JSON.stringify(clock), 4)).toEqual(clock);
  });
});
