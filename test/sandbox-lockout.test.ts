import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { enterprises } from '../src/sandbox/personas.ts';
import { KEYS, startTestGateway, type TestGateway } from './helpers/gateway.ts';

const path = `/v1/enterprises/${enterprises[0]!.enterpriseCode}`;
const gateways: TestGateway[] = [];
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
});

describe('the failed-authentication lockout', () => {
  // The default, which production keeps.
  const strict = loadConfig({}).rateLimit.authFailures;

  it('is relaxed in the sandbox configuration only', () => {
    expect(strict).toEqual({ points: 20, durationSeconds: 60 });
    expect(loadConfig({}, { file: 'config/production.example.yaml' }).rateLimit.authFailures).toEqual(strict);
    const sandbox = loadConfig({}, { file: 'config/sandbox.yaml' }).rateLimit.authFailures;
    expect(sandbox.durationSeconds).toBeLessThanOrEqual(strict.durationSeconds);
    expect(sandbox.points).toBeGreaterThanOrEqual(50 * strict.points);
  });

  it('lets a developer in after more mistyped keys than production allows, in the sandbox', async () => {
    // startTestGateway loads config/sandbox.yaml, as `npm start` does.
    const gw = await startTestGateway();
    gateways.push(gw);
    for (let i = 0; i <= strict.points; i++) expect((await gw.fetch(path, { key: `mistyped-${i}-0000000000` })).status).toBe(401);
    expect((await gw.fetch(path, { key: KEYS.portal })).status).toBe(200);
  });

  it('still locks out after the production default without that setting', async () => {
    const gw = await startTestGateway({ 'rateLimit.authFailures': strict });
    gateways.push(gw);
    for (let i = 0; i < strict.points; i++) expect((await gw.fetch(path, { key: `mistyped-${i}-0000000000` })).status).toBe(401);
    const blocked = await gw.fetch(path, { key: KEYS.portal });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
