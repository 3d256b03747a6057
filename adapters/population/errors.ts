import { GatewayError } from '../../src/errors/gateway-error.ts';
import { mapped } from '../mapping-error.ts';
import type { Element } from '@xmldom/xmldom';
import {
  readBody,
  RESULT_NOT_FOUND,
  RESULT_OK,
  toCitizenRecord,
  type Operation,
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

/** One operation answer as it came off the wire, before anything in it is read. */
export interface RawAnswer {
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

const XML_TYPE = /^\s*(text|application)\/xml\s*(;|$)/i;
const DOCTYPE = /<!DOCTYPE/i;

/**
 * Checks an answer before it is parsed. A SOAP 1.1 fault comes with HTTP 500 (some servers use
 * 400), so XML at 200, 400 and 500 goes on to verification, which finds the fault; whether a
 * non-fault answer came with 200 is checked once its Body is verified (see the client).
 */
export function checkRawAnswer(answer: RawAnswer, retryAfterSeconds: number): void {
  const { status, contentType } = answer;
  const xml = XML_TYPE.test(contentType);
  if (status === 401 || status === 403) throw refusedCredentials(`refused the gateway (HTTP ${status})`, new Error(answer.body.slice(0, 200)));
  if (!(xml && (status === 200 || status === 400 || status === 500))) {
    if (status >= 500 || status === 429) throw unavailable(`answered HTTP ${status}`, retryAfterSeconds, new Error(answer.body.slice(0, 200)));
    if (status !== 200) throw badResponse(`answered HTTP ${status}`);
  }
  if (!xml) throw badResponse(`unexpected content type "${contentType.slice(0, 60)}"`);
  // Our parsers must never see a DTD: no entity expansion, no external references.
  if (DOCTYPE.test(answer.body)) throw badResponse('the answer carries a DTD');
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

/**
 * The verified Body of an answer → the operation's answer as a plain object, or the error its
 * Fault stands for. A non-fault answer must have come with HTTP 200.
 */
export function readVerifiedBody(body: Element, operation: Operation, status: number, retryAfterSeconds: number): Record<string, unknown> {
  const content = mapped(() => readBody(body, operation), badResponse);
  if (content.kind === 'fault') throw fromFault(content, retryAfterSeconds);
  if (status !== 200) throw badResponse(`answered HTTP ${status} without a SOAP fault`);
  return content.answer;
}

function echoed(answer: { MaYeuCau: string }, request: RequestHeader): void {
  // The echo binds the answer to this request; anything else is an answer to someone else.
  if (answer.MaYeuCau !== request.MaYeuCau) throw badResponse('answered another request (MaYeuCau differs)');
}

/** XacThucThongTinCongDan's answer (read from the verified Body) → whether a living person matches every field asked. */
export function readVerification(result: unknown, request: RequestHeader): boolean {
  const parsed = wireVerificationAnswer.safeParse(result);
  if (!parsed.success) throw badResponse('the verification answer does not have the documented shape', parsed.error);
  echoed(parsed.data, request);
  if (parsed.data.MaKetQua === RESULT_NOT_FOUND) return false;
  if (parsed.data.MaKetQua !== RESULT_OK) throw badResponse(`unknown result code ${parsed.data.MaKetQua}`);
  return parsed.data.TonTai;
}

/** TraCuuThongTinCongDan's answer (read from the verified Body) → the citizen, or SUBJECT_NOT_FOUND. */
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
  // Asked by old card number, the citizen must hold that card; asked by ID number, that number.
  const answersTheQuestion = request.SoCMND !== undefined ? citizen.SoCMND === request.SoCMND : citizen.SoDinhDanh === request.SoDinhDanh;
  if (!answersTheQuestion) throw badResponse('answered about another citizen than the one asked for');
  return mapped(() => toCitizenRecord(citizen), badResponse);
}
