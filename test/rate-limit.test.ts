import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/config/load.ts';
import { createRateLimiter } from '../src/http/rate-limit.ts';
import { enterprises } from '../src/sandbox/personas.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const redisUrl = process.env.TEST_REDIS_URL;
if (!redisUrl) console.log('Redis rate-limit tests skipped: TEST_REDIS_URL is not set (CI sets it; see README)');

const path = `/v1/enterprises/${enterprises[0]!.enterpriseCode}`;

function limitedClient(points: number) {
  const id = `limited-${randomBytes(4).toString('hex')}`;
  const key = `key-${randomBytes(16).toString('hex')}`;
  return { key, client: { id, agency: 'H52', roles: ['portal'], keyHash: hashApiKey(key), rateLimit: { points, durationSeconds: 60 } } };
}

const gateways: TestGateway[] = [];
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
});

describe('per-client rate limits', () => {
  it('answer 429 with Retry-After once a client has spent its budget', async () => {
    const { key, client } = limitedClient(3);
    const gw = await startTestGateway({ clients: [client] });
    gateways.push(gw);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await gw.fetch(path, { key })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await gw.fetch(path, { key });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(((await refused.json()) as { code: string }).code).toBe('RATE_LIMITED');
  });

  it('stop an address that keeps presenting wrong keys, even once it finds a right one', async () => {
    const { key, client } = limitedClient(100);
    const gw = await startTestGateway({ clients: [client], 'rateLimit.authFailures': { points: 3, durationSeconds: 60 } });
    gateways.push(gw);
    for (let i = 0; i < 3; i++) expect((await gw.fetch(path, { key: `guess-${i}-0000000000` })).status).toBe(401);
    const blocked = await gw.fetch(path, { key });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe.skipIf(!redisUrl)('rate limits shared through Redis', () => {
  it('hold across two gateways', async () => {
    const { key, client } = limitedClient(4);
    const a = await startTestGateway({ clients: [client], 'redis.url': redisUrl });
    gateways.push(a);
    const b = await startTestGateway({ clients: [client], 'redis.url': redisUrl });
    gateways.push(b);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await (i % 2 === 0 ? a : b).fetch(path, { key })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.slice(4)).toEqual([429, 429]);
    const ready = (await (await a.fetch('/readyz', { key: null })).json()) as { checks: Record<string, { status: string }> };
    expect(ready.checks.redis?.status).toBe('ok');
  });

  it('share one budget between limiter instances on separate connections', async () => {
    const one = new Redis(redisUrl!);
    const two = new Redis(redisUrl!);
    try {
      const bucket = `test-${randomBytes(4).toString('hex')}`;
      const limit = { points: 3, durationSeconds: 30 };
      const first = createRateLimiter(one);
      const second = createRateLimiter(two);
      expect(first.backend).toBe('redis');
      const results = [];
      for (let i = 0; i < 4; i++) results.push((await (i % 2 ? second : first).consume(bucket, 'client-x', limit)).allowed);
      expect(results).toEqual([true, true, true, false]);
      expect((await first.exhausted(bucket, 'client-x', limit)).exhausted).toBe(true);
      expect((await second.exhausted(bucket, 'client-y', limit)).exhausted).toBe(false);
    } finally {
      one.disconnect();
      two.disconnect();
    }
  });
});
