import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterprises, people } from '../../src/sandbox/personas.ts';
import { KEYS, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/** One national system at 5 s latency must not slow the others down: the bulkhead and timeout bound it. */
const POPULATION = { timeoutMs: 2500, maxInFlight: 4, maxQueued: 4, queueTimeoutMs: 400 };

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    'log.level': 'info',
    'upstreams.population.timeoutMs': POPULATION.timeoutMs,
    'upstreams.population.concurrency': { maxInFlight: POPULATION.maxInFlight, maxQueued: POPULATION.maxQueued, queueTimeoutMs: POPULATION.queueTimeoutMs },
    // Here the bulkhead alone must hold the slow system: the breaker would otherwise reject early.
    'upstreams.population.breaker.volumeThreshold': 100_000,
    // The flood below runs at the default limit of 100 calls a second: a rate limit must not answer in the bulkhead's place.
    'rateLimit.default': { points: 1000, durationSeconds: 1 },
  });
});
afterAll(async () => {
  await clearFaults(gw.controlUrl);
  await gw?.close();
});

const person = people.find((p) => !p.dateOfDeath)!;
const codes = enterprises.filter((e) => !e.enterpriseCode.includes('-')).map((e) => e.enterpriseCode);

async function lookup(i: number): Promise<number> {
  const t0 = performance.now();
  const res = await gw.fetch(`/v1/enterprises/${codes[i % codes.length]}`);
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return performance.now() - t0;
}

/** Median latency of `n` enterprise lookups made two at a time. */
async function lookupsP50(n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i += 2) times.push(...(await Promise.all([lookup(i), lookup(i + 1)])));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

interface VerifyResult {
  status: number;
  code?: string;
  ms: number;
  exchangeId: string | null;
}

async function verify(): Promise<VerifyResult> {
  const t0 = performance.now();
  const res = await gw.fetch('/v1/citizens/verify', {
    method: 'POST',
    key: KEYS.agency,
    headers: { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' },
    body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
  });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: body.code, ms: performance.now() - t0, exchangeId: res.headers.get('x-exchange-id') };
}

describe('isolation between national systems', () => {
  it('keeps enterprise lookups at their normal latency while the population database takes 5 s, and bounds the calls waiting on it', async () => {
    // Warm up connections, and the population client's service description (fetched once, on first use).
    await lookupsP50(20);
    expect((await verify()).status).toBe(200);
    const baseline = await lookupsP50(40);

    await setFault(gw.controlUrl, { system: 'population', mode: 'latency', ms: 5000 });
    // A steady crowd of identity checks, far more than the population bulkhead admits.
    const verifies: Promise<VerifyResult>[] = [];
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        for (let k = 0; k < 10; k++) verifies.push(verify());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));

    // While they hang: the population upstream holds no more than its bulkhead allows.
    const upstreams = (await (await gw.fetch('/v1/upstreams', { key: KEYS.operator })).json()) as { items: { id: string; inFlight: number; queued: number; maxInFlight: number; maxQueued: number }[] };
    const population = upstreams.items.find((u) => u.id === 'population')!;
    expect(population).toMatchObject({ inFlight: POPULATION.maxInFlight, maxInFlight: POPULATION.maxInFlight, maxQueued: POPULATION.maxQueued });
    expect(population.queued).toBeLessThanOrEqual(POPULATION.maxQueued);

    const underFault = await lookupsP50(40);
    flooding = false;
    await flood;
    const results = await Promise.all(verifies);
    await clearFaults(gw.controlUrl);

    console.log(`enterprise lookup p50: ${baseline.toFixed(1)} ms before, ${underFault.toFixed(1)} ms with population at 5 s (${results.length} identity checks meanwhile)`);
    // A ratio, not an absolute time; the epsilon absorbs scheduler noise on a shared machine.
    expect(underFault).toBeLessThan(3 * baseline + 15);

    // Every identity check ended well before the 5 s the database takes: timed out in a slot,
    // refused after waiting in the queue, or refused at once.
    expect(results.length).toBeGreaterThan(POPULATION.maxInFlight + POPULATION.maxQueued);
    const bound = POPULATION.queueTimeoutMs + POPULATION.timeoutMs + 1000;
    for (const r of results) {
      expect(r.status).toBe(503);
      expect(['UPSTREAM_TIMEOUT', 'UPSTREAM_BUSY']).toContain(r.code);
      expect(r.ms).toBeLessThan(bound);
      // Each one, refused or not, is an exchange.
      expect(r.exchangeId).toBeTruthy();
    }
    expect(results.filter((r) => r.code === 'UPSTREAM_BUSY').length).toBeGreaterThan(0);
    // Only calls that held a slot reached the database; the rest never left the gateway.
    const timedOut = results.filter((r) => r.code === 'UPSTREAM_TIMEOUT').length;
    expect(timedOut).toBeGreaterThan(0);
    expect(timedOut).toBeLessThan(results.length / 2);
    expect(gw.logs.some((l) => l.includes('bulkhead full') && l.includes('"upstream":"population"'))).toBe(true);

    // And the population database is usable again once it recovers.
    const after = await verify();
    expect(after, JSON.stringify(after)).toMatchObject({ status: 200 });
  });
});
