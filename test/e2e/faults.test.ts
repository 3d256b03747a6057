import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGE_FAULTS } from '../../adapters/contract/test-kit.ts';
import { KEYS, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { UPSTREAM_SYSTEMS as SYSTEMS, upstreamCalls, type UpstreamSystem as System } from '../helpers/upstream-calls.ts';

let gw: TestGateway;
/** One public call per national system, as a portal would make it. */
let CALLS: Record<System, () => Promise<Response>>;
beforeAll(async () => {
  const overrides: Record<string, unknown> = { 'catalogue.ttlSeconds': 0, 'catalogue.maxStaleSeconds': 0 };
  for (const id of SYSTEMS) {
    overrides[`upstreams.${id}.timeoutMs`] = 500;
    // The breaker has its own tests; here every call must reach the (faulty) simulator.
    overrides[`upstreams.${id}.breaker.volumeThreshold`] = 100_000;
  }
  // The signature faults need every system under a signing profile: the national portal's
  // optional RFC 9421 and the population database reached directly (WS-Security).
  Object.assign(overrides, { 'upstreams.dvcqg.messageSecurity': 'rfc9421', 'upstreams.population.messageSecurity': 'ws-security', 'upstreams.population.transport.mode': 'direct' });
  gw = await startTestGateway(overrides);
  CALLS = upstreamCalls(gw);
});
afterAll(async () => {
  await gw?.close();
});


const EXPECTED = {
  down: [503, 'UPSTREAM_UNAVAILABLE'],
  error: [503, 'UPSTREAM_UNAVAILABLE'],
  timeout: [503, 'UPSTREAM_TIMEOUT'],
  malformed: [502, 'UPSTREAM_BAD_RESPONSE'],
} as const;

describe.each(SYSTEMS)('%s through the gateway', (system) => {
  it('answers normally with no fault, and through latency under the timeout', async () => {
    expect((await CALLS[system]()).status).toBe(200);
    await setFault(gw.controlUrl, { system, mode: 'latency', ms: 100 });
    try {
      expect((await CALLS[system]()).status).toBe(200);
    } finally {
      await clearFaults(gw.controlUrl);
    }
  });

  for (const [mode, [status, code]] of Object.entries(EXPECTED)) {
    it(`answers ${status} ${code} when the system is ${mode}`, async () => {
      await setFault(gw.controlUrl, { system, mode });
      try {
        const res = await CALLS[system]();
        const body = (await res.json()) as { code: string; detail?: string };
        expect(res.status).toBe(status);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(body.code).toBe(code);
        if (status === 503) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(res.headers.get('x-exchange-id')).toBeTruthy();
        // Never the upstream's own words.
        expect(JSON.stringify(body)).not.toMatch(/Lỗi hệ thống|MaLoi|maLoi|error_code|soap:|Fault/);
      } finally {
        await clearFaults(gw.controlUrl);
      }
    });
  }
});


describe.each(SYSTEMS)('%s answers that fail their signature checks', (system) => {
  for (const [mode, code] of MESSAGE_FAULTS) {
    it(`are refused with 502 ${code} when ${mode}`, async () => {
      await setFault(gw.controlUrl, { system, mode });
      try {
        const res = await CALLS[system]();
        expect(res.status).toBe(502);
        expect(((await res.json()) as { code: string }).code).toBe(code);
        // The refusal and its reason are in the gateway's log.
        expect(gw.logs.some((l) => l.includes(`"upstream":"${system}"`) && l.includes(code))).toBe(true);
      } finally {
        await clearFaults(gw.controlUrl);
      }
    });
  }
});

describe('GET /v1/upstreams', () => {
  it('shows each system with its breaker, error rate, latency and the certificate it signs with', async () => {
    for (const system of SYSTEMS) expect((await CALLS[system]()).status).toBe(200);
    const res = await gw.fetch('/v1/upstreams', { key: KEYS.operator });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { id: string; breaker: string; errorRate: number; latencyMs: { p99: number }; inFlight: number; certificateExpiresAt: string | null; crlNextUpdate: string | null }[] };
    // National sign-on is listed too; it signs ID tokens with published keys (JWKS), not a certificate.
    expect(items.map((i) => i.id).sort()).toEqual([...SYSTEMS, 'vneid'].sort());
    for (const item of items) {
      expect(item.breaker).toBe('closed');
      expect(item.errorRate).toBeGreaterThanOrEqual(0);
      expect(item.inFlight).toBe(0);
      if (item.id === 'vneid') {
        expect(item.certificateExpiresAt).toBeNull();
        expect(item.crlNextUpdate).toBeNull();
      } else {
        expect(item.certificateExpiresAt, item.id).toMatch(/\+07:00$/);
        // The sandbox's issuing CA publishes a CRL: the date a newer one is due, later than now.
        expect(Date.parse(item.crlNextUpdate ?? ''), item.id).toBeGreaterThan(Date.now());
      }
    }
    const metrics = await (await gw.fetch('/metrics', { key: null })).text();
    expect(metrics).toMatch(/lienthong_certificate_expiry_timestamp_seconds\{role="gateway",name="signing"\} \d+/);
    expect(metrics).toMatch(/lienthong_certificate_expiry_timestamp_seconds\{role="upstream",name="population"\} \d+/);
    expect((await gw.fetch('/v1/upstreams', { key: KEYS.auditor })).status).toBe(403);
  });
});
