import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';

export interface Limit {
  points: number;
  durationSeconds: number;
}

export type LimitDecision = { allowed: true; remaining: number; resetSeconds: number } | { allowed: false; retryAfter: number; resetSeconds: number };

/** Per-key request budgets: in memory, or shared by every gateway process through Redis. */
export interface RateLimiter {
  consume(bucket: string, key: string, limit: Limit): Promise<LimitDecision>;
  /** Whether the key has no points left, without spending one. */
  exhausted(bucket: string, key: string, limit: Limit): Promise<{ exhausted: boolean; retryAfter: number }>;
  readonly backend: 'memory' | 'redis';
}

export function createRateLimiter(redis?: Redis): RateLimiter {
  const limiters = new Map<string, RateLimiterAbstract>();
  const limiterFor = (bucket: string, limit: Limit) => {
    const id = `${bucket}:${limit.points}:${limit.durationSeconds}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      const opts = { keyPrefix: `lienthong:rl:${bucket}`, points: limit.points, duration: limit.durationSeconds };
      limiter = redis
        ? new RateLimiterRedis({
            ...opts,
            storeClient: redis,
            // If Redis is unreachable, each process falls back to its own memory budget.
            insuranceLimiter: new RateLimiterMemory(opts),
          })
        : new RateLimiterMemory(opts);
      limiters.set(id, limiter);
    }
    return limiter;
  };
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

  return {
    backend: redis ? 'redis' : 'memory',
    async consume(bucket, key, limit) {
      try {
        const res = await limiterFor(bucket, limit).consume(key);
        return { allowed: true, remaining: res.remainingPoints, resetSeconds: seconds(res.msBeforeNext) };
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          return { allowed: false, retryAfter: seconds(rejection.msBeforeNext), resetSeconds: seconds(rejection.msBeforeNext) };
        }
        throw rejection;
      }
    },
    async exhausted(bucket, key, limit) {
      const res = await limiterFor(bucket, limit).get(key);
      return res && res.remainingPoints <= 0 && res.consumedPoints >= limit.points
        ? { exhausted: true, retryAfter: seconds(res.msBeforeNext) }
        : { exhausted: false, retryAfter: 0 };
    },
  };
}
