import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { GatewayError, isGatewayError } from '../../src/errors/gateway-error.ts';
import type { ErrorCode } from '../../src/errors/codes.ts';
import { jwsAlgorithm } from '../../src/signing/attestation.ts';
import type { Credentials } from '../../src/signing/trust-store.ts';

/**
 * The signed envelope both directions use (README.md, "Signatures"): a compact JWS whose
 * protected header names the signer's certificate chain in `x5c`, its key by `kid`, and an
 * asymmetric algorithm. Requests and answers are opened by `openJws`, so a message is never read
 * before its signature and its signer's certificate have been checked.
 */

/**
 * Asymmetric algorithms only: with an HMAC algorithm a forger could sign with the public key as
 * the secret, and `none` is no signature at all.
 */
export const ALLOWED_ALGORITHMS: readonly string[] = ['ES256', 'PS256', 'RS256'];

/**
 * Checks a compact JWS and returns the payload bytes it vouches for, or throws why not. Only the
 * bytes it returns are ever parsed.
 */
export type JwsVerifier = (compact: string) => Promise<Uint8Array>;

/** Accepts the signer's certificate (chain, dates, revocation, name) or throws why not. */
export type CertificateCheck = (leaf: X509Certificate, chain: X509Certificate[]) => void;

const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Leaf and intermediates; a longer chain is not one the national PKI issues. */
const MAX_CHAIN = 5;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function refused(code: ErrorCode, detail: string, cause?: unknown): GatewayError {
  return new GatewayError(code, { detail: `social insurance: ${detail}`, upstreamFailure: true, cause });
}

/** The `kid` both sides use: base64url SHA-256 of the certificate's DER (the same value as `x5t#S256`). */
export function certificateThumbprint(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

/** Signs a payload as a compact JWS with these credentials. */
export type JwsSigner = (payload: string | Uint8Array) => Promise<string>;

/**
 * A signer for one key and certificate: ES256 for a P-256 key, RS256 for RSA-2048 or more. The
 * protected header (with the chain in `x5c`, standard base64 DER, leaf first) is built once.
 */
export function createJwsSigner(credentials: Credentials): JwsSigner {
  const header = {
    alg: jwsAlgorithm(credentials),
    kid: certificateThumbprint(credentials.certificate),
    x5c: [credentials.certificate, ...credentials.chain].map((c) => c.raw.toString('base64')),
  };
  const encoder = new TextEncoder();
  return (payload) => new CompactSign(typeof payload === 'string' ? encoder.encode(payload) : payload).setProtectedHeader(header).sign(credentials.key);
}

interface ParsedCertificate {
  certificate: X509Certificate;
  publicKey: KeyObject;
  thumbprint: string;
}

/**
 * Verifies compact JWS signed with a certificate carried in `x5c`: the chain must satisfy `check`,
 * a `kid` (and `x5t#S256`) must name the leaf, and the signature must verify with the leaf's key.
 * Parsed certificates are kept (by their base64 text) so a steady peer costs one parse.
 */
export function createX5cVerifier(check: CertificateCheck, options: { cacheSize?: number } = {}): JwsVerifier {
  const cacheSize = options.cacheSize ?? 32;
  const parsed = new Map<string, ParsedCertificate>();

  const certificateOf = (entry: unknown): ParsedCertificate => {
    const hit = typeof entry === 'string' ? parsed.get(entry) : undefined;
    if (hit) return hit;
    if (typeof entry !== 'string' || !BASE64.test(entry)) throw refused('UPSTREAM_CERT_UNTRUSTED', 'an x5c entry is not base64 text');
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(Buffer.from(entry, 'base64'));
    } catch (err) {
      throw refused('UPSTREAM_CERT_UNTRUSTED', 'an x5c entry is not a DER certificate', err);
    }
    const value = { certificate, publicKey: certificate.publicKey, thumbprint: certificateThumbprint(certificate) };
    // Oldest first out: a peer renewing its certificate does not grow the map forever.
    if (parsed.size >= cacheSize) parsed.delete(parsed.keys().next().value!);
    parsed.set(entry, value);
    return value;
  };

  return async (compact) => {
    const header = decodeProtectedHeader(compact) as Record<string, unknown>;
    const x5c = header.x5c;
    if (!Array.isArray(x5c) || x5c.length === 0) throw refused('UPSTREAM_SIGNATURE_INVALID', 'the signature names no certificate (x5c)');
    if (x5c.length > MAX_CHAIN) throw refused('UPSTREAM_CERT_UNTRUSTED', `the x5c chain has ${x5c.length} certificates`);
    const [leaf, ...chain] = x5c.map(certificateOf) as [ParsedCertificate, ...ParsedCertificate[]];
    try {
      check(
        leaf.certificate,
        chain.map((c) => c.certificate),
      );
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw refused('UPSTREAM_CERT_UNTRUSTED', 'the signing certificate could not be checked', err);
    }
    if (header.kid !== undefined && header.kid !== leaf.thumbprint) throw refused('UPSTREAM_SIGNATURE_INVALID', 'the kid does not name the x5c certificate');
    if (header['x5t#S256'] !== undefined && header['x5t#S256'] !== leaf.thumbprint) {
      throw refused('UPSTREAM_SIGNATURE_INVALID', 'the x5t#S256 does not name the x5c certificate');
    }
    try {
      return (await compactVerify(compact, leaf.publicKey, { algorithms: [...ALLOWED_ALGORITHMS] })).payload;
    } catch (err) {
      throw refused('UPSTREAM_SIGNATURE_INVALID', 'the signature does not verify with the x5c certificate', err);
    }
  };
}

