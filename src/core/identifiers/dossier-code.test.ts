import { describe, expect, it } from 'vitest';
import { parseDossierCode } from './dossier-code.ts';

describe('dossier code', () => {
  it('reads the agency, the day of receipt and the sequence', () => {
    expect(parseDossierCode('H52.101.114-261127-0001')).toEqual({
      ok: true,
      value: { code: 'H52.101.114-261127-0001', agency: 'H52.101.114', receivedOn: '2026-11-27', sequence: '0001' },
    });
    expect(parseDossierCode('H52-240229-17')).toMatchObject({ ok: true, value: { agency: 'H52', receivedOn: '2024-02-29' } });
  });

  it('refuses days that are not on the calendar', () => {
    for (const code of ['H52-250229-1', 'H52-261301-1', 'H52-261100-1', 'H52-261131-1']) {
      const result = parseDossierCode(code);
      expect(result.ok, code).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/calendar date/);
    }
  });

  it('refuses other shapes and a zero sequence', () => {
    for (const code of ['', 'H52', 'H52-2611270-1', 'H52-26112-1', 'h52-261127-1', 'H52-261127-', 'H52-261127-0000', 'H52..1-261127-1', 'H52-261127-1 ']) {
      expect(parseDossierCode(code).ok, code).toBe(false);
    }
  });
});
