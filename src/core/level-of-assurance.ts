import { GatewayError } from '../errors/gateway-error.ts';

/**
 * The level of assurance a national sign-on reached (the ID token's `acr`), when it is one the
 * gateway accepts (`sso.acrValues`). The ID token is signed by the national service, so its
 * `acr` is the service's word; `acr_values` in the request is only a wish the service may not
 * honour. A sign-on without `acr`, or at another level, is refused: 422 VERIFICATION_MISMATCH,
 * the level reached and the levels accepted as problem members.
 */
export function requireAssurance(acr: unknown, accepted: readonly string[]): string {
  if (typeof acr === 'string' && accepted.includes(acr)) return acr;
  const reached = typeof acr === 'string' && acr.length > 0 ? acr.slice(0, 200) : null;
  throw new GatewayError('VERIFICATION_MISMATCH', {
    detail: reached
      ? `national sign-on: the person signed in at level of assurance ${reached}; the gateway accepts only ${accepted.join(', ')} (sso.acrValues); nothing was linked`
      : `national sign-on: the ID token names no level of assurance (acr); the gateway accepts only ${accepted.join(', ')} (sso.acrValues); nothing was linked`,
    extensions: { acr: reached, acrValues: [...accepted] },
  });
}
