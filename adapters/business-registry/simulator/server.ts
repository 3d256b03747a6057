import type { RequestListener } from 'node:http';
import { enterprises, findPerson, type EnterprisePersona } from '../../../src/sandbox/personas.ts';
import type { SimulatorDeps } from '../../module.ts';
import { isoDateToWire } from '../../../src/core/time.ts';
import { createSignedJsonSimulator, toWireAddress } from '../../signed-json/simulator.ts';
import { AGENCY_HEADER, ENTERPRISE_PATH, HEALTH_PATH, LEGAL_FORMS, NOT_FOUND_CODE, SIGNATURE_REFUSED_CODE, STATUSES, STATUS_NAMES, type WireEnterprise } from '../inferred.ts';

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
    DiaChiTruSo: toWireAddress(e.headOffice),
    NguoiDaiDienPhapLuat: [{ HoTen: representative.fullName, SoDinhDanh: representative.idNumber, ChucDanh: e.legalRepresentative.position }],
  };
}

/**
 * The business registry's stand-in: REST/JSON over real HTTP, with the sandbox's faults. Every
 * answer is signed (RFC 9421, bound to the request it answers); every request but the health
 * probe must carry the gateway's signature, or is refused with 401 MaLoi 02.
 */
export function createBusinessRegistrySimulator(deps: SimulatorDeps): RequestListener {
  const byCode = new Map(enterprises.map((e) => [e.enterpriseCode, e]));
  return createSignedJsonSimulator(deps, {
    id: 'business-registry',
    healthPath: HEALTH_PATH,
    agencyHeader: AGENCY_HEADER,
    signatureRefusedCode: SIGNATURE_REFUSED_CODE,
    path: ENTERPRISE_PATH,
    lookup: (code) => {
      const found = byCode.get(code);
      if (!found) return { status: 404, body: { MaLoi: NOT_FOUND_CODE, MoTa: 'Không tìm thấy doanh nghiệp' } };
      return { status: 200, body: { MaLoi: '00', MoTa: 'Thành công', DuLieu: toWire(found) } };
    },
  });
}
