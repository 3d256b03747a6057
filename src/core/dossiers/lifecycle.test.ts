import { describe, expect, it } from 'vitest';
import { DOSSIER_STATUSES, LATE_REASONS, TRANSITIONS, allowedNext, canMove, isClosed, onTime, overdueColumns, startClock, tick, type DossierStatus, type OnTimeClock } from './lifecycle.ts';

const ALL = Object.keys(DOSSIER_STATUSES).map(Number) as DossierStatus[];

describe('dossier transitions', () => {
  it('follow DOMAIN.md: 1→2|3, 2→4, 4↔5, 4↔6, 4→9→10', () => {
    for (const [from, to] of [[1, 2], [1, 3], [2, 4], [4, 5], [5, 4], [4, 6], [6, 4], [4, 9], [9, 10]] as const) {
      expect(canMove(from, to), `${from}→${to}`).toBe(true);
    }
  });

  it('refuse skipping steps and going back', () => {
    for (const [from, to] of [[1, 4], [2, 9], [1, 10], [9, 4], [10, 9], [5, 9], [6, 9], [2, 1], [4, 4], [3, 2]] as const) {
      expect(canMove(from, to), `${from}→${to}`).toBe(false);
    }
  });

  it('end the dossier at 3, 7, 8 and 10, and nowhere else', () => {
    expect(ALL.filter(isClosed)).toEqual([3, 7, 8, 10]);
    for (const from of ALL) for (const to of allowedNext(from)) expect(canMove(from, to)).toBe(true);
  });

  it('can reach 7 (withdrawn) and 8 (stopped) only as DOMAIN.md allows', () => {
    expect(ALL.filter((s) => TRANSITIONS[s].includes(7))).toEqual([1, 2, 4, 5, 6]);
    expect(ALL.filter((s) => TRANSITIONS[s].includes(8))).toEqual([2, 4, 5, 6]);
    expect(allowedNext(2)).toEqual([4, 7, 8]);
  });
});

/** Runs statuses (with their instants) through the clock from status 1. */
function run(dueAt: string, steps: [DossierStatus, string][]): OnTimeClock {
  let clock = startClock(dueAt);
  let from: DossierStatus = 1;
  for (const [to, at] of steps) {
    expect(canMove(from, to), `${from}→${to}`).toBe(true);
    clock = tick(clock, from, to, at);
    from = to;
  }
  return clock;
}

const DUE = '2026-12-02T17:00:00+07:00';
const NOW_BEFORE_DUE = new Date('2026-12-01T00:00:00+07:00');
const NOW_AFTER_DUE = new Date('2026-12-10T00:00:00+07:00');

