import type { IncomingHttpHeaders } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { compactVerify, createLocalJWKSet, CompactSign, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Adapter } from '../../src/core/ports.ts';
import type { SocialInsuranceRegistry } from '../../src/core/social-insurance-port.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { insured, UNKNOWN } from '../../src/sandbox/personas.ts';
import { failure, simulatorDeps, testContext, testSigning } from '../contract/test-kit.ts';
import { createSocialInsuranceAdapter } from './index.ts';
import type { AnswerVerifier } from './jws-answer.ts';
import { JWKS_PATH, createSocialInsuranceSimulator, toWire, type SocialInsuranceSimulator } from './simulator/server.ts';

const log = createLogger({ level: 'silent' });
const options = { maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: 'H52' };

function buildPolicy(): UpstreamPolicy {
  return createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'social-insurance', {
    timeoutMs: 2000,
    retryAfterSeconds: 3,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 1000, rollingCountTimeoutMs: 10_000 },
  });
}

describe('social-insurance adapter against its simulator', () => {
  const faults = new FaultBoard();
  let simulator: SocialInsuranceSimulator;
  let server: Listening;
  let policy: UpstreamPolicy;
  let adapter: Adapter<SocialInsuranceRegistry>;

  /** A verifier as the signatures work will build one: a trusted key, the allow-list, nothing from the message. */
  const trusting = (key: SocialInsuranceSimulator['publicKey']): AnswerVerifier => async (compact) =>
    (await compactVerify(compact, key, { algorithms: ['ES256'] })).payload;

  const build = (verify?: AnswerVerifier) => {
    policy = buildPolicy();
    adapter = createSocialInsuranceAdapter({ log, policy, signing: testSigning('social-insurance') }, { ...options, url: server.url }, { verify });
  };

  beforeAll(async () => {
    simulator = createSocialInsuranceSimulator(simulatorDeps('social-insurance', faults));
    server = await listen(simulator.handler, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    faults.clear();
    policy?.shutdown();
    await adapter?.close();
  });

  it('finds a participant by ID number as well as by insurance code', async () => {
    build(trusting(simulator.publicKey));
    const person = insured.find((p) => p.healthInsuranceCard === null && p.employer === null)!;
    const byId = await adapter.ops.lookup(testContext(), { idNumber: person.idNumber });
    expect(byId).toMatchObject({ insuranceCode: person.insuranceCode, idNumber: person.idNumber, fullName: person.fullName, employer: null, healthInsuranceCard: null });
    const byCode = await adapter.ops.lookup(testContext(), { insuranceCode: person.insuranceCode });
    expect({ ...byCode, retrievedAt: '' }).toEqual({ ...byId, retrievedAt: '' });
    expect((await failure(adapter.ops.lookup(testContext(), { idNumber: UNKNOWN.idNumber }))).code).toBe('SUBJECT_NOT_FOUND');
  });

  it('serves its public key as a JWK set that verifies its answers', async () => {
    const jwks = (await (await fetch(server.url + JWKS_PATH)).json()) as JSONWebKeySet;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', kid: simulator.kid, alg: 'ES256', use: 'sig' });
    expect(jwks).toEqual(await simulator.jwks());
    const keys = createLocalJWKSet(jwks);
    build(async (compact) => (await compactVerify(compact, keys, { algorithms: ['ES256'] })).payload);
    expect((await adapter.ops.lookup(testContext(), { insuranceCode: insured[1]!.insuranceCode })).fullName).toBe(insured[1]!.fullName);
  });

  it('refuses an unsigned (alg "none") answer with UPSTREAM_BAD_RESPONSE, verifier or not', async () => {
    faults.set({ system: 'social-insurance', mode: 'unsigned' });
    build();
    expect(await failure(adapter.ops.lookup(testContext(), { insuranceCode: insured[0]!.insuranceCode }))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502, upstreamFailure: true });
    await adapter.close();
    policy.shutdown();
    build(trusting(simulator.publicKey));
    expect((await failure(adapter.ops.lookup(testContext(), { insuranceCode: insured[0]!.insuranceCode }))).code).toBe('UPSTREAM_BAD_RESPONSE');
    // A "not found" needs a signature too, or an attacker could hide anyone.
    expect((await failure(adapter.ops.lookup(testContext(), { insuranceCode: UNKNOWN.insuranceCode }))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('refuses a wrongly signed answer once a verifier is configured', async () => {
    faults.set({ system: 'social-insurance', mode: 'bad-signature' });
    build(trusting(simulator.publicKey));
    expect(await failure(adapter.ops.lookup(testContext(), { insuranceCode: insured[0]!.insuranceCode }))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502, upstreamFailure: true });
    expect((await failure(adapter.ops.lookup(testContext(), { insuranceCode: UNKNOWN.insuranceCode }))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('refuses answers signed by a key it does not trust', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    build(trusting(stranger));
    expect((await failure(adapter.ops.lookup(testContext(), { insuranceCode: insured[0]!.insuranceCode }))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('reads a wrongly signed answer while no verifier is configured (until the signatures work lands)', async () => {
    faults.set({ system: 'social-insurance', mode: 'bad-signature' });
    build();
    expect((await adapter.ops.lookup(testContext(), { insuranceCode: insured[0]!.insuranceCode })).insuranceCode).toBe(insured[0]!.insuranceCode);
  });

  it('applies signing faults at their rate', async () => {
    faults.set({ system: 'social-insurance', mode: 'bad-signature', rate: 0 });
    build(trusting(simulator.publicKey));
    expect((await adapter.ops.lookup(testContext(), { insuranceCode: insured[0]!.insuranceCode })).insuranceCode).toBe(insured[0]!.insuranceCode);
  });

  it('maps an agency the system refuses to UPSTREAM_AUTH', async () => {
    build(trusting(simulator.publicKey));
    expect(await failure(adapter.ops.lookup(testContext({ agency: 'not an agency' }), { insuranceCode: insured[0]!.insuranceCode }))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
  });

  it('refuses malformed identifiers before calling the system', async () => {
    build();
    for (const query of [{ insuranceCode: '141002345' }, { insuranceCode: '14100234567' }, { idNumber: '01408900123x' }, { idNumber: '1410023456' }]) {
      expect((await failure(adapter.ops.lookup(testContext(), query))).code).toBe('INVALID_IDENTIFIER');
    }
  });
});

describe('social-insurance request on the wire', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const seen: { method?: string; url?: string; headers?: IncomingHttpHeaders; body?: unknown }[] = [];
  let recorder: Listening;

  beforeAll(async () => {
    // Answers every lookup with insured[0], echoing maYeuCau, and keeps what it was sent.
    recorder = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { maYeuCau: string };
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const payload = { maLoi: '00', moTa: 'Thành công', maYeuCau: body.maYeuCau, duLieu: toWire(insured[0]!), thoiGian: '20261128064251' };
        void new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
          .setProtectedHeader({ alg: 'ES256', kid: 'bhxh-sandbox-1' })
          .sign(privateKey)
          .then((jws) => res.writeHead(200, { 'content-type': 'application/jose' }).end(jws));
      });
    }, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await recorder.close();
  });

  it('posts the documented JSON body with the exchange id and the calling agency', async () => {
    const policy = buildPolicy();
    const adapter = createSocialInsuranceAdapter({ log, policy, signing: testSigning('social-insurance') }, { ...options, url: recorder.url + '/' });
    try {
      const call = testContext({ agency: 'H52.101.114' });
      await adapter.ops.lookup(call, { insuranceCode: '1410023456' });
      await adapter.ops.lookup(call, { idNumber: '014089001234' });
      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/tra-cuu-bhxh' });
      expect(seen[0]!.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', accept: 'application/jose', 'x-request-id': call.requestId });
      expect(seen[0]!.body).toEqual({ maYeuCau: call.exchangeId, maDonVi: 'H52.101.114', maSoBhxh: '1410023456' });
      expect(seen[1]!.body).toEqual({ maYeuCau: call.exchangeId, maDonVi: 'H52.101.114', soDinhDanh: '014089001234' });
    } finally {
      policy.shutdown();
      await adapter.close();
    }
  });

  it('signs with ES256 and the sandbox key id', async () => {
    const simulator = createSocialInsuranceSimulator(simulatorDeps('social-insurance', new FaultBoard()));
    const server = await listen(simulator.handler, '127.0.0.1', 0);
    try {
      const response = await fetch(server.url + '/api/v1/tra-cuu-bhxh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ maYeuCau: 'req-1', maDonVi: 'H52', maSoBhxh: insured[0]!.insuranceCode }),
      });
      expect(response.headers.get('content-type')).toBe('application/jose');
      const compact = await response.text();
      expect(decodeProtectedHeader(compact)).toEqual({ alg: 'ES256', kid: 'bhxh-sandbox-1' });
      const { payload } = await compactVerify(compact, simulator.publicKey);
      expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ maLoi: '00', maYeuCau: 'req-1', duLieu: { maSoBhxh: insured[0]!.insuranceCode } });
    } finally {
      await server.close();
    }
  });
});
