import { z } from 'zod';
import type { SocialInsuranceRecord } from './registry.ts';

/*
 * INFERRED — Vietnam Social Security's interface is not public (DOMAIN.md, "Other systems").
 * Every fact of its wire format the gateway relies on lives in this file and is a reasonable
 * default, not a transcription: paths, field names, code tables and result codes, and "not
 * found" as HTTP 200 with a signed `04`. A real specification changes this file, fixtures/ and
 * README.md ("Inferred") only. The message security profile (`jws`: compact JWS both ways, the
 * signer's chain in `x5c`, `kid` its thumbprint, the algorithms allowed) is chosen too; it lives
 * in jws.ts and jws-answer.ts, the one place that signs and verifies.
 */

/** `POST {base}/api/v1/tra-cuu-bhxh`: the lookup, its body a compact JWS. */
export const LOOKUP_PATH = '/api/v1/tra-cuu-bhxh';
/** `GET {base}/api/v1/trang-thai`: the health probe (plain JSON). */
export const HEALTH_PATH = '/api/v1/trang-thai';

const insuranceCode = z.string().regex(/^\d{10}$/);
const idNumber = z.string().regex(/^\d{12}$/);

/** The request body; exactly one of `maSoBhxh` and `soDinhDanh`. */
export const wireRequest = z
  .object({
    maYeuCau: z.string().min(1).max(64),
    maDonVi: z.string().min(1).max(40),
    maSoBhxh: insuranceCode.optional(),
    soDinhDanh: idNumber.optional(),
  })
  .strict()
  .refine((r) => (r.maSoBhxh === undefined) !== (r.soDinhDanh === undefined), { message: 'exactly one of maSoBhxh and soDinhDanh' });

const wireEmployer = z.object({ ma: z.string().min(1), ten: z.string().min(1) });

const wireCard = z.object({
  // Beneficiary group (2 letters), benefit level, province of issue (2 digits), insurance code.
  soThe: z.string().regex(/^[A-Z]{2}\d{13}$/),
  giaTriTu: z.string(),
  giaTriDen: z.string(),
});

const wireInsured = z.object({
  maSoBhxh: insuranceCode,
  // Older participants may never have been linked to a personal ID number.
  soDinhDanh: idNumber.nullish(),
  hoTen: z.string().min(1),
  trangThaiThamGia: z.string(),
  tenTrangThaiThamGia: z.string().nullish(),
  donVi: wireEmployer.nullish(),
  theBhyt: wireCard.nullish(),
});

/** The JSON payload carried inside the compact JWS. */
export const wireAnswer = z.object({
  maLoi: z.string(),
  moTa: z.string().nullish(),
  maYeuCau: z.string().nullish(),
  duLieu: wireInsured.nullish(),
  thoiGian: z.string().regex(/^\d{14}$/),
});

/** What the system answers, unsigned, when it fails (HTTP 5xx, application/json). */
export const wireSystemError = z.object({ maLoi: z.string(), moTa: z.string().nullish() });

export type WireRequest = z.infer<typeof wireRequest>;
export type WireInsured = z.infer<typeof wireInsured>;
export type WireCard = z.infer<typeof wireCard>;
export type WireAnswer = z.infer<typeof wireAnswer>;

/** Participation status codes (trangThaiThamGia). */
export const PARTICIPATION_STATUSES: Record<string, SocialInsuranceRecord['participationStatus']> = {
  '1': 'participating',
  '2': 'suspended',
  '3': 'stopped',
};

export const PARTICIPATION_STATUS_NAMES: Record<SocialInsuranceRecord['participationStatus'], string> = {
  participating: 'Đang tham gia',
  suspended: 'Tạm dừng đóng',
  stopped: 'Dừng tham gia',
};

/** Result codes (maLoi) inside the signed payload. */
export const RESULT_CODES = {
  success: '00',
  invalidRequest: '01',
  /** The request is unsigned or its signature or certificate is refused (HTTP 401, plain JSON). */
  requestNotSigned: '02',
  agencyNotAllowed: '03',
  notFound: '04',
  systemError: '99',
} as const;

/** Success codes: like other national systems, "0" or "00". */
export function isSuccessCode(code: string): boolean {
  return code === '0' || code === '00';
}
