import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, hashApiKey, loadConfig } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'lienthong-config-'));
function file(text: string): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives working defaults with nothing configured', () => {
    const config = loadConfig({});
    expect(config.server.port).toBe(8080);
    expect(config.database.sqlitePath).toBe('./data/lienthong.db');
    expect(config.upstreams['business-registry'].timeoutMs).toBe(5000);
    expect(config.upstreams['business-registry'].breaker.resetTimeoutMs).toBe(10_000);
    expect(config.env.production).toBe(false);
  });

  it('applies the environment over the file', () => {
    const path = file('server:\n  port: 9000\nlog:\n  level: warn\n');
    const config = loadConfig({ PORT: '9100', UPSTREAM_BUSINESS_REGISTRY_URL: 'https://dkkd.example.vn' }, { file: path });
    expect(config.server.port).toBe(9100);
    expect(config.log.level).toBe('warn');
    expect(config.upstreams['business-registry'].url).toBe('https://dkkd.example.vn');
  });

  it('is frozen, all the way down', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.upstreams['business-registry'].breaker)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow();
  });

  it('names the bad setting and where it came from', () => {
    expect(problems(() => loadConfig({ PORT: 'eighty' }))).toEqual(['PORT: expected a whole number, got "eighty"']);
    expect(problems(() => loadConfig({ PORT: '70000' }))[0]).toMatch(/^server\.port \(from PORT\): /);
    expect(problems(() => loadConfig({ DATABASE_URL: 'mysql://x' }))[0]).toMatch(/^database\.url \(from DATABASE_URL\): .*postgres/);
    expect(problems(() => loadConfig({}, { file: file('server:\n  prot: 1\n') }))[0]).toMatch(/server/);
    expect(problems(() => loadConfig({}, { file: file('clients:\n  - id: x1\n    agency: H52\n    roles: [king]\n    keyHash: sha256:00\n') })).join('\n')).toMatch(
      /clients\.0\.roles\.0[\s\S]*clients\.0\.keyHash/,
    );
    expect(problems(() => loadConfig({}, { file: join(dir, 'missing.yaml') }))[0]).toMatch(/missing\.yaml/);
    expect(problems(() => loadConfig({}, { file: file('server: [1, 2\n') }))[0]).toMatch(/config file/);
  });

  it('refuses duplicate client ids', () => {
    const client = `  - id: portal\n    agency: H52\n    roles: [portal]\n    keyHash: ${hashApiKey('k1234567890')}\n`;
    expect(problems(() => loadConfig({}, { file: file(`clients:\n${client}${client}`) }))).toEqual(['clients: duplicate client id "portal"']);
  });

  it('asks national sign-on for level 2 unless told otherwise, and refuses levels it cannot send', () => {
    expect(loadConfig({}).sso.acrValues).toEqual(['urn:vneid:loa:2']);
    expect(loadConfig({}, { file: 'config/sandbox.yaml' }).sso.acrValues).toEqual(['urn:vneid:loa:2']);
    expect(loadConfig({}, { file: file('sso:\n  acrValues: [urn:vneid:loa:2, urn:vneid:loa:1]\n') }).sso.acrValues).toEqual(['urn:vneid:loa:2', 'urn:vneid:loa:1']);
    expect(problems(() => loadConfig({}, { file: file('sso:\n  acrValues: []\n') }))[0]).toMatch(/^sso\.acrValues: /);
    expect(problems(() => loadConfig({}, { file: file("sso:\n  acrValues: ['level 2']\n") }))[0]).toMatch(/^sso\.acrValues\.0: .*without spaces/);
    expect(problems(() => loadConfig({}, { file: file('sso:\n  acrValues: [a, a]\n') }))[0]).toMatch(/^sso\.acrValues: .*repeat/);
  });

  it('refuses the sandbox keys in production', () => {
    expect(loadConfig({}, { file: 'config/sandbox.yaml' }).clients).toHaveLength(4);
    const found = problems(() => loadConfig({ NODE_ENV: 'production' }, { file: 'config/sandbox.yaml' }));
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/sandbox keys are refused when NODE_ENV=production/);
  });
});

