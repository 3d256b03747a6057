import { z } from 'zod';
import type { CodeName, Procedure, ProcedureSummary } from '../../src/core/procedures-port.ts';
import { toVietnamIso, toWireDateTime } from '../../src/core/time.ts';
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

/**
 * Every service answer: a code, a message for people, and for the catalogue and look-up services
 * their data under `result`, an array. Nothing else in an answer is read.
 */
export const wireServiceAnswer = z.object({
  error_code: wireCode,
  message: z.string().nullish(),
  result: z.array(z.unknown()).nullish(),
});

/** An agency as LayThuTuc names it (COQUANTHUCHIEN); LayDanhSachTTHC is taken to use the same keys (inferred). */
const wireAgency = z.object({
  MADONVI: z.string().min(1),
  TENDONVI: z.string().min(1),
});

/** Numbers the catalogue may write as text ("15", "100000"); empty text is no number. */
const wireNumber = z
  .union([z.number(), z.string().trim().regex(/^(\d+([.,]\d+)?)?$/)])
  .nullish()
  .transform((v) => (v === null || v === undefined || v === '' ? null : typeof v === 'number' ? v : Number(v.replace(',', '.'))));
const wireText = z.string().nullish();

export const wireSummary = z.object({
  MATTHC: z.string().min(1),
  TENTTHC: z.string().min(1),
  MALINHVUC: z.string().min(1),
  TENLINHVUC: z.string().min(1),
  COQUANTHUCHIEN: z.array(wireAgency),
  MUCDO: z.union([z.string(), z.number()]).nullish(),
});

export const wireSummaryList = z.array(wireSummary);

/** LayDanhMucCoQuan's result: the agencies, keyed as in COQUANTHUCHIEN (INFERRED.catalogueKeys). */
export const wireAgencyList = z.array(wireAgency);

/** LayDanhMucLinhVuc's result: the fields, keyed as in LINHVUCTHUCHIEN. */
export const wireFieldList = z.array(z.object({ MALINHVUC: z.string().min(1), TENLINHVUC: z.string().min(1) }));

/** LayThuTuc's procedure, nested as the sources show it (DOMAIN.md, "What real integrations send"). */
export const wireProcedure = z.object({
  MATTHC: z.string().min(1),
  TENTTHC: z.string().min(1),
  LINHVUCTHUCHIEN: z.array(z.object({ MALINHVUC: z.string().min(1), TENLINHVUC: z.string().min(1) })).min(1),
  TRINHTUTHUCHIEN: z.array(z.object({ TRUONGHOP: wireText, TRINHTU: z.array(z.object({ TENTRINHTU: z.string().min(1) })) })),
  CACHTHUCTHUCHIEN: z.array(
    z.object({
      KENH: z.union([z.string(), z.number()]).transform(String),
      THOIGIAN: z.array(
        z.object({
          THOIGIANGIAIQUYET: wireNumber,
          DONVITINH: wireText,
          MOTA: wireText,
          PHILEPHI: z.array(z.object({ MAPHILEPHI: wireText, SOTIEN: wireNumber, DONVI: wireText })).nullish(),
        }),
      ),
    }),
  ),
  COQUANTHUCHIEN: z.array(wireAgency),
  THANHPHANHOSO: z.array(z.object({ GIAYTO: z.array(z.object({ MAGIAYTO: wireText, TENGIAYTO: z.string().min(1), TENMAUDON: wireText, URL: wireText })) })),
  CANCUPHAPLY: z.array(z.object({ SOVANBAN: wireText, TENVANBAN: z.string().min(1) })),
  KETQUATHUCHIEN: z.array(z.object({ MAKETQUA: wireText, TENKETQUA: z.string().min(1) })),
});

export type WireLoginAnswer = z.infer<typeof wireLoginAnswer>;
export type WireServiceAnswer = z.infer<typeof wireServiceAnswer>;
export type WireAgency = z.infer<typeof wireAgency>;
export type WireSummary = z.infer<typeof wireSummary>;
export type WireProcedure = z.infer<typeof wireProcedure>;
export type WireField = z.infer<typeof wireFieldList>[number];
/** LayThuTuc's result as sent, before numbers written as text are read. */
export type WireProcedureInput = z.input<typeof wireProcedure>;

/** Success codes: the portal writes "0" on some services and "00" on others. */
export { isSuccessCode } from '../result-codes.ts';

