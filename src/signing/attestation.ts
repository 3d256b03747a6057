import { X509Certificate, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignJWT, calculateJwkThumbprint, decodeProtectedHeader, exportJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Attester } from '../core/citizens.ts';
import type { Credentials, TrustStore } from './trust-store.ts';

export interface AttestationSigner extends Attester {
  /** The public key set agencies use to check attestations (GET /.well-known/jwks.json). */
  jwks(): { keys: JWK[] };
  readonly kid: string;
  readonly alg: string;
}

/** JWS algorithm for a key: Decree 23/2025 asks RSA at least 2048 bits or ECDSA at least 256. */
export function jwsAlgorithm(credentials: Credentials): 'RS256' | 'ES256' {
  const key = credentials.key;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  throw new Error(`signing key must be EC P-256 or RSA-2048+ (got ${key.asymmetricKeyType})`);
}

/**
 * Attestations are compact JWS signed with the gateway's certificate key, carrying the
 * certificate chain in `x5c`, so anyone holding the root can check them offline.
 */
export async function createAttestationSigner(credentials: Credentials, options: { issuer: string }): Promise<AttestationSigner> {
  const alg = jwsAlgorithm(credentials);
  const x5c = [credentials.certificate, ...credentials.chain].map((c) => c.raw.toString('base64'));
  const publicJwk = await exportJWK(credentials.certificate.publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwk: JWK = { ...publicJwk, kid, alg, use: 'sig', x5c };
  return {
    kid,
    alg,
    jwks: () => ({ keys: [jwk] }),
    attest: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid, x5c, typ: 'JWT' }).setIssuer(options.issuer).setIssuedAt().sign(credentials.key),
  };
}

/**
 * The secret for keyed hashes of personal identifiers (HMAC-SHA-256). Where the file is missing
 * and `create` is set (development and the sandbox), 32 random bytes are written there once.
 */
export function loadHashKey(path: string, options: { create: boolean }): Buffer {
  if (!existsSync(path)) {
    if (!options.create) throw new Error(`${path} does not exist`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  }
  const text = readFileSync(path, 'utf8').trim();
  const key = /^[0-9a-f]+$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length < 32) throw new Error(`${path} must hold at least 32 bytes (hex or base64)`);
  return key;
}

/** A keyed hash of an identifier: the same person gives the same value, and nobody can reverse it without the key. */
export function createSubjectHasher(key: Buffer): (identifier: string) => string {
  return (identifier) => createHmac('sha256', key).update(identifier, 'utf8').digest('hex');
}

/**
 * What a keyed digest is for. Each purpose has its own key, derived from the privacy key with
 * HKDF-SHA-256 (`info` = `lienthong digest <purpose>`), so a digest made for one purpose can
 * never be matched against another's, and none of them is a subject hash.
 */
export type DigestPurpose = 'exchange-bodies' | 'dossier-content' | 'idempotency-request' | 'document-link';

/** A keyed digest (HMAC-SHA-256, hex) of data that may carry personal data. */
export type KeyedDigest = (data: string | Uint8Array) => string;

export function deriveDigestKey(masterKey: Buffer, purpose: DigestPurpose): Buffer {
  if (masterKey.length < 32) throw new RangeError('the privacy key must hold at least 32 bytes');
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `lienthong digest ${purpose}`, 32));
}

/**
 * A plain SHA-256 of a request whose only secret is an ID number is reversed by trying every
 * number (a few seconds); without the key, this digest cannot even be confirmed for a guess.
 */
export function createKeyedDigest(masterKey: Buffer, purpose: DigestPurpose): KeyedDigest {
  const key = deriveDigestKey(masterKey, purpose);
  return (data) => createHmac('sha256', key).update(data).digest('hex');
}

/**
 * Checks an attestation as an agency would, holding only the root certificate: the `x5c` chain
 * must lead to the root, then the signature must verify with the leaf's key.
 */
export async function verifyAttestation(jws: string, trust: TrustStore, options: { issuer?: string } = {}): Promise<JWTPayload> {
  const header = decodeProtectedHeader(jws);
  if (!Array.isArray(header.x5c) || header.x5c.length === 0) throw new Error('the attestation carries no x5c chain');
  const [leaf, ...chain] = header.x5c.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
  trust.verify(leaf!, { chain });
  const { payload } = await jwtVerify(jws, leaf!.publicKey, { algorithms: ['RS256', 'ES256'], ...(options.issuer ? { issuer: options.issuer } : {}) });
  return payload;
}
