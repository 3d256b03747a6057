import type { IncomingMessage, RequestListener } from 'node:http';
import type { PersonaAddress } from '../../src/sandbox/personas.ts';
import { applyFault, attackOf, HOSTILE_CONTENT_TYPE, messageFault, type Fault, type FaultResponses } from '../../src/sandbox/faults.ts';
import { incomingRequest, signResponse, verifyRequest, withTamperedSignature, type RequestMessage } from '../../src/signing/http-signatures.ts';
import type { SystemId } from '../index.ts';
import type { SimulatorDeps } from '../module.ts';
import type { WireAddress } from './address.ts';

/*
 * The sandbox stand-in of a system that speaks signed REST/JSON: every answer signed (RFC 9421,
 * bound to the request it answers), every request but the health probe required to carry the
 * gateway's signature, the sandbox's faults, and the `{ MaLoi, MoTa, DuLieu }` envelope. Each
 * system gives its own lookups.
 */

export const JSON_TYPE = 'application/json; charset=utf-8';

/** An answer in the envelope, with its HTTP status. */
export interface EnvelopeAnswer {
  status: number;
  body: { MaLoi: string; MoTa?: string; DuLieu?: unknown };
}

export interface SignedJsonSystem {
  /** The system's id (its faults, and log lines). */
  id: SystemId;
  healthPath: string;
  /** Header that must name the calling agency. */
  agencyHeader: string;
  /** The code of a refused request signature (with HTTP 401). */
  signatureRefusedCode: string;
  /** The lookup's path, followed by the subject's key (`GET {path}{key}`). */
  path: string;
  /** Answers a verified lookup of `key`. */
  lookup(key: string): EnvelopeAnswer;
}

/** A persona's address as these systems write it. */
export function toWireAddress(a: PersonaAddress): WireAddress {
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

const faultResponses: FaultResponses = {
  error: () => ({ status: 500, contentType: JSON_TYPE, body: JSON.stringify({ MaLoi: '99', MoTa: 'Lỗi hệ thống' }) }),
  malformed: () => ({ status: 200, contentType: JSON_TYPE, body: '{"MaLoi":"00","DuLieu":{"Ma":' }),
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

export function createSignedJsonSimulator(deps: SimulatorDeps, system: SignedJsonSystem): RequestListener {
  /** Signature headers for an answer, as the message-level fault drawn for it wants them. */
  const signatureHeaders = (fault: Fault | undefined, request: RequestMessage, status: number, contentType: string, body: string) => {
    if (fault?.mode === 'unsigned') return {};
    const headers = signResponse(deps.signing.credentials(fault), { status, headers: { 'content-type': contentType }, body }, request);
    return fault?.mode === 'bad-signature' ? withTamperedSignature(headers) : headers;
  };

  return (req, res) => {
    const request = incomingRequest(req);
    const fault = messageFault(deps.faults, system.id);
    // Under the `wrong-content-type` attack the label is wrong but signed: only the label gives it away.
    const type = attackOf(fault) === 'wrong-content-type' ? HOSTILE_CONTENT_TYPE : JSON_TYPE;
    const send = ({ status, body }: EnvelopeAnswer) => {
      const text = JSON.stringify(body);
      res
        .writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...signatureHeaders(fault, request, status, type, text) })
        .end(text);
    };
    // The system's failures are signed like any answer: applyFault writes what these return, with the headers set here.
    const sign = (answer: ReturnType<FaultResponses['error']>) => {
      for (const [name, value] of Object.entries(signatureHeaders(fault, request, answer.status, answer.contentType, answer.body))) res.setHeader(name, value);
      return answer;
    };
    const signedFaults: FaultResponses = { error: () => sign(faultResponses.error()), malformed: () => sign(faultResponses.malformed()) };

    void (async () => {
      if (await applyFault(deps.faults, system.id, req, res, signedFaults)) return;
      const url = new URL(req.url ?? '/', 'http://simulator');
      const body = await readBody(req);
      // The health probe may come unsigned (monitoring); a signature, when present, must verify.
      const signed = req.headers['signature-input'] !== undefined || req.headers.signature !== undefined;
      if (url.pathname !== system.healthPath || signed) {
        try {
          verifyRequest(request, body, { verifyCertificate: (certificate, chain) => deps.signing.verifyClient(certificate, chain) });
        } catch (err) {
          deps.log.warn({ err, path: url.pathname }, `${system.id} simulator refused a request signature`);
          return send({ status: 401, body: { MaLoi: system.signatureRefusedCode, MoTa: 'Chữ ký số không hợp lệ' } });
        }
      }
      if (req.method !== 'GET') return send({ status: 405, body: { MaLoi: '05', MoTa: 'Phương thức không được hỗ trợ' } });
      if (url.pathname === system.healthPath) return send({ status: 200, body: { MaLoi: '00', MoTa: 'Hoạt động bình thường' } });
      if (!url.pathname.startsWith(system.path)) return send({ status: 404, body: { MaLoi: '404', MoTa: 'Không có dịch vụ này' } });
      if (!req.headers[system.agencyHeader]) return send({ status: 400, body: { MaLoi: '01', MoTa: 'Thiếu mã đơn vị gọi dịch vụ' } });
      send(system.lookup(decodeURIComponent(url.pathname.slice(system.path.length))));
    })().catch((err: unknown) => {
      deps.log.error({ err }, `${system.id} simulator failed`);
      if (!res.headersSent) send({ status: 500, body: { MaLoi: '99', MoTa: 'Lỗi hệ thống' } });
    });
  };
}