/** A catalogue entry (agency or field) as the API names it; the portal does not promise NFC. */
export function toAgencyEntry(wire: WireAgency): CodeName {
  return { code: wire.MADONVI.trim(), name: wire.TENDONVI.normalize('NFC') };
}

export function toFieldEntry(wire: WireField): CodeName {
  return { code: wire.MALINHVUC.trim(), name: wire.TENLINHVUC.normalize('NFC') };
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
    agencies: unique(wire.COQUANTHUCHIEN.map((a) => a.MADONVI)),
    level: toLevel(wire.MUCDO),
  };
}

/** KENH, the channel of CACHTHUCTHUCHIEN (inferred codes, the order of KenhThucHien). */
export const WIRE_CHANNELS: Record<string, 'in_person' | 'online' | 'postal'> = { '1': 'in_person', '2': 'online', '3': 'postal' };
const CHANNEL_WORDS = { in_person: 'Trực tiếp', online: 'Trực tuyến', postal: 'Dịch vụ bưu chính' } as const;

type Channel = Procedure['channelOptions'][number];

/** A number as the catalogue words it (Vietnamese thousands separator): 4300000 → "4.300.000". */
const vnNumber = (value: number): string => value.toLocaleString('vi-VN');

/**
 * One procedure in full, agencies by name. `retrievedAt` is when the gateway fetched it. The
 * text fields (`steps`, `channels`, `fees`, `processingTime`) are worded from the nested ones,
 * for callers that only show text.
 */
export function toProcedure(wire: WireProcedure, retrievedAt: Date): Procedure {
  const stepsByCase = wire.TRINHTUTHUCHIEN.map((c) => ({ case: optionalText(c.TRUONGHOP), steps: c.TRINHTU.map((t) => text(t.TENTRINHTU)) }));
  const channelOptions: Channel[] = wire.CACHTHUCTHUCHIEN.map((c) => {
    const channel = WIRE_CHANNELS[c.KENH.trim()];
    if (!channel) throw new MappingError(`unknown channel KENH ${c.KENH}`);
    return {
      channel,
      durations: c.THOIGIAN.map((t) => ({
        amount: t.THOIGIANGIAIQUYET,
        unit: optionalText(t.DONVITINH),
        description: optionalText(t.MOTA),
        fees: (t.PHILEPHI ?? []).map((f) => ({ code: optionalText(f.MAPHILEPHI), amount: f.SOTIEN, unit: optionalText(f.DONVI) })),
      })),
    };
  });
  const durations = channelOptions.flatMap((c) => c.durations);
  // A time limit the catalogue words without a number ("Ngay trong ngày làm việc") is its description.
  const timeWords = unique(durations.flatMap((d) => (d.amount !== null ? [[String(d.amount), d.unit].filter(Boolean).join(' ')] : d.description ? [d.description] : [])));
  const feeWords = unique(durations.flatMap((d) => d.fees).flatMap((f) => (f.amount === null ? [] : [`${vnNumber(f.amount)} ${f.unit ?? 'đồng'}`])));
  const agencies = wire.COQUANTHUCHIEN.map((a) => ({ code: a.MADONVI, name: text(a.TENDONVI) }));
  const fields = wire.LINHVUCTHUCHIEN.map((f) => ({ code: f.MALINHVUC, name: text(f.TENLINHVUC) }));
  return {
    code: wire.MATTHC,
    name: text(wire.TENTTHC),
    field: fields[0]!,
    fields,
    steps: stepsByCase.map((c) => [c.case, ...c.steps].filter(Boolean).join(' ')).join(' '),
    stepsByCase,
    channels: unique(channelOptions.map((c) => CHANNEL_WORDS[c.channel])).join('; '),
    channelOptions,
    dossierComponents: wire.THANHPHANHOSO.flatMap((group) =>
      group.GIAYTO.map((d) => ({ name: text(d.TENGIAYTO), code: optionalText(d.MAGIAYTO), formName: optionalText(d.TENMAUDON), formUrl: optionalText(d.URL) })),
    ),
    legalBasis: wire.CANCUPHAPLY.map((l) => text(l.TENVANBAN)),
    legalDocuments: wire.CANCUPHAPLY.map((l) => ({ number: optionalText(l.SOVANBAN), title: text(l.TENVANBAN) })),
    implementingAgencies: unique(agencies.map((a) => a.name)),
    implementingAgencyDetails: agencies,
    results: wire.KETQUATHUCHIEN.map((r) => text(r.TENKETQUA)),
    resultDocuments: wire.KETQUATHUCHIEN.map((r) => ({ code: optionalText(r.MAKETQUA), name: text(r.TENKETQUA) })),
    fees: feeWords.length > 0 ? feeWords.join('; ') : null,
    processingTime: timeWords.length > 0 ? timeWords.join('; ') : null,
    retrievedAt: toVietnamIso(retrievedAt),
  };
}

