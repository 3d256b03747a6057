import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Element } from '@xmldom/xmldom';
import { isoDateToWire } from '../../../src/core/time.ts';
import { isGatewayError } from '../../../src/errors/gateway-error.ts';
import { applyFault, attackOf, HOSTILE_CONTENT_TYPE, hostileXml, messageFault, type Fault, type FaultResponses } from '../../../src/sandbox/faults.ts';
import { signSoapEnvelope, spoilSignature, verifySoapEnvelope, XMLNS } from '../../../src/signing/xml-signature.ts';
import { people, type Person, type PersonaAddress, type Relative } from '../../../src/sandbox/personas.ts';
import type { SimulatorDeps } from '../../module.ts';
import { readPlainEnvelope } from '../security.ts';
import { authHash, DEFAULT_PATHS, lgspAccessToken, NDXP_HEADERS, ndxpAuthorization, SANDBOX_TRANSPORT, type TransportMode } from '../transport.ts';
import {
  GENDERS,
  MARITAL_STATUSES,
  NAMESPACE,
  OPERATIONS,
  RESULT_NOT_FOUND,
  RESULT_OK,
  REQUEST_NAMESPACE,
  type Operation,
  type WireAddress,
  type WireCitizen,
  type WireRelative,
} from '../mapping.ts';

/** The service description, served as is at `GET /CongDanService?wsdl`. */
export const WSDL = readFileSync(new URL('../congdan-service.wsdl', import.meta.url), 'utf8');

/** What the simulator received, for tests that check what the gateway sends. */
export interface ReceivedRequest {
  operation: Operation;
  /** The SOAPAction header, without quotes. */
  soapAction: string | undefined;
  /** The operation element's children, as text. */
  fields: Record<string, string>;
  /** The request envelope as received. */
  xml: string;
}

export interface PopulationSimulatorOptions {
  onRequest?: (request: ReceivedRequest & { transport: TransportMode; wrapper?: Record<string, unknown>; headers: IncomingMessage['headers'] }) => void;
  /** Lifetime of the LGSP access tokens it issues (default 300 s). */
  tokenLifetimeSeconds?: number;
  /** The LGSP access tokens it has issued, with their expiry (ms); a test may revoke them. */
  tokens?: Map<string, number>;
}

/** How far an NDXP request's timestamp may be from the simulator's clock. */
const NDXP_CLOCK_SKEW_MS = 5 * 60_000;

/** Business error codes in a fault's detail (`LoiNghiepVu/MaLoi`), inferred. */
export const FAULT_CODES = {
  missingField: '01',
  invalidField: '02',
  unknownOperation: '03',
  systemError: '99',
} as const;

const GENDER_CODES = Object.fromEntries(Object.entries(GENDERS).map(([code, gender]) => [gender, code]));
const MARITAL_CODES = Object.fromEntries(Object.entries(MARITAL_STATUSES).map(([code, status]) => [status, code]));
const REQUIRED = ['MaYeuCau', 'MaDVC', 'MaTichHop', 'MaDonVi', 'MaCanBo'] as const;
const MAX_REQUEST_BYTES = 256 * 1024;
const XML_CONTENT_TYPE = 'text/xml; charset=utf-8';

// ---------------------------------------------------------------------------------------------
// Comparison, as the database does it

/** Names compare as Unicode NFC, ignoring letter case and runs of whitespace. */
export function sameName(a: string, b: string): boolean {
  const key = (s: string) => s.normalize('NFC').replace(/\s+/gu, ' ').trim().toLocaleLowerCase('vi').normalize('NFC');
  return key(a) === key(b);
}