/**
 * Opens a compact JWS and returns its JSON payload: a body that is not a compact JWS is a bad
 * response; an unsigned one (`alg: none`, no signature), a refused algorithm or critical
 * extensions are an invalid signature; then `verify` decides, and only the bytes it returns are
 * parsed. A GatewayError from `verify` passes as is; any other error is an invalid signature.
 */
export async function openJws(raw: string, verify: JwsVerifier): Promise<Record<string, unknown>> {
  const compact = raw.trim();
  const parts = COMPACT_JWS.exec(compact);
  if (!parts) throw refused('UPSTREAM_BAD_RESPONSE', 'the message is not a compact JWS');

  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(compact) as Record<string, unknown>;
  } catch (err) {
    throw refused('UPSTREAM_BAD_RESPONSE', 'the protected header is not base64url-encoded JSON', err);
  }
  const alg = header.alg;
  if (typeof alg !== 'string') throw refused('UPSTREAM_SIGNATURE_INVALID', 'the protected header names no algorithm');
  if (alg.toLowerCase() === 'none') throw refused('UPSTREAM_SIGNATURE_INVALID', 'the message is not signed (alg "none")');
  if (!ALLOWED_ALGORITHMS.includes(alg)) throw refused('UPSTREAM_SIGNATURE_INVALID', `the message is signed with a refused algorithm "${alg.slice(0, 20)}"`);
  // Critical extensions change how the signature must be read; this system has no use for any.
  if (header.crit !== undefined) throw refused('UPSTREAM_SIGNATURE_INVALID', 'the protected header has critical extensions');
  if (parts[3] === '') throw refused('UPSTREAM_SIGNATURE_INVALID', 'the message carries no signature');

  let payload: Uint8Array;
  try {
    payload = await verify(compact);
  } catch (err) {
    if (isGatewayError(err)) throw err;
    throw refused('UPSTREAM_SIGNATURE_INVALID', 'the signature does not verify', err);
  }

  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(payload));
  } catch (err) {
    throw refused('UPSTREAM_BAD_RESPONSE', 'the payload is not UTF-8 JSON', err);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw refused('UPSTREAM_BAD_RESPONSE', 'the payload is not a JSON object');
  return json as Record<string, unknown>;
}
