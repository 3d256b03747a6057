import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamResponse } from '../../src/resilience/upstream-http.ts';
import { decodeAnswer, type AnswerVerifier } from './jws-answer.ts';
import { isSuccessCode, RESULT_CODES, wireAnswer, type WireInsured, type WireRequest } from './inferred.ts';

export function badResponse(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `social insurance: ${detail}`, upstreamFailure: true, cause });
}

function refusedCredentials(cause: unknown): GatewayError {
  return new GatewayError('UPSTREAM_AUTH', { detail: 'social insurance refused the calling agency', upstreamFailure: true, cause });
}

export interface AnswerOptions {
  retryAfterSeconds: number;
  /** Every answer goes through it: there is no unverified path. */
  verify: AnswerVerifier;
}

/**
 * Turns the system's answer to `request` into its record or into one of our errors. The
 * system's own messages never reach the caller: they go to the log through `cause`.
 */
export async function interpretAnswer(response: UpstreamResponse, request: WireRequest, options: AnswerOptions): Promise<WireInsured> {
  // Failures come as plain JSON (not signed); whatever the body, the system is failing.
  if (response.status >= 500 || response.status === 429) {
    throw new GatewayError('UPSTREAM_UNAVAILABLE', {
      detail: 'social insurance is failing',
      retryAfter: options.retryAfterSeconds,
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}: ${response.body.subarray(0, 200).toString('utf8')}`),
    });
  }
  if (response.status === 401 || response.status === 403) throw refusedCredentials(new Error(`HTTP ${response.status}`));

  const contentType = String(response.headers['content-type'] ?? '');
  if (!/^application\/jose\s*(;|$)/i.test(contentType)) {
    // An answer in plain JSON is an unsigned answer, whatever it says.
    if (response.status === 200 && /^application\/json\s*(;|$)/i.test(contentType)) {
      throw new GatewayError('UPSTREAM_SIGNATURE_INVALID', { detail: 'social insurance: the answer is not signed (plain JSON)', upstreamFailure: true });
    }
    throw badResponse(`unexpected content type "${contentType.slice(0, 60)}"`);
  }

  const payload = await decodeAnswer(response.body.toString('utf8'), options.verify);
  const parsed = wireAnswer.safeParse(payload);
  if (!parsed.success) throw badResponse('the answer does not have the documented shape', parsed.error);
  const answer = parsed.data;

  if (answer.maLoi === RESULT_CODES.agencyNotAllowed) throw refusedCredentials(new Error(`code ${answer.maLoi}: ${answer.moTa ?? ''}`));
  // A signed answer made for another request (a replay, a mixed-up connection) says nothing about this one.
  if (answer.maYeuCau !== request.maYeuCau) throw badResponse('the answer is not about this request (maYeuCau differs)');
  if (response.status === 200 && answer.maLoi === RESULT_CODES.notFound) {
    throw new GatewayError('SUBJECT_NOT_FOUND', { detail: 'social insurance has no participant with this code or ID number' });
  }
  if (response.status !== 200 || !isSuccessCode(answer.maLoi) || !answer.duLieu) {
    throw badResponse(`refused the request (HTTP ${response.status}, code ${answer.maLoi.slice(0, 10)})`);
  }
  const record = answer.duLieu;
  const sameSubject = request.maSoBhxh !== undefined ? record.maSoBhxh === request.maSoBhxh : record.soDinhDanh === request.soDinhDanh;
  if (!sameSubject) throw badResponse('answered about another participant than the one asked for');
  return record;
}