/** XacThuc: a living person whose every given field matches. */
export function matches(person: Person | undefined, fields: Record<string, string>): boolean {
  if (!person || person.dateOfDeath !== null) return false;
  if (fields.HoVaTen !== undefined && !sameName(fields.HoVaTen, person.fullName)) return false;
  if (fields.NgayThangNamSinh !== undefined && fields.NgayThangNamSinh !== isoDateToWire(person.dateOfBirth)) return false;
  if (fields.NamSinh !== undefined && fields.NamSinh !== person.dateOfBirth.slice(0, 4)) return false;
  if (fields.SoCMND !== undefined && fields.SoCMND !== person.oldIdNumber) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Personas as the database sends them

const orNull = (text: string | null | undefined) => (text ? text : null);

function wireAddress(a: PersonaAddress): WireAddress {
  return {
    MaTinhThanh: orNull(a.provinceCode),
    MaQuanHuyen: orNull(a.districtCode),
    MaPhuongXa: orNull(a.communeCode),
    ChiTiet: orNull(a.detail),
    QuocGia: 'VN',
  };
}

function wireRelative(r: Relative | null): WireRelative | null {
  return r ? { HoVaTen: r.fullName, SoDinhDanh: r.idNumber } : null;
}

/** A persona as a QCVN 109 `CongDan`, fields in the schema's order. */
export function toWireCitizen(p: Person): WireCitizen {
  return {
    SoDinhDanh: p.idNumber,
    SoCMND: p.oldIdNumber,
    HoVaTen: { Ho: p.familyName, ChuDem: orNull(p.middleName), Ten: p.givenName },
    GioiTinh: GENDER_CODES[p.gender]!,
    DanToc: p.ethnicity,
    TonGiao: p.religion,
    TinhTrangHonNhan: MARITAL_CODES[p.maritalStatus]!,
    NhomMau: p.bloodType,
    NgayThangNamSinh: { Nam: p.dateOfBirth.slice(0, 4), NgayThangNam: isoDateToWire(p.dateOfBirth) },
    QuocTich: p.nationality,
    NoiDangKyKhaiSinh: wireAddress(p.birthRegistrationPlace),
    QueQuan: wireAddress(p.hometown),
    ThuongTru: wireAddress(p.permanentAddress),
    NoiOHienTai: wireAddress(p.currentAddress),
    Cha: wireRelative(p.father),
    Me: wireRelative(p.mother),
    VoChong: wireRelative(p.spouse),
    NguoiDaiDien: null,
    ChuHo: wireRelative(p.householdHead),
    NgayMat: p.dateOfDeath ? isoDateToWire(p.dateOfDeath) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// XML out

type XmlValue = string | boolean | null | undefined | XmlValue[] | { [name: string]: XmlValue };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** Elements in property order; null and undefined are left out, arrays repeat the element. */
function element(name: string, value: XmlValue, attributes = ''): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => element(name, v)).join('');
  if (typeof value === 'object') {
    return `<${name}${attributes}>${Object.entries(value).map(([child, v]) => element(child, v)).join('')}</${name}>`;
  }
  return `<${name}${attributes}>${escapeXml(String(value))}</${name}>`;
}

function envelope(body: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/>' +
    `<soap:Body>${body}</soap:Body></soap:Envelope>`
  );
}

/** An operation's answer, its children in the target namespace. */
export function answerEnvelope(operation: Operation, content: Record<string, XmlValue>): string {
  return envelope(element(`${operation}Response`, content, ` xmlns="${NAMESPACE}"`));
}

/** A SOAP 1.1 Fault with the database's error code in its detail. */
export function faultEnvelope(side: 'Client' | 'Server', message: string, code: string): string {
  return envelope(
    '<soap:Fault>' +
      `<faultcode>soap:${side}</faultcode>` +
      `<faultstring xml:lang="vi">${escapeXml(message)}</faultstring>` +
      `<detail>${element('LoiNghiepVu', { MaLoi: code, MoTa: message }, ` xmlns="${NAMESPACE}"`)}</detail>` +
      '</soap:Fault>',
  );
}

/** WS-Security 1.1 fault codes the database answers when it refuses the gateway's message security. */
export type SecurityFaultCode = 'InvalidSecurity' | 'FailedAuthentication';

/** A SOAP 1.1 Fault with a WS-Security fault code (`wsse:InvalidSecurity`, `wsse:FailedAuthentication`). */
export function securityFaultEnvelope(code: SecurityFaultCode, message: string): string {
  return envelope(
    '<soap:Fault>' +
      `<faultcode xmlns:wsse="${XMLNS.wsse}">wsse:${code}</faultcode>` +
      `<faultstring xml:lang="vi">${escapeXml(message)}</faultstring>` +
      '</soap:Fault>',
  );
}

