import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { agencyNames, procedures, type ProcedurePersona } from '../../../src/sandbox/personas.ts';
import { applyFault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { toWireDateTime } from '../../../src/core/time.ts';
import type { SimulatorDeps } from '../../module.ts';
import { HEALTH_PATH, LOGIN_PATH, SERVICE_PATH, SERVICES } from '../client.ts';
import { WIRE_CODES } from '../errors.ts';
import type { WireProcedure, WireSummary } from '../mapping.ts';
import { SANDBOX_ACCOUNT, SANDBOX_ACCOUNT_AGENCY } from '../sandbox-account.ts';

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

type Response = ServerResponse<IncomingMessage>;

function send(res: Response, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) }).end(text);
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The national public-service portal's stand-in: login, then JSON service calls carrying the
 * session, over real HTTP, with the sandbox's faults applied first on every endpoint.
 */
export function createDvcqgSimulator(deps: SimulatorDeps, options: DvcqgSimulatorOptions = {}): DvcqgSimulator {
  const ttlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const sessions = new Map<string, { expiresAt: number; agency: string }>();
  const byCode = new Map(procedures.map((p, index) => [p.code, { persona: p, index }]));

  const sweep = (now: number) => {
    for (const [token, session] of sessions) if (session.expiresAt <= now) sessions.delete(token);
  };

  function login(res: Response, body: Record<string, unknown>): void {
    if (body.username !== SANDBOX_ACCOUNT.username || body.password !== SANDBOX_ACCOUNT.password) {
      return send(res, 401, { error_code: WIRE_CODES.loginRefused, message: 'Tên đăng nhập hoặc mật khẩu không đúng' });
    }
    const now = Date.now();
    sweep(now);
    const token = randomBytes(24).toString('base64url');
    sessions.set(token, { expiresAt: now + ttlMs, agency: SANDBOX_ACCOUNT_AGENCY });
    send(res, 200, { session: token, error_code: '0', message: 'Đăng nhập thành công' });
  }

  function service(res: Response, body: Record<string, unknown>): void {
    const token = typeof body.session === 'string' ? body.session : '';
    const session = sessions.get(token);
    if (!session || session.expiresAt <= Date.now()) {
      sessions.delete(token);
      return send(res, 200, { error_code: WIRE_CODES.sessionExpired, message: 'Phiên làm việc hết hạn' });
    }
    const agency = body.madonvi;
    if (typeof agency !== 'string' || agency === '') return send(res, 200, { error_code: WIRE_CODES.badRequest, message: 'Thiếu mã đơn vị' });
    if (agency !== session.agency && !agency.startsWith(`${session.agency}.`)) {
      return send(res, 200, { error_code: WIRE_CODES.agencyRefused, message: 'Tài khoản không được phép thực hiện cho đơn vị này' });
    }
    switch (body.service) {
      case SERVICES.list: {
        const province = typeof body.MaTinh === 'string' && body.MaTinh !== '' ? body.MaTinh : undefined;
        const listed = province ? procedures.filter((p) => p.code.endsWith(`.${province}`)) : procedures;
        // Both success codes are seen on the real portal; the sandbox uses "00" here and "0" elsewhere.
        return send(res, 200, { error_code: '00', message: 'Thành công', data: listed.map(toWireSummary) });
      }
      case SERVICES.get: {
        if (typeof body.MaTTHC !== 'string' || body.MaTTHC === '') return send(res, 200, { error_code: WIRE_CODES.badRequest, message: 'Thiếu mã thủ tục hành chính' });
        const found = byCode.get(body.MaTTHC);
        if (!found) return send(res, 200, { error_code: WIRE_CODES.notFound, message: 'Không tìm thấy thủ tục hành chính' });
        return send(res, 200, { error_code: '0', message: 'Thành công', data: toWireProcedure(found.persona, found.index) });
      }
      default:
        return send(res, 200, { error_code: WIRE_CODES.badRequest, message: 'Dịch vụ không tồn tại' });
    }
  }

  const listener: RequestListener = (req, res) => {
    void (async () => {
      if (await applyFault(deps.faults, 'dvcqg', req, res, faultResponses)) return;
      const path = new URL(req.url ?? '/', 'http://dvcqg').pathname;
      const method = req.method ?? 'GET';
      if (path === HEALTH_PATH && method === 'GET') {
        options.onRequest?.({ method, path, body: undefined });
        return send(res, 200, { error_code: '0', message: 'Hoạt động bình thường' });
      }
      if (path !== LOGIN_PATH && path !== SERVICE_PATH) return send(res, 404, { error_code: '404', message: 'Không có dịch vụ này' });
      if (method !== 'POST') return send(res, 405, { error_code: '405', message: 'Phương thức không được hỗ trợ' });
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        if (err instanceof BodyTooLarge) return send(res, 413, { error_code: '413', message: 'Dữ liệu quá lớn' });
        return send(res, 400, { error_code: WIRE_CODES.badRequest, message: 'Dữ liệu không hợp lệ' });
      }
      options.onRequest?.({ method, path, body });
      if (!isRecord(body)) return send(res, 400, { error_code: WIRE_CODES.badRequest, message: 'Dữ liệu không hợp lệ' });
      if (path === LOGIN_PATH) return login(res, body);
      return service(res, body);
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'dvcqg simulator failed');
      if (!res.headersSent) send(res, 500, { error_code: WIRE_CODES.systemError, message: 'Lỗi hệ thống' });
    });
  };

  return Object.assign(listener, {
    expireSessions: () => sessions.clear(),
    sessionCount: () => {
      sweep(Date.now());
      return sessions.size;
    },
  });
}
