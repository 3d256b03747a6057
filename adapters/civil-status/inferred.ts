import { z } from 'zod';
import { wireAddress } from '../signed-json/address.ts';

/*
 * INFERRED — the national electronic civil-status database's interface (Cơ sở dữ liệu hộ tịch
 * điện tử toàn quốc, Ministry of Justice) is not public (README.md, "Inferred"). Every fact of its
 * wire format the gateway relies on lives in this file and is a reasonable default, not a
 * transcription: paths, header names, field names, code tables and result codes. The profile is
 * the business registry's: REST/JSON in the `{ MaLoi, MoTa, DuLieu }` envelope, RFC 9421 message
 * signatures both ways. A real specification changes this file, fixtures/ and README.md only.
 */

/** `GET {base}/api/v1/khai-sinh/{SoDinhDanh}`: a birth registration by personal ID number. */
export const BIRTH_PATH = '/api/v1/khai-sinh/';
/** `GET {base}/api/v1/trang-thai`: the health probe. */
export const HEALTH_PATH = '/api/v1/trang-thai';
/** Request headers: the calling agency's code, and a fresh id per request. */
export const AGENCY_HEADER = 'x-ma-don-vi';
export const REQUEST_ID_HEADER = 'x-ma-yeu-cau';

/** Error code for "no birth registration with this ID number" (with HTTP 404). */
export const NOT_FOUND_CODE = '04';
/** Error code for a request whose signature or certificate the database refuses (HTTP 401). */
export const SIGNATURE_REFUSED_CODE = '02';

/** Gender codes (GioiTinh), as the population database's. */
export const GENDERS = { '1': 'male', '2': 'female' } as const;

const wireParent = z.object({ HoTen: z.string().min(1), SoDinhDanh: z.string().nullish() });

const wireBirth = z.object({
  SoDinhDanh: z.string().regex(/^\d{12}$/),
  HoTen: z.string().min(1),
  GioiTinh: z.string(),
  /** yyyyMMdd, like the other systems' dates. */
  NgaySinh: z.string(),
  NoiSinh: wireAddress,
  DanToc: z.string().min(1),
  /** ISO 3166-1 alpha-2. */
  QuocTich: z.string().regex(/^[A-Z]{2}$/),
  Cha: wireParent.nullish(),
  Me: wireParent.nullish(),
  SoDangKy: z.string().min(1),
  QuyenSo: z.string().nullish(),
  NgayDangKy: z.string(),
  CoQuanDangKy: z.string().min(1),
});

export const wireAnswer = z.object({
  MaLoi: z.string(),
  MoTa: z.string().nullish(),
  DuLieu: wireBirth.nullish(),
});

export type WireBirth = z.infer<typeof wireBirth>;
export type WireParent = z.infer<typeof wireParent>;
