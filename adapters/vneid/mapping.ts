import type { NationalAccount } from '../../src/core/national-sign-on-port.ts';
import { parseIdNumber } from '../../src/core/identifiers/id-number.ts';
import { parseEnterpriseCode } from '../../src/core/identifiers/tax-code.ts';
import { normaliseName } from '../../src/core/names.ts';
import { MappingError } from '../mapping-error.ts';

/** Userinfo as the national service sends it (claims seen in public integrations). */
export interface WireUserInfo {
  sub: string;
  TechID?: string | null;
  LoaiTaiKhoan?: number | string | null;
  SoDinhDanh?: string | null;
  HoVaTen?: string | null;
  NgayThangNamSinh?: string | null;
  MaSoThue?: string | null;
  MaSoDoanhNghiep?: string | null;
}

/** dd/MM/yyyy (or yyyy-MM-dd) → yyyy-MM-dd, or refuses a date that does not exist. */
export function toIsoDate(value: string): string {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(value) ?? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) throw new MappingError(`NgayThangNamSinh "${value.slice(0, 20)}" is not dd/MM/yyyy`);
  const [d, mo, y] = value.includes('/') ? [m[1]!, m[2]!, m[3]!] : [m[3]!, m[2]!, m[1]!];
  const date = new Date(`${y}-${mo}-${d}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(d)) throw new MappingError(`NgayThangNamSinh "${value}" is not a date`);
  return `${y}-${mo}-${d}`;
}

/** The national account from userinfo; refuses claims the gateway cannot trust to link on. */
export function toNationalAccount(info: WireUserInfo): NationalAccount {
  if (info.TechID && info.TechID !== info.sub) throw new MappingError('TechID differs from sub');
  const type = Number(info.LoaiTaiKhoan);
  const fullName = normaliseName(info.HoVaTen ?? '');
  if (!fullName) throw new MappingError('HoVaTen is missing');
  if (type === 1) {
    const id = parseIdNumber(info.SoDinhDanh ?? '');
    if (!id.ok) throw new MappingError(`SoDinhDanh ${id.reason}`);
    return { sub: info.sub, accountType: 'person', idNumber: id.value.value, enterpriseCode: null, fullName, dateOfBirth: info.NgayThangNamSinh ? toIsoDate(info.NgayThangNamSinh) : null };
  }
  if (type === 2) {
    const code = parseEnterpriseCode(info.MaSoDoanhNghiep ?? info.MaSoThue ?? '');
    if (!code.ok) throw new MappingError(`MaSoDoanhNghiep ${code.reason}`);
    const representative = info.SoDinhDanh ? parseIdNumber(info.SoDinhDanh) : undefined;
    return {
      sub: info.sub,
      accountType: 'organization',
      idNumber: representative?.ok ? representative.value.value : null,
      enterpriseCode: code.value.code,
      fullName,
      dateOfBirth: null,
    };
  }
  throw new MappingError(`LoaiTaiKhoan "${String(info.LoaiTaiKhoan)}" is neither 1 (person) nor 2 (organisation)`);
}
