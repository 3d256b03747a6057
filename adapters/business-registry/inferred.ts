import { z } from 'zod';
import type { EnterpriseStatus, LegalForm } from '../../src/core/enterprises.ts';
import { wireAddress } from '../signed-json/address.ts';

/*
 * INFERRED — the business registry's interface is not public (DOMAIN.md, "Other systems"). Every
 * fact of its wire format the gateway relies on lives in this file and is a reasonable default,
 * not a transcription: paths, header names, field names, code tables and result codes. A real
 * specification changes this file, fixtures/ and README.md ("Inferred") only. One inferred choice
 * lives in shared code because the national portal's RFC 9421 profile uses it too: how keys
 * travel (the `Signature-Certificate` header and the `keyid` thumbprint rule), in
 * src/signing/http-signatures.ts.
 */

/** `GET {base}/api/v1/doanh-nghiep/{MaSoDoanhNghiep}`: the lookup. */
export const ENTERPRISE_PATH = '/api/v1/doanh-nghiep/';
/** `GET {base}/api/v1/trang-thai`: the health probe. */
export const HEALTH_PATH = '/api/v1/trang-thai';
/** Request headers: the calling agency's code, and a fresh id per request. */
export const AGENCY_HEADER = 'x-ma-don-vi';
export const REQUEST_ID_HEADER = 'x-ma-yeu-cau';

/** Registry error code for "no such enterprise" (with HTTP 404). */
export const NOT_FOUND_CODE = '04';
/** Registry error code for a request whose signature or certificate it refuses (HTTP 401). */
export const SIGNATURE_REFUSED_CODE = '02';

export { wireAddress, type WireAddress } from '../signed-json/address.ts';

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
export { isSuccessCode } from '../result-codes.ts';
