import { describe, expect, it } from 'vitest';
import { MappingError } from '../mapping-error.ts';
import { boundClaims, toIsoDate, toNationalAccount } from './mapping.ts';

const person = { sub: 'a1', TechID: 'a1', LoaiTaiKhoan: 1, SoDinhDanh: '014089001234', HoVaTen: 'Lò  Văn Thắng ', NgayThangNamSinh: '17/04/1989', MaSoThue: '014089001234', MaSoDoanhNghiep: null };

describe('national account from userinfo', () => {
  it('reads a person: ID number, NFC name, ISO date of birth', () => {
    expect(toNationalAccount({ ...person, HoVaTen: person.HoVaTen.normalize('NFD') })).toEqual({
      sub: 'a1',
      accountType: 'person',
      idNumber: '014089001234',
      enterpriseCode: null,
      fullName: 'Lò Văn Thắng',
      dateOfBirth: '1989-04-17',
    });
  });

  it('reads an organisation by its enterprise code, or its tax code when that is all it sends', () => {
    const org = { sub: 'b2', LoaiTaiKhoan: '2', SoDinhDanh: '014089001234', HoVaTen: 'Hợp tác xã Chè Shan tuyết', MaSoDoanhNghiep: '0100109106' };
    expect(toNationalAccount(org)).toMatchObject({ accountType: 'organization', enterpriseCode: '0100109106', idNumber: '014089001234', dateOfBirth: null });
    expect(toNationalAccount({ ...org, MaSoDoanhNghiep: null, MaSoThue: '0100109106-001' })).toMatchObject({ enterpriseCode: '0100109106-001' });
  });

  it('refuses claims it cannot link on', () => {
    const refused = [
      { ...person, LoaiTaiKhoan: 3 },
      { ...person, SoDinhDanh: '01408900123X' },
      { ...person, SoDinhDanh: null },
      { ...person, HoVaTen: '  ' },
      { ...person, TechID: 'other' },
      { ...person, NgayThangNamSinh: '31/02/1989' },
      { sub: 'c', LoaiTaiKhoan: 2, HoVaTen: 'X', MaSoDoanhNghiep: '0100109107' },
    ];
    for (const info of refused) expect(() => toNationalAccount(info), JSON.stringify(info)).toThrow(MappingError);
  });

  it('takes dd/MM/yyyy and yyyy-MM-dd dates, and only real ones', () => {
    expect(toIsoDate('01/07/2025')).toBe('2025-07-01');
    expect(toIsoDate('2025-07-01')).toBe('2025-07-01');
    for (const bad of ['2025/07/01', '1/7/2025', '29/02/2023', '']) expect(() => toIsoDate(bad)).toThrow(MappingError);
  });
});

describe('claims bound to the verified ID token', () => {
  const idToken = { iss: 'https://sso.example', sub: 'a1', acr: 'urn:vneid:loa:2', SoDinhDanh: '014089001234', HoVaTen: person.HoVaTen, LoaiTaiKhoan: 1 };

  it('takes sub and the claims the ID token carries from it, the others from userinfo', () => {
    expect(boundClaims(idToken, { ...person, LoaiTaiKhoan: '1' })).toEqual({ ...person, LoaiTaiKhoan: 1 });
    // Userinfo leaving out a claim the ID token carries: the ID token's is read.
    expect(boundClaims(idToken, { sub: 'a1', NgayThangNamSinh: '17/04/1989' })).toEqual({ sub: 'a1', SoDinhDanh: '014089001234', HoVaTen: person.HoVaTen, LoaiTaiKhoan: 1, NgayThangNamSinh: '17/04/1989' });
    // An ID token with sub only (claims in userinfo alone): userinfo about the same sub is read.
    expect(boundClaims({ sub: 'a1' }, person)).toEqual(person);
  });

  it('refuses userinfo about another subject, or contradicting the ID token', () => {
    const refused = [
      { ...person, sub: 'b2' },
      { ...person, sub: undefined },
      { ...person, SoDinhDanh: '014089009999' },
      { ...person, HoVaTen: 'Lò Văn Thắm' },
      { ...person, LoaiTaiKhoan: 2 },
      { ...person, SoDinhDanh: null },
    ];
    for (const info of refused) expect(() => boundClaims(idToken, info), JSON.stringify(info)).toThrow(MappingError);
    expect(() => boundClaims({ sub: '' }, { sub: '' })).toThrow(MappingError);
  });
});
