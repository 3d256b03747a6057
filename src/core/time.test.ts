import { describe, expect, it } from 'vitest';
import { addDays, anniversary, isoDateToWire, toVietnamIso, toWireDateTime, vietnamDay, vietnamMonth, wireDateTimeToIso, wireDateToIso } from './time.ts';

describe('time', () => {
  it('writes instants with the +07:00 offset', () => {
    expect(toVietnamIso(new Date('2026-11-27T23:42:51.900Z'))).toBe('2026-11-28T06:42:51+07:00');
  });
  it('converts wire dates and refuses impossible ones', () => {
    expect(wireDateToIso('20150312')).toBe('2015-03-12');
    expect(wireDateToIso('20240229')).toBe('2024-02-29');
    expect(wireDateToIso('20230229')).toBeNull();
    expect(wireDateToIso('2015-03-12')).toBeNull();
    expect(isoDateToWire('2015-03-12')).toBe('20150312');
  });
  it('converts the national portal date-times, in Vietnam time', () => {
    expect(wireDateTimeToIso('20261128064251')).toBe('2026-11-28T06:42:51+07:00');
    expect(wireDateTimeToIso('20261128246000')).toBeNull();
    expect(wireDateTimeToIso('20260230120000')).toBeNull();
    expect(toWireDateTime(new Date('2026-11-27T23:42:51Z'))).toBe('20261128064251');
  });
});

describe('calendar days in Vietnam', () => {
  it('take the day and month of Vietnam, which begin at 17:00 UTC', () => {
    expect(vietnamDay(new Date('2026-12-31T16:59:59Z'))).toBe('2026-12-31');
    expect(vietnamDay(new Date('2026-12-31T17:00:00Z'))).toBe('2027-01-01');
    expect(vietnamMonth(new Date('2026-01-31T17:30:00Z'))).toBe('2026-02');
  });

  it('count days across months, years and 29 February', () => {
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2027-02-28', 1)).toBe('2027-03-01');
    expect(addDays('2027-01-01', -1)).toBe('2026-12-31');
  });

  it('give an anniversary the same day, or the last of its month when there is none', () => {
    expect(anniversary('2026-01-15', 5)).toBe('2031-01-15');
    expect(anniversary('2024-02-29', 1)).toBe('2025-02-28');
    expect(anniversary('2024-02-29', 4)).toBe('2028-02-29');
    expect(anniversary('2026-12-31', 3)).toBe('2029-12-31');
  });
});
