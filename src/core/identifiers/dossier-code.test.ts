import { describe, expect, it } from 'vitest';
import { parseDossierCode } from './dossier-code.ts';

describe('dossier code', () => {
  it('reads the agency, the day of receipt and the sequence', () => {
    expect(parseDossierCode('H52.101.114-261127-0001')).toEqual({
      ok: true,
      value: { code: 'H52.101.114-261127-0001', agency: 'H52.101.114', receivedOn: '2026-11-27', sequence: '0001' },
    });
    expect(parseDossierCode('H52-240229-00017')).toMatchObject({ ok: true, value: { agency: 'H52', receivedOn: '2024-02-29', sequence: '00017' } });
  });

  it('takes QCVN 102 agency codes that begin with digits', () => {
    expect(parseDossierCode('000.00.01.H52-261127-0001')).toEqual({
      ok: true,
      value: { code: '000.00.01.H52-261127-0001', agency: '000.00.01.H52', receivedOn: '2026-11-27', sequence: '0001' },
    });
    expect(parseDossierCode('000.00.00.G01-250101-12345')).toMatchObject({ ok: true, value: { agency: '000.00.00.G01', sequence: '12345' } });
  });

  it('refuses days that are not on the calendar', () => {
    for (const code of ['H52-250229-0001', 'H52-261301-0001', 'H52-261100-0001', 'H52-261131-0001']) {
      const result = parseDossierCode(code);
      expect(result.ok, code).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/calendar date/);
    }
  });

  it('refuses sequences of other lengths, agency codes without a letter, other shapes and a zero sequence', () => {
    for (const code of ['H52-261127-1', 'H52-261127-017', 'H52-261127-123456', '000.00.01-261127-0001']) {
      expect(parseDossierCode(code).ok, code).toBe(false);
    }
    for (const code of ['', 'H52', 'H52-2611270-0001', 'H52-26112-0001', 'h52-261127-0001', 'H52-261127-', 'H52-261127-0000', 'H52..1-261127-0001', '.H52-261127-0001', 'H52-261127-0001 ']) {
      expect(parseDossierCode(code).ok, code).toBe(false);
    }
  });
});
