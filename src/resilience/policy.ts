import CircuitBreaker from 'opossum';
import { GatewayError, isGatewayError } from '../errors/gateway-error.ts';
import { outcomeOf, type Outcome } from '../audit/leaf.ts';
import type { CallContext, SystemId } from '../core/ports.ts';
import type { Logger } from '../logging.ts';
import type { Metrics } from '../metrics.ts';
import { upstreamConcurrency, type UpstreamConfig } from '../config/schema.ts';
import { createBulkhead } from './bulkhead.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** The upstream's recent behaviour over the breaker's rolling window. */
export interface PolicyStats {
  state: BreakerState;
  /** Failures (including timeouts) over calls that ran, 0–1; rejections while open are not calls. */
  errorRate: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Calls under way (holding a bulkhead slot) and calls waiting for one. */
  inFlight: number;
  queued: number;
  maxInFlight: number;
  maxQueued: number;
}

export interface CallOptions {
  /**
   * The call only reads, so sending it twice does no harm: it may be retried after a transport
   * failure (unreachable, connection broken, server error). Logins and writes are never retried.
   */
  idempotent?: boolean;
}

/** The one way adapters call their national system: bulkhead, timeout, circuit breaker, retries, metrics. */
export interface UpstreamPolicy {
  readonly id: SystemId;
  execute<T>(ctx: CallContext, call: (signal: AbortSignal) => Promise<T>, options?: CallOptions): Promise<T>;
  state(): BreakerState;
  stats(): PolicyStats;
  shutdown(): void;
}

export interface PolicyDeps {
  log: Logger;
  metrics: Metrics;
}

/** An upstream's config section; without `concurrency` the defaults apply, without `retry` nothing is retried. */
export type PolicyOptions = Pick<UpstreamConfig, 'timeoutMs' | 'retryAfterSeconds' | 'breaker'> & Partial<Pick<UpstreamConfig, 'concurrency' | 'retry' | 'messageSecurity'>>;
type RetryOptions = UpstreamConfig['retry'];
const NO_RETRY: RetryOptions = { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 };

