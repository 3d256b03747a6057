import { execFileSync } from 'node:child_process';
import { verify as verifySignature, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Adapter } from '../../src/core/ports.ts';
import type { SocialInsuranceRegistry } from './registry.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { insured, UNKNOWN } from '../../src/sandbox/personas.ts';
import { sample, type UpstreamSigning } from '../../src/signing/material.ts';
import { loadPemCredentials, readCertificates, withChain, type Credentials } from '../../src/signing/trust-store.ts';
import { MESSAGE_FAULTS, failure, simulatorDeps, testContext, testSigning } from '../contract/test-kit.ts';
import { createSocialInsuranceClient, LOOKUP_PATH } from './client.ts';
import { create as createSocialInsuranceAdapter } from './adapter.ts';
import { createAnswerVerifier } from './jws-answer.ts';
import { certificateThumbprint, createJwsSigner, createX5cVerifier, type JwsSigner } from './jws.ts';
import { JWKS_PATH, createSocialInsuranceSimulator, toWire, type SocialInsuranceSimulator } from './simulator/server.ts';

const log = createLogger({ level: 'silent' });
const options = { maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: 'H52' };
const intermediates = readCertificates(sample('issuing-ca.pem'));
const credentialsOf = (name: string): Credentials => withChain(loadPemCredentials(sample(`${name}.pem`), sample(`${name}.key.pem`)), intermediates);
/** The gateway's signing for social insurance, with its own key and certificate replaced. */
const signingAs = (name: string): UpstreamSigning => ({ ...testSigning('social-insurance'), credentials: credentialsOf(name) });
const known = insured[0]!;

