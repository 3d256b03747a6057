import { GatewayError } from '../../src/errors/gateway-error.ts';
import { mapped } from '../mapping-error.ts';
import {
  RESULT_NOT_FOUND,
  RESULT_OK,
  toCitizenRecord,
  wireLookupAnswer,
  wireVerificationAnswer,
  type LookupRequest,
  type RequestHeader,
} from './mapping.ts';
import type { CitizenRecord } from '../../src/core/citizens-port.ts';

/**
 * The population database's answers and failures → our error catalogue. Its own messages
 * (faultstring, MoTa) never reach the caller: they travel in `cause`, to the log.
 */

/** One answer as it came off the wire, before `soap` parses it. */
export interface RawAnswer {
  /** `wsdl` for the service description (GET), `soap` for an operation (POST). */
  kind: 'wsdl' | 'soap';
  url: string;
  status: number;
  contentType: string;
  body: string;
}

export function badResponse(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `population database: ${detail}`, upstreamFailure: true, cause });
}

function unavailable(detail: string, retryAfterSeconds: number, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_UNAVAILABLE', { detail: `population database: ${detail}`, retryAfter: retryAfterSeconds, upstreamFailure: true, cause });
}

function refusedCredentials(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_AUTH', { detail: `population database: ${detail}`, upstreamFailure: true, cause });
}

/** Socket-level failures, as Node and axios name them (axios keeps the socket's code). */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ERR_NETWORK',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** A failure of the HTTP exchange itself (axios through `soap`): nothing was answered. */
export function fromTransport(err: unknown, retryAfterSeconds: number): GatewayError {
  if (err instanceof GatewayError) return err;
  const codes = errorCodes(err);
  if (codes.some((c) => UNREACHABLE.has(c))) return unavailable('could not be reached', retryAfterSeconds, err);
  // axios's own timeout, a backstop behind the policy's: the policy reports its own timeouts.
  if (codes.includes('ECONNABORTED')) {
    return new GatewayError('UPSTREAM_TIMEOUT', { detail: 'population database: no answer in time', retryAfter: retryAfterSeconds, upstreamFailure: true, cause: err });
  }
  // Abandoned by our own signal: the policy turns this into a timeout or a caller hang-up.
  if (codes.includes('ERR_CANCELED')) return unavailable('the call was abandoned', retryAfterSeconds, err);
  // ERR_BAD_RESPONSE covers maxContentLength being exceeded.
  return badResponse('the answer could not be read', err);
}

const XML_TYPE = /^\s*(text|application)\/(xml|wsdl\+xml)\s*(;|$)/i;
const DOCTYPE = /<!DOCTYPE/i;

/**
 * Checks an answer before it is parsed. A SOAP 1.1 fault comes with HTTP 500 (some servers use
 * 400), so XML at 200, 400 and 500 goes on to the parser, which finds the fault; whether a
 * non-fault answer came with 200 is checked after parsing (see the client).
 */
export function checkRawAnswer(answer: RawAnswer, retryAfterSeconds: number): void {
  const { status, contentType, kind } = answer;
  const xml = XML_TYPE.test(contentType);
  if (status === 401 || status === 403) throw refusedCredentials(`refused the gateway (HTTP ${status})`, new Error(answer.body.slice(0, 200)));
  if (kind === 'wsdl') {
    if (status >= 500 || status === 429) throw unavailable(`the service description answered HTTP ${status}`, retryAfterSeconds, new Error(answer.body.slice(0, 200)));
    if (status !== 200) throw badResponse(`the service description answered HTTP ${status}`);
  } else if (!(xml && (status === 200 || status === 400 || status === 500))) {
    if (status >= 500 || status === 429) throw unavailable(`answered HTTP ${status}`, retryAfterSeconds, new Error(answer.body.slice(0, 200)));
    if (status !== 200) throw badResponse(`answered HTTP ${status}`);
  }
  if (!xml) throw badResponse(`unexpected content type "${contentType.slice(0, 60)}"`);
  // Our parsers must never see a DTD: no entity expansion, no external references.
  if (DOCTYPE.test(answer.body)) throw badResponse('the answer carries a DTD');
}

