import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterprises } from '../src/sandbox/personas.ts';
import { KEYS, clearFaults, metric, setFault, startTestGateway, type TestGateway } from './helpers/gateway.ts';

// What the README says of a breaker once the fault is cleared ("When a breaker closes again").
const RESET_MS = 1500;
const path = `/v1/enterprises/${enterprises[0]!.enterpriseCode}`;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    'upstreams.business-registry.breaker.volumeThreshold': 4,
    'upstreams.business-registry.breaker.resetTimeoutMs': RESET_MS,
    'upstreams.business-registry.retry.maxRetries': 0,
  });
});
afterAll(async () => {
  await gw?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const state = () => metric(gw.url, 'lienthong_upstream_breaker_state', { upstream: 'business-registry' });
async function code(res: Response): Promise<string | undefined> {
  return res.status === 200 ? (await res.body?.cancel(), undefined) : ((await res.json()) as { code: string }).code;
}

/** Fails calls until the breaker opens; the time it opened. */
async function openBreaker(): Promise<number> {
  await setFault(gw.controlUrl, { system: 'business-registry', mode: 'down' });
  for (let i = 0; i < 50; i++) {
    const res = await gw.fetch(path);
    if ((await code(res)) === 'UPSTREAM_CIRCUIT_OPEN') return Date.now();
  }
  throw new Error('the breaker did not open');
}

describe('a breaker after the fault is cleared', () => {
  it('refuses until resetTimeoutMs has passed since it opened, waits half-open for a call, and closes on a successful probe', async () => {
    const openedAt = await openBreaker();
    await clearFaults(gw.controlUrl);
    // Cleared, but still open: refused at once, Retry-After the time left.
    const refused = await gw.fetch(path);
    expect(refused.status).toBe(503);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(RESET_MS / 1000));
    expect(await code(refused)).toBe('UPSTREAM_CIRCUIT_OPEN');
    expect(await state()).toBe(2);

    // After resetTimeoutMs it is half-open, and stays so while no call comes.
    await sleep(Math.max(0, openedAt + RESET_MS - Date.now()) + 300);
    expect(await state()).toBe(1);
    await sleep(500);
    expect(await state()).toBe(1);
    const upstreams = (await (await gw.fetch('/v1/upstreams', { key: KEYS.operator })).json()) as { items: { id: string; breaker: string }[] };
    expect(upstreams.items.find((u) => u.id === 'business-registry')?.breaker).toBe('half_open');

    // The next call is the probe: it succeeds and closes the breaker.
    expect((await gw.fetch(path)).status).toBe(200);
    expect(await state()).toBe(0);
  });

  it('opens again for another resetTimeoutMs when the probe fails', async () => {
    await openBreaker();
    await sleep(RESET_MS + 300);
    expect(await state()).toBe(1);
    // The fault is still there: the probe fails and the breaker opens again.
    const probe = await gw.fetch(path);
    expect(probe.status).toBe(503);
    expect(await code(probe)).toBe('UPSTREAM_UNAVAILABLE');
    expect(await state()).toBe(2);
    await clearFaults(gw.controlUrl);
    expect(await code(await gw.fetch(path))).toBe('UPSTREAM_CIRCUIT_OPEN');
    await sleep(RESET_MS + 300);
    expect((await gw.fetch(path)).status).toBe(200);
    expect(await state()).toBe(0);
  });
});
