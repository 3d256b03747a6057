import { createHmac, generateKeyPairSync, verify as verifySignature, X509Certificate } from 'node:crypto';
import { base64url, CompactSign, decodeProtectedHeader } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { sample } from '../../src/signing/material.ts';
import { createTrustStore, loadPemCredentials, readCertificates, withChain, type Credentials } from '../../src/signing/trust-store.ts';
import { failure, fixtureTextReader } from '../contract/test-kit.ts';
import { certificateThumbprint, createJwsSigner, createX5cVerifier, openJws, type CertificateCheck, type JwsVerifier } from './jws.ts';

const fixtureText = fixtureTextReader(import.meta.url);
const intermediates = readCertificates(sample('issuing-ca.pem'));
const credentials = (name: string): Credentials => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);
const system = credentials('social-insurance');
const gateway = credentials('gateway');
const x5cOf = (c: Credentials) => [c.certificate, ...c.chain].map((cert) => cert.raw.toString('base64'));

const b64 = (value: unknown) => base64url.encode(typeof value === 'string' ? value : JSON.stringify(value));
const payload = { maLoi: '00', maYeuCau: 'r-1' };
const text = JSON.stringify(payload);
const accept: CertificateCheck = () => undefined;
/** Signs with any key and header, as a forger (or a misconfigured peer) would. */
const forge = (header: Record<string, unknown>, key = system.key, body = text) => new CompactSign(new TextEncoder().encode(body)).setProtectedHeader(header as { alg: string }).sign(key);

describe('createJwsSigner', () => {
  it('signs ES256 with a P-256 key and RS256 with an RSA key, naming the certificate chain', async () => {
    for (const [creds, alg] of [[system, 'ES256'], [gateway, 'RS256']] as const) {
      const compact = await createJwsSigner(creds)(text);
      const header = decodeProtectedHeader(compact);
      expect(header).toEqual({ alg, kid: certificateThumbprint(creds.certificate), x5c: x5cOf(creds) });
      // x5c is standard base64 DER (RFC 7515 §4.1.6), leaf first, then the issuing CA.
      expect(new X509Certificate(Buffer.from(header.x5c![0]!, 'base64')).fingerprint256).toBe(creds.certificate.fingerprint256);
      expect(new X509Certificate(Buffer.from(header.x5c![1]!, 'base64')).subject).toBe(intermediates[0]!.subject);
    }
  });

  it('produces signatures node:crypto verifies by hand with the x5c certificate', async () => {
    for (const creds of [system, gateway]) {
      const [h, p, s] = (await createJwsSigner(creds)(text)).split('.') as [string, string, string];
      const leaf = new X509Certificate(Buffer.from((decodeProtectedHeader(`${h}.${p}.${s}`).x5c as string[])[0]!, 'base64'));
      expect(verifySignature('sha256', Buffer.from(`${h}.${p}`), { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, base64url.decode(s))).toBe(true);
      expect(new TextDecoder().decode(base64url.decode(p))).toBe(text);
    }
  });

  it('uses the SHA-256 thumbprint of the DER certificate as kid', () => {
    const hex = system.certificate.fingerprint256.replaceAll(':', '');
    expect(certificateThumbprint(system.certificate)).toBe(Buffer.from(hex, 'hex').toString('base64url'));
  });

  it('refuses a key the national rules do not allow', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => createJwsSigner({ ...system, key: weak })).toThrow(/RSA-2048/);
  });
});

