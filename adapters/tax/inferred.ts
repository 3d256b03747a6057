import { z } from 'zod';
import type { Taxpayer } from './registry.ts';
import { buildXml } from './safe-xml.ts';

/*
 * INFERRED — the tax administration's interface is not public (DOMAIN.md, "Other systems").
 * Every fact of its wire format the gateway relies on lives in this file and is a reasonable
 * default, not a transcription: paths, element names, code tables and result codes. A real
 * specification changes this file, fixtures/ and README.md ("Inferred") only. The message
 * security profile (`xml-dsig`: an enveloped signature, the last child of the root, exclusive
 * canonical form) is chosen too; it lives in security.ts, the one place that signs and verifies.
 */

/** `POST {base}/tra-cuu/nguoi-nop-thue`: the lookup. */
export const LOOKUP_PATH = '/tra-cuu/nguoi-nop-thue';
/** `GET {base}/trang-thai`: the health probe. */
export const HEALTH_PATH = '/trang-thai';

export type TaxpayerType = Taxpayer['taxpayerType'];
export type TaxpayerStatus = Taxpayer['status'];

/** A 10-digit tax code, a branch `NNNNNNNNNN-NNN`, or a 12-digit personal ID number. */
const TAX_CODE = /^(\d{10}(-\d{3})?|\d{12})$/;

/** Every value is a string (the parser never converts); optional elements may be absent or empty. */
const wireAddress = z.object({
  SoNhaDuong: z.string().optional(),
  MaPhuongXa: z.string().optional(),
  TenPhuongXa: z.string().optional(),
  MaQuanHuyen: z.string().optional(),
  TenQuanHuyen: z.string().optional(),
  MaTinhThanh: z.string().optional(),
  TenTinhThanh: z.string().min(1),
  QuocGia: z.string().optional(),
});

const wireTaxpayer = z.object({
  MaSoThue: z.string().regex(TAX_CODE),
  TenNNT: z.string().min(1),
  LoaiNNT: z.string(),
  TrangThai: z.string(),
  CoQuanThue: z.object({ Ma: z.string().min(1), Ten: z.string().min(1) }),
  NgayDangKy: z.string(),
  // An empty <DiaChi/> is the same as none.
  DiaChi: z.union([z.literal(''), wireAddress]).optional(),
});

/**
 * The answer. Elements not listed here are dropped, which is how the enveloped `ds:Signature`
 * inside the root passes: it is checked on the raw text before parsing (see client.ts), never
 * read from this object.
 */
const wireAnswer = z.object({
  MaLoi: z.string().min(1),
  MoTa: z.string().optional(),
  MaYeuCau: z.string().optional(),
  NguoiNopThue: wireTaxpayer.optional(),
});

export const wireAnswerDocument = z.object({ KetQuaTraCuu: wireAnswer });

export const wireLookupDocument = z.object({
  YeuCauTraCuu: z.object({
    MaYeuCau: z.string().min(1),
    MaDonVi: z.string().min(1),
    MaSoThue: z.string().min(1),
  }),
});

export type WireAddress = z.infer<typeof wireAddress>;
export type WireTaxpayer = z.infer<typeof wireTaxpayer>;
export type WireAnswer = z.infer<typeof wireAnswer>;
export type WireLookup = z.infer<typeof wireLookupDocument>['YeuCauTraCuu'];

/** Result codes (MaLoi). */
export const RESULT_CODES = {
  success: '00',
  invalidRequest: '01',
  notFound: '02',
  /** The gateway's signature or certificate was refused (with HTTP 403). */
  unauthorized: '03',
  systemError: '99',
} as const;

/** Success is written "00"; "0" is accepted too, as other national systems write both. */
export { isSuccessCode } from '../result-codes.ts';

/** Taxpayer type codes (LoaiNNT). Maps, not object literals, so "constructor" is not a code. */
export const TAXPAYER_TYPES: ReadonlyMap<string, TaxpayerType> = new Map([
  ['1', 'organization'],
  ['2', 'individual'],
  ['3', 'household_business'],
]);

export const TAXPAYER_TYPE_NAMES: Record<TaxpayerType, string> = {
  organization: 'Tổ chức',
  individual: 'Cá nhân',
  household_business: 'Hộ kinh doanh',
};

/** Taxpayer status codes (TrangThai). */
export const STATUSES: ReadonlyMap<string, TaxpayerStatus> = new Map([
  ['00', 'active'],
  ['01', 'ceased'],
  ['02', 'suspended'],
  ['03', 'not_at_address'],
]);

export const STATUS_NAMES: Record<TaxpayerStatus, string> = {
  active: 'NNT đang hoạt động',
  ceased: 'NNT ngừng hoạt động',
  suspended: 'NNT tạm ngừng hoạt động, kinh doanh',
  not_at_address: 'NNT không hoạt động tại địa chỉ đã đăng ký',
};

/** The lookup request as sent: a fresh MaYeuCau per call, the calling agency, the tax code. */
export function lookupRequestXml(request: WireLookup): string {
  return buildXml({ YeuCauTraCuu: { MaYeuCau: request.MaYeuCau, MaDonVi: request.MaDonVi, MaSoThue: request.MaSoThue } });
}
