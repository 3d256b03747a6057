import { z } from 'zod';
import type { Address, Enterprise, EnterpriseStatus, LegalForm } from '../../src/core/enterprises.ts';
import { toVietnamIso, wireDateToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';

export { MappingError };

/**
 * Wire format of the business registry (see README.md). The only file that knows the
 * registry's field names: a real specification changes this file and its fixtures.
 */
const wireAddress = z.object({
  SoNhaDuong: z.string(),
  MaPhuongXa: z.string().nullish(),
  TenPhuongXa: z.string().nullish(),
  MaQuanHuyen: z.string().nullish(),
  TenQuanHuyen: z.string().nullish(),
  MaTinhThanh: z.string().nullish(),
  TenTinhThanh: z.string(),
  QuocGia: z.string().nullish(),
});

const wireEnterprise = z.object({
  MaSoDoanhNghiep: z.string().regex(/^\d{10}(-\d{3})?$/),
  TenDoanhNghiep: z.string().min(1),
  TenNuocNgoai: z.string().nullish(),
  TenVietTat: z.string().nullish(),
  MaLoaiHinh: z.string(),
  MaTinhTrang: z.string(),
  NgayThanhLap: z.string(),
  VonDieuLe: z.number().int().nonnegative().nullish(),
  DiaChiTruSo: wireAddress,
  NguoiDaiDienPhapLuat: z
    .array(z.object({ HoTen: z.string().min(1), SoDinhDanh: z.string().nullish(), ChucDanh: z.string().nullish() }))
    .min(1),
});

export const wireAnswer = z.object({
  MaLoi: z.string(),
  MoTa: z.string().nullish(),
  DuLieu: wireEnterprise.nullish(),
});

export type WireEnterprise = z.infer<typeof wireEnterprise>;
export type WireAddress = z.infer<typeof wireAddress>;
export type WireAnswer = z.infer<typeof wireAnswer>;

/** Registry legal-form codes. */
export const LEGAL_FORMS: Record<string, LegalForm> = {
  DNTN: 'private_enterprise',
  TNHH1TV: 'single_member_llc',
  TNHH2TV: 'multi_member_llc',
  CP: 'joint_stock',
  HD: 'partnership',
  CN: 'branch',
  VPDD: 'representative_office',
};

/** Registry status codes (MaTinhTrang). */
export const STATUSES: Record<string, EnterpriseStatus> = {
  '1': 'active',
  '2': 'suspended',
  '3': 'dissolving',
  '4': 'dissolved',
  '5': 'bankrupt',
};

export const STATUS_NAMES: Record<EnterpriseStatus, string> = {
  active: 'Đang hoạt động',
  suspended: 'Tạm ngừng kinh doanh',
  dissolving: 'Đang làm thủ tục giải thể',
  dissolved: 'Đã giải thể',
  bankrupt: 'Đã phá sản',
};

/** Success codes: the registry, like other national systems, writes "0" or "00". */
export function isSuccessCode(code: string): boolean {
  return code === '0' || code === '00';
}

function toAddress(wire: WireAddress): Address {
  return {
    detail: wire.SoNhaDuong,
    commune: wire.TenPhuongXa ?? null,
    district: wire.TenQuanHuyen ?? null,
    province: wire.TenTinhThanh,
    provinceCode: wire.MaTinhThanh ?? null,
    districtCode: wire.MaQuanHuyen ?? null,
    communeCode: wire.MaPhuongXa ?? null,
    country: wire.QuocGia ?? 'VN',
  };
}

/** The registry's record as our API returns it. Unknown codes are refused, not guessed. */
export function toEnterprise(wire: WireEnterprise, retrievedAt: Date): Enterprise {
  const legalForm = LEGAL_FORMS[wire.MaLoaiHinh];
  if (!legalForm) throw new MappingError(`unknown legal form code ${wire.MaLoaiHinh}`);
  const status = STATUSES[wire.MaTinhTrang];
  if (!status) throw new MappingError(`unknown status code ${wire.MaTinhTrang}`);
  const registrationDate = wireDateToIso(wire.NgayThanhLap);
  if (!registrationDate) throw new MappingError('NgayThanhLap is not a yyyyMMdd date');
  const representative = wire.NguoiDaiDienPhapLuat[0]!;
  return {
    enterpriseCode: wire.MaSoDoanhNghiep,
    name: wire.TenDoanhNghiep.normalize('NFC'),
    foreignName: wire.TenNuocNgoai ?? null,
    abbreviatedName: wire.TenVietTat ?? null,
    legalForm,
    status,
    registrationDate,
    headOffice: toAddress(wire.DiaChiTruSo),
    legalRepresentative: { fullName: representative.HoTen.normalize('NFC'), position: representative.ChucDanh ?? null },
    charterCapital: wire.VonDieuLe ?? null,
    retrievedAt: toVietnamIso(retrievedAt),
  };
}
