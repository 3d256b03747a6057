import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PROVINCE_CODES } from './id-number.ts';
import { parseEnterpriseCode, parseTaxCode, taxCheckDigit, withCheckDigit } from './tax-code.ts';

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

  it('takes the worked example check: 0100109106 has S = 114, remainder 4, check 6', () => {
    let sum = 0;
    [31, 29, 23, 19, 17, 13, 7, 5, 3].forEach((w, i) => (sum += w * Number('010010910'[i])));
    expect(sum).toBe(114);
    expect(sum % 11).toBe(4);
    expect(taxCheckDigit('030058856')).toBe(9);
    expect(parseEnterpriseCode('0100112437').ok).toBe(true);
    expect(parseEnterpriseCode('0100112438')).toMatchObject({ ok: false, reason: 'check digit is wrong: expected 7' });
  });

  it('refuses a branch of an invalid parent, whatever the suffix (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{10}$/), fc.integer({ min: 1, max: 999 }), (ten, branch) => {
        const parentOk = parseEnterpriseCode(ten).ok;
        expect(parseEnterpriseCode(`${ten}-${String(branch).padStart(3, '0')}`).ok).toBe(parentOk);
      }),
    );
  });
});

describe('tax code', () => {
  it('is an enterprise code or, for individuals since July 2025, a 12-digit personal ID number', () => {
    expect(parseTaxCode('0100109106')).toMatchObject({ ok: true, value: { kind: 'enterprise', enterprise: { parent: '0100109106' } } });
    expect(parseTaxCode('0100109106-001')).toMatchObject({ ok: true, value: { kind: 'enterprise', enterprise: { branch: '001' } } });
    expect(parseTaxCode('014089001234')).toMatchObject({ ok: true, value: { kind: 'personal', idNumber: { provinceCode: '014' } } });
    expect(parseTaxCode('392089001234')).toMatchObject({ ok: true, value: { kind: 'personal', idNumber: { registeredIn: 'abroad', provinceCode: null } } });
    expect(parseTaxCode('0100109107')).toMatchObject({ ok: false, reason: 'check digit is wrong: expected 6' });
  });

  it('reads any 12-digit number as a personal ID, registered in a province or abroad (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{12}$/), (twelve) => {
        const parsed = parseTaxCode(twelve);
        expect(parsed.ok).toBe(true);
        if (parsed.ok && parsed.value.kind === 'personal') expect(parsed.value.idNumber.registeredIn).toBe(twelve.slice(0, 3) in PROVINCE_CODES ? 'province' : 'abroad');
        else expect.unreachable('a 12-digit number is a personal ID');
      }),
    );
  });
});
