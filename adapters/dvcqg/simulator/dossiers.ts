import { z } from 'zod';
import { UNKNOWN } from '../../../src/sandbox/personas.ts';
import { SERVICES } from '../client.ts';
import { WIRE_CODES } from '../errors.ts';

/*
 * What the stand-in portal checks in a dossier item: the fields the sources send, with the value
 * ranges they show. It is the portal's model, not the gateway's: fields it does not know pass
 * (inferred: so does the real portal), and the gateway's own delivery marks (MaDongBo,
 * SoThuTuDongBo) are optional extras it uses only to count repeats.
 */
const time = z.string().regex(/^(\d{14})?$/);
const code = (...values: string[]) => z.union([z.enum(values as [string, ...string[]]), z.number().transform(String)]).pipe(z.enum(values as [string, ...string[]]));
const marks = { MaDongBo: z.string().min(1).optional(), SoThuTuDongBo: z.number().int().min(1).optional() };

export const portalDossierItem = z.looseObject({
  MaHoSo: z.string().min(1),
  MaTTHC: z.string().min(1),
  TenTTHC: z.string().min(1),
  ChuHoSo: z.string().min(1),
  LoaiDoiTuong: code('1', '2', '3', '4'),
  MaDoiTuong: z.string().optional(),
  DinhDanhCHS: z.array(z.looseObject({ LoaiDinhDanh: code('1', '2'), SoDinhDanh: z.string().regex(/^(\d{12}|\d{9})$/) })).optional(),
  NgayTiepNhan: time.min(14),
  NgayHenTra: time.optional(),
  NgayNopHoSo: time.optional(),
  NgayTuChoi: time.optional(),
  NgayTra: time.optional(),
  NgayKetThucXuLy: time.optional(),
  TrangThaiHoSo: code('1', '2', '3', '4', '5', '6', '7', '8', '9', '10'),
  HinhThuc: code('0', '1').optional(),
  KenhThucHien: code('1', '2', '3').optional(),
  DuocThanhToanTrucTuyen: code('0', '1', '2').optional(),
  HoSoCoThanhPhanSoHoa: code('0', '1').optional(),
  // DuocTaiSuDung: 0 not reused, 1 from an earlier submission, 2 from an earlier result (with MaKetQuaThayThe).
  TaiLieuNop: z
    .array(
      z.looseObject({
        TepDinhKemId: z.string().min(1),
        TenTepDinhKem: z.string().min(1),
        DuongDanTaiTepTin: z.string().min(1).optional(),
        DuocSoHoa: code('0', '1').optional(),
        DuocTaiSuDung: code('0', '1', '2').optional(),
        DuocLayTuKhoDMQG: code('0', '1').optional(),
        MaKetQuaThayThe: z.string().optional(),
        IsDeleted: code('0', '1').optional(),
      }),
    )
    .optional(),
  DanhSachLePhi: z.array(z.looseObject({ TenPhiLePhi: z.string().min(1), Gia: z.string().regex(/^\d+$/) })).optional(),
  DanhSachGiayToKetQua: z
    .array(z.looseObject({ TenGiayTo: z.string().min(1), GiayToId: z.string().min(1), MaThanhPhanHoSo: z.string().optional(), DuongDanTepTinKetQua: z.string().min(1), MaGiayToKetQua: z.string().optional() }))
    .optional(),
  DSKetNoiCSDL: z.array(z.looseObject({ MaCSDL: z.string().min(1) })).optional(),
  ...marks,
});

export const portalProgressItem = z.looseObject({
  MaHoSo: z.string().min(1),
  NguoiXuLy: z.string().min(1),
  ThoiDiemXuLy: time.min(14),
  NoiDungXuLy: z.string().min(1),
  TrangThai: code('1', '2', '3', '4', '5', '6', '7', '8', '9', '10').optional(),
  NgayBatDau: time.optional(),
  NgayKetThucTheoQuyDinh: time.optional(),
  ...marks,
});

/** One change the stand-in portal holds for a dossier. */
export interface HeldChange {
  sequence: number;
  deliveryId: string;
  service: string;
  status: string;
  /** When the portal took it (Date.now()). */
  receivedAt: number;
}

/** What the stand-in portal holds for one dossier, and what it noticed while taking it. */
export interface DossierRecord {
  code: string;
  status: string;
  held: HeldChange[];
  /** Deliveries of a change it already held (same delivery mark: answered as success, not held twice). */
  duplicates: number;
  /** Changes that arrived with another sequence than the one after the last held. */
  outOfOrder: number;
  /** The last DongBoHoSoMC item taken, as sent. */
  item?: Record<string, unknown>;
}

export type Answer = { status: number; body: Record<string, unknown> };

/** Success: the look-ups carry `result`, the dossier services a code and a message only. */
const ok = (result?: unknown[]): Answer => ({ status: 200, body: { error_code: '0', message: 'Thành công', ...(result ? { result } : {}) } });
const refuse = (code: string, message: string): Answer => ({ status: 200, body: { error_code: code, message } });

/**
 * The dossier side of the stand-in portal: TraCuuHoSo (`mahoso`, or the older `MaHoSo`),
 * DongBoHoSoMC and CapNhatTienDoHoSoMC, each validated (a dossier of the unknown procedure,
 * UNKNOWN.procedureCode, is refused as invalid), and a record per dossier of every change held.
 * A change carrying the gateway's mark (MaHoSo, SoThuTuDongBo) delivered again is answered as
 * success and counted as a duplicate, never held twice; out-of-order marks are counted.
 */
