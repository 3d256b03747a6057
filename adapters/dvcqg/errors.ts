import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { UpstreamResponse } from '../../src/resilience/upstream-http.ts';
import { isSuccessCode, wireLoginAnswer, wireServiceAnswer } from './mapping.ts';

/** The portal's `error_code` values (inferred, see README.md). "0" and "00" are success. */
export const WIRE_CODES = {
  /** Login refused: wrong user name or password. */
  loginRefused: '1',
  /** The request's signature or certificate is refused (HTTP 401), on any endpoint. */
  signatureRefused: '2',
  /** The request lacks a field or names no known service. */
  badRequest: '400',
  /** The session token is unknown or has expired: log in again. */
  sessionExpired: '401',
  /** The account may not act for this `madonvi`. */
  agencyRefused: '403',
  /** Not found (inferred): the sources show a missing dossier or procedure as an empty `result`; kept for older answers. */
  notFound: '404',
  /** The portal's own failure (HTTP 500). */
  systemError: '500',
} as const;

/**
 * What a service call came to, short of an error the caller sees. `result` is the answer's
 * `result` as sent (undefined when absent: the dossier services send none); `already-held` is a
 * creation refused because the portal holds the dossier already ("đã tồn tại").
 */
export type ServiceOutcome = { kind: 'ok'; result: unknown } | { kind: 'session-expired' } | { kind: 'not-found' } | { kind: 'already-held' };

/** The words the portal's message carries when a dossier sent as new is one it holds already. */
const ALREADY_HELD = 'đã tồn tại';

export function badResponse(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `national portal: ${detail}`, upstreamFailure: true, cause });
}

/** The portal's text goes to the log (through `cause`), never to the caller. */
function wireCause(status: number, code: string, message: string | null | undefined): Error {
  return new Error(`HTTP ${status}, error_code ${code}: ${(message ?? '').slice(0, 200)}`);
}

function readJson(response: UpstreamResponse, retryAfterSeconds: number): unknown {
  if (response.status >= 500 || response.status === 429) {
    throw new GatewayError('UPSTREAM_UNAVAILABLE', {
      detail: 'the national public-service portal is failing',
      retryAfter: retryAfterSeconds,
      upstreamFailure: true,
      cause: new Error(`HTTP ${response.status}: ${response.body.subarray(0, 200).toString('utf8')}`),
    });
  }
  const contentType = String(response.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(contentType)) throw badResponse(`unexpected content type "${contentType.slice(0, 60)}"`);
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch (err) {
    throw badResponse('the answer is not JSON', err);
  }
}

/** The portal refused the gateway's signature or certificate: the gateway's misconfiguration, counted against the breaker. */
function throwIfSignatureRefused(status: number, code: string, message: string | null | undefined): void {
  if (code === WIRE_CODES.signatureRefused && (status === 200 || status === 401)) {
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: "the national public-service portal refused the gateway's signature or certificate",
      upstreamFailure: true,
      cause: wireCause(status, code, message),
    });
  }
}

/**
 * The login answer: the session token, or UPSTREAM_AUTH when the portal refuses the gateway's
 * account. That is the gateway's misconfiguration, not a business answer about a subject, so it
 * counts against the breaker.
 */
export function interpretLoginAnswer(response: UpstreamResponse, retryAfterSeconds: number): string {
  const parsed = wireLoginAnswer.safeParse(readJson(response, retryAfterSeconds));
  if (!parsed.success) throw badResponse('the login answer does not have the documented shape', parsed.error);
  const answer = parsed.data;
  throwIfSignatureRefused(response.status, answer.error_code, answer.message);
  if (answer.error_code === WIRE_CODES.loginRefused && (response.status === 200 || response.status === 401)) {
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: "the national public-service portal refused the gateway's account",
      upstreamFailure: true,
      cause: wireCause(response.status, answer.error_code, answer.message),
    });
  }
  if (answer.error_code === WIRE_CODES.agencyRefused && (response.status === 200 || response.status === 403)) {
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: "the national public-service portal refused the gateway's agency code",
      upstreamFailure: true,
      cause: wireCause(response.status, answer.error_code, answer.message),
    });
  }
  if (response.status !== 200 || !isSuccessCode(answer.error_code) || !answer.session) {
    throw badResponse(`refused the login (HTTP ${response.status}, code ${answer.error_code})`, wireCause(response.status, answer.error_code, answer.message));
  }
  return answer.session;
}

/**
 * A service answer: its data, or the two outcomes the client handles itself (an expired session
 * is retried after a new login; "not found" means something only to the service that was asked).
 * With `itemRefusals` (the dossier deliveries), a refusal as invalid (error_code 400) is the
 * portal's answer about the item sent, a permanent one; elsewhere it is a bad response like any.
 */
export function interpretServiceAnswer(response: UpstreamResponse, retryAfterSeconds: number, options: { itemRefusals?: boolean } = {}): ServiceOutcome {
  const parsed = wireServiceAnswer.safeParse(readJson(response, retryAfterSeconds));
  if (!parsed.success) throw badResponse('the answer does not have the documented shape', parsed.error);
  const answer = parsed.data;
  const code = answer.error_code;
  throwIfSignatureRefused(response.status, code, answer.message);
  if (response.status === 200 && isSuccessCode(code)) return { kind: 'ok', result: answer.result ?? undefined };
  if (code === WIRE_CODES.sessionExpired && (response.status === 200 || response.status === 401)) return { kind: 'session-expired' };
  if (code === WIRE_CODES.notFound && (response.status === 200 || response.status === 404)) return { kind: 'not-found' };
  if (code === WIRE_CODES.agencyRefused && (response.status === 200 || response.status === 403)) {
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: "the national public-service portal refused the gateway's agency code",
      upstreamFailure: true,
      cause: wireCause(response.status, code, answer.message),
    });
  }
  if (options.itemRefusals && response.status === 200 && (answer.message ?? '').normalize('NFC').toLowerCase().includes(ALREADY_HELD)) return { kind: 'already-held' };
  if (options.itemRefusals && code === WIRE_CODES.badRequest && (response.status === 200 || response.status === 400)) throw refusedAsInvalid(response.status, answer.message);
  throw badResponse(`refused the request (HTTP ${response.status}, code ${code})`, wireCause(response.status, code, answer.message));
}

/**
 * The portal refused a dossier item as invalid (error_code 400: a field missing or not accepted,
 * an unknown procedure). Sent again unchanged it is refused again, so it is permanent (the outbox
 * gives such a delivery up at once); the portal answered, so it does not count against the
 * breaker. Its message is kept for operators (`upstreamReason`), never for a problem body.
 */
function refusedAsInvalid(status: number, message: string | null | undefined): GatewayError {
  const reason = (message ?? '').replace(/\s+/g, ' ').trim().slice(0, 200);
  return new GatewayError('UPSTREAM_BAD_RESPONSE', {
    detail: `national portal: refused the item as invalid (HTTP ${status}, code ${WIRE_CODES.badRequest})`,
    permanent: true,
    upstreamReason: reason ? `${WIRE_CODES.badRequest} ${reason}` : WIRE_CODES.badRequest,
    cause: wireCause(status, WIRE_CODES.badRequest, message),
  });
}
