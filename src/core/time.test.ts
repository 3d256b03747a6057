import { describe, expect, it } from 'vitest';
import { isoDateToWire, toVietnamIso, toWireDateTime, wireDateTimeToIso, wireDateToIso } from './time.ts';

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
