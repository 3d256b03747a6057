import { create } from './adapter.ts';
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEnterpriseCode } from '../../src/core/identifiers/tax-code.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { enterprises, personasSummary } from '../../src/sandbox/personas.ts';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { parseList, type Item } from 'structured-headers';
import { signRequest, verifyResponse, withTamperedSignature } from '../../src/signing/http-signatures.ts';
import type { UpstreamSigning } from '../../src/signing/material.ts';
import { MESSAGE_FAULTS, failure, simulatorDeps, testContext, testSigning } from '../contract/test-kit.ts';
import { ENTERPRISE_PATH, HEALTH_PATH } from './inferred.ts';
import { businessRegistry } from './index.ts';

const log = createLogger({ level: 'silent' });
const known = enterprises[0]!;
const code = (raw: string) => {
  const parsed = parseEnterpriseCode(raw);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

describe('business-registry message signatures, over real sockets', () => {
  const faults = new FaultBoard();
  const seen: IncomingHttpHeaders[] = [];
  let server: Listening;
  let policy: UpstreamPolicy;
  const opened: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    const simulator = (await businessRegistry.simulator())(simulatorDeps('business-registry', faults));
    server = await listen((req, res) => (seen.push(req.headers), simulator(req, res)), '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(async () => {
    faults.clear();
    seen.length = 0;
    policy?.shutdown();
    await Promise.all(opened.splice(0).map((a) => a.close()));
  });

  const build = (signing: UpstreamSigning = testSigning('business-registry')) => {
    policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'business-registry', {
      timeoutMs: 2000,
      retryAfterSeconds: 3,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 10_000, rollingCountTimeoutMs: 10_000 },
    });
    const built = create({ log, policy, signing }, { url: server.url, maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: 'H52' });
    opened.push(built);
    return built;
  };
  const adapter = (signing?: UpstreamSigning) => build(signing).ops;
  const lookup = (ops = adapter(), raw = known.enterpriseCode) => ops.getEnterprise(testContext(), code(raw));

  /** A request as the gateway signs it, sent by hand so a test can see or spoil it. */
  const signedFetch = async (path: string, spoil: (headers: Record<string, string>) => Record<string, string> = (h) => h) => {
    const signed = signRequest(testSigning('business-registry').credentials, { method: 'GET', url: server.url + path, headers: { 'x-ma-don-vi': 'H52.101.114' } });
    const response = await fetch(server.url + path, { headers: spoil(signed.headers) });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => (headers[name] = value));
    return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()), request: signed.message };
  };

  it('signs the lookup with the gateway certificate and accepts the registry answer signed with its own', async () => {
    expect((await lookup()).enterpriseCode).toBe(known.enterpriseCode);
    const request = seen.at(-1)!;
    expect(request['signature-input']).toMatch(/^sig1=\("@method" "@target-uri" "date"\);created=\d+;expires=\d+;nonce="[^"]+";keyid="[^"]+";alg="rsa-pss-sha512"$/);
    const [leaf] = parseList(String(request['signature-certificate']));
    expect(new X509Certificate(Buffer.from((leaf as Item)[0] as ArrayBuffer)).subject).toContain('CN=lienthong-gateway.sandbox.sonla.gov.vn');

    const answer = await signedFetch(ENTERPRISE_PATH + known.enterpriseCode);
    expect(answer.status).toBe(200);
    expect(answer.headers['signature-input']).toMatch(/^sig1=\("@status" "date" "content-type" "content-digest" "@method";req "@target-uri";req "signature";req;key="sig1"\);.*alg="ecdsa-p256-sha256"$/);
    const verified = verifyResponse(answer, answer.request, { verifyCertificate: (c, chain) => testSigning('business-registry').verifyPeer(c, chain) });
    expect(verified.certificate.subject).toContain('CN=business-registry.sandbox.lienthong.vn');
  });

  for (const [mode, expected] of MESSAGE_FAULTS) {
    it(`refuses a ${mode} answer with 502 ${expected}, counted against the upstream`, async () => {
      faults.set({ system: 'business-registry', mode });
      expect(await failure(lookup())).toMatchObject({ code: expected, status: 502, upstreamFailure: true });
    });
  }

  it('verifies a "not found" answer before believing it: an unsigned one is refused, not a 404', async () => {
    faults.set({ system: 'business-registry', mode: 'unsigned' });
    expect((await failure(lookup(adapter(), personasSummary().unknown.enterpriseCode))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    faults.clear();
    expect((await failure(lookup(adapter(), personasSummary().unknown.enterpriseCode))).code).toBe('SUBJECT_NOT_FOUND');
  });

  it('still maps signed error and malformed answers to UPSTREAM_UNAVAILABLE and UPSTREAM_BAD_RESPONSE', async () => {
    faults.set({ system: 'business-registry', mode: 'error' });
    const raw = await signedFetch(ENTERPRISE_PATH + known.enterpriseCode);
    expect(raw.status).toBe(500);
    expect(raw.headers.signature).toBeDefined();
    expect(await failure(lookup())).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 3 });
    faults.set({ system: 'business-registry', mode: 'malformed' });
    expect((await signedFetch(ENTERPRISE_PATH + known.enterpriseCode)).headers.signature).toBeDefined();
    expect((await failure(lookup())).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('refuses unsigned and wrongly signed requests with 401 MaLoi 02, itself signed', async () => {
    const unsigned = await fetch(server.url + ENTERPRISE_PATH + known.enterpriseCode, { headers: { 'x-ma-don-vi': 'H52' } });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ MaLoi: '02' });
    expect(unsigned.headers.get('signature')).toBeTruthy();
    const tampered = await signedFetch(ENTERPRISE_PATH + known.enterpriseCode, withTamperedSignature);
    expect(tampered.status).toBe(401);
    // Signed for another enterprise, sent for this one.
    const replay = signRequest(testSigning('business-registry').credentials, { method: 'GET', url: server.url + ENTERPRISE_PATH + enterprises[1]!.enterpriseCode });
    expect((await fetch(server.url + ENTERPRISE_PATH + known.enterpriseCode, { headers: { ...replay.headers, 'x-ma-don-vi': 'H52' } })).status).toBe(401);
  });

  it('answers UPSTREAM_AUTH when the registry refuses the gateway certificate', async () => {
    // A certificate from the sample PKI, but not the gateway's: the registry does not accept it.
    const impostor: UpstreamSigning = { ...testSigning('business-registry'), credentials: simulatorSigning('tax').credentials() };
    expect(await failure(lookup(adapter(impostor)))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
  });

  it('serves the health probe unsigned (monitoring) or signed, and the adapter reports up', async () => {
    expect((await fetch(server.url + HEALTH_PATH)).status).toBe(200);
    expect((await signedFetch(HEALTH_PATH)).status).toBe(200);
    expect((await signedFetch(HEALTH_PATH, withTamperedSignature)).status).toBe(401);
    expect((await build().health(testContext())).status).toBe('up');
    expect(seen.at(-1)!['signature-input']).toBeDefined();
  });
});