/*
 * Dossier synchronisation (DongBoHoSoMC, CapNhatTienDoHoSoMC, TraCuuHoSo). Field names are those
 * of DOMAIN.md ("What real integrations send"); the codes the sources do not spell out are in
 * INFERRED below, the one place to change when a specification shows them.
 */

/** Flags and enumerations travel as text. */
const flag = (value: boolean | undefined): '1' | '0' => (value ? '1' : '0');
/** An instant as the portal writes it, or "" when there is none. */
const wireTime = (iso: string | null | undefined): string => (iso ? toWireDateTime(new Date(iso)) : '');

/** LoaiDoiTuong: 1 citizen, 2 enterprise, 3 state agency, 4 other organisation. */
export const APPLICANT_TYPES = { citizen: '1', business: '2', state_agency: '3', other_organisation: '4' } as const;
/** KenhThucHien: 1 in person, 2 online, 3 postal. */
export const CHANNELS = { in_person: '1', online: '2', postal: '3' } as const;
/** DinhDanhCHS.LoaiDinhDanh: 1 the 12-digit personal ID number, 2 the 9-digit old card. */
export const IDENTIFIER_TYPES = { idNumber: '1', oldCard: '2' } as const;
/** DuocThanhToanTrucTuyen: 0 not paid online, 1 through the national payment platform, 2 through the province's. */
export const PAYMENT_PLATFORMS = { national: '1', provincial: '2' } as const;

/**
 * DuocTaiSuDung by where a reused document came from: 1 an earlier dossier's submission, 2 an
 * earlier result (sent with MaKetQuaThayThe); 0 not reused. From public one-stop code (README.md,
 * "Reused documents and results").
 */
export const REUSE_SOURCES = { earlier_submission: '1', earlier_result: '2' } as const;
const NOT_REUSED = '0';

/** Codes the sources use without spelling them out: inferred (README.md, "Inferred"). */
export const INFERRED = {
  /**
   * DuocTaiSuDung for a document from the shared (national) repository: what that repository
   * holds are results. Where it was taken from travels in DuocLayTuKhoDMQG.
   */
  reuse: { shared_repository: '2' },
  /** LoaiPhiLePhi: 1 fee (phí), 2 charge (lệ phí). */
  feeKind: { fee: '1', charge: '2' },
  /** HinhThucThu: 1 collected at the desk, 2 collected online. */
  feeCollection: { at_desk: '1', online: '2' },
  /** DSKetNoiCSDL.MaCSDL for the national databases. */
  database: { population: 'CSDLQGVDC', business_registry: 'CSDLQGVDKDN', tax: 'CSDLTHUE', social_insurance: 'CSDLBHXH' },
  /**
   * The services the agency and field catalogues are read from, and their result keys: the names
   * are in the sources, the keys (taken from COQUANTHUCHIEN and LINHVUCTHUCHIEN) are not.
   */
  catalogueKeys: {
    LayDanhMucCoQuan: { code: 'MADONVI', name: 'TENDONVI' },
    LayDanhMucLinhVuc: { code: 'MALINHVUC', name: 'TENLINHVUC' },
  },
} as const;

const wireTimeText = z.string().regex(/^(\d{14})?$/, 'yyyyMMddHHmmss or empty');
const wireFlag = z.enum(['0', '1']);
/**
 * The gateway's id for the change and its place among the dossier's changes. Not in the sources
 * (inferred): the portal is taken to ignore fields it does not know.
 */
const deliveryMark = { MaDongBo: z.string().min(1), SoThuTuDongBo: z.number().int().min(1) };

