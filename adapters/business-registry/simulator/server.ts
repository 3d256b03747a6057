import type { RequestListener } from 'node:http';
import { enterprises, findPerson, type EnterprisePersona, type PersonaAddress } from '../../../src/sandbox/personas.ts';
import { applyFault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import type { SimulatorDeps } from '../../module.ts';
import { isoDateToWire } from '../../../src/core/time.ts';
import { LEGAL_FORMS, STATUSES, STATUS_NAMES, type WireAddress, type WireAnswer, type WireEnterprise } from '../mapping.ts';
import { ENTERPRISE_PATH } from '../client.ts';
import { NOT_FOUND_CODE } from '../errors.ts';

const LEGAL_FORM_CODES = Object.fromEntries(Object.entries(LEGAL_FORMS).map(([code, form]) => [form, code]));
const STATUS_CODES = Object.fromEntries(Object.entries(STATUSES).map(([code, status]) => [status, code]));
const LEGAL_FORM_NAMES: Record<string, string> = {
  DNTN: 'Doanh nghiệp tư nhân',
  TNHH1TV: 'Công ty trách nhiệm hữu hạn một thành viên',
  TNHH2TV: 'Công ty trách nhiệm hữu hạn hai thành viên trở lên',
  CP: 'Công ty cổ phần',
  HD: 'Công ty hợp danh',
  CN: 'Chi nhánh',
  VPDD: 'Văn phòng đại diện',
};

function wireAddress(a: PersonaAddress): WireAddress {
  return {
    SoNhaDuong: a.detail,
    MaPhuongXa: a.communeCode,
    TenPhuongXa: a.commune,
    MaQuanHuyen: a.districtCode,
    TenQuanHuyen: a.district,
    MaTinhThanh: a.provinceCode,
    TenTinhThanh: a.province,
    QuocGia: 'VN',
  };
}

/** A persona as the registry would send it. */
export function toWire(e: EnterprisePersona): WireEnterprise & { TenLoaiHinh: string; TenTinhTrang: string } {
  const representative = findPerson(e.legalRepresentative.idNumber)!;
  const legalFormCode = LEGAL_FORM_CODES[e.legalForm]!;
  return {
    MaSoDoanhNghiep: e.enterpriseCode,
    TenDoanhNghiep: e.name,
    TenNuocNgoai: e.foreignName,
    TenVietTat: e.abbreviatedName,
    MaLoaiHinh: legalFormCode,
    TenLoaiHinh: LEGAL_FORM_NAMES[legalFormCode]!,
    MaTinhTrang: STATUS_CODES[e.status]!,
    TenTinhTrang: STATUS_NAMES[e.status],
    NgayThanhLap: isoDateToWire(e.registrationDate),
    VonDieuLe: e.charterCapital,
    DiaChiTruSo: wireAddress(e.headOffice),
    NguoiDaiDienPhapLuat: [{ HoTen: representative.fullName, SoDinhDanh: representative.idNumber, ChucDanh: e.legalRepresentative.position }],
  };
}

const faultResponses: FaultResponses = {
  error: () => ({ status: 500, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ MaLoi: '99', MoTa: 'Lỗi hệ thống' }) }),
  malformed: () => ({ status: 200, contentType: 'application/json; charset=utf-8', body: '{"MaLoi":"00","DuLieu":{"MaSoDoanhNghiep":' }),
};

/** The business registry's stand-in: REST/JSON over real HTTP, with the sandbox's faults. */
export function createBusinessRegistrySimulator(deps: SimulatorDeps): RequestListener {
  const byCode = new Map(enterprises.map((e) => [e.enterpriseCode, e]));
  const send = (res: Parameters<RequestListener>[1], status: number, body: WireAnswer | Record<string, unknown>) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
  };

  return (req, res) => {
    void (async () => {
      if (await applyFault(deps.faults, 'business-registry', req, res, faultResponses)) return;
      const url = new URL(req.url ?? '/', 'http://registry');
      if (req.method !== 'GET') return send(res, 405, { MaLoi: '05', MoTa: 'Phương thức không được hỗ trợ' });
      if (url.pathname === '/api/v1/trang-thai') return send(res, 200, { MaLoi: '00', MoTa: 'Hoạt động bình thường' });
      if (!url.pathname.startsWith(ENTERPRISE_PATH)) return send(res, 404, { MaLoi: '404', MoTa: 'Không có dịch vụ này' });
      if (!req.headers['x-ma-don-vi']) return send(res, 400, { MaLoi: '01', MoTa: 'Thiếu mã đơn vị gọi dịch vụ' });
      const code = decodeURIComponent(url.pathname.slice(ENTERPRISE_PATH.length));
      const found = byCode.get(code);
      if (!found) return send(res, 404, { MaLoi: NOT_FOUND_CODE, MoTa: 'Không tìm thấy doanh nghiệp' });
      send(res, 200, { MaLoi: '00', MoTa: 'Thành công', DuLieu: toWire(found) });
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'business-registry simulator failed');
      if (!res.headersSent) send(res, 500, { MaLoi: '99', MoTa: 'Lỗi hệ thống' });
    });
  };
}