/** Cut off mid-element, as an answer truncated by a failing proxy would be (and so unsigned). */
const MALFORMED_ANSWER =
  '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
  `<TraCuuThongTinCongDanResponse xmlns="${NAMESPACE}"><MaKetQua>00</MaKetQua><CongdanCollection><CongDan><SoDinhDanh>0140`;

/**
 * Signature wrapping: the signed Body moved into the Header, and in its place an unsigned twin
 * with the same id that says what an attacker wants (a match, another name).
 */
function wrapSignedBody(envelope: string): string {
  const bodyPattern = /<soap:Body\b[^>]*>[\s\S]*<\/soap:Body>/;
  const signedBody = bodyPattern.exec(envelope)?.[0];
  if (!signedBody) return envelope;
  const twin = signedBody.replace('<TonTai>false</TonTai>', '<TonTai>true</TonTai>').replace(/(<Ten>)[^<]*/, '$1Mạo Danh');
  return envelope.replace(bodyPattern, () => twin).replace('</soap:Header>', () => `<Wrapper>${signedBody}</Wrapper></soap:Header>`);
}

// ---------------------------------------------------------------------------------------------
// XML in

/** Whether a request envelope carries a WS-Security header (and so must hold its signature). */
const signedRequest = (xml: string): boolean => /<(?:[\w.-]+:)?Security[\s>/]/.test(xml);

class ClientFault extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const elementChildren = (node: Element): Element[] => {
  const children: Element[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) if (child.nodeType === child.ELEMENT_NODE) children.push(child as Element);
  return children;
};

/**
 * The operation and its fields, read from the Body the signature covers (or the one the platform
 * relayed). The date of birth nests `NgayThangNam` (read as `NgayThangNamSinh`) or `Nam` (read as
 * `NamSinh`); every element must be in the requests' namespace.
 */
function readRequest(body: Element): { operation: Operation; fields: Record<string, string> } {
  const [content, ...others] = elementChildren(body);
  if (!content || others.length > 0) throw new ClientFault('Yêu cầu phải có đúng một thao tác', FAULT_CODES.invalidField);
  const name = content.localName ?? '';
  const operation = Object.values(OPERATIONS).find((op) => op === name);
  if (!operation || content.namespaceURI !== REQUEST_NAMESPACE) throw new ClientFault(`Không có thao tác ${name}`.trim(), FAULT_CODES.unknownOperation);
  const fields: Record<string, string> = {};
  const put = (key: string, field: Element) => {
    if (Object.hasOwn(fields, key) || field.namespaceURI !== REQUEST_NAMESPACE) throw new ClientFault(`Trường ${key} không hợp lệ`, FAULT_CODES.invalidField);
    fields[key] = (field.textContent ?? '').trim();
  };
  for (const field of elementChildren(content)) {
    const key = field.localName ?? '';
    const children = elementChildren(field);
    if (key === 'NgayThangNamSinh' && field.namespaceURI === REQUEST_NAMESPACE) {
      const [date, ...rest] = children;
      const part = date?.localName;
      if (!date || rest.length > 0 || (part !== 'NgayThangNam' && part !== 'Nam')) throw new ClientFault('Trường NgayThangNamSinh không hợp lệ', FAULT_CODES.invalidField);
      put(part === 'Nam' ? 'NamSinh' : 'NgayThangNamSinh', date);
      continue;
    }
    if (children.length > 0) throw new ClientFault(`Trường ${key} không hợp lệ`, FAULT_CODES.invalidField);
    put(key, field);
  }
  return { operation, fields };
}

