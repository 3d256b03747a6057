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

/** The national account's claims besides `sub`, as the service names them. */
export const ACCOUNT_CLAIMS = ['TechID', 'LoaiTaiKhoan', 'SoDinhDanh', 'HoVaTen', 'NgayThangNamSinh', 'MaSoThue', 'MaSoDoanhNghiep'] as const;

const sameClaim = (a: unknown, b: unknown): boolean =>
  (a ?? null) === (b ?? null) || ((typeof a === 'string' || typeof a === 'number') && (typeof b === 'string' || typeof b === 'number') && String(a) === String(b));

/**
 * The claims to map: `sub` from the verified ID token, and each account claim from the ID token
 * when it carries one (signed), else from userinfo (not signed). Userinfo must be about the ID
 * token's subject and must not contradict any claim the ID token carries: a rewritten userinfo
 * is refused, not read.
 */
export function boundClaims(idToken: Readonly<Record<string, unknown>>, userinfo: Readonly<Record<string, unknown>>): WireUserInfo {
  if (typeof idToken.sub !== 'string' || idToken.sub === '') throw new MappingError('the ID token has no sub');
  if (userinfo.sub !== idToken.sub) throw new MappingError("userinfo's sub is not the ID token's");
  const claims: Record<string, unknown> = { sub: idToken.sub };
  for (const name of ACCOUNT_CLAIMS) {
    if (Object.hasOwn(idToken, name)) {
      if (Object.hasOwn(userinfo, name) && !sameClaim(userinfo[name], idToken[name])) throw new MappingError(`userinfo's ${name} differs from the signed ID token's`);
      claims[name] = idToken[name];
    } else if (Object.hasOwn(userinfo, name)) {
      claims[name] = userinfo[name];
    }
  }
  return claims as unknown as WireUserInfo;
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
