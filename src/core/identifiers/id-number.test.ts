import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PROVINCE_CODES, checkBirthYear, parseIdNumber, parseInsuranceCode } from './id-number.ts';

describe('personal ID number', () => {
  it('reads province, gender and century', () => {
    expect(parseIdNumber('014089001234')).toMatchObject({ ok: true, value: { province: 'Sơn La', gender: 'male', century: 1900, yearOfCentury: 89 } });
    expect(parseIdNumber('014305000415')).toMatchObject({ ok: true, value: { gender: 'female', century: 2000, yearOfCentury: 5 } });
  });

  it('refuses a wrong shape or an unknown province', () => {
    expect(parseIdNumber('01408900123')).toMatchObject({ ok: false, reason: 'must be 12 digits' });
    expect(parseIdNumber('003089001234')).toMatchObject({ ok: false, reason: 'province code 003 does not exist' });
  });

  it('checks the date of birth against the gender/century digit and the year', () => {
    const id = (s: string) => {
      const r = parseIdNumber(s);
      if (!r.ok) throw new Error(r.reason);
      return r.value;
    };
    expect(checkBirthYear(id('014089001234'), '1989-04-17').ok).toBe(true);
    expect(checkBirthYear(id('014089001234'), '1990-04-17')).toMatchObject({ ok: false, reason: expect.stringMatching(/ending 89/) });
    expect(checkBirthYear(id('014289001234'), '1989-04-17')).toMatchObject({ ok: false, reason: expect.stringMatching(/2000–2099/) });
  });

  it('agrees with any valid birth for every province, gender and century (property)', () => {
    const provinces = Object.keys(PROVINCE_CODES);
    fc.assert(
      fc.property(
        fc.constantFrom(...provinces),
        fc.integer({ min: 1900, max: 2099 }),
        fc.boolean(),
        fc.stringMatching(/^\d{6}$/),
        (province, year, female, serial) => {
          const digit = Math.floor((year - 1900) / 100) * 2 + (female ? 1 : 0);
          const value = `${province}${digit}${String(year % 100).padStart(2, '0')}${serial}`;
          const parsed = parseIdNumber(value);
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          expect(parsed.value.gender).toBe(female ? 'female' : 'male');
          expect(checkBirthYear(parsed.value, `${year}-06-15`).ok).toBe(true);
          expect(checkBirthYear(parsed.value, `${year + 1}-06-15`).ok).toBe(false);
        },
      ),
    );
  });

  it('takes 10-digit insurance codes', () => {
    expect(parseInsuranceCode('1410023456').ok).toBe(true);
    expect(parseInsuranceCode('141002345').ok).toBe(false);
  });
});