describe('openJws', () => {
  const verified = (bytes: string): JwsVerifier => () => Promise.resolve(new TextEncoder().encode(bytes));

  it('returns only what the verifier vouches for, never the payload beside it', async () => {
    const compact = await forge({ alg: 'ES256' });
    expect(await openJws(compact, verified('{"maLoi":"04"}'))).toEqual({ maLoi: '04' });
    expect(await openJws(`\n${compact}\n`, verified(text))).toEqual(payload);
  });

  it('refuses alg "none", with or without a signature, and never asks the verifier', async () => {
    const verify = vi.fn<JwsVerifier>();
    for (const compact of [`${b64({ alg: 'none' })}.${b64(payload)}.`, `${b64({ alg: 'none' })}.${b64(payload)}.c2lnbmF0dXJl`, `${b64({ alg: 'NONE' })}.${b64(payload)}.`]) {
      const err = await failure(openJws(compact, verify));
      expect(err).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID', status: 502, upstreamFailure: true });
      expect(err.detail).toMatch(/not signed/);
    }
    expect(verify).not.toHaveBeenCalled();
  });

  it('refuses algorithms outside the allow-list, HMAC included, and headers that change the rules', async () => {
    const verify = vi.fn<JwsVerifier>();
    const cases = [
      ...['HS256', 'HS512', 'ES512', 'EdDSA', 'es256', 'RS1'].map((alg) => `${b64({ alg })}.${b64(payload)}.c2lnbmF0dXJl`),
      `${b64({ kid: 'k' })}.${b64(payload)}.c2lnbmF0dXJl`, // no algorithm
      `${b64({ alg: 'ES256', crit: ['b64'], b64: false })}.${b64(payload)}.c2lnbmF0dXJl`, // critical extension
      `${b64({ alg: 'ES256' })}.${b64(payload)}.`, // an allowed algorithm with an empty signature
    ];
    for (const compact of cases) {
      const err = await failure(openJws(compact, verify));
      expect({ compact, code: err.code }).toEqual({ compact, code: 'UPSTREAM_SIGNATURE_INVALID' });
    }
    expect(verify).not.toHaveBeenCalled();
    // The three allowed algorithms reach the verifier.
    for (const alg of ['ES256', 'PS256', 'RS256']) expect(await openJws(`${b64({ alg })}.${b64(payload)}.c2lnbmF0dXJl`, verified(text))).toEqual(payload);
  });

  it('refuses bodies that are not compact JWS, and payloads that are not JSON objects, as bad responses', async () => {
    const compact = await forge({ alg: 'ES256' });
    const [header, body] = compact.split('.') as [string, string, string];
    const notJws = [
      '',
      'eyJhbGciOiJFUzI1NiJ9.@@@', // the simulator's `malformed` fault
      `${header}.${body}`, // no signature part
      text, // the payload in clear
      `${header}.${body}.c2ln.ZXh0cmE`, // five parts, JWE-like
      `${header}..c2lnbmF0dXJl`, // detached payload
      `${b64('not json')}.${body}.c2lnbmF0dXJl`, // header not JSON
    ];
    for (const raw of notJws) expect({ raw, code: (await failure(openJws(raw, verified(text)))).code }).toEqual({ raw, code: 'UPSTREAM_BAD_RESPONSE' });
    for (const bytes of ['{"maLoi":', '[1,2]', 'null', '"text"']) expect((await failure(openJws(compact, verified(bytes)))).code).toBe('UPSTREAM_BAD_RESPONSE');
    const notUtf8: JwsVerifier = () => Promise.resolve(new Uint8Array([0x7b, 0xff, 0x7d]));
    expect((await failure(openJws(compact, notUtf8))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('passes the verifier’s gateway errors on, and turns any other of its errors into an invalid signature', async () => {
    const compact = await forge({ alg: 'ES256' });
    const revoked = new GatewayError('UPSTREAM_CERT_REVOKED', { detail: 'revoked', upstreamFailure: true });
    expect(await failure(openJws(compact, () => Promise.reject(revoked)))).toBe(revoked);
    const err = await failure(openJws(compact, () => Promise.reject(new Error('boom'))));
    expect(err).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID', upstreamFailure: true });
    expect((err.cause as Error).message).toBe('boom');
  });
});

describe('createX5cVerifier', () => {
  const sign = createJwsSigner(system);

  it('checks the x5c chain, then returns the payload the leaf’s key signed', async () => {
    const check = vi.fn<CertificateCheck>();
    const verify = createX5cVerifier(check);
    expect(new TextDecoder().decode(await verify(await sign(text)))).toBe(text);
    const [leaf, chain] = check.mock.calls[0]!;
    expect(leaf.fingerprint256).toBe(system.certificate.fingerprint256);
    expect(chain.map((c) => c.subject)).toEqual([intermediates[0]!.subject]);
  });

  it('hands the sent intermediates to the trust check, which needs them to reach the root', async () => {
    const bare = createTrustStore({ roots: readCertificates(sample('root-ca.pem')) });
    const verify = createX5cVerifier((leaf, chain) => bare.verify(leaf, { chain }));
    expect(await verify(await sign(text))).toBeInstanceOf(Uint8Array);
    const leafOnly = await forge({ alg: 'ES256', x5c: [x5cOf(system)[0]] });
    expect((await failure(verify(leafOnly))).code).toBe('UPSTREAM_CERT_UNTRUSTED');
  });

  it('parses each certificate once while it keeps coming', async () => {
    const seen: X509Certificate[] = [];
    const verify = createX5cVerifier((leaf) => void seen.push(leaf));
    await verify(await sign(text));
    await verify(await sign('{"again":true}'));
    expect(seen[0]).toBe(seen[1]);
    const small = createX5cVerifier((leaf) => void seen.push(leaf), { cacheSize: 1 });
    await small(await sign(text));
    await small(await sign(text));
    // With room for one certificate, the leaf and the issuing CA push each other out.
    expect(seen[2]).not.toBe(seen[3]);
  });

  it('passes on what the trust check throws, and refuses what it cannot read', async () => {
    const revoked = new GatewayError('UPSTREAM_CERT_REVOKED', { detail: 'revoked', upstreamFailure: true });
    expect(
      await failure(
        createX5cVerifier(() => {
          throw revoked;
        })(await sign(text)),
      ),
    ).toBe(revoked);
    const odd = await failure(
      createX5cVerifier(() => {
        throw new Error('odd');
      })(await sign(text)),
    );
    expect(odd).toMatchObject({ code: 'UPSTREAM_CERT_UNTRUSTED', upstreamFailure: true });

    const verify = createX5cVerifier(accept);
    const leaf = x5cOf(system)[0]!;
    for (const x5c of [['not base64!'], ['bm90IGEgY2VydGlmaWNhdGU='], [leaf.replaceAll('+', '-').replaceAll('/', '_') + '@'], [42], Array(6).fill(leaf)]) {
      expect((await failure(verify(await forge({ alg: 'ES256', x5c })))).code).toBe('UPSTREAM_CERT_UNTRUSTED');
    }
  });

  it('refuses a signature that names no certificate', async () => {
    const verify = createX5cVerifier(accept);
    // Recorded from the sandbox before signatures carried certificates: kid only.
    expect((await failure(verify(fixtureText('recorded-answer.jws').trim()))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    for (const x5c of [undefined, [], 'MIIB']) {
      expect((await failure(verify(await forge(x5c === undefined ? { alg: 'ES256' } : { alg: 'ES256', x5c })))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    }
  });

  it('refuses a kid or x5t#S256 that names another certificate', async () => {
    const verify = createX5cVerifier(accept);
    const x5c = x5cOf(system);
    const kid = certificateThumbprint(system.certificate);
    expect(await verify(await forge({ alg: 'ES256', x5c, kid, 'x5t#S256': kid }))).toBeInstanceOf(Uint8Array);
    expect(await verify(await forge({ alg: 'ES256', x5c }))).toBeInstanceOf(Uint8Array);
    for (const header of [{ kid: 'bhxh-sandbox-1' }, { kid: certificateThumbprint(gateway.certificate) }, { 'x5t#S256': certificateThumbprint(intermediates[0]!) }]) {
      const err = await failure(verify(await forge({ alg: 'ES256', x5c, ...header })));
      expect(err.code).toBe('UPSTREAM_SIGNATURE_INVALID');
      expect(err.detail).toMatch(/name/);
    }
  });

  it('refuses a genuine certificate next to a signature made with another key', async () => {
    const verify = createX5cVerifier(accept);
    const x5c = x5cOf(system);
    const kid = certificateThumbprint(system.certificate);
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    for (const compact of [await forge({ alg: 'ES256', x5c, kid }, stranger), await forge({ alg: 'RS256', x5c, kid }, rsa), await forge({ alg: 'PS256', x5c, kid }, rsa)]) {
      const err = await failure(verify(compact));
      expect(err).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID', upstreamFailure: true });
      expect(err.detail).toMatch(/does not verify/);
    }
  });

  it('refuses a tampered payload or signature', async () => {
    const verify = createX5cVerifier(accept);
    const [h, p, s] = (await sign(text)).split('.') as [string, string, string];
    const sig = base64url.decode(s);
    sig[10] = sig[10]! ^ 0x01;
    for (const compact of [`${h}.${b64({ ...payload, maLoi: '04' })}.${s}`, `${h}.${p}.${base64url.encode(sig)}`]) {
      expect((await failure(verify(compact))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    }
  });

  it('refuses HMAC keyed with the certificate’s public key even when called directly', async () => {
    const x5c = x5cOf(system);
    const secret = system.certificate.publicKey.export({ format: 'pem', type: 'spki' });
    const h = b64({ alg: 'HS256', x5c });
    const p = b64(payload);
    const mac = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
    expect((await failure(createX5cVerifier(accept)(`${h}.${p}.${mac}`))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
  });
});
