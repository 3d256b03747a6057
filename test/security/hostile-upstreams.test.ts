import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS_BY_SYSTEM, type AttackVariant } from '../../src/sandbox/faults.ts';
import { auditEntry, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { UPSTREAM_SYSTEMS, upstreamCalls, type UpstreamSystem } from '../helpers/upstream-calls.ts';

/**
 * A compromised or impersonated national system: every attack its protocol allows, through the
 * real gateway and the real simulators. Each is refused within the upstream timeout, the caller
 * never sees the hostile content, memory stays bounded, and the exchange log records the refusal.
 */

const TIMEOUT_MS = 1500;
const MAX_RESPONSE_BYTES = 256 * 1024;

let gw: TestGateway;
let calls: Record<UpstreamSystem, () => Promise<Response>>;
beforeAll(async () => {
  const overrides: Record<string, unknown> = { 'catalogue.ttlSeconds': 0, 'catalogue.maxStaleSeconds': 0, 'audit.integrateIntervalMs': 50 };
  for (const id of UPSTREAM_SYSTEMS) {
    overrides[`upstreams.${id}.timeoutMs`] = TIMEOUT_MS;
    overrides[`upstreams.${id}.maxResponseBytes`] = MAX_RESPONSE_BYTES;
    // Every call must reach the hostile simulator: the breaker has its own tests.
    overrides[`upstreams.${id}.breaker.volumeThreshold`] = 100_000;
  }
  // The population database signs its answers only when reached directly.
  overrides['upstreams.population.transport.mode'] = 'direct';
  overrides['upstreams.population.messageSecurity'] = 'ws-security';
  // The national portal signs nothing by default (as the real one); the signature attacks need the RFC 9421 profile.
  overrides['upstreams.dvcqg.messageSecurity'] = 'rfc9421';
  gw = await startTestGateway(overrides);
  calls = upstreamCalls(gw);
});
/** What each attack cost, printed at the end: time to the refusal, RSS and heap growth. */
const figures: string[] = [];
afterAll(async () => {
  if (figures.length > 0) console.info(`hostile upstreams (system variant status ms rssΔMiB heapΔMiB):\n${figures.join('\n')}`);
  await gw?.close();
});

/**
 * What the gateway answers: 502 for everything the system sent, and for an answer that never
 * ends the contract's 503 UPSTREAM_TIMEOUT ("one that does not answer in time gives 503").
 */
const EXPECTED: Record<AttackVariant, { status: number; codes: string[] }> = {
  xxe: { status: 502, codes: ['UPSTREAM_BAD_RESPONSE'] },
  'entity-expansion': { status: 502, codes: ['UPSTREAM_BAD_RESPONSE'] },
  'signature-wrapping': { status: 502, codes: ['UPSTREAM_SIGNATURE_INVALID', 'UPSTREAM_BAD_RESPONSE'] },
  'alg-none': { status: 502, codes: ['UPSTREAM_SIGNATURE_INVALID'] },
  'unknown-key': { status: 502, codes: ['UPSTREAM_CERT_UNTRUSTED'] },
  oversized: { status: 502, codes: ['UPSTREAM_BAD_RESPONSE'] },
  'slow-body': { status: 503, codes: ['UPSTREAM_TIMEOUT'] },
  'wrong-content-type': { status: 502, codes: ['UPSTREAM_BAD_RESPONSE'] },
};

/** Why, as the gateway's log says it (never to the caller): the attack was recognised as such. */
const REASON: Record<AttackVariant, RegExp> = {
  xxe: /DTD|document type declaration/,
  'entity-expansion': /DTD|document type declaration/,
  'signature-wrapping': /is used twice|not a child of the root|Body is not the element/,
  'alg-none': /alg|unsigned|signature/i,
  'unknown-key': /trust|root|issuer|chain/i,
  oversized: /exceeds \d+ bytes|maxContentLength size of \d+ exceeded/,
  'slow-body': /"code":"UPSTREAM_TIMEOUT"/,
  'wrong-content-type': /content type \\?"text\/html/,
};

const MATRIX = UPSTREAM_SYSTEMS.flatMap((system) => ATTACKS_BY_SYSTEM[system].map((variant) => [system, variant] as const));


describe('the sandbox control server', () => {
  it('refuses an attack without a variant, a variant the protocol has no use for, and a variant on another mode', async () => {
    const post = (body: unknown) => fetch(`${gw.controlUrl}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ system: 'tax', mode: 'attack' })).status).toBe(400);
    expect((await post({ system: 'business-registry', mode: 'attack', variant: 'xxe' })).status).toBe(400);
    expect((await post({ system: 'tax', mode: 'error', variant: 'xxe' })).status).toBe(400);
    expect((await post({ system: 'tax', mode: 'attack', variant: 'xxe' })).status).toBe(200);
    await clearFaults(gw.controlUrl);
  });
});

describe.each(MATRIX)('%s sending %s', (system, variant) => {
  it(`is refused with ${EXPECTED[variant].status} within the timeout, logged as a refusal`, async () => {
    expect((await calls[system]()).status, 'answers normally before the attack').toBe(200);
    await setFault(gw.controlUrl, { system, mode: 'attack', variant });
    const before = process.memoryUsage();
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await calls[system]();
      text = await res.text();
    } finally {
      await clearFaults(gw.controlUrl);
    }
    const elapsed = performance.now() - started;
    const after = process.memoryUsage();

    const body = JSON.parse(text) as { code: string; status: number };
    expect(res.status, text).toBe(EXPECTED[variant].status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(EXPECTED[variant].codes).toContain(body.code);
    // Refused within the upstream timeout (a margin for the gateway's own work, never a second timeout).
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
    // Nothing hostile reaches the caller.
    expect(text).not.toMatch(/Mạo Danh|ENTITY|passwd|lol|<|AAAAAAAA/);
    // Bounded memory: the oversized answer streams up to 1 GiB; the gateway stops at its limit.
    const grownMiB = (after.rss - before.rss) / 2 ** 20;
    figures.push(`${system} ${variant} ${res.status} ${elapsed.toFixed(0)} ${grownMiB.toFixed(1)} ${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)}`);
    expect(grownMiB, `RSS grew ${grownMiB.toFixed(1)} MiB`).toBeLessThan(64);
    expect((after.heapUsed - before.heapUsed) / 2 ** 20).toBeLessThan(64);

    const requestLines = gw.logs.filter((l) => l.includes(`"id":"${res.headers.get('x-request-id')}"`));
    expect(requestLines.some((l) => REASON[variant].test(l)), requestLines.join('\n').slice(0, 2000)).toBe(true);

    const exchangeId = res.headers.get('x-exchange-id');
    expect(exchangeId).toBeTruthy();
    const entry = await auditEntry(gw, exchangeId!, system);
    expect(entry.status).toBe(EXPECTED[variant].status);
    expect(entry.outcome).toBe(EXPECTED[variant].status === 502 ? 'refused' : 'failed');
    expect(entry.upstreamCalls?.some((c) => c.upstream === system && c.code === body.code)).toBe(true);
    // The gateway is still fine, and the system is answered normally once it behaves again.
    expect((await calls[system]()).status).toBe(200);
  });
});