/** The SOAP Fault inside an error from `soap`, when the answer was a well-formed fault. */
export function faultOf(err: unknown): { code: string; message: string } | undefined {
  if (!(err instanceof Error)) return undefined;
  const fault = (err as { root?: { Envelope?: { Body?: { Fault?: Record<string, unknown> } } } }).root?.Envelope?.Body?.Fault;
  if (!fault) return undefined;
  const text = (v: unknown): string => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { $value?: unknown }).$value === 'string' ? (v as { $value: string }).$value : '');
  return { code: text(fault.faultcode), message: text(fault.faultstring) };
}

/** WS-Security 1.1 fault codes: the database refused the gateway's token or signature. */
const SECURITY_FAULTS = new Set(['FailedAuthentication', 'InvalidSecurity', 'InvalidSecurityToken', 'FailedCheck', 'SecurityTokenUnavailable', 'UnsupportedSecurityToken']);

/**
 * A SOAP 1.1 Fault → our error: `Server` (the database failing) is unavailability; a WS-Security
 * code is our credentials refused; `Client` and anything else means the two sides disagree on
 * the contract, which the caller cannot fix.
 */
export function fromFault(fault: { code: string; message: string }, retryAfterSeconds: number): GatewayError {
  const local = fault.code.slice(fault.code.indexOf(':') + 1);
  const cause = new Error(`SOAP fault ${fault.code}: ${fault.message}`);
  if (/^Server(\.|$)/.test(local)) return unavailable('the database reported a failure', retryAfterSeconds, cause);
  if (SECURITY_FAULTS.has(local)) return refusedCredentials(`refused the gateway's message security (${local})`, cause);
  return badResponse(`refused the request (${fault.code || 'fault without a code'})`, cause);
}

/** Anything a `soap` operation call threw → our error. */
export function fromCallError(err: unknown, retryAfterSeconds: number): GatewayError {
  if (err instanceof GatewayError) return err;
  const fault = faultOf(err);
  if (fault) return fromFault(fault, retryAfterSeconds);
  // `soap` throws `{Fault: {faultstring: 'Invalid XML'}}`-shaped objects for unparseable answers.
  return badResponse('the answer is not a SOAP message the gateway can read', err);
}

function echoed(answer: { MaYeuCau: string }, request: RequestHeader): void {
  // The echo binds the answer to this request; anything else is an answer to someone else.
  if (answer.MaYeuCau !== request.MaYeuCau) throw badResponse('answered another request (MaYeuCau differs)');
}

/** XacThucThongTinCongDan's answer → whether a living person matches every field asked. */
export function readVerification(result: unknown, request: RequestHeader): boolean {
  const parsed = wireVerificationAnswer.safeParse(result);
  if (!parsed.success) throw badResponse('the verification answer does not have the documented shape', parsed.error);
  echoed(parsed.data, request);
  if (parsed.data.MaKetQua === RESULT_NOT_FOUND) return false;
  if (parsed.data.MaKetQua !== RESULT_OK) throw badResponse(`unknown result code ${parsed.data.MaKetQua}`);
  return parsed.data.TonTai;
}

/** TraCuuThongTinCongDan's answer → the citizen, or SUBJECT_NOT_FOUND. */
export function readLookup(result: unknown, request: LookupRequest): CitizenRecord {
  const parsed = wireLookupAnswer.safeParse(result);
  if (!parsed.success) throw badResponse('the lookup answer does not have the documented shape', parsed.error);
  echoed(parsed.data, request);
  const citizens = parsed.data.CongdanCollection?.CongDan ?? [];
  const code = parsed.data.MaKetQua;
  if (code !== RESULT_OK && code !== RESULT_NOT_FOUND) throw badResponse(`unknown result code ${code}`);
  if (citizens.length === 0) {
    throw new GatewayError('SUBJECT_NOT_FOUND', { detail: 'the population database has no citizen with this number' });
  }
  if (code === RESULT_NOT_FOUND) throw badResponse('answered "not found" with a citizen');
  if (citizens.length > 1) throw badResponse(`answered ${citizens.length} citizens for one number`);
  const citizen = citizens[0]!;
  if (citizen.SoDinhDanh !== request.SoDinhDanh) throw badResponse('answered about another citizen than the one asked for');
  return mapped(() => toCitizenRecord(citizen), badResponse);
}