export const wireDossierItem = z.object({
  MaHoSo: z.string().min(1),
  MaTTHC: z.string().min(1),
  TenTTHC: z.string().min(1),
  MaLinhVuc: z.string().min(1),
  TenLinhVuc: z.string().min(1),
  SoBienNhan: z.string().min(1),
  ChuHoSo: z.string().min(1),
  LoaiDoiTuong: z.enum(['1', '2', '3', '4']),
  MaDoiTuong: z.string(),
  DinhDanhCHS: z.array(z.object({ LoaiDinhDanh: z.enum(['1', '2']), SoDinhDanh: z.string().min(1) })),
  SoGiayToChuHoSo: z.string(),
  Email: z.string(),
  SoDienThoai: z.string(),
  TrichYeuHoSo: z.string().min(1),
  NgayNopHoSo: wireTimeText,
  NgayTiepNhan: wireTimeText.min(14),
  NgayHenTra: wireTimeText,
  TrangThaiHoSo: z.string().regex(/^([1-9]|10)$/),
  NgayTra: wireTimeText,
  NgayTuChoi: wireTimeText,
  HinhThuc: z.enum(['0', '1']),
  NgayKetThucXuLy: wireTimeText,
  DonViXuLy: z.string().min(1),
  NoiNopHoSo: z.string(),
  TaiLieuNop: z.array(
    z.object({
      TepDinhKemId: z.string().min(1),
      TenTepDinhKem: z.string().min(1),
      MaThanhPhanHoSo: z.string().min(1),
      DuongDanTaiTepTin: z.string().min(1),
      DuocSoHoa: wireFlag,
      DuocTaiSuDung: z.enum(['0', '1', '2']),
      DuocLayTuKhoDMQG: wireFlag,
      MaKetQuaThayThe: z.string(),
      IsDeleted: wireFlag,
    }),
  ),
  DanhSachLePhi: z.array(
    z.object({ TenPhiLePhi: z.string().min(1), MaPhiLePhi: z.string(), HinhThucThu: z.string().min(1), Gia: z.string().regex(/^\d+$/), LoaiPhiLePhi: z.string().min(1) }),
  ),
  DanhSachHoSoBoSung: z.array(z.unknown()),
  DanhSachGiayToKetQua: z.array(
    z.object({ TenGiayTo: z.string().min(1), GiayToId: z.string().min(1), MaThanhPhanHoSo: z.string(), DuongDanTepTinKetQua: z.string().min(1), MaGiayToKetQua: z.string() }),
  ),
  HoSoCoThanhPhanSoHoa: wireFlag,
  KenhThucHien: z.enum(['1', '2', '3']),
  DuocThanhToanTrucTuyen: z.enum(['0', '1', '2']),
  TaiKhoanDuocXacThucVoiVNeID: wireFlag,
  DSKetNoiCSDL: z.array(z.object({ MaCSDL: z.string().min(1) })),
  ThongTinKhac: z.string(),
  ThongTinTra: z.string(),
  GhiChu: z.string(),
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
  // May be empty (the sources send them so when unknown).
  NgayBatDau: wireTimeText,
  NgayKetThucTheoQuyDinh: wireTimeText,
  ...deliveryMark,
});

/**
 * TraCuuHoSo's result: the dossiers the portal holds under the code asked for, none when it holds
 * none. Only the code is read (the fields of an entry are not in the sources).
 */
export const wireDossierLookup = z.array(z.object({ MaHoSo: z.string().min(1).optional() }));

export type WireDossierItem = z.infer<typeof wireDossierItem>;
export type WireProgressItem = z.infer<typeof wireProgressItem>;

/** DinhDanhCHS: a citizen's ID number by its length; an organisation's code is not one of its kinds. */
function identifiersOf(applicant: DossierSnapshot['dossier']['applicant']): WireDossierItem['DinhDanhCHS'] {
  if (applicant.type !== 'citizen') return [];
  if (/^\d{12}$/.test(applicant.identifier)) return [{ LoaiDinhDanh: IDENTIFIER_TYPES.idNumber, SoDinhDanh: applicant.identifier }];
  if (/^\d{9}$/.test(applicant.identifier)) return [{ LoaiDinhDanh: IDENTIFIER_TYPES.oldCard, SoDinhDanh: applicant.identifier }];
  throw new MappingError('a citizen identifier is neither a 12-digit ID number nor a 9-digit card number');
}

type Attachment = NonNullable<DossierSnapshot['dossier']['attachments']>[number];

/**
 * DuocTaiSuDung, and the MaKetQuaThayThe that goes with a reused result only. Where a reused
 * document came from is left out: a result when the result it stands in for is named, else 1,
 * as the public code sends a reuse it knows no result code of.
 */
