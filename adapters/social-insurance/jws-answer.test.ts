import { generateKeyPairSync } from 'node:crypto';
import { base64url, compactVerify, CompactSign, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { failure, fixtureTextReader } from '../contract/test-kit.ts';
import { decodeAnswer, type AnswerVerifier } from './jws-answer.ts';

const fixtureText = fixtureTextReader(import.meta.url);
const recorded = fixtureText('recorded-answer.jws');
const recordedKeys = createLocalJWKSet(JSON.parse(fixtureText('recorded-answer.jwks.json')) as JSONWebKeySet);
const recordedPayload = JSON.parse(fixtureText('participating-employer-card.json')) as unknown;

const b64 = (value: unknown) => base64url.encode(typeof value === 'string' ? value : JSON.stringify(value));
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sign = (payload: Uint8Array, alg = 'ES256') => new CompactSign(payload).setProtectedHeader({ alg }).sign(privateKey);

describe('decodeAnswer', () => {
  it('decodes a recorded answer when no verifier is configured', async () => {
    expect(await decodeAnswer(recorded)).toEqual(recordedPayload);
  });

  it('returns what the verifier vouches for when one is configured', async () => {
    const verify: AnswerVerifier = async (compact) => (await compactVerify(compact, recordedKeys, { algorithms: ['ES256'] })).payload;
    expect(await decodeAnswer(recorded, verify)).toEqual(recordedPayload);
    // The payload read is the verifier's output, never bytes taken from the message beside it.
    expect(await decodeAnswer(recorded, async () => new TextEncoder().encode('{"maLoi":"04"}'))).toEqual({ maLoi: '04' });
  });

  it('refuses alg "none", with or without a signature, and never asks the verifier', async () => {
    const verify = vi.fn<AnswerVerifier>();
    const payload = b64(recordedPayload);
    for (const compact of [`${b64({ alg: 'none' })}.${payload}.`, `${b64({ alg: 'none' })}.${payload}.c2lnbmF0dXJl`, `${b64({ alg: 'NONE' })}.${payload}.`]) {
      const err = await failure(decodeAnswer(compact, verify));
      expect(err).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
      expect(err.detail).toMatch(/algorithm/);
    }
    expect(verify).not.toHaveBeenCalled();
  });

  it('refuses algorithms outside the allow-list, HMAC included', async () => {
    const payload = b64(recordedPayload);
    for (const alg of ['HS256', 'ES512', 'EdDSA', 'es256']) {
      expect((await failure(decodeAnswer(`${b64({ alg })}.${payload}.c2lnbmF0dXJl`))).detail).toMatch(/refused algorithm/);
    }
    expect((await failure(decodeAnswer(`${b64({ kid: 'bhxh-sandbox-1' })}.${payload}.c2lnbmF0dXJl`))).detail).toMatch(/no algorithm/);
    // The three allowed algorithms pass the header check.
    for (const alg of ['ES256', 'PS256', 'RS256']) expect(await decodeAnswer(`${b64({ alg })}.${payload}.c2lnbmF0dXJl`)).toEqual(recordedPayload);
  });

  it('refuses answers that are not compact JWS', async () => {
    const [header, payload] = recorded.trim().split('.') as [string, string, string];
    const cases = [
      '',
      'eyJhbGciOiJFUzI1NiJ9.@@@',
      `${header}.${payload}`, // truncated: no signature part
      recorded.trim().slice(0, 40),
      JSON.stringify(recordedPayload), // the payload in clear
      `${header}.${payload}.c2ln.ZXh0cmE`, // JWE-like: five parts
      `${header}..c2lnbmF0dXJl`, // detached payload
      `${b64('not json')}.${payload}.c2lnbmF0dXJl`, // header not JSON
      `${b64({ alg: 'ES256' })}.${b64('{"maLoi":')}.c2lnbmF0dXJl`, // payload not JSON
      `${b64({ alg: 'ES256' })}.${b64('[1,2]')}.c2lnbmF0dXJl`, // payload not an object
      `${b64({ alg: 'ES256' })}.${base64url.encode(new Uint8Array([0x7b, 0xff, 0x7d]))}.c2lnbmF0dXJl`, // not UTF-8
      `${b64({ alg: 'ES256', crit: ['b64'], b64: false })}.${payload}.c2lnbmF0dXJl`, // critical extension
      `${header}.${payload}.`, // an allowed algorithm with an empty signature
    ];
    for (const compact of cases) {
      const err = await failure(decodeAnswer(compact));
      expect({ compact, code: err.code, upstreamFailure: err.upstreamFailure }).toEqual({ compact, code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    }
  });

  it('refuses an answer the verifier rejects, and passes on the verifier’s own gateway errors', async () => {
    const compact = await sign(new TextEncoder().encode('{"maLoi":"00"}'));
    const verify: AnswerVerifier = async (jws) => (await compactVerify(jws, recordedKeys, { algorithms: ['ES256'] })).payload;
    const err = await failure(decodeAnswer(compact, verify));
    expect(err).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstreamFailure: true });
    expect(err.detail).toMatch(/signature/);

    const revoked = new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: 'social insurance: the signing certificate is revoked', upstreamFailure: true });
    expect(await failure(decodeAnswer(compact, () => Promise.reject(revoked)))).toBe(revoked);
  });
});
