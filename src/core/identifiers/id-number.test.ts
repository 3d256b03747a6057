import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ABROAD_UNVERIFIED, PROVINCE_CODES, checkBirthYear, maskIdentifier, parseIdNumber, parseInsuranceCode, parseOldCardNumber, parsePersonalNumber } from './id-number.ts';

describe('personal ID number', () => {
  it('reads province, gender and century', () => {
    expect(parseIdNumber('014089001234')).toMatchObject({ ok: true, value: { province: 'Sơn La', gender: 'male', century: 1900, yearOfCentury: 89 } });
    expect(parseIdNumber('014305000415')).toMatchObject({ ok: true, value: { gender: 'female', century: 2000, yearOfCentury: 5 } });
  });

  it('refuses a wrong shape', () => {
    expect(parseIdNumber('01408900123')).toMatchObject({ ok: false, reason: 'must be 12 digits' });
    expect(parseIdNumber('01408900123X')).toMatchObject({ ok: false, reason: 'must be 12 digits' });
  });

  it('reads first three digits outside the province table as a birth registered abroad, marked unverified', () => {
    expect(parseIdNumber('014089001234')).toMatchObject({ ok: true, value: { registrationCode: '014', registeredIn: 'province', registrationPlace: 'Sơn La', provinceCode: '014' } });
    expect(parseIdNumber('392189001234')).toEqual({
      ok: true,
      value: { value: '392189001234', registrationCode: '392', registeredIn: 'abroad', registrationPlace: ABROAD_UNVERIFIED, provinceCode: null, province: null, gender: 'female', century: 1900, yearOfCentury: 89 },
    });
    expect(ABROAD_UNVERIFIED).toBe('abroad (country code unverified)');
  });

  it('still checks the century digit and the year of a number registered abroad against the date of birth', () => {
    const abroad = parseIdNumber('392205001234');
    if (!abroad.ok) throw new Error(abroad.reason);
    expect(checkBirthYear(abroad.value, '2005-03-09').ok).toBe(true);
    expect(checkBirthYear(abroad.value, '1905-03-09')).toMatchObject({ ok: false, reason: expect.stringMatching(/2000–2099/) });
    expect(checkBirthYear(abroad.value, '2006-03-09')).toMatchObject({ ok: false, reason: expect.stringMatching(/ending 05/) });
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

  it('takes 10-digit insurance codes and nothing else (property)', () => {
    expect(parseInsuranceCode('1410023456').ok).toBe(true);
    expect(parseInsuranceCode('141002345').ok).toBe(false);
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^\d{8,12}$/), fc.string({ maxLength: 12 })), (s) => {
        const parsed = parseInsuranceCode(s);
        expect(parsed.ok).toBe(/^\d{10}$/.test(s));
        if (!parsed.ok) expect(parsed.reason).toBe('must be 10 digits');
      }),
    );
  });

  it('takes any first three digits, a province exactly when the table has it (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{3}$/), fc.stringMatching(/^\d{9}$/), (code, rest) => {
        const parsed = parseIdNumber(code + rest);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        expect(parsed.value.registeredIn).toBe(code in PROVINCE_CODES ? 'province' : 'abroad');
        expect(parsed.value.registrationPlace).toBe(PROVINCE_CODES[code] ?? ABROAD_UNVERIFIED);
      }),
    );
  });

  it('refuses a birth year outside the century the 4th digit names (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1800, max: 2499 }), (digit, year) => {
        const parsed = parseIdNumber(`014${digit}${String(year % 100).padStart(2, '0')}000001`);
        if (!parsed.ok) throw new Error(parsed.reason);
        const century = 1900 + Math.floor(digit / 2) * 100;
        const agrees = year >= century && year < century + 100;
        const result = checkBirthYear(parsed.value, `${year}-01-01`);
        expect(result.ok).toBe(agrees);
        if (!result.ok) expect(result.reason).toMatch(/4th digit/);
      }),
    );
  });

  it('refuses anything but 12 digits as an ID number (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }).filter((s) => !/^\d{12}$/.test(s)), (s) => {
        expect(parseIdNumber(s)).toEqual({ ok: false, reason: 'must be 12 digits' });
      }),
    );
  });
});

describe('old card number and personal number', () => {
  it('takes 9 digits as an old card number and nothing else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 14 }), (s) => {
        expect(parseOldCardNumber(s).ok).toBe(/^\d{9}$/.test(s));
      }),
    );
    expect(parseOldCardNumber('050123456')).toEqual({ ok: true, value: '050123456' });
  });

  it('tells the 12-digit ID from the 9-digit old card by length', () => {
    expect(parsePersonalNumber('014089001234')).toMatchObject({ ok: true, value: { kind: 'id_number', idNumber: { province: 'Sơn La' } } });
    expect(parsePersonalNumber('050123456')).toEqual({ ok: true, value: { kind: 'old_card', value: '050123456' } });
    expect(parsePersonalNumber('05012345X')).toMatchObject({ ok: false, reason: /old card number, and must be 9 digits/ });
    expect(parsePersonalNumber('003089001234')).toMatchObject({ ok: true, value: { kind: 'id_number', idNumber: { registeredIn: 'abroad' } } });
    expect(parsePersonalNumber('0140890012')).toMatchObject({ ok: false, reason: /12-digit ID number or a 9-digit old card/ });
  });
});

describe('masking', () => {
  it('shows only the first three and the last two characters (property)', () => {
    expect(maskIdentifier('014089001234')).toBe('014*******34');
    expect(maskIdentifier('5500123457')).toBe('550*****57');
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9-]{6,14}$/), (s) => {
        const masked = maskIdentifier(s);
        expect(masked).toHaveLength(s.length);
        expect(masked.slice(0, 3)).toBe(s.slice(0, 3));
        expect(masked.slice(-2)).toBe(s.slice(-2));
        expect(masked.slice(3, -2)).toMatch(/^\*+$/);
      }),
    );
  });
});
