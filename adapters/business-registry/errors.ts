import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamResponse } from '../../src/resilience/upstream-http.ts';
import { isSuccessCode, NOT_FOUND_CODE, wireAnswer, type WireEnterprise } from './inferred.ts';

export function badResponse(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `business registry: ${detail}`, upstreamFailure: true, cause });
}

/**
 * Turns the registry's answer into its record or into one of our errors. The registry's own
 * messages never reach the caller: they go to the log through `cause`.
 */
export function interpretAnswer(response: UpstreamResponse, requestedCode: string, retryAfterSeconds: number): WireEnterprise {
  if (response.status >= 500 || response.status === 429) {
    throw new GatewayError('UPSTREAM_UNAVAILABLE', {
      detail: 'the business registry is failing',
      retryAfter: retryAfterSeconds,
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}: ${response.body.subarray(0, 200).toString('utf8')}`),
    });
  }
  if (response.status === 401 || response.status === 403) {
    // The registry refused the gateway itself (its signature or certificate): a misconfiguration, not an answer about a subject.
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: "the business registry refused the gateway's signature or certificate",
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}: ${response.body.subarray(0, 200).toString('utf8')}`),
    });
  }
  const contentType = String(response.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(contentType)) throw badResponse(`unexpected content type "${contentType.slice(0, 60)}"`);
  let json: unknown;
  try {
    json = JSON.parse(response.body.toString('utf8'));
  } catch (err) {
    throw badResponse('the answer is not JSON', err);
  }
  const parsed = wireAnswer.safeParse(json);
  if (!parsed.success) throw badResponse('the answer does not have the documented shape', parsed.error);
  const answer = parsed.data;
  if (response.status === 404 && answer.MaLoi === NOT_FOUND_CODE) {
    throw new GatewayError('SUBJECT_NOT_FOUND', { detail: 'the business registry has no enterprise with this code' });
  }
  if (response.status !== 200 || !isSuccessCode(answer.MaLoi) || !answer.DuLieu) {
    throw badResponse(`refused the request (HTTP ${response.status}, code ${answer.MaLoi})`);
  }
  if (answer.DuLieu.MaSoDoanhNghiep !== requestedCode) throw badResponse('answered about another enterprise than the one asked for');
  return answer.DuLieu;
}