/** Flips one bit of a compact JWS's signature. */
function tamper(compact: string): string {
  const [h, p, s] = compact.split('.') as [string, string, string];
  const sig = base64url.decode(s);
  sig[5] = sig[5]! ^ 0x01;
  return `${h}.${p}.${base64url.encode(sig)}`;
}

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
  const built: { policy: UpstreamPolicy; adapter: Adapter<SocialInsuranceRegistry> }[] = [];

  const build = (signing: UpstreamSigning = testSigning('social-insurance')) => {
    policy = buildPolicy();
    adapter = createSocialInsuranceAdapter({ log, policy, signing }, { ...options, url: server.url });
    built.push({ policy, adapter });
  };

  /** A client whose requests are made by `sign`: how an unsigned or wrongly signed request is sent. */
  const buildSigningWith = (sign: JwsSigner) => {
    policy = buildPolicy();
    const http = createUpstreamHttp({ baseUrl: server.url, maxResponseBytes: options.maxResponseBytes });
    const client = createSocialInsuranceClient({ http, policy, sign, verify: createAnswerVerifier(testSigning('social-insurance')) }, options);
    adapter = { id: 'social-insurance', ops: { lookup: client.lookup }, health: client.health, close: () => http.close() };
    built.push({ policy, adapter });
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
    // Tests that call the simulator directly build nothing: close only what this test built.
    for (const { policy: p, adapter: a } of built.splice(0)) {
      p.shutdown();
      await a.close();
    }
  });

  it('finds a participant by ID number and by insurance code, signed both ways', async () => {
    build();
    const person = insured.find((p) => p.healthInsuranceCard === null && p.employer === null)!;
    const byId = await adapter.ops.lookup(testContext(), { idNumber: person.idNumber });
    expect(byId).toMatchObject({ insuranceCode: person.insuranceCode, idNumber: person.idNumber, fullName: person.fullName, employer: null, healthInsuranceCard: null });
    const byCode = await adapter.ops.lookup(testContext(), { insuranceCode: person.insuranceCode });
    expect({ ...byCode, retrievedAt: '' }).toEqual({ ...byId, retrievedAt: '' });
    expect((await failure(adapter.ops.lookup(testContext(), { idNumber: UNKNOWN.idNumber }))).code).toBe('SUBJECT_NOT_FOUND');
  });

  it('is accepted by the system when the gateway signs with its P-256 certificate (ES256)', async () => {
    build(signingAs('gateway-ec'));
    expect((await adapter.ops.lookup(testContext(), { insuranceCode: known.insuranceCode })).fullName).toBe(known.fullName);
  });

  for (const [mode, code] of MESSAGE_FAULTS) {
    it(`refuses a ${mode} answer with 502 ${code}, a "not found" as well`, async () => {
      faults.set({ system: 'social-insurance', mode });
      build();
      expect(await failure(adapter.ops.lookup(testContext(), { insuranceCode: known.insuranceCode }))).toMatchObject({ code, status: 502, upstreamFailure: true });
      // A "not found" must be verified too, or anyone in between could make a person disappear.
      expect(await failure(adapter.ops.lookup(testContext(), { insuranceCode: UNKNOWN.insuranceCode }))).toMatchObject({ code, status: 502 });
    });
  }

  it('applies signing faults at their rate', async () => {
    build();
    for (const mode of ['unsigned', 'bad-signature', 'revoked-cert', 'expired-cert'] as const) {
      faults.set({ system: 'social-insurance', mode, rate: 0 });
      expect((await adapter.ops.lookup(testContext(), { insuranceCode: known.insuranceCode })).insuranceCode).toBe(known.insuranceCode);
    }
  });

  it('serves its certificate as a JWK set whose kid names the answers’ certificate', async () => {
    const jwks = (await (await fetch(server.url + JWKS_PATH)).json()) as JSONWebKeySet;
    expect(jwks).toEqual(await simulator.jwks());
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys as [JSONWebKeySet['keys'][number]];
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', kid: simulator.kid, alg: 'ES256', use: 'sig' });
    expect(key.kid).toBe(certificateThumbprint(simulator.certificate));
    expect(new X509Certificate(Buffer.from(key.x5c![0]!, 'base64')).fingerprint256).toBe(simulator.certificate.fingerprint256);
  });

  it('maps an agency the system refuses to UPSTREAM_AUTH', async () => {
    build();
    expect(await failure(adapter.ops.lookup(testContext({ agency: 'not an agency' }), { insuranceCode: known.insuranceCode }))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
  });

  it('refuses malformed identifiers before calling the system', async () => {
    build();
    for (const query of [{ insuranceCode: '141002345' }, { insuranceCode: '14100234567' }, { idNumber: '01408900123x' }, { idNumber: '1410023456' }]) {
      expect((await failure(adapter.ops.lookup(testContext(), query))).code).toBe('INVALID_IDENTIFIER');
    }
  });

  describe('the system refusing requests it cannot attribute to the gateway (→ UPSTREAM_AUTH)', () => {
    const gatewaySign = createJwsSigner(testSigning('social-insurance').credentials);
    const cases: [string, () => void][] = [
      ['unsigned (the JSON body as it was)', () => buildSigningWith((json) => Promise.resolve(String(json)))],
      ['with a flipped bit in its signature', () => buildSigningWith(async (json) => tamper(await gatewaySign(json)))],
      ['signed with another system’s certificate', () => build(signingAs('tax'))],
      ['signed with the portal’s client certificate', () => build(signingAs('portal-client'))],
    ];
    for (const [name, make] of cases) {
      it(`refuses a request ${name}`, async () => {
        make();
        expect(await failure(adapter.ops.lookup(testContext(), { insuranceCode: known.insuranceCode }))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
      });
    }

    it('answers 401 in plain JSON, with nothing signed and nothing about the person', async () => {
      const body = JSON.stringify({ maYeuCau: 'req-1', maDonVi: 'H52', maSoBhxh: known.insuranceCode });
      for (const [type, sent] of [['application/json', body], ['application/jose', tamper(await gatewaySign(body))]] as const) {
        const response = await fetch(server.url + LOOKUP_PATH, { method: 'POST', headers: { 'content-type': type }, body: sent });
        expect(response.status).toBe(401);
        expect(response.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await response.json()).toEqual({ maLoi: '02', moTa: 'Chữ ký số của yêu cầu không hợp lệ' });
      }
    });
  });
});

