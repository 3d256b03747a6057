import { UNKNOWN } from '../../../src/sandbox/personas.ts';
import { SERVICES } from '../client.ts';
import { WIRE_CODES } from '../errors.ts';
import { wireDossierItem, wireProgressItem } from '../mapping.ts';

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
  /** Deliveries of a change it already held (answered TrungLap: true, not held twice). */
  duplicates: number;
  /** Changes that arrived with another sequence than the one after the last held. */
  outOfOrder: number;
}

export type Answer = { status: number; body: Record<string, unknown> };

const ok = (data: unknown): Answer => ({ status: 200, body: { error_code: '0', message: 'Thành công', data } });
const refuse = (code: string, message: string): Answer => ({ status: 200, body: { error_code: code, message } });

/**
 * The dossier side of the stand-in portal: TraCuuHoSo, DongBoHoSoMC and CapNhatTienDoHoSoMC,
 * each validated (a dossier of the unknown procedure, UNKNOWN.procedureCode, is refused as invalid), and a record per dossier of every change held, duplicates and out-of-order
 * arrivals. A change is recognised by (MaHoSo, SoThuTuDongBo): delivered again, it is answered
 * as held (TrungLap) and counted as a duplicate, never held twice.
 */
export function createDossierDesk() {
  const dossiers = new Map<string, DossierRecord>();

  function hold(record: DossierRecord, service: string, item: { SoThuTuDongBo: number; MaDongBo: string }, status: string): Answer {
    const already = record.held.find((h) => h.sequence === item.SoThuTuDongBo);
    if (already) {
      record.duplicates += 1;
      return ok({ MaHoSo: record.code, SoThuTuDongBo: item.SoThuTuDongBo, TrungLap: true });
    }
    const last = record.held.at(-1)?.sequence ?? 0;
    if (item.SoThuTuDongBo !== last + 1) record.outOfOrder += 1;
    record.held.push({ sequence: item.SoThuTuDongBo, deliveryId: item.MaDongBo, service, status, receivedAt: Date.now() });
    record.status = status;
    return ok({ MaHoSo: record.code, SoThuTuDongBo: item.SoThuTuDongBo, TrungLap: false });
  }

  function lookup(body: Record<string, unknown>): Answer {
    if (typeof body.MaHoSo !== 'string' || body.MaHoSo === '') return refuse(WIRE_CODES.badRequest, 'Thiếu mã hồ sơ');
    const record = dossiers.get(body.MaHoSo);
    if (!record) return refuse(WIRE_CODES.notFound, 'Không tìm thấy hồ sơ');
    return ok({ MaHoSo: record.code, TrangThaiHoSo: record.status });
  }

  function sync(body: Record<string, unknown>): Answer {
    if (body.isUpdating !== 'True' && body.isUpdating !== 'False') return refuse(WIRE_CODES.badRequest, 'isUpdating phải là "True" hoặc "False"');
    if (!Array.isArray(body.data) || body.data.length !== 1) return refuse(WIRE_CODES.badRequest, 'data phải có đúng một hồ sơ');
    const parsed = wireDossierItem.safeParse(body.data[0]);
    if (!parsed.success) return refuse(WIRE_CODES.badRequest, `Dữ liệu hồ sơ không hợp lệ: ${parsed.error.issues[0]?.path.join('.')}`);
    const item = parsed.data;
    // Sandbox-only: the procedure code no simulator knows (UNKNOWN.procedureCode) is refused as
    // invalid, as the portal refuses a procedure missing from the national catalogue.
    if (item.MaTTHC === UNKNOWN.procedureCode) return refuse(WIRE_CODES.badRequest, 'Mã thủ tục hành chính không tồn tại');
    let record = dossiers.get(item.MaHoSo);
    if (body.isUpdating === 'True' && !record) return refuse(WIRE_CODES.notFound, 'Không tìm thấy hồ sơ để cập nhật');
    if (body.isUpdating === 'False' && record && !record.held.some((h) => h.sequence === item.SoThuTuDongBo)) {
      return refuse(WIRE_CODES.badRequest, 'Hồ sơ đã tồn tại');
    }
    if (!record) {
      record = { code: item.MaHoSo, status: item.TrangThaiHoSo, held: [], duplicates: 0, outOfOrder: 0 };
      dossiers.set(item.MaHoSo, record);
    }
    return hold(record, SERVICES.sync, item, item.TrangThaiHoSo);
  }

  function progress(body: Record<string, unknown>): Answer {
    if (!Array.isArray(body.data) || body.data.length !== 1) return refuse(WIRE_CODES.badRequest, 'data phải có đúng một bước xử lý');
    const parsed = wireProgressItem.safeParse(body.data[0]);
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
      return { status: 200, body: { ...summary(record), held: record.held } };
    },
    records: (): DossierRecord[] => [...dossiers.values()],
  };
}