describe('on time (DOMAIN.md)', () => {
  it('is on time when processing finished no later than the due date', () => {
    const clock = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00'], [9, DUE], [10, '2026-12-05T08:00:00+07:00']]);
    // Returned after the due date, but processing ended (9) on it: the first ending counts.
    expect(onTime(clock, NOW_AFTER_DUE)).toEqual({ state: 'on_time', processingEndedAt: DUE, supplementWaitSeconds: 0, supplementRequests: 0, reason: null, overdue: false });
  });

  it('is late when processing ended after the due date', () => {
    const clock = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00'], [9, '2026-12-02T17:00:01+07:00']]);
    expect(onTime(clock, NOW_AFTER_DUE)).toMatchObject({ state: 'late', reason: LATE_REASONS.endedAfterDue, overdue: true });
  });

  it('does not count the time spent waiting for the supplement', () => {
    // One day waiting (5 → 4), finished 20 hours after the due date: on time.
    const clock = run(DUE, [
      [2, '2026-11-27T09:00:00+07:00'],
      [4, '2026-11-27T09:05:00+07:00'],
      [5, '2026-11-28T08:00:00+07:00'],
      [4, '2026-11-29T08:00:00+07:00'],
      [9, '2026-12-03T13:00:00+07:00'],
    ]);
    expect(onTime(clock, NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', supplementWaitSeconds: 86_400, supplementRequests: 1, overdue: false });
    // One more hour and it is late again.
    const later = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00'], [5, '2026-11-28T08:00:00+07:00'], [4, '2026-11-29T08:00:00+07:00'], [9, '2026-12-03T17:00:01+07:00']]);
    expect(onTime(later, NOW_AFTER_DUE)).toMatchObject({ state: 'late', reason: LATE_REASONS.endedAfterDue });
  });

  it('counts a second supplement request as late, even when finished early', () => {
    const clock = run(DUE, [
      [2, '2026-11-27T09:00:00+07:00'],
      [4, '2026-11-27T09:05:00+07:00'],
      [5, '2026-11-27T10:00:00+07:00'],
      [4, '2026-11-27T11:00:00+07:00'],
      [5, '2026-11-27T12:00:00+07:00'],
      [4, '2026-11-27T13:00:00+07:00'],
      [9, '2026-11-28T09:00:00+07:00'],
    ]);
    expect(onTime(clock, NOW_BEFORE_DUE)).toMatchObject({ state: 'late', reason: LATE_REASONS.repeatedSupplement, supplementRequests: 2, supplementWaitSeconds: 7200 });
    // Decided as soon as the second request is made, before processing ends.
    const open = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00'], [5, '2026-11-27T10:00:00+07:00'], [4, '2026-11-27T11:00:00+07:00'], [5, '2026-11-27T12:00:00+07:00']]);
    expect(onTime(open, NOW_BEFORE_DUE)).toMatchObject({ state: 'late', overdue: true, processingEndedAt: null });
  });

  it('ends processing at a refusal or a stop too, whichever comes first', () => {
    expect(onTime(run(DUE, [[3, '2026-11-27T10:00:00+07:00']]), NOW_AFTER_DUE)).toMatchObject({ state: 'on_time', processingEndedAt: '2026-11-27T10:00:00+07:00' });
    const stopped = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-28T09:00:00+07:00'], [8, '2026-12-04T09:00:00+07:00']]);
    expect(onTime(stopped, NOW_AFTER_DUE)).toMatchObject({ state: 'late', processingEndedAt: '2026-12-04T09:00:00+07:00' });
  });

  it('is pending while processing goes on, and overdue once the due date has passed', () => {
    const clock = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00']]);
    expect(onTime(clock, NOW_BEFORE_DUE)).toMatchObject({ state: 'pending', overdue: false, processingEndedAt: null });
    expect(onTime(clock, NOW_AFTER_DUE)).toMatchObject({ state: 'pending', overdue: true });
    expect(overdueColumns(clock)).toEqual({ on_time_state: 'pending', deadline_at: '2026-12-02T10:00:00.000Z', supplement_since: null });
  });

  it('stops the clock while the applicant is asked for documents', () => {
    const waiting = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00'], [5, '2026-12-01T09:00:00+07:00']]);
    // Asked before the due date: not overdue however long the applicant takes.
    expect(onTime(waiting, NOW_AFTER_DUE)).toMatchObject({ state: 'pending', overdue: false, supplementRequests: 1 });
    expect(onTime(waiting, NOW_AFTER_DUE).supplementWaitSeconds).toBe((NOW_AFTER_DUE.getTime() - new Date('2026-12-01T09:00:00+07:00').getTime()) / 1000);
    expect(overdueColumns(waiting).supplement_since).toBe('2026-12-01T02:00:00.000Z');
    // Asked after the due date had already passed: overdue.
    const tooLate = run(DUE, [[2, '2026-11-27T09:00:00+07:00'], [4, '2026-11-27T09:05:00+07:00'], [5, '2026-12-03T09:00:00+07:00']]);
    expect(onTime(tooLate, NOW_AFTER_DUE)).toMatchObject({ state: 'pending', overdue: true });
  });
});
