import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseEnterpriseCode, taxCheckDigit, withCheckDigit } from './tax-code.ts';

describe('enterprise / tax code', () => {
  it('accepts the worked examples of DOMAIN.md', () => {
    for (const code of ['0100109106', '0300588569', '0100112437']) {
      expect(parseEnterpriseCode(code)).toMatchObject({ ok: true, value: { code, parent: code, branch: null } });
    }
    expect(taxCheckDigit('010010910')).toBe(6);
    expect(taxCheckDigit('030058856')).toBe(9);
  });

  it('accepts a branch of a valid code and refuses branch 000', () => {
    expect(parseEnterpriseCode('0100109106-001')).toMatchObject({ ok: true, value: { parent: '0100109106', branch: '001' } });
    expect(parseEnterpriseCode('0100109106-000')).toMatchObject({ ok: false });
  });

  it('refuses wrong shapes with a reason', () => {
    for (const bad of ['', '010010910', '01001091061', '0100109106-01', 'abcdefghij', '0100109106 ', '0100109106-0011']) {
      const result = parseEnterpriseCode(bad);
      expect(result.ok).toBe(false);
    }
  });

  it('refuses every other last digit than the check digit', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{9}$/), fc.integer({ min: 0, max: 9 }), (nine, last) => {
        const check = taxCheckDigit(nine);
        const result = parseEnterpriseCode(nine + String(last));
        expect(result.ok).toBe(check === last);
        if (!result.ok) expect(result.reason).toMatch(/check digit/);
      }),
    );
  });

  it('makes valid codes from nine digits, except where the rule gives 10', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{9}$/), (nine) => {
        const code = withCheckDigit(nine);
        if (code === null) {
          let sum = 0;
          [31, 29, 23, 19, 17, 13, 7, 5, 3].forEach((w, i) => (sum += w * Number(nine[i])));
          expect(sum % 11).toBe(0);
        } else {
          expect(parseEnterpriseCode(code).ok).toBe(true);
          expect(parseEnterpriseCode(`${code}-042`).ok).toBe(true);
        }
      }),
    );
  });
});
