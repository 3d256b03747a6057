import type { IncomingMessage, RequestListener } from 'node:http';
import { enterprises, findPerson, type EnterprisePersona, type PersonaAddress } from '../../../src/sandbox/personas.ts';
import { applyFault, attackOf, HOSTILE_CONTENT_TYPE, messageFault, type Fault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { incomingRequest, signResponse, verifyRequest, withTamperedSignature, type RequestMessage } from '../../../src/signing/http-signatures.ts';
import type { SimulatorDeps } from '../../module.ts';
import { isoDateToWire } from '../../../src/core/time.ts';
import { ENTERPRISE_PATH, HEALTH_PATH, LEGAL_FORMS, NOT_FOUND_CODE, SIGNATURE_REFUSED_CODE, STATUSES, STATUS_NAMES, type WireAddress, type WireAnswer, type WireEnterprise } from '../inferred.ts';

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

const JSON_TYPE = 'application/json; charset=utf-8';

const faultResponses: FaultResponses = {
  error: () => ({ status: 500, contentType: JSON_TYPE, body: JSON.stringify({ MaLoi: '99', MoTa: 'Lỗi hệ thống' }) }),
  malformed: () => ({ status: 200, contentType: JSON_TYPE, body: '{"MaLoi":"00","DuLieu":{"MaSoDoanhNghiep":' }),
};

const MAX_BODY_BYTES = 65_536;

/** The request body (a GET has none; anything sent must still match a signed digest). */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The business registry's stand-in: REST/JSON over real HTTP, with the sandbox's faults. Every
 * answer is signed (RFC 9421, bound to the request it answers); every request but the health
 * probe must carry the gateway's signature, or is refused with 401 MaLoi 02.
 */
export function createBusinessRegistrySimulator(deps: SimulatorDeps): RequestListener {
  const byCode = new Map(enterprises.map((e) => [e.enterpriseCode, e]));

  /** Signature headers for an answer, as the message-level fault drawn for it wants them. */
  const signatureHeaders = (fault: Fault | undefined, request: RequestMessage, status: number, contentType: string, body: string) => {
    if (fault?.mode === 'unsigned') return {};
    const headers = signResponse(deps.signing.credentials(fault), { status, headers: { 'content-type': contentType }, body }, request);
    return fault?.mode === 'bad-signature' ? withTamperedSignature(headers) : headers;
  };

  return (req, res) => {
    const request = incomingRequest(req);
    const fault = messageFault(deps.faults, 'business-registry');
    // Under the `wrong-content-type` attack the label is wrong but signed: only the label gives it away.
    const type = attackOf(fault) === 'wrong-content-type' ? HOSTILE_CONTENT_TYPE : JSON_TYPE;
    const send = (status: number, body: WireAnswer | Record<string, unknown>) => {
      const text = JSON.stringify(body);
      res
        .writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...signatureHeaders(fault, request, status, type, text) })
        .end(text);
    };
    // The registry's failures are signed like any answer: applyFault writes what these return, with the headers set here.
    const signedFaults: FaultResponses = {
      error: () => sign(faultResponses.error()),
      malformed: () => sign(faultResponses.malformed()),
    };
    const sign = (answer: ReturnType<FaultResponses['error']>) => {
      for (const [name, value] of Object.entries(signatureHeaders(fault, request, answer.status, answer.contentType, answer.body))) res.setHeader(name, value);
      return answer;
    };

    void (async () => {
      if (await applyFault(deps.faults, 'business-registry', req, res, signedFaults)) return;
      const url = new URL(req.url ?? '/', 'http://registry');
      const body = await readBody(req);
      // The health probe may come unsigned (monitoring); a signature, when present, must verify.
      const signed = req.headers['signature-input'] !== undefined || req.headers.signature !== undefined;
      if (url.pathname !== HEALTH_PATH || signed) {
        try {
          verifyRequest(request, body, { verifyCertificate: (certificate, chain) => deps.signing.verifyClient(certificate, chain) });
        } catch (err) {
          deps.log.warn({ err, path: url.pathname }, 'business-registry simulator refused a request signature');
          return send(401, { MaLoi: SIGNATURE_REFUSED_CODE, MoTa: 'Chữ ký số không hợp lệ' });
        }
      }
      if (req.method !== 'GET') return send(405, { MaLoi: '05', MoTa: 'Phương thức không được hỗ trợ' });
      if (url.pathname === HEALTH_PATH) return send(200, { MaLoi: '00', MoTa: 'Hoạt động bình thường' });
      if (!url.pathname.startsWith(ENTERPRISE_PATH)) return send(404, { MaLoi: '404', MoTa: 'Không có dịch vụ này' });
      if (!req.headers['x-ma-don-vi']) return send(400, { MaLoi: '01', MoTa: 'Thiếu mã đơn vị gọi dịch vụ' });
      const code = decodeURIComponent(url.pathname.slice(ENTERPRISE_PATH.length));
      const found = byCode.get(code);
      if (!found) return send(404, { MaLoi: NOT_FOUND_CODE, MoTa: 'Không tìm thấy doanh nghiệp' });
      send(200, { MaLoi: '00', MoTa: 'Thành công', DuLieu: toWire(found) });
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'business-registry simulator failed');
      if (!res.headersSent) send(500, { MaLoi: '99', MoTa: 'Lỗi hệ thống' });
    });
  };
}
