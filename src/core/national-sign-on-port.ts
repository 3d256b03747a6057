import type { CallContext } from './ports.ts';

/** The national account that signed in, as the gateway understands it. */
export interface NationalAccount {
  /** The stable national account id (`sub`, the same as `TechID`). */
  sub: string;
  accountType: 'person' | 'organization';
  /** The person's ID number (`SoDinhDanh`); for an organisation, its representative's. */
  idNumber: string | null;
  /** The organisation's enterprise code (`MaSoDoanhNghiep`); null for a person. */
  enterpriseCode: string | null;
  fullName: string;
  /** yyyy-MM-dd, for a person. */
  dateOfBirth: string | null;
}

/** One authorization request: what the gateway keeps to check the answer (RFC 7636 PKCE, OIDC state and nonce). */
export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
  /** The levels of assurance asked for (`acr_values`), in order of preference. */
  acrValues: readonly string[];
}

/** A completed sign-on: who, and at which level of assurance (the ID token's `acr`). */
export interface SignOnResult {
  account: NationalAccount;
  acr: string;
}

/**
 * Port: national single sign-on (OpenID Connect, authorization code with PKCE).
 * - `authorizationUrl`: where to send the browser.
 * - `complete`: exchanges the code of the callback URL, checks the ID token (issuer, audience,
 *   signature, expiry, nonce, and that its `acr` is one of `acrValues`: requireAssurance) and
 *   only then reads the account from userinfo. A refused code, a wrong state, nonce or issuer,
 *   a missing or other level of assurance is VERIFICATION_MISMATCH; a bad signature
 *   UPSTREAM_SIGNATURE_INVALID.
 */
export interface NationalSignOn {
  authorizationUrl(ctx: CallContext, request: AuthorizationRequest): Promise<string>;
  complete(ctx: CallContext, request: { callbackUrl: URL; redirectUri: string; state: string; nonce: string; codeVerifier: string; acrValues: readonly string[] }): Promise<SignOnResult>;
}