function reuseOf(a: Attachment): { DuocTaiSuDung: '0' | '1' | '2'; MaKetQuaThayThe: string } {
  if (!a.reused) return { DuocTaiSuDung: NOT_REUSED, MaKetQuaThayThe: '' };
  const from = a.reusedFrom ?? (a.replacesResultCode ? 'earlier_result' : 'earlier_submission');
  // The shared repository holds results: it stands in for one as an earlier result does.
  const code = from === 'shared_repository' ? INFERRED.reuse.shared_repository : REUSE_SOURCES[from];
  return { DuocTaiSuDung: code, MaKetQuaThayThe: from === 'earlier_submission' ? '' : (a.replacesResultCode ?? '') };
}

/** Where the portal fetches an attachment: one naming a stored document is given its address as it is delivered. */
function urlOf(a: Attachment): string {
  if (!a.url) throw new MappingError('an attachment has no URL (a stored document was not completed)');
  return a.url;
}

/** The DongBoHoSoMC item for a dossier as it stands after a change. */
export function toWireDossier(snapshot: DossierSnapshot, mark: DeliveryMark): WireDossierItem {
  const d = snapshot.dossier;
  const attachments = d.attachments ?? [];
  const paidOnline = d.onlinePayment === true;
  return {
    MaHoSo: d.code,
    MaTTHC: d.procedureCode,
    TenTTHC: d.procedureName,
    MaLinhVuc: d.field.code,
    TenLinhVuc: d.field.name,
    SoBienNhan: d.receiptNumber,
    ChuHoSo: d.applicant.name,
    LoaiDoiTuong: APPLICANT_TYPES[d.applicant.type],
    // The national-portal account the dossier came from; the ID number goes in DinhDanhCHS, never here.
    MaDoiTuong: d.applicant.nationalAccountId ?? '',
    DinhDanhCHS: identifiersOf(d.applicant),
    SoGiayToChuHoSo: d.applicant.identifier,
    Email: d.applicant.email ?? '',
    SoDienThoai: d.applicant.phone ?? '',
    TrichYeuHoSo: d.summary,
    NgayNopHoSo: wireTime(d.submittedAt ?? d.receivedAt),
    NgayTiepNhan: wireTime(d.receivedAt),
    NgayHenTra: wireTime(d.dueAt),
    TrangThaiHoSo: String(snapshot.status),
    NgayTra: wireTime(snapshot.returnedAt),
    // Not accepted (3) ends processing: when it ended is when the dossier was refused.
    NgayTuChoi: snapshot.status === 3 ? wireTime(snapshot.processingEndedAt) : '',
    HinhThuc: flag(d.resultByPost),
    NgayKetThucXuLy: wireTime(snapshot.processingEndedAt),
    DonViXuLy: d.handlingAgency,
    NoiNopHoSo: d.submissionPlace ?? '',
    TaiLieuNop: attachments.map((a) => ({
      TepDinhKemId: a.id,
      TenTepDinhKem: a.name,
      MaThanhPhanHoSo: a.componentCode,
      DuongDanTaiTepTin: urlOf(a),
      DuocSoHoa: flag(a.digitised),
      ...reuseOf(a),
      DuocLayTuKhoDMQG: flag(a.fromNationalRepository),
      IsDeleted: flag(a.deleted),
    })),
    DanhSachLePhi: (d.fees ?? []).map((f) => ({
      TenPhiLePhi: f.name,
      MaPhiLePhi: f.code ?? '',
      HinhThucThu: INFERRED.feeCollection[paidOnline ? 'online' : 'at_desk'],
      Gia: String(f.amount),
      LoaiPhiLePhi: INFERRED.feeKind[f.kind ?? 'charge'],
    })),
    DanhSachHoSoBoSung: [],
    DanhSachGiayToKetQua: (d.results ?? []).map((r) => ({
      TenGiayTo: r.name,
      GiayToId: r.id,
      MaThanhPhanHoSo: r.componentCode ?? '',
      DuongDanTepTinKetQua: r.url,
      MaGiayToKetQua: r.resultCode ?? '',
    })),
    HoSoCoThanhPhanSoHoa: flag(attachments.some((a) => a.digitised && !a.deleted)),
    KenhThucHien: CHANNELS[d.channel],
    DuocThanhToanTrucTuyen: paidOnline ? PAYMENT_PLATFORMS[d.paymentPlatform ?? 'national'] : '0',
    TaiKhoanDuocXacThucVoiVNeID: flag(d.vneidVerified),
    DSKetNoiCSDL: (d.nationalDatabases ?? []).map((db) => ({ MaCSDL: INFERRED.database[db] })),
    ThongTinKhac: d.otherInfo ?? '',
    ThongTinTra: d.returnInfo ?? '',
    GhiChu: d.note ?? '',
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