function checkRequest(operation: Operation, fields: Record<string, string>, soapAction: string | undefined): void {
  if (soapAction && soapAction !== `${REQUEST_NAMESPACE}/${operation}`) throw new ClientFault('SOAPAction không khớp với thao tác', FAULT_CODES.invalidField);
  const missing = REQUIRED.filter((f) => !fields[f]);
  if (missing.length > 0) throw new ClientFault(`Thiếu thông tin bắt buộc: ${missing.join(', ')}`, FAULT_CODES.missingField);
  // The person is named by the ID number or, for an old card (CMND), by SoCMND alone.
  if (fields.SoDinhDanh === undefined && fields.SoCMND === undefined) throw new ClientFault('Thiếu thông tin bắt buộc: SoDinhDanh', FAULT_CODES.missingField);
  if (fields.SoDinhDanh !== undefined && !/^\d{12}$/.test(fields.SoDinhDanh)) throw new ClientFault('Số định danh cá nhân phải có 12 chữ số', FAULT_CODES.invalidField);
  if (fields.SoCMND !== undefined && !/^\d{9}$/.test(fields.SoCMND)) throw new ClientFault('Số CMND phải có 9 chữ số', FAULT_CODES.invalidField);
  if (fields.NgayThangNamSinh !== undefined && !/^\d{8}$/.test(fields.NgayThangNamSinh)) {
    throw new ClientFault('Ngày tháng năm sinh phải có dạng yyyyMMdd', FAULT_CODES.invalidField);
  }
  if (fields.NamSinh !== undefined && !/^\d{4}$/.test(fields.NamSinh)) throw new ClientFault('Năm sinh phải có dạng yyyy', FAULT_CODES.invalidField);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        resolve(undefined);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// The service

/**
 * The population database's stand-in: SOAP 1.1 over real HTTP, document/literal as described by
 * congdan-service.wsdl, serving the people of the sandbox personas, with the sandbox's faults.
 */
export function createPopulationSimulator(deps: SimulatorDeps, options: PopulationSimulatorOptions = {}): RequestListener {
  const byId = new Map(people.map((p) => [p.idNumber, p]));
  const byOldCard = new Map(people.flatMap((p) => (p.oldIdNumber ? [[p.oldIdNumber, p] as const] : [])));

  const send = (res: ServerResponse, status: number, body: string, contentType = XML_CONTENT_TYPE) => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
  };
  /** Every envelope leaves signed (Body and Timestamp), except as the sandbox's signature faults and attacks say. */
  const signed = (xml: string, fault?: Fault): string => {
    if (fault?.mode === 'unsigned') return xml;
    const envelope = signSoapEnvelope(xml, deps.signing.credentials(fault));
    const attack = attackOf(fault);
    if (attack === 'xxe' || attack === 'entity-expansion') return hostileXml(envelope, attack, 'MoTa');
    if (attack === 'signature-wrapping') return wrapSignedBody(envelope);
    return fault?.mode === 'bad-signature' ? spoilSignature(envelope) : envelope;
  };
  /** An answer without WS-Security (to a platform request that had none): only the attacks on the XML itself apply. */
  const plain = (xml: string, fault?: Fault): string => {
    const attack = attackOf(fault);
    return attack === 'xxe' || attack === 'entity-expansion' ? hostileXml(xml, attack, 'MoTa') : xml;
  };
  const sendEnvelope = (res: ServerResponse, status: number, xml: string, sign = true) => {
    const fault = messageFault(deps.faults, 'population');
    send(res, status, sign ? signed(xml, fault) : plain(xml, fault), attackOf(fault) === 'wrong-content-type' ? HOSTILE_CONTENT_TYPE : XML_CONTENT_TYPE);
  };
  const fault = (res: ServerResponse, side: 'Client' | 'Server', message: string, code: string, sign = true) => sendEnvelope(res, 500, faultEnvelope(side, message, code), sign);
  const tokens = options.tokens ?? new Map<string, number>();
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 300;
  const platformToken = lgspAccessToken(SANDBOX_TRANSPORT.platformKeys);
  const sandboxAuthHash = authHash(SANDBOX_TRANSPORT.account);
  const sandboxNdxpAuthorization = ndxpAuthorization(SANDBOX_TRANSPORT.account);
  const refuse = (res: ServerResponse, status: 400 | 401, message: string) =>
    send(res, status, JSON.stringify({ error: status === 401 ? 'unauthorized' : 'bad_request', error_description: message }), 'application/json; charset=utf-8');

  const faultResponses: FaultResponses = {
    error: () => ({ status: 500, contentType: XML_CONTENT_TYPE, body: signed(faultEnvelope('Server', 'Lỗi hệ thống, vui lòng thử lại sau', FAULT_CODES.systemError)) }),
    malformed: () => ({ status: 200, contentType: XML_CONTENT_TYPE, body: MALFORMED_ANSWER }),
  };

  /**
   * The request's Body once its WS-Security signature holds, or undefined when refused (answered).
   * Through a platform, a request without a Security header is read as it came (the platform has
   * authenticated the caller); one that carries a signature must hold it.
   */
  function verified(xml: string, res: ServerResponse, transport: TransportMode): Element | undefined {
    if (/<!DOCTYPE/i.test(xml)) throw new ClientFault('Yêu cầu không được chứa DTD', FAULT_CODES.invalidField);
    if (transport !== 'direct' && !signedRequest(xml)) {
      try {
        return readPlainEnvelope({ url: '', status: 200, contentType: 'text/xml', body: xml });
      } catch {
        throw new ClientFault('Yêu cầu không phải XML hợp lệ hoặc không phải SOAP Envelope', FAULT_CODES.invalidField);
      }
    }
    try {
      return verifySoapEnvelope(xml, deps.signing.verifyClient, { peer: 'gateway' }).body;
    } catch (err) {
      if (isGatewayError(err) && err.code === 'UPSTREAM_BAD_RESPONSE') {
        throw new ClientFault('Yêu cầu không phải XML hợp lệ hoặc không phải SOAP Envelope', FAULT_CODES.invalidField);
      }
      deps.log.info({ err }, 'population simulator refused the message security of a request');
      const certificate = isGatewayError(err) && err.code.startsWith('UPSTREAM_CERT_');
      sendEnvelope(
        res,
        500,
        certificate
          ? securityFaultEnvelope('FailedAuthentication', 'Chứng thư số của đơn vị gọi không được chấp nhận')
          : securityFaultEnvelope('InvalidSecurity', 'Yêu cầu không có chữ ký số hợp lệ'),
      );
      return undefined;
    }
  }

  function answer(operation: Operation, fields: Record<string, string>): string {
    const person = fields.SoDinhDanh !== undefined ? byId.get(fields.SoDinhDanh) : byOldCard.get(fields.SoCMND!);
    if (operation === OPERATIONS.verify) {
      return answerEnvelope(operation, { MaYeuCau: fields.MaYeuCau, MaKetQua: RESULT_OK, MoTa: 'Thành công', TonTai: matches(person, fields) });
    }
    if (!person) {
      return answerEnvelope(operation, { MaYeuCau: fields.MaYeuCau, MaKetQua: RESULT_NOT_FOUND, MoTa: 'Không tìm thấy công dân', CongdanCollection: {} });
    }
    return answerEnvelope(operation, {
      MaYeuCau: fields.MaYeuCau,
      MaKetQua: RESULT_OK,
      MoTa: 'Thành công',
      CongdanCollection: { CongDan: [toWireCitizen(person)] },
    });
  }

  /** The platform's token endpoint: the application's keys in `lgspaccesstoken`, a bearer token back. */
  function issueToken(req: IncomingMessage, res: ServerResponse): void {
    if (req.headers.lgspaccesstoken !== platformToken) return refuse(res, 401, 'Khóa ứng dụng không hợp lệ');
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, Date.now() + tokenLifetimeSeconds * 1000);
    send(res, 200, JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: tokenLifetimeSeconds }), 'application/json; charset=utf-8');
  }

  /** LGSP's JSON wrapper → the SOAP envelope it carries, or undefined when refused (answered). */
  function unwrapLgsp(req: IncomingMessage, text: string, res: ServerResponse): { xml: string; wrapper: Record<string, unknown> } | undefined {
    if (!/^\s*application\/json\b/i.test(req.headers['content-type'] ?? '')) return void refuse(res, 400, 'Content-Type phải là application/json');
    let wrapper: unknown;
    try {
      wrapper = JSON.parse(text);
    } catch {
      return void refuse(res, 400, 'Thân yêu cầu không phải JSON');
    }
    if (!wrapper || typeof wrapper !== 'object' || Array.isArray(wrapper)) return void refuse(res, 400, 'Thân yêu cầu không phải đối tượng JSON');
    const { accessToken, lgspAccessToken: keys, AuthHash, data } = wrapper as Record<string, unknown>;
    const token = typeof accessToken === 'string' && accessToken.startsWith('Bearer ') ? accessToken.slice('Bearer '.length) : undefined;
    const expiry = token === undefined ? undefined : tokens.get(token);
    if (expiry === undefined || expiry <= Date.now()) return void refuse(res, 401, 'accessToken không hợp lệ hoặc đã hết hạn');
    if (keys !== platformToken) return void refuse(res, 401, 'lgspAccessToken không hợp lệ');
    if (AuthHash !== sandboxAuthHash) return void refuse(res, 401, 'AuthHash không hợp lệ');
    if (typeof data !== 'string' || data === '') return void refuse(res, 400, 'Thiếu data');
    return { xml: data, wrapper: wrapper as Record<string, unknown> };
  }

  /** NDXP's client headers: undefined when they hold (the request goes on), else refused (answered). */
  function ndxpRefusal(req: IncomingMessage): string | undefined {
    const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
    if (header(NDXP_HEADERS.client) !== SANDBOX_TRANSPORT.client) return 'X-Road-Client không hợp lệ';
    if (header(NDXP_HEADERS.apiKey) !== SANDBOX_TRANSPORT.apiKey) return 'API key không hợp lệ';
    if (header('authorization') !== sandboxNdxpAuthorization) return 'Thông tin xác thực không hợp lệ';
    const at = Date.parse(header(NDXP_HEADERS.timestamp) ?? '');
    if (!Number.isFinite(at) || Math.abs(at - Date.now()) > NDXP_CLOCK_SKEW_MS) return 'Thời điểm yêu cầu không hợp lệ';
    return undefined;
  }

  const TRANSPORTS: Record<string, TransportMode> = { [DEFAULT_PATHS.direct]: 'direct', [DEFAULT_PATHS.lgsp]: 'lgsp', [DEFAULT_PATHS.ndxp]: 'ndxp' };

  return (req, res) => {
    void (async () => {
      if (await applyFault(deps.faults, 'population', req, res, faultResponses)) return;
      const url = new URL(req.url ?? '/', 'http://population');
      if (url.pathname === DEFAULT_PATHS.token && req.method === 'POST') {
        await readBody(req);
        return issueToken(req, res);
      }
      const transport = TRANSPORTS[url.pathname];
      if (!transport) return send(res, 404, 'Không có dịch vụ này', 'text/plain; charset=utf-8');
      if (req.method === 'GET') {
        if ([...url.searchParams.keys()].some((k) => k.toLowerCase() === 'wsdl')) return send(res, 200, WSDL);
        return send(res, 404, 'Dùng ?wsdl để lấy mô tả dịch vụ', 'text/plain; charset=utf-8');
      }
      if (req.method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        return send(res, 405, 'Phương thức không được hỗ trợ', 'text/plain; charset=utf-8');
      }
      const text = await readBody(req);
      if (text === undefined) return fault(res, 'Client', 'Yêu cầu quá lớn', FAULT_CODES.invalidField);
      let xml = text;
      let wrapper: Record<string, unknown> | undefined;
      if (transport === 'lgsp') {
        const unwrapped = unwrapLgsp(req, text, res);
        if (!unwrapped) return;
        ({ xml, wrapper } = unwrapped);
      } else {
        if (transport === 'ndxp') {
          const refusal = ndxpRefusal(req);
          if (refusal) return refuse(res, 401, refusal);
        }
        if (!/^\s*text\/xml\b/i.test(req.headers['content-type'] ?? '')) {
          return fault(res, 'Client', 'SOAP 1.1 yêu cầu Content-Type text/xml', FAULT_CODES.invalidField);
        }
      }
      // Answers are signed when the request was (always, directly); through a platform, unsigned otherwise.
      const sign = transport === 'direct' || signedRequest(xml);
      const action = req.headers.soapaction;
      const soapAction = typeof action === 'string' && action !== '' ? action.replace(/^"|"$/g, '') : undefined;
      try {
        const body = verified(xml, res, transport);
        if (!body) return;
        const { operation, fields } = readRequest(body);
        options.onRequest?.({ operation, soapAction, fields, xml, transport, headers: req.headers, ...(wrapper ? { wrapper } : {}) });
        checkRequest(operation, fields, soapAction);
        sendEnvelope(res, 200, answer(operation, fields), sign);
      } catch (err) {
        if (err instanceof ClientFault) return fault(res, 'Client', err.message, err.code, sign);
        throw err;
      }
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'population simulator failed');
      if (!res.headersSent) fault(res, 'Server', 'Lỗi hệ thống', FAULT_CODES.systemError);
    });
  };
}
