import { z } from 'zod';
import type { Procedure, ProcedureSummary } from '../../src/core/procedures-port.ts';
import { toVietnamIso, toWireDateTime, wireDateTimeToIso } from '../../src/core/time.ts';
import type { DeliveryMark, DossierProgressEvent, DossierSnapshot } from '../../src/core/dossiers/port.ts';
import { MappingError } from '../mapping-error.ts';

export { MappingError };

/**
 * Wire format of the national public-service portal (see README.md). The only file that knows
 * the portal's field names: a real specification changes this file and its fixtures.
 */

/** Some portal services write `error_code` as a number; it is compared as text. */
const wireCode = z.union([z.string(), z.number()]).transform(String);

export const wireLoginAnswer = z.object({
  error_code: wireCode,
  message: z.string().nullish(),
  session: z.string().nullish(),
});

/** Every service answer: a code, a message for people, and the service's data. */
export const wireServiceAnswer = z.object({
  error_code: wireCode,
  message: z.string().nullish(),
  data: z.unknown().optional(),
});

const wireAgency = z.object({
  MACOQUAN: z.string().min(1),
  TENCOQUAN: z.string().min(1),
});

export const wireSummary = z.object({
  MATTHC: z.string().min(1),
  TENTTHC: z.string().min(1),
  MALINHVUC: z.string().min(1),
  TENLINHVUC: z.string().min(1),
  COQUANTHUCHIEN: z.array(wireAgency),
  MUCDO: z.union([z.string(), z.number()]).nullish(),
});

export const wireSummaryList = z.array(wireSummary);

/** Some catalogue exports write the number of copies as text ("01"). */
const wireCopies = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).nullish();

export const wireProcedure = z.object({
  MATTHC: z.string().min(1),
  TENTTHC: z.string().min(1),
  LINHVUCTHUCHIEN: z.object({ MALINHVUC: z.string().min(1), TENLINHVUC: z.string().min(1) }),
  TRINHTUTHUCHIEN: z.string(),
  CACHTHUCTHUCHIEN: z.string(),
  THANHPHANHOSO: z.array(z.object({ TENGIAYTO: z.string().min(1), SOBAN: wireCopies })),
  CANCUPHAPLY: z.array(z.object({ TENVANBAN: z.string().min(1) })),
  COQUANTHUCHIEN: z.array(wireAgency),
  KETQUATHUCHIEN: z.array(z.object({ TENKETQUA: z.string().min(1) })),
  LEPHI: z.string().nullish(),
  THOIHANGIAIQUYET: z.string().nullish(),
  NGAYCAPNHAT: z.string().nullish(),
});

export type WireLoginAnswer = z.infer<typeof wireLoginAnswer>;
export type WireServiceAnswer = z.infer<typeof wireServiceAnswer>;
export type WireAgency = z.infer<typeof wireAgency>;
export type WireSummary = z.infer<typeof wireSummary>;
export type WireProcedure = z.infer<typeof wireProcedure>;

/** Success codes: the portal writes "0" on some services and "00" on others. */
export function isSuccessCode(code: string): boolean {
  return code === '0' || code === '00';
}

/**
 * Older catalogue entries still carry the service levels of Decree 43/2011 (1-4); Decree 42/2022
 * replaced them with "Toàn trình" (the old level 4) and "Một phần" (the old level 3). Levels 1 and
 * 2 only published information and forms: no online service level. Text levels pass unchanged.
 */
const LEGACY_LEVELS: Record<string, string | null> = {
  '1': null,
  '2': null,
  '3': 'Một phần',
  '4': 'Toàn trình',
};

export function toLevel(wire: string | number | null | undefined): string | null {
  if (wire === null || wire === undefined) return null;
  const value = String(wire).trim().normalize('NFC');
  if (value === '') return null;
  if (/^\d+$/.test(value)) {
    if (!(value in LEGACY_LEVELS)) throw new MappingError(`unknown service level ${value}`);
    return LEGACY_LEVELS[value]!;
  }
  return value;
}

/** The portal does not promise NFC; our API does. */
const text = (value: string): string => value.normalize('NFC');

const optionalText = (value: string | null | undefined): string | null => {
  const trimmed = value?.trim();
  return trimmed ? text(trimmed) : null;
};

const unique = (values: string[]): string[] => [...new Set(values)];

/** A catalogue entry as `GET /v1/procedures` lists it: agencies by code, which the gateway filters on. */
export function toProcedureSummary(wire: WireSummary): ProcedureSummary {
  return {
    code: wire.MATTHC,
    name: text(wire.TENTTHC),
    field: { code: wire.MALINHVUC, name: text(wire.TENLINHVUC) },
    agencies: unique(wire.COQUANTHUCHIEN.map((a) => a.MACOQUAN)),
    level: toLevel(wire.MUCDO),
  };
}

