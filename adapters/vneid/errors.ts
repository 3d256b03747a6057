import { AuthorizationResponseError, ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';
import { GatewayError, isGatewayError } from '../../src/errors/gateway-error.ts';

export function badResponse(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `national sign-on: ${detail}`, upstreamFailure: true, cause });
}

/** What the callback carries or the code exchange says that the gateway must not accept: not the service failing. */
function refused(detail: string, cause: unknown): GatewayError {
  return new GatewayError('VERIFICATION_MISMATCH', { detail: `national sign-on: ${detail}`, cause });
}

/**
 * Turns what openid-client throws into our errors. Checks that fail on what the browser brought
 * back (state, issuer, a code the service refuses, the nonce in the ID token) are the caller's
 * problem: 422, and the breaker does not count them. A signature that does not verify, an
 * answer that is not OAuth, or no answer are the service's: 502/503.
 */
export function toGatewayError(err: unknown, retryAfterSeconds: number): GatewayError {
  if (isGatewayError(err)) return err;
  if (err instanceof AuthorizationResponseError) return refused(`the sign-on was not completed (${err.error})`, err);
  if (err instanceof ResponseBodyError) {
    if (err.status >= 500) return new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'national sign-on is failing', retryAfter: retryAfterSeconds, upstreamFailure: true, cause: err });
    if (err.error === 'invalid_client' || err.error === 'unauthorized_client') {
      return new GatewayError('UPSTREAM_AUTH', { detail: "national sign-on refused the gateway's client credentials", upstreamFailure: true, cause: err });
    }
    return refused(`the authorization code was refused (${err.error}): it is unknown, expired, already used or not issued for this sign-on`, err);
  }
  if (err instanceof WWWAuthenticateChallengeError) {
    // 401 with a challenge: the client credentials (token endpoint) or the access token (userinfo) refused.
    if (err.status === 401) return new GatewayError('UPSTREAM_AUTH', { detail: "national sign-on refused the gateway's client credentials or token", upstreamFailure: true, cause: err });
    return badResponse(`HTTP ${err.status} with a WWW-Authenticate challenge`, err);
  }
  if (err instanceof ClientError) {
    const inner = err.cause as { message?: string; code?: string; cause?: { claim?: string; attribute?: string } } | undefined;
    const what = inner?.cause?.claim ?? inner?.cause?.attribute;
    switch (err.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        return refused(`${inner?.message ?? err.message}${what ? ` (${what})` : ''}`, err);
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return refused(`the ID token is expired or not yet valid: ${inner?.message ?? ''}`, err);
      case 'OAUTH_INVALID_RESPONSE':
        // The authorization response is what the browser brought back (its iss, state, code).
        if (/response parameter/i.test(inner?.message ?? '')) return refused(inner!.message!, err);
        if (/signature/i.test(inner?.message ?? '')) {
          return new GatewayError('UPSTREAM_SIGNATURE_INVALID', { detail: "national sign-on: the ID token's signature does not verify", upstreamFailure: true, cause: err });
        }
        return badResponse(inner?.message ?? 'invalid response', err);
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
        return new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'national sign-on answered with an unexpected status', retryAfter: retryAfterSeconds, upstreamFailure: true, cause: err });
      default:
        return badResponse(err.message, err);
    }
  }
  if (err instanceof TypeError) {
    return new GatewayError('UPSTREAM_UNAVAILABLE', { detail: 'national sign-on cannot be reached', retryAfter: retryAfterSeconds, upstreamFailure: true, cause: err });
  }
  return badResponse('unexpected failure', err);
}