/** Failures of the transport, worth one more try for a read; never a business answer, a signature or a certificate. */
const RETRYABLE = new Set(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT']);

/** An attempt that would get less time than this is not started. */
const MIN_ATTEMPT_MS = 10;

/** Exponential backoff with full jitter: uniform in [1, min(max, base·2^attempt)] ms. */
export function backoffMs(retry: RetryOptions, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt);
  return Math.max(1, Math.round(random() * ceiling));
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** Thrown inside a call when the caller went away; not the upstream's fault. */
class CallerAbortedError extends Error {}

export function createPolicy(deps: PolicyDeps, id: SystemId, options: PolicyOptions): UpstreamPolicy {
  const { log, metrics } = deps;
  // Each call in the exchange log names the message security profile it was made under.
  const callee = options.messageSecurity ? { upstream: id, messageSecurity: options.messageSecurity } : { upstream: id };
  let openedAt = 0;

  const breaker = new CircuitBreaker(async (run: () => Promise<unknown>) => run(), {
    // Timeouts are enforced by execute() with an AbortSignal, so the socket is really released.
    timeout: false,
    errorThresholdPercentage: options.breaker.errorThresholdPercentage,
    volumeThreshold: options.breaker.volumeThreshold,
    resetTimeout: options.breaker.resetTimeoutMs,
    rollingCountTimeout: options.breaker.rollingCountTimeoutMs,
    rollingCountBuckets: 10,
    // Business answers (not found, mismatch) and callers hanging up are not the upstream failing.
    errorFilter: (err: unknown) => err instanceof CallerAbortedError || (isGatewayError(err) && !err.upstreamFailure),
  });

  const setState = (state: BreakerState) => {
    metrics.breakerState.set({ upstream: id }, STATE_VALUE[state]);
    metrics.breakerTransitions.inc({ upstream: id, to: state });
  };
  metrics.breakerState.set({ upstream: id }, 0);
  breaker.on('open', () => {
    openedAt = Date.now();
    setState('open');
    log.warn({ upstream: id, resetTimeoutMs: options.breaker.resetTimeoutMs }, 'circuit opened');
  });
  breaker.on('halfOpen', () => {
    setState('half_open');
    log.info({ upstream: id }, 'circuit half-open: probing');
  });
  breaker.on('close', () => {
    setState('closed');
    log.info({ upstream: id }, 'circuit closed');
  });

  const state = (): BreakerState => (breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed');
  const bulkhead = createBulkhead(id, options.concurrency ?? upstreamConcurrency.parse({}), { retryAfterSeconds: options.retryAfterSeconds });
  const retry = options.retry ?? NO_RETRY;

  const stats = (): PolicyStats => {
    const s = breaker.stats as unknown as { successes: number; failures: number; timeouts: number; percentiles: Record<string, number> };
    const ran = s.successes + s.failures + s.timeouts;
    const p = (q: string) => Math.max(0, Math.round(s.percentiles[q] ?? 0));
    return {
      state: state(),
      errorRate: ran === 0 ? 0 : Math.round(((s.failures + s.timeouts) / ran) * 1000) / 1000,
      latencyMs: { p50: p('0.5'), p95: p('0.95'), p99: p('0.99') },
      inFlight: bulkhead.inFlight,
      queued: bulkhead.queued,
      maxInFlight: bulkhead.limits.maxInFlight,
      maxQueued: bulkhead.limits.maxQueued,
    };
  };

  /** A call that never went out: refused by the bulkhead, or abandoned by its caller while waiting. */
  function notSent(ctx: CallContext, err: unknown, started: number): never {
    const busy = isGatewayError(err) && err.code === 'UPSTREAM_BUSY';
    const latencyMs = Math.round(performance.now() - started);
    ctx.recordCall?.({ ...callee, outcome: busy ? 'rejected' : 'failed', code: busy ? 'UPSTREAM_BUSY' : 'CALLER_ABORTED', latencyMs });
    metrics.upstreamCalls.inc({ upstream: id, outcome: busy ? 'busy' : 'aborted' });
    if (busy) ctx.log.warn({ upstream: id, inFlight: bulkhead.inFlight, queued: bulkhead.queued }, 'upstream call refused: bulkhead full');
    throw busy ? err : new CallerAbortedError('caller aborted while waiting for a slot', { cause: err });
  }

  async function execute<T>(ctx: CallContext, call: (signal: AbortSignal) => Promise<T>, callOptions: CallOptions = {}): Promise<T> {
    ctx.exchangeStarted?.(id);
    const started = performance.now();
    // An open breaker rejects at once: such a call never waits for a slot.
    let release: (() => void) | undefined;
    if (!breaker.opened) {
      metrics.upstreamQueued.inc({ upstream: id });
      try {
        release = await bulkhead.acquire(ctx.signal);
      } catch (err) {
        notSent(ctx, err, started);
      } finally {
        metrics.upstreamQueued.dec({ upstream: id });
      }
    }
    metrics.upstreamInFlight.inc({ upstream: id });
    try {
      // The time budget starts once the call has a slot; the caller's own deadline, when sooner, wins.
      const deadline = Math.min(Date.now() + options.timeoutMs, ctx.deadline ?? Infinity);
      for (let attempt = 0; ; attempt++) {
        try {
          return await attemptOnce(ctx, call, deadline);
        } catch (err) {
          const delay = backoffMs(retry, attempt);
          const again =
            callOptions.idempotent === true &&
            attempt < retry.maxRetries &&
            isGatewayError(err) &&
            err.upstreamFailure &&
            RETRYABLE.has(err.code) &&
            !breaker.opened &&
            !ctx.signal.aborted &&
            Date.now() + delay + MIN_ATTEMPT_MS < deadline;
          if (!again) throw err;
          metrics.upstreamRetries.inc({ upstream: id, code: err.code });
          ctx.log.info({ upstream: id, code: err.code, attempt: attempt + 1, delayMs: delay }, 'retrying an idempotent upstream read');
          if (!(await sleep(delay, ctx.signal))) throw err;
        }
      }
    } finally {
      release?.();
      metrics.upstreamInFlight.dec({ upstream: id });
    }
  }

  /** One attempt through the breaker, with the time left before the deadline. */
  async function attemptOnce<T>(ctx: CallContext, call: (signal: AbortSignal) => Promise<T>, deadline: number): Promise<T> {
    const started = performance.now();
    const allowedMs = Math.max(1, deadline - Date.now());
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('upstream timeout'));
    }, allowedMs);
    const onCallerAbort = () => controller.abort(new Error('caller aborted'));
    if (ctx.signal.aborted) onCallerAbort();
    else ctx.signal.addEventListener('abort', onCallerAbort, { once: true });

    const run = async (): Promise<T> => {
      try {
        return await call(controller.signal);
      } catch (err) {
        if (timedOut) {
          throw new GatewayError('UPSTREAM_TIMEOUT', {
            detail: `${id} did not answer within ${allowedMs} ms`,
            retryAfter: options.retryAfterSeconds,
            upstreamFailure: true,
            cause: err,
          });
        }
        if (ctx.signal.aborted) throw new CallerAbortedError('caller aborted', { cause: err });
        if (isGatewayError(err)) {
          // Every "unavailable" answer tells the caller when to try again.
          if (err.code === 'UPSTREAM_UNAVAILABLE' && err.retryAfter === undefined) {
            throw new GatewayError(err.code, { detail: err.detail, retryAfter: options.retryAfterSeconds, upstreamFailure: err.upstreamFailure, cause: err.cause });
          }
          throw err;
        }
        throw new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: `${id} answered in a way the gateway cannot use`, upstreamFailure: true, cause: err });
      }
    };

    let outcome = 'success';
    let logOutcome: Outcome = 'success';
    let logCode: string | null = null;
    try {
      return (await breaker.fire(run)) as T;
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        outcome = 'rejected';
        logOutcome = 'rejected';
        logCode = 'UPSTREAM_CIRCUIT_OPEN';
        const remainingMs = Math.max(0, openedAt + options.breaker.resetTimeoutMs - Date.now());
        throw new GatewayError('UPSTREAM_CIRCUIT_OPEN', {
          detail: `calls to ${id} are suspended after repeated failures`,
          retryAfter: Math.max(1, Math.ceil(remainingMs / 1000)),
        });
      }
      outcome = isGatewayError(err) ? (err.upstreamFailure ? err.code.toLowerCase() : 'business_error') : 'aborted';
      logCode = isGatewayError(err) ? err.code : 'CALLER_ABORTED';
      // The same rule as for the exchange as a whole: from the status the error answers with.
      logOutcome = isGatewayError(err) ? outcomeOf(err.status, err.code) : 'failed';
      if (isGatewayError(err) && err.upstreamFailure) {
        ctx.log.warn({ upstream: id, code: err.code, err: err.cause }, 'upstream call failed');
      }
      throw err;
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onCallerAbort);
      const seconds = (performance.now() - started) / 1000;
      ctx.recordCall?.({ ...callee, outcome: logOutcome, code: logCode, latencyMs: Math.round(seconds * 1000) });
      metrics.upstreamCalls.inc({ upstream: id, outcome });
      metrics.upstreamDuration.observe({ upstream: id, outcome }, seconds);
      ctx.log.debug({ upstream: id, outcome, latencyMs: Math.round(seconds * 1000), exchangeId: ctx.exchangeId }, 'upstream call');
    }
  }

  return { id, execute, state, stats, shutdown: () => breaker.shutdown() };
}