/**
 * One procedure in full, agencies by name. `retrievedAt` is when the gateway fetched it, not the
 * portal's NGAYCAPNHAT (when the catalogue entry last changed), which is only checked.
 */
export function toProcedure(wire: WireProcedure, retrievedAt: Date): Procedure {
  if (wire.NGAYCAPNHAT && !wireDateTimeToIso(wire.NGAYCAPNHAT)) throw new MappingError('NGAYCAPNHAT is not a yyyyMMddHHmmss date');
  return {
    code: wire.MATTHC,
    name: text(wire.TENTTHC),
    field: { code: wire.LINHVUCTHUCHIEN.MALINHVUC, name: text(wire.LINHVUCTHUCHIEN.TENLINHVUC) },
    steps: text(wire.TRINHTUTHUCHIEN),
    channels: text(wire.CACHTHUCTHUCHIEN),
    dossierComponents: wire.THANHPHANHOSO.map((d) => {
      if (d.SOBAN === null || d.SOBAN === undefined || d.SOBAN === 0) return { name: text(d.TENGIAYTO) };
      if (!Number.isInteger(d.SOBAN) || d.SOBAN < 0) throw new MappingError(`SOBAN ${d.SOBAN} is not a number of copies`);
      return { name: text(d.TENGIAYTO), copies: d.SOBAN };
    }),
    legalBasis: wire.CANCUPHAPLY.map((l) => text(l.TENVANBAN)),
    implementingAgencies: unique(wire.COQUANTHUCHIEN.map((a) => text(a.TENCOQUAN))),
    results: wire.KETQUATHUCHIEN.map((r) => text(r.TENKETQUA)),
    fees: optionalText(wire.LEPHI),
    processingTime: optionalText(wire.THOIHANGIAIQUYET),
    retrievedAt: toVietnamIso(retrievedAt),
  };
}

/*
 * Dossier synchronisation (DongBoHoSoMC, CapNhatTienDoHoSoMC, TraCuuHoSo). Field names are the
 * known ones of DOMAIN.md; value encodings (text codes, "1"/"0" flags, "" for absent values) and
 * the delivery marks `MaDongBo`/`SoThuTuDongBo` are inferred (README.md).
 */

/** Flags and enumerations travel as text. */
const flag = (value: boolean | undefined): '1' | '0' => (value ? '1' : '0');
/** An instant as the portal writes it, or "" when there is none. */
const wireTime = (iso: string | null | undefined): string => (iso ? toWireDateTime(new Date(iso)) : '');

export const APPLICANT_TYPES = { citizen: '1', business: '2' } as const;
export const CHANNELS = { in_person: '1', online: '2', postal: '3' } as const;
/** LoaiDinhDanh: 1 personal identification number, 2 enterprise code (inferred). */
export const IDENTIFIER_TYPES = { citizen: '1', business: '2' } as const;

const wireTimeText = z.string().regex(/^(\d{14})?$/, 'yyyyMMddHHmmss or empty');
const wireFlag = z.enum(['0', '1']);
/** The gateway's id for the change and its place among the dossier's changes (inferred fields). */
const deliveryMark = { MaDongBo: z.string().min(1), SoThuTuDongBo: z.number().int().min(1) };

export const wireDossierItem = z.object({
  MaHoSo: z.string().min(1),
  MaTTHC: z.string().min(1),
  TenTTHC: z.string().min(1),
  MaLinhVuc: z.string().min(1),
  TenLinhVuc: z.string().min(1),
  SoBienNhan: z.string().min(1),
  ChuHoSo: z.string().min(1),
  LoaiDoiTuong: z.enum(['1', '2']),
  MaDoiTuong: z.string().min(1),
  Email: z.string(),
  SoDienThoai: z.string(),
  TrichYeuHoSo: z.string().min(1),
  NgayTiepNhan: wireTimeText.min(14),
  NgayHenTra: wireTimeText.min(14),
  TrangThaiHoSo: z.string().regex(/^([1-9]|10)$/),
  NgayTra: wireTimeText,
  HinhThuc: z.enum(['0', '1']),
  NgayKetThucXuLy: wireTimeText,
  DonViXuLy: z.string().min(1),
  TaiLieuNop: z.array(
    z.object({
      TepDinhKemId: z.string().min(1),
      TenTepDinhKem: z.string().min(1),
      MaThanhPhanHoSo: z.string().min(1),
      DuongDanTaiTepTin: z.string().min(1),
      DuocSoHoa: wireFlag,
      DuocTaiSuDung: wireFlag,
    }),
  ),
  DanhSachLePhi: z.array(z.object({ TenPhiLePhi: z.string().min(1), MucPhi: z.number().int().min(0), DaThanhToan: wireFlag })),
  DanhSachHoSoBoSung: z.array(z.unknown()),
  DanhSachGiayToKetQua: z.array(z.unknown()),
  KenhThucHien: z.enum(['1', '2', '3']),
  DuocThanhToanTrucTuyen: wireFlag,
  TaiKhoanDuocXacThucVoiVNeID: wireFlag,
  LoaiDinhDanh: z.enum(['1', '2']),
  SoDinhDanh: z.string().min(1),
  ...deliveryMark,
});

