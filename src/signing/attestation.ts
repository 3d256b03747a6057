import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { Attester } from '../core/citizens.ts';

export interface AttestationSigner extends Attester {
  /** The public key set agencies use to check attestations (GET /.well-known/jwks.json). */
  jwks(): { keys: JWK[] };
  readonly kid: string;
  readonly alg: string;
}

function algorithmOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  // Decree 23/2025: RSA at least 2048 bits or ECDSA at least 256 bits.
  throw new Error(`attestation key must be EC P-256, RSA-2048+ or Ed25519 (got ${key.asymmetricKeyType})`);
}

/**
 * Reads the gateway's attestation key (PKCS#8 PEM). Where it is missing and `create` is set
 * (development and the sandbox), an EC P-256 key is generated once and kept in that file.
 */
export function loadAttestationKey(path: string, options: { create: boolean }): KeyObject {
  if (!existsSync(path)) {
    if (!options.create) throw new Error(`attestation key ${path} does not exist`);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return privateKey;
  }
  return createPrivateKey(readFileSync(path));
}

export async function createAttestationSigner(privateKey: KeyObject, options: { issuer: string }): Promise<AttestationSigner> {
  const alg = algorithmOf(privateKey);
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwk: JWK = { ...publicJwk, kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    jwks: () => ({ keys: [jwk] }),
    attest: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).setIssuer(options.issuer).setIssuedAt().sign(privateKey),
  };
}
