import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { base64url, exportJWK, type JSONWebKeySet } from 'jose';
import { insured, type InsuredPersona } from '../../../src/sandbox/personas.ts';
import { applyFault, attackOf, HOSTILE_CONTENT_TYPE, messageFault, type Fault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { jwsAlgorithm } from '../../../src/signing/attestation.ts';
import type { Credentials } from '../../../src/signing/trust-store.ts';
import { isoDateToWire, toWireDateTime } from '../../../src/core/time.ts';
import type { SimulatorDeps } from '../../module.ts';
import { certificateThumbprint, createJwsSigner, createX5cVerifier, openJws, type JwsSigner } from '../jws.ts';
import {
  HEALTH_PATH,
  LOOKUP_PATH,
  PARTICIPATION_STATUSES,
  PARTICIPATION_STATUS_NAMES,
  RESULT_CODES,
  wireRequest,
  type WireAnswer,
  type WireInsured,
} from '../inferred.ts';

export const JWKS_PATH = '/.well-known/jwks.json';

const SYSTEM = 'social-insurance';
const MAX_BODY = 16 * 1024;
// Agency codes of the national catalogue: H52, H52.20, H52.101.114.
const AGENCY_CODE = /^[A-Z]\d{2}(\.\d{1,3}){0,3}$/;
const STATUS_CODES = Object.fromEntries(Object.entries(PARTICIPATION_STATUSES).map(([code, status]) => [status, code])) as Record<
  InsuredPersona['participationStatus'],
  string
>;

/** A persona as the system would send it. */
export function toWire(p: InsuredPersona): WireInsured {
  return {
    maSoBhxh: p.insuranceCode,
    soDinhDanh: p.idNumber,
    hoTen: p.fullName,
    trangThaiThamGia: STATUS_CODES[p.participationStatus],
    tenTrangThaiThamGia: PARTICIPATION_STATUS_NAMES[p.participationStatus],
    donVi: p.employer ? { ma: p.employer.code, ten: p.employer.name } : null,
    theBhyt: p.healthInsuranceCard
      ? { soThe: p.healthInsuranceCard.number, giaTriTu: isoDateToWire(p.healthInsuranceCard.validFrom), giaTriDen: isoDateToWire(p.healthInsuranceCard.validTo) }
      : null,
  };
}

const SYSTEM_ERROR = { maLoi: RESULT_CODES.systemError, moTa: 'Lỗi hệ thống' };

const faultResponses: FaultResponses = {
  error: () => ({ status: 500, contentType: 'application/json; charset=utf-8', body: JSON.stringify(SYSTEM_ERROR) }),
  // A protected header and then bytes that are not base64url: in the right content type, unreadable.
  malformed: () => ({ status: 200, contentType: 'application/jose', body: 'eyJhbGciOiJFUzI1NiJ9.@@@' }),
};

export interface SocialInsuranceSimulator {
  handler: RequestListener;
  /** The certificate the simulator signs its answers with (when no certificate fault is set). */
  certificate: X509Certificate;
  /** Its `kid`: base64url SHA-256 of the certificate's DER. */
  kid: string;
  /** The same key as a JWK set with its chain, as served on GET /.well-known/jwks.json. */
  jwks(): Promise<JSONWebKeySet>;
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.resume();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Flips one bit of the signature: still a well-formed JWS, no longer a valid one. */
function tamper(compact: string): string {
  const [header, payload, signature] = compact.split('.') as [string, string, string];
  const bytes = base64url.decode(signature);
  bytes[0] = bytes[0]! ^ 0x01;
  return `${header}.${payload}.${base64url.encode(bytes)}`;
}

/**
 * Vietnam Social Security's stand-in: requests and answers as compact JWS signed with
 * certificates of the sample PKI (x5c), and the sandbox's faults. It refuses a request that is
 * not signed with the gateway's certificate as the real system would, with 401 and plain JSON.
 */
export function createSocialInsuranceSimulator(deps: SimulatorDeps): SocialInsuranceSimulator {
  const byCode = new Map(insured.map((p) => [p.insuranceCode, p]));
  const byIdNumber = new Map(insured.map((p) => [p.idNumber, p]));
  const own = deps.signing.credentials();
  const kid = certificateThumbprint(own.certificate);
  const signers = new Map<Credentials, JwsSigner>();
  const signerFor = (credentials: Credentials) => signers.get(credentials) ?? signers.set(credentials, createJwsSigner(credentials)).get(credentials)!;
  const verifyRequest = createX5cVerifier((leaf, chain) => deps.signing.verifyClient(leaf, chain));
  let jwksPromise: Promise<JSONWebKeySet> | undefined;
  const jwks = () =>
    (jwksPromise ??= exportJWK(own.certificate.publicKey).then((jwk) => ({
      keys: [{ ...jwk, kid, alg: jwsAlgorithm(own), use: 'sig', x5c: [own.certificate, ...own.chain].map((c) => c.raw.toString('base64')), 'x5t#S256': kid }],
    })));

  const sendJson = (res: ServerResponse, status: number, body: unknown, type = 'application/json; charset=utf-8') => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(text);
  };

  const sendSigned = async (res: ServerResponse, status: number, payload: WireAnswer, fault: Fault | undefined) => {
    const text = JSON.stringify(payload);
    let compact: string;
    if (fault?.mode === 'unsigned') {
      compact = `${base64url.encode(JSON.stringify({ alg: 'none' }))}.${base64url.encode(text)}.`;
    } else if (attackOf(fault) === 'alg-none') {
      // Everything of a signed answer (the system's certificate, its kid) but a signature.
      const { keys } = await jwks();
      const header = { alg: 'none', kid, x5c: (keys[0] as { x5c: string[] }).x5c };
      compact = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(text)}.`;
    } else {
      // Under `revoked-cert` and `expired-cert` this is the revoked or expired certificate.
      compact = await signerFor(deps.signing.credentials(fault))(text);
      if (fault?.mode === 'bad-signature') compact = tamper(compact);
    }
    const type = attackOf(fault) === 'wrong-content-type' ? HOSTILE_CONTENT_TYPE : 'application/jose';
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(compact) }).end(compact);
  };

  async function lookup(req: IncomingMessage, res: ServerResponse, fault: Fault | undefined): Promise<void> {
    const thoiGian = toWireDateTime(new Date());
    const body = await readBody(req);
    if (!body) return sendJson(res, 413, { maLoi: RESULT_CODES.invalidRequest, moTa: 'Yêu cầu quá lớn' });
    let json: Record<string, unknown>;
    try {
      // Nothing is read from a request before its signature and the gateway's certificate are checked.
      json = await openJws(body.toString('utf8'), verifyRequest);
    } catch (err) {
      deps.log.warn({ err }, 'social-insurance simulator refused a request signature');
      // Plain JSON: an unauthenticated caller gets nothing signed.
      return sendJson(res, 401, { maLoi: RESULT_CODES.requestNotSigned, moTa: 'Chữ ký số của yêu cầu không hợp lệ' });
    }
    const maYeuCau = typeof json.maYeuCau === 'string' ? json.maYeuCau : null;
    const parsed = wireRequest.safeParse(json);
    if (!parsed.success) {
      return sendSigned(res, 400, { maLoi: RESULT_CODES.invalidRequest, moTa: 'Yêu cầu không hợp lệ', maYeuCau, thoiGian }, fault);
    }
    const request = parsed.data;
    if (!AGENCY_CODE.test(request.maDonVi)) {
      return sendSigned(res, 403, { maLoi: RESULT_CODES.agencyNotAllowed, moTa: 'Đơn vị chưa được cấp quyền tra cứu', maYeuCau, thoiGian }, fault);
    }
    const found = request.maSoBhxh !== undefined ? byCode.get(request.maSoBhxh) : byIdNumber.get(request.soDinhDanh!);
    if (!found) {
      return sendSigned(res, 200, { maLoi: RESULT_CODES.notFound, moTa: 'Không tìm thấy thông tin người tham gia', maYeuCau, thoiGian }, fault);
    }
    return sendSigned(res, 200, { maLoi: RESULT_CODES.success, moTa: 'Thành công', maYeuCau, duLieu: toWire(found), thoiGian }, fault);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Message faults (signature, certificate) are drawn once here, so that their `rate` holds;
    // applyFault leaves them alone and handles the transport faults.
    const fault = messageFault(deps.faults, SYSTEM);
    if (!fault && (await applyFault(deps.faults, SYSTEM, req, res, faultResponses))) return;

    const url = new URL(req.url ?? '/', 'http://bhxh');
    if (url.pathname === HEALTH_PATH && req.method === 'GET') return sendJson(res, 200, { maLoi: '00', moTa: 'Hoạt động bình thường' });
    if (url.pathname === JWKS_PATH && req.method === 'GET') return sendJson(res, 200, await jwks(), 'application/jwk-set+json');
    if (url.pathname === LOOKUP_PATH) {
      if (req.method !== 'POST') return sendJson(res, 405, { maLoi: '05', moTa: 'Phương thức không được hỗ trợ' });
      return lookup(req, res, fault);
    }
    return sendJson(res, 404, { maLoi: '404', moTa: 'Không có dịch vụ này' });
  }

  const handler: RequestListener = (req, res) => {
    void handle(req, res).catch((err: unknown) => {
      deps.log.error({ err }, 'social-insurance simulator failed');
      if (!res.headersSent) sendJson(res, 500, SYSTEM_ERROR);
    });
  };

  return { handler, certificate: own.certificate, kid, jwks };
}
