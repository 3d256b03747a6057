import type { IncomingMessage, RequestListener } from 'node:http';
import { randomBytes } from 'node:crypto';
import { agencyNames, procedures, type ProcedurePersona } from '../../../src/sandbox/personas.ts';
import { applyFault, attackOf, HOSTILE_CONTENT_TYPE, messageFault, type Fault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { incomingRequest, signResponse, verifyRequest, withTamperedSignature, type RequestMessage } from '../../../src/signing/http-signatures.ts';
import { toWireDateTime } from '../../../src/core/time.ts';
import type { SimulatorDeps } from '../../module.ts';
import { HEALTH_PATH, LOGIN_PATH, SERVICE_PATH, SERVICES } from '../client.ts';
import { WIRE_CODES } from '../errors.ts';
import type { WireProcedure, WireSummary } from '../mapping.ts';
import { SANDBOX_ACCOUNT, SANDBOX_ACCOUNT_AGENCY } from '../sandbox-account.ts';
import { createDossierDesk, type DossierRecord } from './dossiers.ts';

export interface DvcqgSimulatorOptions {
  /** How long a session stays valid after login (default 30 minutes). */
  sessionTtlMs?: number;
  /** Sees every request the portal handles (not those a fault consumed), with its parsed JSON body. */
  onRequest?: (request: { method: string; path: string; body: unknown }) => void;
}

/** The simulator's handler, plus what tests need to steer sessions. */
export type DvcqgSimulator = RequestListener & {
  /** Ends every session at once, as a portal restart or a password rotation would. */
  expireSessions(): void;
  /** Sessions currently valid. */
  sessionCount(): number;
  /** What the portal holds per dossier (also served at GET /sandbox/dossiers). */
  dossiers(): DossierRecord[];
};

const DEFAULT_SESSION_TTL_MS = 30 * 60 * 1000;
const MAX_BODY_BYTES = 1_048_576;
const JSON_TYPE = 'application/json; charset=utf-8';

/** When the sandbox catalogue was last updated: the day Decree 118/2025 took effect, one minute apart. */
const CATALOGUE_UPDATED = Date.UTC(2025, 6, 1, 1, 0, 0);

function wireAgencies(p: ProcedurePersona) {
  return p.agencies.map((code) => ({ MACOQUAN: code, TENCOQUAN: agencyNames[code] ?? code }));
}

/** A catalogue entry as LayDanhSachTTHC sends it. */
export function toWireSummary(p: ProcedurePersona): WireSummary {
  return { MATTHC: p.code, TENTTHC: p.name, MALINHVUC: p.field.code, TENLINHVUC: p.field.name, COQUANTHUCHIEN: wireAgencies(p), MUCDO: p.level };
}

/** A procedure as LayThuTuc sends it. */
export function toWireProcedure(p: ProcedurePersona, index: number): WireProcedure {
  return {
    MATTHC: p.code,
    TENTTHC: p.name,
    LINHVUCTHUCHIEN: { MALINHVUC: p.field.code, TENLINHVUC: p.field.name },
    TRINHTUTHUCHIEN: p.steps,
    CACHTHUCTHUCHIEN: p.channels,
    THANHPHANHOSO: p.dossierComponents.map((d) => ({ TENGIAYTO: d.name, SOBAN: d.copies ?? null })),
    CANCUPHAPLY: p.legalBasis.map((l) => ({ TENVANBAN: l })),
    COQUANTHUCHIEN: wireAgencies(p),
    KETQUATHUCHIEN: p.results.map((r) => ({ TENKETQUA: r })),
    LEPHI: p.fees,
    THOIHANGIAIQUYET: p.processingTime,
    NGAYCAPNHAT: toWireDateTime(new Date(CATALOGUE_UPDATED + index * 60_000)),
  };
}

const faultResponses: FaultResponses = {
  error: () => ({ status: 500, contentType: JSON_TYPE, body: JSON.stringify({ error_code: WIRE_CODES.systemError, message: 'Lỗi hệ thống' }) }),
  malformed: () => ({ status: 200, contentType: JSON_TYPE, body: '{"error_code":"0","data":{"MATTHC":' }),
};

/** Writes one answer (signed as the simulator's signing step decides). */
type Reply = (status: number, body: Record<string, unknown>) => void;

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The national public-service portal's stand-in: login, then JSON service calls carrying the
 * session, over real HTTP, with the sandbox's faults applied first on every endpoint. Every
 * answer is signed (RFC 9421, bound to the request it answers); login and service calls must
 * carry the gateway's signature, or are refused with HTTP 401 error_code "2".
 */
export function createDvcqgSimulator(deps: SimulatorDeps, options: DvcqgSimulatorOptions = {}): DvcqgSimulator {
  const ttlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const sessions = new Map<string, { expiresAt: number; agency: string }>();
  const byCode = new Map(procedures.map((p, index) => [p.code, { persona: p, index }]));
  const desk = createDossierDesk();

  const sweep = (now: number) => {
    for (const [token, session] of sessions) if (session.expiresAt <= now) sessions.delete(token);
  };

  function login(send: Reply, body: Record<string, unknown>): void {
    if (body.username !== SANDBOX_ACCOUNT.username || body.password !== SANDBOX_ACCOUNT.password) {
      return send(401, { error_code: WIRE_CODES.loginRefused, message: 'Tên đăng nhập hoặc mật khẩu không đúng' });
    }
    const now = Date.now();
    sweep(now);
    const token = randomBytes(24).toString('base64url');
    sessions.set(token, { expiresAt: now + ttlMs, agency: SANDBOX_ACCOUNT_AGENCY });
    send(200, { session: token, error_code: '0', message: 'Đăng nhập thành công' });
  }

  function service(send: Reply, body: Record<string, unknown>): void {
    const token = typeof body.session === 'string' ? body.session : '';
    const session = sessions.get(token);
    if (!session || session.expiresAt <= Date.now()) {
      sessions.delete(token);
      return send(200, { error_code: WIRE_CODES.sessionExpired, message: 'Phiên làm việc hết hạn' });
    }
    const agency = body.madonvi;
    if (typeof agency !== 'string' || agency === '') return send(200, { error_code: WIRE_CODES.badRequest, message: 'Thiếu mã đơn vị' });
    if (agency !== session.agency && !agency.startsWith(`${session.agency}.`)) {
      return send(200, { error_code: WIRE_CODES.agencyRefused, message: 'Tài khoản không được phép thực hiện cho đơn vị này' });
    }
    switch (body.service) {
      case SERVICES.list: {
        const province = typeof body.MaTinh === 'string' && body.MaTinh !== '' ? body.MaTinh : undefined;
        const listed = province ? procedures.filter((p) => p.code.endsWith(`.${province}`)) : procedures;
        // Both success codes are seen on the real portal; the sandbox uses "00" here and "0" elsewhere.
        return send(200, { error_code: '00', message: 'Thành công', data: listed.map(toWireSummary) });
      }
      case SERVICES.get: {
        if (typeof body.MaTTHC !== 'string' || body.MaTTHC === '') return send(200, { error_code: WIRE_CODES.badRequest, message: 'Thiếu mã thủ tục hành chính' });
        const found = byCode.get(body.MaTTHC);
        if (!found) return send(200, { error_code: WIRE_CODES.notFound, message: 'Không tìm thấy thủ tục hành chính' });
        return send(200, { error_code: '0', message: 'Thành công', data: toWireProcedure(found.persona, found.index) });
      }
      default: {
        const answer = desk.handle(body.service, body);
        if (answer) return send(answer.status, answer.body);
        return send(200, { error_code: WIRE_CODES.badRequest, message: 'Dịch vụ không tồn tại' });
      }
    }
  }

  /** Signature headers for an answer, as the message-level fault drawn for it wants them. */
  const signatureHeaders = (fault: Fault | undefined, request: RequestMessage, status: number, contentType: string, body: string) => {
    if (fault?.mode === 'unsigned') return {};
    const headers = signResponse(deps.signing.credentials(fault), { status, headers: { 'content-type': contentType }, body }, request);
    return fault?.mode === 'bad-signature' ? withTamperedSignature(headers) : headers;
  };

  const listener: RequestListener = (req, res) => {
    const request = incomingRequest(req);
    const fault = messageFault(deps.faults, 'dvcqg');
    // Under the `wrong-content-type` attack the label is wrong but signed: only the label gives it away.
    const type = attackOf(fault) === 'wrong-content-type' ? HOSTILE_CONTENT_TYPE : JSON_TYPE;
    const send: Reply = (status, body) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...signatureHeaders(fault, request, status, type, text) }).end(text);
    };
    // The portal's failures are signed like any answer: applyFault writes what these return, with the headers set here.
    const sign = (answer: ReturnType<FaultResponses['error']>) => {
      for (const [name, value] of Object.entries(signatureHeaders(fault, request, answer.status, answer.contentType, answer.body))) res.setHeader(name, value);
      return answer;
    };
    const signedFaults: FaultResponses = { error: () => sign(faultResponses.error()), malformed: () => sign(faultResponses.malformed()) };

    void (async () => {
      // The sandbox's own report is not the portal's: no fault, no signature.
      const report = desk.report(req.method ?? 'GET', new URL(req.url ?? '/', 'http://dvcqg').pathname);
      if (report) {
        const text = JSON.stringify(report.body);
        res.writeHead(report.status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) }).end(text);
        return;
      }
      if (await applyFault(deps.faults, 'dvcqg', req, res, signedFaults)) return;
      const path = new URL(req.url ?? '/', 'http://dvcqg').pathname;
      const method = req.method ?? 'GET';
      const signed = req.headers['signature-input'] !== undefined || req.headers.signature !== undefined;
      const verify = (body: Buffer) => {
        try {
          verifyRequest(request, body, { verifyCertificate: (certificate, chain) => deps.signing.verifyClient(certificate, chain) });
          return true;
        } catch (err) {
          deps.log.warn({ err, path }, 'dvcqg simulator refused a request signature');
          send(401, { error_code: WIRE_CODES.signatureRefused, message: 'Chữ ký số không hợp lệ' });
          return false;
        }
      };
      if (path === HEALTH_PATH && method === 'GET') {
        // The health probe may come unsigned (monitoring); a signature, when present, must verify.
        if (signed && !verify(Buffer.alloc(0))) return;
        options.onRequest?.({ method, path, body: undefined });
        return send(200, { error_code: '0', message: 'Hoạt động bình thường' });
      }
      if (path !== LOGIN_PATH && path !== SERVICE_PATH) return send(404, { error_code: '404', message: 'Không có dịch vụ này' });
      if (method !== 'POST') return send(405, { error_code: '405', message: 'Phương thức không được hỗ trợ' });
      let raw: Buffer;
      try {
        raw = await readBody(req);
      } catch (err) {
        if (err instanceof BodyTooLarge) return send(413, { error_code: '413', message: 'Dữ liệu quá lớn' });
        throw err;
      }
      if (!verify(raw)) return;
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return send(400, { error_code: WIRE_CODES.badRequest, message: 'Dữ liệu không hợp lệ' });
      }
      options.onRequest?.({ method, path, body });
      if (!isRecord(body)) return send(400, { error_code: WIRE_CODES.badRequest, message: 'Dữ liệu không hợp lệ' });
      if (path === LOGIN_PATH) return login(send, body);
      return service(send, body);
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'dvcqg simulator failed');
      if (!res.headersSent) send(500, { error_code: WIRE_CODES.systemError, message: 'Lỗi hệ thống' });
    });
  };

  return Object.assign(listener, {
    expireSessions: () => sessions.clear(),
    dossiers: () => desk.records(),
    sessionCount: () => {
      sweep(Date.now());
      return sessions.size;
    },
  });
}
