import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { taxpayers, type PersonaAddress, type TaxpayerPersona } from '../../../src/sandbox/personas.ts';
import { applyFault, attackOf, HOSTILE_CONTENT_TYPE, hostileXml, messageFault, type Fault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { isoDateToWire } from '../../../src/core/time.ts';
import { isGatewayError } from '../../../src/errors/gateway-error.ts';
import { signEnveloped, spoilSignature, verifyEnveloped } from '../../../src/signing/xml-signature.ts';
import type { SimulatorDeps } from '../../module.ts';
import {
  HEALTH_PATH,
  LOOKUP_PATH,
  RESULT_CODES,
  STATUSES,
  STATUS_NAMES,
  TAXPAYER_TYPES,
  TAXPAYER_TYPE_NAMES,
  wireLookupDocument,
  type WireAddress,
  type WireAnswer,
  type WireLookup,
  type WireTaxpayer,
} from '../inferred.ts';
import { buildXml, parseXml, screenXml, XmlRefusedError } from '../safe-xml.ts';

const TYPE_CODES = new Map([...TAXPAYER_TYPES].map(([code, type]) => [type, code]));
const STATUS_CODES = new Map([...STATUSES].map(([code, status]) => [status, code]));

/** A lookup request is a few hundred bytes; anything near this is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;
const XML_TYPE = /^(application|text)\/xml\s*(;|$)/i;

function wireAddress(a: PersonaAddress): WireAddress {
  return {
    SoNhaDuong: a.detail,
    MaPhuongXa: a.communeCode,
    TenPhuongXa: a.commune,
    // Records made since the July 2025 reform carry no district at all.
    MaQuanHuyen: a.districtCode ?? undefined,
    TenQuanHuyen: a.district ?? undefined,
    MaTinhThanh: a.provinceCode,
    TenTinhThanh: a.province,
    QuocGia: 'VN',
  };
}

/** A persona as the tax administration would send it, with the code names it adds for people. */
export function toWire(t: TaxpayerPersona): WireTaxpayer & { TenLoaiNNT: string; TenTrangThai: string } {
  return {
    MaSoThue: t.taxCode,
    TenNNT: t.name,
    LoaiNNT: TYPE_CODES.get(t.taxpayerType)!,
    TenLoaiNNT: TAXPAYER_TYPE_NAMES[t.taxpayerType],
    TrangThai: STATUS_CODES.get(t.status)!,
    TenTrangThai: STATUS_NAMES[t.status],
    CoQuanThue: { Ma: t.taxOffice.code, Ten: t.taxOffice.name },
    NgayDangKy: isoDateToWire(t.registrationDate),
    DiaChi: t.address ? wireAddress(t.address) : undefined,
  };
}

/** An answer document, members in the documented order. */
export function answerXml(answer: WireAnswer & { NguoiNopThue?: WireTaxpayer | undefined }): string {
  return buildXml({
    KetQuaTraCuu: { MaLoi: answer.MaLoi, MoTa: answer.MoTa, MaYeuCau: answer.MaYeuCau, NguoiNopThue: answer.NguoiNopThue },
  });
}

/** Cut off mid-element, as an answer truncated by a failing proxy would be (and so unsigned). */
const MALFORMED_ANSWER = '<?xml version="1.0" encoding="UTF-8"?><KetQuaTraCuu><MaLoi>00</MaLoi><NguoiNopThue><MaSoThue>55001';

/**
 * Signature wrapping: the signed document moved inside a new root, an unsigned twin of it (another
 * name, no signature) around it where a reader looks first.
 */
function wrapSignedDocument(document: string): string {
  const declaration = /^\s*<\?xml[^>]*\?>/.exec(document)?.[0] ?? '';
  const signedRoot = document.slice(declaration.length);
  const twin = signedRoot.replace(/<(?:[\w.-]+:)?Signature\b[\s\S]*<\/(?:[\w.-]+:)?Signature>/, '').replace(/(<TenNNT>)[^<]*/, '$1Mạo Danh');
  return declaration + twin.replace(/<\/KetQuaTraCuu>\s*$/, () => `<Wrapper>${signedRoot}</Wrapper></KetQuaTraCuu>`);
}

export interface TaxSimulatorOptions {
  /** Sees every lookup the simulator accepted, as it read it (tests check what the client sent). */
  onLookup?: (lookup: WireLookup, headers: IncomingMessage['headers']) => void;
}

class RequestTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new RequestTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The tax administration's stand-in: XML over HTTP POST on real sockets, with the sandbox's
 * faults. It reads requests with the same DTD-refusing parser as the client, so a hostile request
 * cannot make it expand entities either. Every request must carry the gateway's enveloped
 * signature (refused with 403 and `MaLoi 03` otherwise), and every answer leaves signed with the
 * tax administration's certificate, except as the sandbox's signature faults say.
 */
export function createTaxSimulator(deps: SimulatorDeps, options: TaxSimulatorOptions = {}): RequestListener {
  const byCode = new Map(taxpayers.map((t) => [t.taxCode, t]));

  const signed = (xml: string, fault?: Fault): string => {
    if (fault?.mode === 'unsigned') return xml;
    const document = signEnveloped(xml, deps.signing.credentials(fault));
    const attack = attackOf(fault);
    if (attack === 'xxe' || attack === 'entity-expansion') return hostileXml(document, attack, 'MoTa');
    if (attack === 'signature-wrapping') return wrapSignedDocument(document);
    return fault?.mode === 'bad-signature' ? spoilSignature(document) : document;
  };
  const send = (res: ServerResponse, status: number, xml: string, extra: Record<string, string> = {}) => {
    const fault = messageFault(deps.faults, 'tax');
    const body = signed(xml, fault);
    const type = attackOf(fault) === 'wrong-content-type' ? HOSTILE_CONTENT_TYPE : 'application/xml; charset=utf-8';
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra }).end(body);
  };
  const refuse = (res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}, code: string = RESULT_CODES.invalidRequest) =>
    send(res, status, answerXml({ MaLoi: code, MoTa: message }), extra);

  const faultResponses: FaultResponses = {
    error: () => ({
      status: 500,
      contentType: 'application/xml; charset=utf-8',
      body: signed(answerXml({ MaLoi: RESULT_CODES.systemError, MoTa: 'Lỗi hệ thống' })),
    }),
    malformed: () => ({ status: 200, contentType: 'application/xml; charset=utf-8', body: MALFORMED_ANSWER }),
  };

  /** The request document as the gateway signed it, or undefined when refused (answered). */
  function verified(body: Buffer, res: ServerResponse): string | undefined {
    try {
      return verifyEnveloped(screenXml(body), deps.signing.verifyClient, { peer: 'gateway' }).signedXml;
    } catch (err) {
      if (err instanceof XmlRefusedError || (isGatewayError(err) && err.code === 'UPSTREAM_BAD_RESPONSE')) {
        refuse(res, 400, 'Tài liệu XML không hợp lệ hoặc có khai báo DOCTYPE');
        return undefined;
      }
      deps.log.info({ err }, 'tax simulator refused the signature of a request');
      const certificate = isGatewayError(err) && err.code.startsWith('UPSTREAM_CERT_');
      refuse(res, 403, certificate ? 'Chứng thư số của đơn vị gọi không được chấp nhận' : 'Yêu cầu không có chữ ký số hợp lệ', {}, RESULT_CODES.unauthorized);
      return undefined;
    }
  }

  async function lookup(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!XML_TYPE.test(req.headers['content-type'] ?? '')) {
      req.resume();
      return refuse(res, 400, 'Yêu cầu phải là tài liệu XML');
    }
    let document: unknown;
    try {
      const xml = verified(await readBody(req), res);
      if (xml === undefined) return;
      document = parseXml(xml);
    } catch (err) {
      if (err instanceof RequestTooLarge) return refuse(res, 413, 'Yêu cầu quá lớn', { connection: 'close' });
      if (err instanceof XmlRefusedError) return refuse(res, 400, 'Tài liệu XML không hợp lệ hoặc có khai báo DOCTYPE');
      throw err;
    }
    const parsed = wireLookupDocument.safeParse(document);
    if (!parsed.success) return refuse(res, 400, 'Thiếu mã yêu cầu, mã đơn vị hoặc mã số thuế');
    const request = parsed.data.YeuCauTraCuu;
    options.onLookup?.(request, req.headers);
    const found = byCode.get(request.MaSoThue);
    if (!found) {
      return send(res, 200, answerXml({ MaLoi: RESULT_CODES.notFound, MoTa: 'Không tìm thấy người nộp thuế', MaYeuCau: request.MaYeuCau }));
    }
    send(res, 200, answerXml({ MaLoi: RESULT_CODES.success, MoTa: 'Thành công', MaYeuCau: request.MaYeuCau, NguoiNopThue: toWire(found) }));
  }

  return (req, res) => {
    void (async () => {
      if (await applyFault(deps.faults, 'tax', req, res, faultResponses)) return;
      const { pathname } = new URL(req.url ?? '/', 'http://tax');
      if (pathname === HEALTH_PATH) {
        if (req.method !== 'GET') return refuse(res, 405, 'Phương thức không được hỗ trợ', { allow: 'GET' });
        return send(res, 200, buildXml({ TrangThaiHeThong: { MaLoi: RESULT_CODES.success, MoTa: 'Hoạt động bình thường' } }));
      }
      if (pathname !== LOOKUP_PATH) {
        req.resume();
        return refuse(res, 404, 'Không có dịch vụ này');
      }
      if (req.method !== 'POST') {
        req.resume();
        return refuse(res, 405, 'Phương thức không được hỗ trợ', { allow: 'POST' });
      }
      await lookup(req, res);
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'tax simulator failed');
      if (!res.headersSent) send(res, 500, answerXml({ MaLoi: RESULT_CODES.systemError, MoTa: 'Lỗi hệ thống' }));
    });
  };
}
