import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamCall } from '../src/audit/leaf.ts';
import { upstreamConcurrency, upstreamRetry } from '../src/config/schema.ts';
import type { CallContext } from '../src/core/ports.ts';
import { GatewayError, isGatewayError } from '../src/errors/gateway-error.ts';
import { createLogger } from '../src/logging.ts';
import { createMetrics } from '../src/metrics.ts';
import { createBulkhead } from '../src/resilience/bulkhead.ts';
import { backoffMs, createPolicy, type PolicyOptions, type UpstreamPolicy } from '../src/resilience/policy.ts';

const logs: string[] = [];
const log = createLogger(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _e, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  }),
);

const policies: UpstreamPolicy[] = [];
afterEach(() => {
  for (const p of policies.splice(0)) p.shutdown();
});

const BASE: PolicyOptions = {
  timeoutMs: 2000,
  retryAfterSeconds: 3,
  breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 60_000, rollingCountTimeoutMs: 10_000 },
  concurrency: upstreamConcurrency.parse({}),
  retry: { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 20 },
};

function policy(overrides: Partial<PolicyOptions> = {}) {
  const metrics = createMetrics({ defaultMetrics: false });
  const p = createPolicy({ log, metrics }, 'tax', { ...BASE, ...overrides });
  policies.push(p);
  return { p, metrics };
}

function context(extra: Partial<CallContext> = {}): CallContext & { calls: UpstreamCall[] } {
  const calls: UpstreamCall[] = [];
  return { requestId: randomUUID(), exchangeId: randomUUID(), signal: new AbortController().signal, log, clientId: 't', agency: 'H52', recordCall: (c) => calls.push(c), calls, ...extra };
}

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val)).reduce((s, v) => s + v.value, 0);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isGatewayError(err) ? err.code : `other: ${(err as Error).message}`;
  }
  return 'none';
}

const unavailable = () => new GatewayError('UPSTREAM_UNAVAILABLE', { upstreamFailure: true });
const never = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));

describe('bulkhead', () => {
  it('runs maxInFlight calls, queues maxQueued, refuses the rest at once, and hands slots to waiters in order', async () => {
    const b = createBulkhead('tax', { maxInFlight: 2, maxQueued: 1, queueTimeoutMs: 5000 }, { retryAfterSeconds: 2 });
    const signal = new AbortController().signal;
    const r1 = await b.acquire(signal);
    await b.acquire(signal);
    const waiting = b.acquire(signal);
    expect([b.inFlight, b.queued]).toEqual([2, 1]);
    const refused = await b.acquire(signal).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).code).toBe('UPSTREAM_BUSY');
    expect((refused as GatewayError).status).toBe(503);
    expect((refused as GatewayError).retryAfter).toBe(2);
    r1();
    r1(); // twice: still one slot
    const r3 = await waiting;
    expect([b.inFlight, b.queued]).toEqual([2, 0]);
    r3();
    expect(b.inFlight).toBe(1);
  });

  it('refuses a waiter after queueTimeoutMs, and lets a caller who hangs up leave the queue', async () => {
    const b = createBulkhead('tax', { maxInFlight: 1, maxQueued: 5, queueTimeoutMs: 80 }, { retryAfterSeconds: 1 });
    await b.acquire(new AbortController().signal);
    const t0 = performance.now();
    expect(await codeOf(b.acquire(new AbortController().signal))).toBe('UPSTREAM_BUSY');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
    const caller = new AbortController();
    const leaving = b.acquire(caller.signal);
    expect(b.queued).toBe(1);
    caller.abort(new Error('gone'));
    await expect(leaving).rejects.toThrow('gone');
    expect(b.queued).toBe(0);
  });
});

