import type { IncomingMessage, RequestListener } from 'node:http';
import { randomBytes } from 'node:crypto';
import { agencyNames, procedures, type ProcedurePersona } from '../../../src/sandbox/personas.ts';
import { applyFault, attackOf, HOSTILE_CONTENT_TYPE, messageFault, type Fault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { incomingRequest, signResponse, verifyRequest, withTamperedSignature, type RequestMessage } from '../../../src/signing/http-signatures.ts';
import type { SimulatorDeps } from '../../module.ts';
import { HEALTH_PATH, LOGIN_PATH, SERVICE_PATH, SERVICES } from '../client.ts';
import { WIRE_CODES } from '../errors.ts';
import type { WireProcedureInput, WireSummary } from '../mapping.ts';
import { SANDBOX_ACCOUNT, SANDBOX_ACCOUNT_AGENCY } from '../sandbox-account.ts';
import { createDossierDesk, type DossierRecord } from './dossiers.ts';

export interface DvcqgSimulatorOptions {
  /**
   * `none` (the default, as the real portal): requests need not be signed, and only a signed
   * request gets a signed answer (a signature present must verify). `rfc9421`: every request must
   * be signed, every answer is.
   */
  messageSecurity?: 'none' | 'rfc9421';
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

function wireAgencies(p: ProcedurePersona) {
  return p.agencies.map((code) => ({ MADONVI: code, TENDONVI: agencyNames[code] ?? code }));
}

/** A catalogue entry as LayDanhSachTTHC sends it. */
export function toWireSummary(p: ProcedurePersona): WireSummary {
  return { MATTHC: p.code, TENTTHC: p.name, MALINHVUC: p.field.code, TENLINHVUC: p.field.name, COQUANTHUCHIEN: wireAgencies(p), MUCDO: p.level };
}

/** "03 ngày làm việc" → 3 and "Ngày làm việc", as the catalogue splits a time limit. */
function wireTime(processingTime: string | null): { THOIGIANGIAIQUYET: number | null; DONVITINH: string | null; MOTA: string | null } {
  const match = /^(\d+)\s+(.+)$/.exec(processingTime ?? '');
  if (!match) return { THOIGIANGIAIQUYET: null, DONVITINH: null, MOTA: processingTime };
  const unit = match[2]!;
  return { THOIGIANGIAIQUYET: Number(match[1]), DONVITINH: unit.charAt(0).toUpperCase() + unit.slice(1), MOTA: null };
}

/** "20.000 đồng (nộp trực tuyến 10.000 đồng)" → 20000 at the desk and 10000 online; other wordings stay text. */
function wireFees(fees: string | null): { desk: number | null; online: number | null; words: string | null } {
  if (fees === null) return { desk: null, online: null, words: null };
  const match = /^([\d.]+) đồng(?: \(nộp trực tuyến ([\d.]+) đồng\))?$/.exec(fees);
  if (!match) return { desk: null, online: null, words: fees };
  const amount = (digits: string) => Number(digits.replace(/\./g, ''));
  const desk = amount(match[1]!);
  return { desk, online: match[2] ? amount(match[2]) : desk, words: null };
}

/** KENH (inferred codes): 1 at the desk, 2 online, 3 by post; the order the catalogue lists them. */
const KENH = { desk: '1', online: '2', post: '3' } as const;

/** A procedure as LayThuTuc sends it: nested, as the sources show. */
export function toWireProcedure(p: ProcedurePersona, index: number): WireProcedureInput {
  const time = wireTime(p.processingTime);
  const fees = wireFees(p.fees);
  const feeCode = `LP${String(index + 1).padStart(3, '0')}`;
  const duration = (amount: number | null) => ({
    ...time,
    MOTA: [time.MOTA, fees.words].filter(Boolean).join('; ') || null,
    PHILEPHI: amount === null ? [] : [{ MAPHILEPHI: feeCode, SOTIEN: String(amount), DONVI: 'Đồng' }],
  });
  const channels = p.level === 'Toàn trình' ? [KENH.desk, KENH.online, KENH.post] : [KENH.desk, KENH.post, KENH.online];
  return {
    MATTHC: p.code,
    TENTTHC: p.name,
    LINHVUCTHUCHIEN: [{ MALINHVUC: p.field.code, TENLINHVUC: p.field.name }],
    TRINHTUTHUCHIEN: [{ TRUONGHOP: '', TRINHTU: p.steps.split(/\s+(?=Bước \d+:)/).map((step) => ({ TENTRINHTU: step })) }],
    CACHTHUCTHUCHIEN: channels.map((channel) => ({ KENH: channel, THOIGIAN: [duration(channel === KENH.online ? fees.online : fees.desk)] })),
    COQUANTHUCHIEN: wireAgencies(p),
    THANHPHANHOSO: [
      {
        GIAYTO: p.dossierComponents.map((d, i) => {
          const code = `GT${String(index + 1).padStart(3, '0')}.${i + 1}`;
          const form = d.name.includes('(theo mẫu)');
          return { MAGIAYTO: code, TENGIAYTO: d.name, TENMAUDON: form ? `Mẫu ${code}` : '', URL: form ? `https://dichvucong.gov.vn/sandbox/mau/${code}.docx` : '' };
        }),
      },
    ],
    CANCUPHAPLY: p.legalBasis.map((l) => ({ SOVANBAN: /số ([\w/Đ-]+)/u.exec(l)?.[1] ?? '', TENVANBAN: l })),
    KETQUATHUCHIEN: p.results.map((r, i) => ({ MAKETQUA: `KQ${String(index + 1).padStart(3, '0')}.${i + 1}`, TENKETQUA: r })),
  };
}

/** The catalogue of agencies (LayDanhMucCoQuan) and of fields (LayDanhMucLinhVuc), as `result` arrays. */
const agencyCatalogue = () => Object.entries(agencyNames).map(([code, name]) => ({ MADONVI: code, TENDONVI: name }));
const fieldCatalogue = () => [...new Map(procedures.map((p) => [p.field.code, { MALINHVUC: p.field.code, TENLINHVUC: p.field.name }])).values()];

const faultResponses: FaultResponses = {
  error: () => ({ status: 500, contentType: JSON_TYPE, body: JSON.stringify({ error_code: WIRE_CODES.systemError, message: 'Lỗi hệ thống' }) }),
  malformed: () => ({ status: 200, contentType: JSON_TYPE, body: '{"error_code":"0","result":[{"MATTHC":' }),
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

/** The portal's catalogue services beyond procedures. */
export const CATALOGUES = { agencies: 'LayDanhMucCoQuan', fields: 'LayDanhMucLinhVuc' } as const;

const isSigned = (request: RequestMessage) => request.fields['signature-input'] !== undefined || request.fields.signature !== undefined;

/** An agency acts for itself and the agencies under it (H52 for H52.20). */
const withinAgency = (agency: string, account: string) => agency === account || agency.startsWith(`${account}.`);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The national public-service portal's stand-in: login, then JSON service calls carrying the
 * session, over real HTTP, with the sandbox's faults applied first on every endpoint. Answers
 * carry their data in `result` arrays, the dossier services a code and a message only. Under
 * `messageSecurity: 'none'` (the default) a signed request's signature must verify and its answer
 * is signed (RFC 9421, bound to the request); under `rfc9421` unsigned requests are refused with
 * HTTP 401 error_code "2".
 */
export function createDvcqgSimulator(deps: SimulatorDeps, options: DvcqgSimulatorOptions = {}): DvcqgSimulator {
  const ttlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const sessions = new Map<string, { expiresAt: number; agency: string }>();
  const byCode = new Map(procedures.map((p, index) => [p.code, { persona: p, index }]));
  const desk = createDossierDesk();

  const sweep = (now: number) => {
    for (const [token, session] of sessions) if (session.expiresAt <= now) sessions.delete(token);
  };

  function login(send: Reply, body: Record<string, unknown>, dstcode: string | undefined): void {
    if (body.username !== SANDBOX_ACCOUNT.username || body.password !== SANDBOX_ACCOUNT.password) {
      return send(401, { error_code: WIRE_CODES.loginRefused, message: 'Tên đăng nhập hoặc mật khẩu không đúng' });
    }
    // Integrations send the calling agency in `dstcode` (inferred: the portal refuses a login without it).
    if (!dstcode || !withinAgency(dstcode, SANDBOX_ACCOUNT_AGENCY)) {
      return send(200, { error_code: WIRE_CODES.agencyRefused, message: 'Mã đơn vị (dstcode) không hợp lệ' });
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
    if (!withinAgency(agency, session.agency)) {
      return send(200, { error_code: WIRE_CODES.agencyRefused, message: 'Tài khoản không được phép thực hiện cho đơn vị này' });
    }
    switch (body.service) {
      case SERVICES.list: {
        const province = typeof body.MaTinh === 'string' && body.MaTinh !== '' ? body.MaTinh : undefined;
        const listed = province ? procedures.filter((p) => p.code.endsWith(`.${province}`)) : procedures;
        // Both success codes are seen on the real portal; the sandbox uses "00" here and "0" elsewhere.
        return send(200, { error_code: '00', message: 'Thành công', result: listed.map(toWireSummary) });
      }
      case SERVICES.get: {
        if (typeof body.maTTHC !== 'string' || body.maTTHC === '') return send(200, { error_code: WIRE_CODES.badRequest, message: 'Thiếu mã thủ tục hành chính' });
        const found = byCode.get(body.maTTHC);
        return send(200, { error_code: '0', message: 'Thành công', result: found ? [toWireProcedure(found.persona, found.index)] : [] });
      }
      case CATALOGUES.agencies:
        return send(200, { error_code: '0', message: 'Thành công', result: agencyCatalogue() });
      case CATALOGUES.fields:
        return send(200, { error_code: '0', message: 'Thành công', result: fieldCatalogue() });
      default: {
        const answer = desk.handle(body.service, body);
        if (answer) return send(answer.status, answer.body);
        return send(200, { error_code: WIRE_CODES.badRequest, message: 'Dịch vụ không tồn tại' });
      }
    }
  }

  const requireSignatures = options.messageSecurity === 'rfc9421';

  /** Signature headers for an answer, as the message-level fault drawn for it wants them; none for an unsigned request under `none`. */
  const signatureHeaders = (fault: Fault | undefined, request: RequestMessage, status: number, contentType: string, body: string) => {
    if (!requireSignatures && !isSigned(request)) return {};
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
      const signed = isSigned(request);
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
      if (signed || requireSignatures) {
        if (!verify(raw)) return;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return send(400, { error_code: WIRE_CODES.badRequest, message: 'Dữ liệu không hợp lệ' });
      }
      options.onRequest?.({ method, path, body });
      if (!isRecord(body)) return send(400, { error_code: WIRE_CODES.badRequest, message: 'Dữ liệu không hợp lệ' });
      if (path === LOGIN_PATH) return login(send, body, typeof req.headers.dstcode === 'string' ? req.headers.dstcode : undefined);
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
