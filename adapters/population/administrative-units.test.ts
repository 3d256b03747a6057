import { describe, expect, it } from 'vitest';
import { people } from '../../src/sandbox/personas.ts';
import { ADMINISTRATIVE_UNITS, createAdministrativeUnits } from './administrative-units.ts';
import { toCitizenRecord } from './mapping.ts';
import { toWireCitizen } from './simulator/server.ts';

describe('administrative-unit catalogue', () => {
  it('names a record made before the reform with its district (three levels) and a current one without (two levels)', () => {
    expect(ADMINISTRATIVE_UNITS.resolve({ province: '14', district: '120', commune: '04198' })).toEqual({ province: 'Sơn La', district: 'Huyện Mường La', commune: 'Xã Mường Bú' });
    expect(ADMINISTRATIVE_UNITS.resolve({ province: '14', district: null, commune: '04291' })).toEqual({ province: 'Sơn La', district: null, commune: 'Phường Thảo Nguyên' });
  });

  it('knows a province merged away in 2025 only in the three-level catalogue, and still names it on an old record', () => {
    expect(ADMINISTRATIVE_UNITS.resolve({ province: '15', district: null, commune: null })).toEqual({ province: 'Yên Bái', district: null, commune: null });
  });

  it('gives an unknown code a null name, never a guess and never an error', () => {
    expect(ADMINISTRATIVE_UNITS.resolve({ province: '99', district: '999', commune: '99999' })).toEqual({ province: null, district: null, commune: null });
    expect(ADMINISTRATIVE_UNITS.resolve({ province: null, district: null, commune: null })).toEqual({ province: null, district: null, commune: null });
    // Inherited object keys are not units.
    expect(ADMINISTRATIVE_UNITS.resolve({ province: 'constructor', district: null, commune: '__proto__' })).toEqual({ province: null, district: null, commune: null });
  });

  it('covers every address code the sandbox personas carry', () => {
    for (const p of people) {
      for (const a of [p.permanentAddress, p.currentAddress, p.birthRegistrationPlace, p.hometown]) {
        const names = ADMINISTRATIVE_UNITS.resolve({ province: a.provinceCode, district: a.districtCode, commune: a.communeCode || null });
        expect(names.province, `${p.idNumber} ${a.provinceCode}`).toBe(a.province);
        if (a.communeCode) expect(names.commune, `${p.idNumber} ${a.communeCode}`).toBe(a.commune);
        if (a.districtCode) expect(names.district, `${p.idNumber} ${a.districtCode}`).toBe(a.district);
      }
    }
  });

  it('maps an answer whose address codes it does not know: the codes are kept, the names null (province empty)', () => {
    const wire = toWireCitizen(people[0]!);
    const record = toCitizenRecord({ ...wire, ThuongTru: { MaTinhThanh: '77', MaQuanHuyen: null, MaPhuongXa: '88888', ChiTiet: 'Tổ 1', QuocGia: 'VN' } });
    expect(record.permanentAddress).toEqual({ detail: 'Tổ 1', commune: null, district: null, province: '', provinceCode: '77', districtCode: null, communeCode: '88888', country: 'VN' });
    const empty = createAdministrativeUnits({ threeLevel: { validUntil: '2025-06-30', provinces: {}, districts: {}, communes: {} }, twoLevel: { validFrom: '2025-07-01', provinces: {}, communes: {} } });
    expect(toCitizenRecord(wire, empty).permanentAddress).toMatchObject({ province: '', commune: null, provinceCode: people[0]!.permanentAddress.provinceCode });
  });

  it('is what names addresses: the database sends codes only', () => {
    const wire = toWireCitizen(people[0]!);
    expect(Object.keys(wire.ThuongTru!)).toEqual(['MaTinhThanh', 'MaQuanHuyen', 'MaPhuongXa', 'ChiTiet', 'QuocGia']);
    expect(toCitizenRecord(wire).permanentAddress!.province).toBe('Sơn La');
  });
});
