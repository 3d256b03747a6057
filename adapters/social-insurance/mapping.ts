import { z } from 'zod';
import type { SocialInsuranceRecord } from '../../src/core/social-insurance-port.ts';
import { toVietnamIso, wireDateToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';

export { MappingError };

/**
 * Wire format of Vietnam Social Security's lookup (see README.md). The only file that knows its
 * field names: a real specification changes this file and its fixtures.
 */
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

/** The calendar date in Vietnam at this instant, `yyyy-MM-dd`. */
export function vietnamDate(at: Date): string {
  return toVietnamIso(at).slice(0, 10);
}

/** Whether a card is valid on `today` (`yyyy-MM-dd`), both ends included. */
export function isCardValidOn(card: { validFrom: string; validTo: string }, today: string): boolean {
  return card.validFrom <= today && today <= card.validTo;
}

function toCard(wire: WireCard, today: string): NonNullable<SocialInsuranceRecord['healthInsuranceCard']> {
  const validFrom = wireDateToIso(wire.giaTriTu);
  const validTo = wireDateToIso(wire.giaTriDen);
  if (!validFrom || !validTo) throw new MappingError('the card validity dates are not yyyyMMdd dates');
  if (validFrom > validTo) throw new MappingError('the card expires before it starts');
  return { number: wire.soThe, validFrom, validTo, valid: isCardValidOn({ validFrom, validTo }, today) };
}

/**
 * The system's record as our API returns it. `at` is the moment of retrieval: it gives
 * `retrievedAt`, and the card's validity is judged on that day in Vietnam. Unknown codes are
 * refused, not guessed.
 */
export function toSocialInsuranceRecord(wire: WireInsured, at: Date): SocialInsuranceRecord {
  const participationStatus = PARTICIPATION_STATUSES[wire.trangThaiThamGia];
  if (!participationStatus) throw new MappingError(`unknown participation status code ${wire.trangThaiThamGia}`);
  return {
    insuranceCode: wire.maSoBhxh,
    ...(wire.soDinhDanh ? { idNumber: wire.soDinhDanh } : {}),
    fullName: wire.hoTen.normalize('NFC'),
    participationStatus,
    employer: wire.donVi ? { code: wire.donVi.ma, name: wire.donVi.ten.normalize('NFC') } : null,
    healthInsuranceCard: wire.theBhyt ? toCard(wire.theBhyt, vietnamDate(at)) : null,
    retrievedAt: toVietnamIso(at),
  };
}