describe('social-insurance messages on the wire', () => {
  const seen: { method?: string; url?: string; headers?: IncomingHttpHeaders; body?: string }[] = [];
  const systemSign = createJwsSigner(credentialsOf('social-insurance'));
  /** How the test upstream answers; each test sets it. */
  let answer: (payload: string) => Promise<{ type: string; body: string }>;
  let upstream: Listening;

  beforeAll(async () => {
    // Answers every lookup with insured[0], echoing maYeuCau from the (verified) request, and keeps what it was sent.
    const verifyRequest = createX5cVerifier(() => undefined);
    upstream = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        void verifyRequest(body)
          .then(async (bytes) => {
            const request = JSON.parse(new TextDecoder().decode(bytes)) as { maYeuCau: string };
            const payload = JSON.stringify({ maLoi: '00', moTa: 'Thành công', maYeuCau: request.maYeuCau, duLieu: toWire(known), thoiGian: '20261128064251' });
            const { type, body: out } = await answer(payload);
            res.writeHead(200, { 'content-type': type }).end(out);
          })
          .catch(() => res.writeHead(401, { 'content-type': 'application/json' }).end('{"maLoi":"02"}'));
      });
    }, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await upstream.close();
  });

  const withAdapter = async (run: (adapter: Adapter<SocialInsuranceRegistry>) => Promise<void>) => {
    const policy = buildPolicy();
    const adapter = createSocialInsuranceAdapter({ log, policy, signing: testSigning('social-insurance') }, { ...options, url: upstream.url + '/' });
    try {
      await run(adapter);
    } finally {
      policy.shutdown();
      await adapter.close();
    }
  };

  it('posts the documented JSON as a compact JWS signed with the gateway’s certificate', async () => {
    answer = async (payload) => ({ type: 'application/jose', body: await systemSign(payload) });
    seen.length = 0;
    await withAdapter(async (adapter) => {
      const call = testContext({ agency: 'H52.101.114' });
      await adapter.ops.lookup(call, { insuranceCode: '1410023456' });
      await adapter.ops.lookup(call, { idNumber: '014089001234' });
      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/tra-cuu-bhxh' });
      expect(seen[0]!.headers).toMatchObject({ 'content-type': 'application/jose', accept: 'application/jose', 'x-request-id': call.requestId });

      const gateway = testSigning('social-insurance').credentials;
      const [h, p, s] = seen[0]!.body!.split('.') as [string, string, string];
      expect(decodeProtectedHeader(seen[0]!.body!)).toEqual({
        alg: 'RS256',
        kid: certificateThumbprint(gateway.certificate),
        x5c: [gateway.certificate, ...gateway.chain].map((c) => c.raw.toString('base64')),
      });
      // Checked by hand with node:crypto and the gateway's certificate.
      expect(verifySignature('sha256', Buffer.from(`${h}.${p}`), gateway.certificate.publicKey, base64url.decode(s))).toBe(true);
      const payload = (body: string) => JSON.parse(new TextDecoder().decode(base64url.decode(body.split('.')[1]!))) as unknown;
      expect(payload(seen[0]!.body!)).toEqual({ maYeuCau: call.exchangeId, maDonVi: 'H52.101.114', maSoBhxh: '1410023456' });
      expect(payload(seen[1]!.body!)).toEqual({ maYeuCau: call.exchangeId, maDonVi: 'H52.101.114', soDinhDanh: '014089001234' });
    });
  });

  it('refuses an answer signed with another national system’s certificate (pinning)', async () => {
    for (const other of ['tax', 'business-registry']) {
      const sign = createJwsSigner(credentialsOf(other));
      answer = async (payload) => ({ type: 'application/jose', body: await sign(payload) });
      await withAdapter(async (adapter) => {
        const err = await failure(adapter.ops.lookup(testContext(), { insuranceCode: known.insuranceCode }));
        expect({ other, code: err.code, status: err.status }).toEqual({ other, code: 'UPSTREAM_CERT_UNTRUSTED', status: 502 });
        expect(err.detail).toMatch(/social-insurance\.sandbox\.lienthong\.vn/);
      });
    }
  });

  it('refuses the system’s genuine certificate beside a signature made with another key', async () => {
    const system = credentialsOf('social-insurance');
    const forger = createJwsSigner({ ...credentialsOf('business-registry'), certificate: system.certificate });
    answer = async (payload) => ({ type: 'application/jose', body: await forger(payload) });
    await withAdapter(async (adapter) => {
      expect((await failure(adapter.ops.lookup(testContext(), { insuranceCode: known.insuranceCode }))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    });
  });

  it('refuses an answer in plain JSON as unsigned', async () => {
    answer = (payload) => Promise.resolve({ type: 'application/json; charset=utf-8', body: payload });
    await withAdapter(async (adapter) => {
      expect((await failure(adapter.ops.lookup(testContext(), { insuranceCode: known.insuranceCode }))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    });
  });
});

describe('the simulator’s answers, checked with OpenSSL', () => {
  it('verify against the sample root and CRL, and their signature with the x5c certificate', async () => {
    const simulator = createSocialInsuranceSimulator(simulatorDeps('social-insurance', new FaultBoard()));
    const server = await listen(simulator.handler, '127.0.0.1', 0);
    const dir = mkdtempSync(join(tmpdir(), 'bhxh-jws-'));
    try {
      const request = await createJwsSigner(testSigning('social-insurance').credentials)(JSON.stringify({ maYeuCau: 'req-1', maDonVi: 'H52', maSoBhxh: known.insuranceCode }));
      const response = await fetch(server.url + LOOKUP_PATH, { method: 'POST', headers: { 'content-type': 'application/jose' }, body: request });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/jose');
      const compact = await response.text();
      const header = decodeProtectedHeader(compact);
      expect(header).toEqual({ alg: 'ES256', kid: simulator.kid, x5c: expect.any(Array) as unknown });

      const [h, p, s] = compact.split('.') as [string, string, string];
      const pem = (b64: string) => `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
      writeFileSync(join(dir, 'leaf.pem'), pem(header.x5c![0]!));
      writeFileSync(join(dir, 'chain.pem'), header.x5c!.slice(1).map(pem).join(''));
      writeFileSync(join(dir, 'signed.txt'), `${h}.${p}`);
      // JWS carries ECDSA as r||s (RFC 7518 §3.4); OpenSSL wants DER.
      const raw = base64url.decode(s);
      const int = (bytes: Uint8Array) => {
        let v = Buffer.from(bytes);
        while (v.length > 1 && v[0] === 0 && v[1]! < 0x80) v = v.subarray(1);
        if (v[0]! >= 0x80) v = Buffer.concat([Buffer.from([0]), v]);
        return Buffer.concat([Buffer.from([0x02, v.length]), v]);
      };
      const seq = Buffer.concat([int(raw.subarray(0, 32)), int(raw.subarray(32))]);
      writeFileSync(join(dir, 'sig.der'), Buffer.concat([Buffer.from([0x30, seq.length]), seq]));

      const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(openssl('verify', '-crl_check', '-CRLfile', sample('issuing-ca.crl.pem'), '-CAfile', sample('root-ca.pem'), '-untrusted', 'chain.pem', 'leaf.pem')).toMatch(/leaf\.pem: OK/);
      writeFileSync(join(dir, 'leaf.pub.pem'), openssl('x509', '-in', 'leaf.pem', '-pubkey', '-noout'));
      expect(openssl('dgst', '-sha256', '-verify', 'leaf.pub.pem', '-signature', 'sig.der', 'signed.txt')).toMatch(/Verified OK/);
      expect(JSON.parse(new TextDecoder().decode(base64url.decode(p)))).toMatchObject({ maLoi: '00', maYeuCau: 'req-1', duLieu: { maSoBhxh: known.insuranceCode } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.close();
    }
  });
});