describe('resilience policies', () => {
  const policy = (settings: Record<string, unknown>) =>
    problems(() => loadConfig({}, { overrides: Object.fromEntries(Object.entries(settings).map(([k, v]) => [`upstreams.tax.${k}`, v])) })).join('\n');

  it('default to a bounded bulkhead and a few quick retries', () => {
    const tax = loadConfig({}).upstreams.tax;
    expect(tax.concurrency).toEqual({ maxInFlight: 32, maxQueued: 64, queueTimeoutMs: 1000 });
    expect(tax.retry).toEqual({ maxRetries: 2, baseDelayMs: 50, maxDelayMs: 1000 });
  });

  it.each([
    [{ timeoutMs: -1 }, 'upstreams.tax.timeoutMs: at least 10 ms'],
    [{ timeoutMs: 1.5 }, 'upstreams.tax.timeoutMs: a whole number of milliseconds'],
    [{ 'breaker.errorThresholdPercentage': 0 }, 'upstreams.tax.breaker.errorThresholdPercentage: a percentage from 1 to 100'],
    [{ 'breaker.errorThresholdPercentage': 150 }, 'upstreams.tax.breaker.errorThresholdPercentage: a percentage from 1 to 100'],
    [{ 'breaker.volumeThreshold': 0 }, 'upstreams.tax.breaker.volumeThreshold: at least 1'],
    [{ 'breaker.resetTimeoutMs': -100 }, 'upstreams.tax.breaker.resetTimeoutMs: at least 100 ms'],
    [{ 'concurrency.maxInFlight': 0 }, 'upstreams.tax.concurrency.maxInFlight: at least 1'],
    [{ 'concurrency.maxQueued': -1 }, 'upstreams.tax.concurrency.maxQueued: at least 0'],
    [{ 'concurrency.queueTimeoutMs': 0 }, 'upstreams.tax.concurrency.queueTimeoutMs: at least 1 ms'],
    [{ 'retry.maxRetries': 11 }, 'upstreams.tax.retry.maxRetries: at most 10'],
    [{ 'retry.baseDelayMs': 500, 'retry.maxDelayMs': 100 }, 'upstreams.tax.retry.maxDelayMs: maxDelayMs must be at least baseDelayMs'],
    [{ 'concurrency.maxInfight': 3 }, 'upstreams.tax.concurrency'],
  ])('refuse %j, naming the setting', (settings, message) => {
    expect(policy(settings)).toContain(message);
  });
});

describe('rules across sections', () => {
  it('refuse an outbox lease shorter than one delivery to the system that delivers dossiers, naming the setting', () => {
    // Three calls, each up to the portal's timeout plus its queue wait: 3 × (5 s + 1 s) by default.
    expect(loadConfig({}).outbox.leaseSeconds).toBe(60);
    expect(loadConfig({}, { overrides: { 'outbox.leaseSeconds': 18 } }).outbox.leaseSeconds).toBe(18);
    expect(problems(() => loadConfig({}, { overrides: { 'outbox.leaseSeconds': 17 } }))).toEqual([
      'outbox.leaseSeconds: must be at least 3 times upstreams.dvcqg.timeoutMs plus its concurrency.queueTimeoutMs (18 s)',
    ]);
    expect(problems(() => loadConfig({}, { overrides: { 'upstreams.dvcqg.timeoutMs': 30_000 } }))).toEqual([
      'outbox.leaseSeconds: must be at least 3 times upstreams.dvcqg.timeoutMs plus its concurrency.queueTimeoutMs (93 s)',
    ]);
  });

  it("give every registered system a section, with the module's own settings where it declares some", () => {
    const config = loadConfig({});
    expect(Object.keys(config.upstreams).sort()).toEqual(['business-registry', 'civil-status', 'dvcqg', 'population', 'social-insurance', 'tax', 'vneid']);
    expect(config.upstreams['civil-status']).toMatchObject({ timeoutMs: 5000, retry: { maxRetries: 2 } });
    expect((config.upstreams.population as unknown as { transport: { mode: string } }).transport.mode).toBe('lgsp');
    expect(problems(() => loadConfig({}, { overrides: { 'upstreams.tax.transport': { mode: 'direct' } } }))[0]).toMatch(/^upstreams\.tax: /);
    expect(problems(() => loadConfig({}, { overrides: { 'upstreams.land.url': 'https://land.example' } }))[0]).toMatch(/^upstreams: /);
  });
});