export const wireProgressItem = z.object({
  MaHoSo: z.string().min(1),
  NguoiXuLy: z.string().min(1),
  ChucDanh: z.string().min(1),
  ThoiDiemXuLy: wireTimeText.min(14),
  PhongBanXuLy: z.string().min(1),
  NoiDungXuLy: z.string().min(1),
  TrangThai: z.string().regex(/^([1-9]|10)$/),
  NgayBatDau: wireTimeText.min(14),
  NgayKetThucTheoQuyDinh: wireTimeText.min(14),
  ...deliveryMark,
});

/** TraCuuHoSo's data when the portal holds the dossier (not found is error_code 404). */
export const wireDossierLookup = z.object({ MaHoSo: z.string().min(1), TrangThaiHoSo: z.union([z.string(), z.number()]).transform(String) });

/** What DongBoHoSoMC and CapNhatTienDoHoSoMC answer: the change they hold, and whether they held it already. */
export const wireDeliveryAnswer = z.object({ MaHoSo: z.string().min(1), SoThuTuDongBo: z.number().int(), TrungLap: z.boolean() });

export type WireDossierItem = z.infer<typeof wireDossierItem>;
export type WireProgressItem = z.infer<typeof wireProgressItem>;

/** The DongBoHoSoMC item for a dossier as it stands after a change. */
export function toWireDossier(snapshot: DossierSnapshot, mark: DeliveryMark): WireDossierItem {
  const d = snapshot.dossier;
  return {
    MaHoSo: d.code,
    MaTTHC: d.procedureCode,
    TenTTHC: d.procedureName,
    MaLinhVuc: d.field.code,
    TenLinhVuc: d.field.name,
    SoBienNhan: d.receiptNumber,
    ChuHoSo: d.applicant.name,
    LoaiDoiTuong: APPLICANT_TYPES[d.applicant.type],
    MaDoiTuong: d.applicant.identifier,
    Email: d.applicant.email ?? '',
    SoDienThoai: d.applicant.phone ?? '',
    TrichYeuHoSo: d.summary,
    NgayTiepNhan: wireTime(d.receivedAt),
    NgayHenTra: wireTime(d.dueAt),
    TrangThaiHoSo: String(snapshot.status),
    NgayTra: wireTime(snapshot.returnedAt),
    // HinhThuc (inferred): 1 submitted online, 0 otherwise; KenhThucHien carries the channel itself.
    HinhThuc: d.channel === 'online' ? '1' : '0',
    NgayKetThucXuLy: wireTime(snapshot.processingEndedAt),
    DonViXuLy: d.handlingAgency,
    TaiLieuNop: (d.attachments ?? []).map((a) => ({
      TepDinhKemId: a.id,
      TenTepDinhKem: a.name,
      MaThanhPhanHoSo: a.componentCode,
      DuongDanTaiTepTin: a.url,
      DuocSoHoa: flag(a.digitised),
      DuocTaiSuDung: flag(a.reused),
    })),
    DanhSachLePhi: (d.fees ?? []).map((f) => ({ TenPhiLePhi: f.name, MucPhi: f.amount, DaThanhToan: flag(f.paid) })),
    DanhSachHoSoBoSung: [],
    DanhSachGiayToKetQua: [],
    KenhThucHien: CHANNELS[d.channel],
    DuocThanhToanTrucTuyen: flag(d.onlinePayment),
    TaiKhoanDuocXacThucVoiVNeID: flag(d.vneidVerified),
    LoaiDinhDanh: IDENTIFIER_TYPES[d.applicant.type],
    SoDinhDanh: d.applicant.identifier,
    MaDongBo: mark.id,
    SoThuTuDongBo: mark.sequence,
  };
}

/** The CapNhatTienDoHoSoMC item for a processing step. */
export function toWireProgress(step: { code: string; status: number; event: DossierProgressEvent }, mark: DeliveryMark): WireProgressItem {
  const e = step.event;
  return {
    MaHoSo: step.code,
    NguoiXuLy: e.officer,
    ChucDanh: e.title,
    ThoiDiemXuLy: wireTime(e.at),
    PhongBanXuLy: e.department,
    NoiDungXuLy: e.content,
    TrangThai: String(step.status),
    NgayBatDau: wireTime(e.startedAt),
    NgayKetThucTheoQuyDinh: wireTime(e.dueAt),
    MaDongBo: mark.id,
    SoThuTuDongBo: mark.sequence,
  };
}