export function createDossierDesk() {
  const dossiers = new Map<string, DossierRecord>();

  function hold(record: DossierRecord, service: string, item: { SoThuTuDongBo?: number | undefined; MaDongBo?: string | undefined }, status: string): Answer {
    const last = record.held.at(-1)?.sequence ?? 0;
    const sequence = item.SoThuTuDongBo ?? last + 1;
    if (record.held.some((h) => h.sequence === sequence)) {
      record.duplicates += 1;
      return ok();
    }
    if (sequence !== last + 1) record.outOfOrder += 1;
    record.held.push({ sequence, deliveryId: item.MaDongBo ?? '', service, status, receivedAt: Date.now() });
    record.status = status;
    return ok();
  }

  function lookup(body: Record<string, unknown>): Answer {
    const code = typeof body.mahoso === 'string' ? body.mahoso : body.MaHoSo;
    if (typeof code !== 'string' || code === '') return refuse(WIRE_CODES.badRequest, 'Thiếu mã hồ sơ');
    const record = dossiers.get(code);
    // A dossier the portal does not hold is an empty result, not an error.
    return ok(record ? [{ MaHoSo: record.code, TrangThaiHoSo: record.status }] : []);
  }

  function sync(body: Record<string, unknown>): Answer {
    if (body.isUpdating !== 'True' && body.isUpdating !== 'False') return refuse(WIRE_CODES.badRequest, 'isUpdating phải là "True" hoặc "False"');
    if (!Array.isArray(body.data) || body.data.length !== 1) return refuse(WIRE_CODES.badRequest, 'data phải có đúng một hồ sơ');
    const parsed = portalDossierItem.safeParse(body.data[0]);
    if (!parsed.success) return refuse(WIRE_CODES.badRequest, `Dữ liệu hồ sơ không hợp lệ: ${parsed.error.issues[0]?.path.join('.')}`);
    const item = parsed.data;
    // Sandbox-only: the procedure code no simulator knows (UNKNOWN.procedureCode) is refused as
    // invalid, as the portal refuses a procedure missing from the national catalogue.
    if (item.MaTTHC === UNKNOWN.procedureCode) return refuse(WIRE_CODES.badRequest, 'Mã thủ tục hành chính không tồn tại');
    let record = dossiers.get(item.MaHoSo);
    if (body.isUpdating === 'True' && !record) return refuse(WIRE_CODES.notFound, 'Không tìm thấy hồ sơ để cập nhật');
    const repeat = record && item.SoThuTuDongBo !== undefined && record.held.some((h) => h.sequence === item.SoThuTuDongBo);
    if (body.isUpdating === 'False' && record && !repeat) return refuse(WIRE_CODES.badRequest, `Hồ sơ ${item.MaHoSo} đã tồn tại`);
    if (!record) {
      record = { code: item.MaHoSo, status: item.TrangThaiHoSo, held: [], duplicates: 0, outOfOrder: 0 };
      dossiers.set(item.MaHoSo, record);
    }
    record.item = item;
    return hold(record, SERVICES.sync, item, item.TrangThaiHoSo);
  }

  function progress(body: Record<string, unknown>): Answer {
    if (!Array.isArray(body.data) || body.data.length !== 1) return refuse(WIRE_CODES.badRequest, 'data phải có đúng một bước xử lý');
    const parsed = portalProgressItem.safeParse(body.data[0]);
    if (!parsed.success) return refuse(WIRE_CODES.badRequest, `Dữ liệu tiến độ không hợp lệ: ${parsed.error.issues[0]?.path.join('.')}`);
    const record = dossiers.get(parsed.data.MaHoSo);
    if (!record) return refuse(WIRE_CODES.notFound, 'Không tìm thấy hồ sơ');
    return hold(record, SERVICES.progress, parsed.data, record.status);
  }

  const summary = (r: DossierRecord) => ({
    code: r.code,
    status: r.status,
    sequences: r.held.map((h) => h.sequence),
    receivedAt: r.held.map((h) => h.receivedAt),
    duplicates: r.duplicates,
    outOfOrder: r.outOfOrder,
  });

  return {
    /** The answer to a dossier service, or undefined for a service that is not a dossier one. */
    handle(service: unknown, body: Record<string, unknown>): Answer | undefined {
      if (service === SERVICES.lookup) return lookup(body);
      if (service === SERVICES.sync) return sync(body);
      if (service === SERVICES.progress) return progress(body);
      return undefined;
    },
    /**
     * Sandbox-only report, never part of the portal's interface: GET /sandbox/dossiers (every
     * dossier, with totals), GET /sandbox/dossiers/{code}, DELETE /sandbox/dossiers (forget all).
     */
    report(method: string, path: string): Answer | undefined {
      if (path !== '/sandbox/dossiers' && !path.startsWith('/sandbox/dossiers/')) return undefined;
      if (path === '/sandbox/dossiers' && method === 'DELETE') {
        dossiers.clear();
        return { status: 200, body: { dossiers: [] } };
      }
      if (method !== 'GET') return { status: 405, body: { error_code: '405', message: 'Phương thức không được hỗ trợ' } };
      if (path === '/sandbox/dossiers') {
        const all = [...dossiers.values()];
        const totals = all.reduce((t, r) => ({ held: t.held + r.held.length, duplicates: t.duplicates + r.duplicates, outOfOrder: t.outOfOrder + r.outOfOrder }), { held: 0, duplicates: 0, outOfOrder: 0 });
        return { status: 200, body: { totals: { dossiers: all.length, ...totals }, dossiers: all.map(summary) } };
      }
      const record = dossiers.get(decodeURIComponent(path.slice('/sandbox/dossiers/'.length)));
      if (!record) return { status: 404, body: { error_code: WIRE_CODES.notFound, message: 'Không tìm thấy hồ sơ' } };
      return { status: 200, body: { ...summary(record), held: record.held, item: record.item ?? null } };
    },
    records: (): DossierRecord[] => [...dossiers.values()],
  };
}
