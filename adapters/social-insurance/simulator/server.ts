import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { base64url, CompactSign, exportJWK, type JSONWebKeySet } from 'jose';
import { insured, type InsuredPersona } from '../../../src/sandbox/personas.ts';
import { applyFault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { isoDateToWire, toWireDateTime } from '../../../src/core/time.ts';
import type { SimulatorDeps } from '../../module.ts';
import { HEALTH_PATH, LOOKUP_PATH } from '../client.ts';
import {
  PARTICIPATION_STATUSES,
  PARTICIPATION_STATUS_NAMES,
  RESULT_CODES,
  wireRequest,
  type WireAnswer,
  type WireInsured,
} from '../mapping.ts';

export const SANDBOX_KID = 'bhxh-sandbox-1';
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
  /** The public half of the key the simulator signs with, for tests that verify its answers. */
  publicKey: KeyObject;
  kid: string;
  /** The same key as a JWK set, as served on GET /.well-known/jwks.json. */
  jwks(): Promise<JSONWebKeySet>;
}

type SigningFault = 'unsigned' | 'bad-signature' | undefined;

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
 * Vietnam Social Security's stand-in: JSON requests, answers signed as compact JWS (ES256, with
 * a key pair made when the simulator is created), and the sandbox's faults.
 */
export function createSocialInsuranceSimulator(deps: SimulatorDeps): SocialInsuranceSimulator {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const byCode = new Map(insured.map((p) => [p.insuranceCode, p]));
  const byIdNumber = new Map(insured.map((p) => [p.idNumber, p]));
  let jwksPromise: Promise<JSONWebKeySet> | undefined;
  const jwks = () => (jwksPromise ??= exportJWK(publicKey).then((jwk) => ({ keys: [{ ...jwk, kid: SANDBOX_KID, alg: 'ES256', use: 'sig' }] })));

  const sendJson = (res: ServerResponse, status: number, body: unknown, type = 'application/json; charset=utf-8') => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(text);
  };

  const sendSigned = async (res: ServerResponse, status: number, payload: WireAnswer, fault: SigningFault) => {
    const bytes = new TextEncoder().encode(JSON.stringify(payload));
    let compact: string;
    if (fault === 'unsigned') {
      compact = `${base64url.encode(JSON.stringify({ alg: 'none', kid: SANDBOX_KID }))}.${base64url.encode(bytes)}.`;
    } else {
      compact = await new CompactSign(bytes).setProtectedHeader({ alg: 'ES256', kid: SANDBOX_KID }).sign(privateKey);
      if (fault === 'bad-signature') compact = tamper(compact);
    }
    res.writeHead(status, { 'content-type': 'application/jose', 'content-length': Buffer.byteLength(compact) }).end(compact);
  };

  async function lookup(req: IncomingMessage, res: ServerResponse, fault: SigningFault): Promise<void> {
    const thoiGian = toWireDateTime(new Date());
    const body = await readBody(req);
    let json: unknown;
    try {
      json = body ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const maYeuCau = typeof (json as { maYeuCau?: unknown } | undefined)?.maYeuCau === 'string' ? (json as { maYeuCau: string }).maYeuCau : null;
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
    // Signing faults are drawn here, once, so that their `rate` holds; the others go to applyFault.
    const configured = deps.faults.get(SYSTEM)?.mode;
    let fault: SigningFault;
    if (configured === 'unsigned' || configured === 'bad-signature') {
      fault = deps.faults.draw(SYSTEM) ? configured : undefined;
    } else if (await applyFault(deps.faults, SYSTEM, req, res, faultResponses)) return;

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

  return { handler, publicKey, kid: SANDBOX_KID, jwks };
}