describe('upstream policy', () => {
  it('bounds the calls under way to one system and refuses the overflow with UPSTREAM_BUSY, logged as rejected', async () => {
    const { p, metrics } = policy({ concurrency: { maxInFlight: 3, maxQueued: 2, queueTimeoutMs: 5000 } });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let started = 0;
    const slow = () =>
      p.execute(context(), async () => {
        started++;
        await gate;
        return 'ok';
      });
    const running = Array.from({ length: 5 }, slow);
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(3);
    expect(p.stats()).toMatchObject({ inFlight: 3, queued: 2, maxInFlight: 3, maxQueued: 2 });
    const ctx = context();
    expect(await codeOf(p.execute(ctx, async () => 'never runs'))).toBe('UPSTREAM_BUSY');
    expect(ctx.calls).toEqual([expect.objectContaining({ upstream: 'tax', outcome: 'rejected', code: 'UPSTREAM_BUSY' })]);
    expect(await metricValue(metrics, 'lienthong_upstream_queued', { upstream: 'tax' })).toBe(2);
    open();
    expect(await Promise.all(running)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(started).toBe(5);
    expect(p.stats()).toMatchObject({ inFlight: 0, queued: 0, state: 'closed' });
    expect(await metricValue(metrics, 'lienthong_upstream_calls_total', { upstream: 'tax', outcome: 'busy' })).toBe(1);
  });

  it('retries an idempotent read after transport failures, each attempt in the exchange, with growing jittered delays', async () => {
    const { p, metrics } = policy();
    let attempts = 0;
    const ctx = context();
    const value = await p.execute(
      ctx,
      async () => {
        if (++attempts < 3) throw unavailable();
        return 'read';
      },
      { idempotent: true },
    );
    expect(value).toBe('read');
    expect(attempts).toBe(3);
    expect(ctx.calls.map((c) => c.code)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE', null]);
    expect(await metricValue(metrics, 'lienthong_upstream_retries_total', { upstream: 'tax', code: 'UPSTREAM_UNAVAILABLE' })).toBe(2);
    // Full jitter under an exponential ceiling, capped.
    const retry = upstreamRetry.parse({ baseDelayMs: 100, maxDelayMs: 350 });
    expect(backoffMs(retry, 0, () => 1)).toBe(100);
    expect(backoffMs(retry, 1, () => 1)).toBe(200);
    expect(backoffMs(retry, 2, () => 1)).toBe(350);
    expect(backoffMs(retry, 2, () => 0.5)).toBe(175);
    expect(backoffMs(retry, 0, () => 0)).toBe(1);
  });

  it('never retries writes, business answers, signature or certificate failures', async () => {
    const { p } = policy({ breaker: { ...BASE.breaker, volumeThreshold: 1000 } });
    const cases: [GatewayError, boolean][] = [
      [unavailable(), false], // a write
      [new GatewayError('SUBJECT_NOT_FOUND'), true],
      [new GatewayError('VERIFICATION_MISMATCH'), true],
      [new GatewayError('UPSTREAM_SIGNATURE_INVALID', { upstreamFailure: true }), true],
      [new GatewayError('UPSTREAM_CERT_REVOKED', { upstreamFailure: true }), true],
      [new GatewayError('UPSTREAM_AUTH', { upstreamFailure: true }), true],
    ];
    for (const [error, idempotent] of cases) {
      let attempts = 0;
      const code = await codeOf(
        p.execute(
          context(),
          async () => {
            attempts++;
            throw error;
          },
          { idempotent },
        ),
      );
      expect([code, attempts]).toEqual([error.code, 1]);
    }
  });

  it('never retries past the deadline: a timed-out read is not tried again, and a shorter caller deadline wins', async () => {
    const { p } = policy({ timeoutMs: 150, retry: { maxRetries: 5, baseDelayMs: 1, maxDelayMs: 1 } });
    let attempts = 0;
    let t0 = performance.now();
    const code = await codeOf(
      p.execute(
        context(),
        (signal) => {
          attempts++;
          return never(signal);
        },
        { idempotent: true },
      ),
    );
    expect(code).toBe('UPSTREAM_TIMEOUT');
    expect(attempts).toBe(1);
    expect(performance.now() - t0).toBeLessThan(1000);

    // Fast failures are retried only while the caller still waits.
    attempts = 0;
    const { p: q } = policy({ timeoutMs: 5000, retry: { maxRetries: 10, baseDelayMs: 40, maxDelayMs: 40 } });
    t0 = performance.now();
    const deadline = Date.now() + 120;
    expect(
      await codeOf(
        q.execute(
          context({ deadline }),
          async () => {
            attempts++;
            throw unavailable();
          },
          { idempotent: true },
        ),
      ),
    ).toBe('UPSTREAM_UNAVAILABLE');
    expect(Date.now()).toBeLessThanOrEqual(deadline + 30);
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBeLessThanOrEqual(11);
  });

  it('never retries while the breaker is open, and rejects at once without taking a slot', async () => {
    const { p, metrics } = policy({
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 2, resetTimeoutMs: 60_000, rollingCountTimeoutMs: 10_000 },
      retry: { maxRetries: 10, baseDelayMs: 1, maxDelayMs: 2 },
      concurrency: { maxInFlight: 1, maxQueued: 0, queueTimeoutMs: 100 },
    });
    let attempts = 0;
    const failing = async () => {
      attempts++;
      throw unavailable();
    };
    expect(await codeOf(p.execute(context(), failing, { idempotent: true }))).toBe('UPSTREAM_UNAVAILABLE');
    // The second failure opened the breaker: no third attempt.
    expect(attempts).toBe(2);
    expect(p.state()).toBe('open');
    // A call holding the only slot does not stop the rejection.
    const ctx = context();
    const err = await p.execute(ctx, failing, { idempotent: true }).catch((e: unknown) => e as GatewayError);
    expect(err.code).toBe('UPSTREAM_CIRCUIT_OPEN');
    expect(err.retryAfter).toBeGreaterThanOrEqual(59);
    expect(attempts).toBe(2);
    expect(ctx.calls).toEqual([expect.objectContaining({ outcome: 'rejected', code: 'UPSTREAM_CIRCUIT_OPEN' })]);
    // The transition is logged and counted.
    expect(logs.some((l) => l.includes('"upstream":"tax"') && l.includes('circuit opened'))).toBe(true);
    expect(await metricValue(metrics, 'lienthong_upstream_breaker_transitions_total', { upstream: 'tax', to: 'open' })).toBe(1);
    expect(await metricValue(metrics, 'lienthong_upstream_breaker_state', { upstream: 'tax' })).toBe(2);
  });

  it('does not count business answers as failures: the breaker stays closed through a run of "not found"', async () => {
    const { p } = policy({ breaker: { errorThresholdPercentage: 10, volumeThreshold: 2, resetTimeoutMs: 60_000, rollingCountTimeoutMs: 10_000 } });
    for (let i = 0; i < 30; i++) {
      const code = await codeOf(
        p.execute(
          context(),
          async () => {
            throw new GatewayError(i % 2 ? 'SUBJECT_NOT_FOUND' : 'VERIFICATION_MISMATCH');
          },
          { idempotent: true },
        ),
      );
      expect(code).not.toBe('UPSTREAM_CIRCUIT_OPEN');
    }
    expect(p.state()).toBe('closed');
    expect(p.stats().errorRate).toBe(0);
    // Whereas real failures do open it.
    for (let i = 0; i < 6; i++) await codeOf(p.execute(context(), async () => Promise.reject(unavailable())));
    expect(p.state()).toBe('open');
  });

  it('reports latency percentiles and a rolling error rate', async () => {
    const { p } = policy({ breaker: { errorThresholdPercentage: 90, volumeThreshold: 100, resetTimeoutMs: 60_000, rollingCountTimeoutMs: 10_000 } });
    for (let i = 0; i < 4; i++) await p.execute(context(), () => new Promise((r) => setTimeout(() => r(1), 20)));
    await codeOf(p.execute(context(), async () => Promise.reject(unavailable())));
    const stats = p.stats();
    expect(stats.errorRate).toBeCloseTo(0.2, 3);
    expect(stats.latencyMs.p99).toBeGreaterThanOrEqual(stats.latencyMs.p50);
    expect(stats.latencyMs.p50).toBeGreaterThanOrEqual(15);
  });
});
