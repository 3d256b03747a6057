import { base64url, decodeProtectedHeader } from 'jose';
import { GatewayError, isGatewayError } from '../../src/errors/gateway-error.ts';

/**
 * The one place where the system's answers are opened. Everything the client reads from a
 * signed answer comes out of `decodeAnswer`, so signature verification, when configured, cannot
 * be bypassed by another code path.
 */

/**
 * Asymmetric algorithms only: with an HMAC algorithm a forger could sign with the public key as
 * the secret, and `none` is no signature at all.
 */
export const ALLOWED_ALGORITHMS: readonly string[] = ['ES256', 'PS256', 'RS256'];

/**
 * Checks a compact JWS against the trust store and returns the payload bytes it vouches for; it
 * throws when the signature, the key or its certificate is not acceptable. A GatewayError it
 * throws is passed on as is; any other error becomes UPSTREAM_BAD_RESPONSE.
 */
export type AnswerVerifier = (compact: string) => Promise<Uint8Array>;

const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function bad(detail: string, cause?: unknown): GatewayError {
  return new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `social insurance: ${detail}`, upstreamFailure: true, cause });
}

/**
 * Opens a compact JWS answer and returns its JSON payload. Checks the shape, the protected
 * header and the algorithm allow-list; then verifies the signature with `verify` when one is
 * given, and otherwise only decodes the payload (see README.md: until the trust store is wired
 * in, a wrongly signed answer is read, not refused).
 */
export async function decodeAnswer(raw: string, verify?: AnswerVerifier): Promise<Record<string, unknown>> {
  const compact = raw.trim();
  const parts = COMPACT_JWS.exec(compact);
  if (!parts) throw bad('the answer is not a compact JWS');

  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(compact) as Record<string, unknown>;
  } catch (err) {
    throw bad('the protected header is not base64url-encoded JSON', err);
  }
  const alg = header.alg;
  if (typeof alg !== 'string') throw bad('the protected header names no algorithm');
  if (!ALLOWED_ALGORITHMS.includes(alg)) throw bad(`the answer is signed with a refused algorithm "${alg.slice(0, 20)}"`);
  // Critical extensions change how the signature must be read; this system has no use for any.
  if (header.crit !== undefined) throw bad('the protected header has critical extensions');
  if (parts[3] === '') throw bad('the answer carries no signature');

  let payload: Uint8Array;
  if (verify) {
    try {
      payload = await verify(compact);
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw bad('the signature of the answer does not verify', err);
    }
  } else {
    try {
      payload = base64url.decode(parts[2]!);
    } catch (err) {
      throw bad('the payload is not base64url', err);
    }
  }

  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(payload));
  } catch (err) {
    throw bad('the payload is not UTF-8 JSON', err);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('the payload is not a JSON object');
  return json as Record<string, unknown>;
}
