import { create } from './adapter.ts';
import { describe, expect, it } from 'vitest';
import { listen } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy } from '../../src/resilience/policy.ts';
import { failure, testContext, testSigning } from '../contract/test-kit.ts';
import { toAgencyEntry, toFieldEntry, wireAgencyList, wireFieldList } from './mapping.ts';
import { portalEnv } from './test-env.ts';

describe('dvcqg agency and field catalogues', () => {
  it('reads LayDanhMucCoQuan and LayDanhMucLinhVuc from the portal, by code and name', async () => {
    const env = await portalEnv();
    const agencies = await env.ops.agencies(testContext());
    const fields = await env.ops.fields(testContext());
    expect(agencies).toContainEqual({ code: 'H52.20', name: 'Sở Tư pháp tỉnh Sơn La' });
    expect(agencies.length).toBeGreaterThan(1);
    // Every field the procedure list files procedures under is in the field catalogue.
    const listed = new Set((await env.ops.list(testContext())).map((p) => p.field.code));
    expect(new Set(fields.map((f) => f.code))).toEqual(listed);
    const calls = env.serviceCalls();
    expect(calls[0]!.body).toEqual({ session: calls[0]!.body.session, madonvi: 'H52', service: 'LayDanhMucCoQuan' });
    expect(calls[1]!.body).toEqual({ session: calls[0]!.body.session, madonvi: 'H52', service: 'LayDanhMucLinhVuc' });
  });

  it('refuses an answer that is not a catalogue as a bad response from the portal', async () => {
    const env = await portalEnv();
    await env.ops.agencies(testContext());
    env.faults.set({ system: 'dvcqg', mode: 'malformed' });
    expect(await failure(env.ops.agencies(testContext()))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE' });
    expect(await failure(env.ops.fields(testContext()))).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE' });
  });
});

describe('a catalogue answer naming one code twice', () => {
  it('is refused: a filter by that code would be ambiguous', async () => {
    // A portal that logs in and answers LayDanhMucLinhVuc with the same field code twice.
    const server = await listen((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/login') return void res.end(JSON.stringify({ error_code: '0', session: 's1' }));
      res.end(JSON.stringify({ error_code: '0', result: [{ MALINHVUC: 'HT', TENLINHVUC: 'Hộ tịch' }, { MALINHVUC: 'HT', TENLINHVUC: 'Hộ tịch (cũ)' }] }));
    }, '127.0.0.1', 0);
    const log = createLogger({ level: 'silent' });
    const policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'dvcqg', {
      timeoutMs: 2000,
      retryAfterSeconds: 3,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 10_000, rollingCountTimeoutMs: 10_000 },
    });
    const adapter = create({ log, policy, signing: testSigning('dvcqg') }, { url: server.url, maxResponseBytes: 1_048_576, retryAfterSeconds: 3, gatewayAgency: 'H52' });
    try {
      const err = await failure(adapter.ops.fields(testContext()));
      expect(err).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE' });
    } finally {
      policy.shutdown();
      await adapter.close();
      await server.close();
    }
  });
});

describe('catalogue entries on the wire', () => {
  it('requires a code and a name on every entry', () => {
    expect(wireAgencyList.safeParse([{ MADONVI: 'H52.20', TENDONVI: '' }]).success).toBe(false);
    expect(wireAgencyList.safeParse([{ MADONVI: 'H52.20' }]).success).toBe(false);
    expect(wireFieldList.safeParse([{ MALINHVUC: 'HT', TENLINHVUC: null }]).success).toBe(false);
    expect(wireFieldList.safeParse([{ MALINHVUC: 'HT', TENLINHVUC: 'Hộ tịch', EXTRA: 1 }]).success).toBe(true);
  });

  it('gives names in NFC and codes without surrounding spaces', () => {
    const decomposed = 'Hộ tịch'.normalize('NFD');
    expect(toFieldEntry({ MALINHVUC: ' HT ', TENLINHVUC: decomposed })).toEqual({ code: 'HT', name: 'Hộ tịch'.normalize('NFC') });
    expect(toAgencyEntry({ MADONVI: 'H52', TENDONVI: 'Ủy ban nhân dân tỉnh Sơn La'.normalize('NFD') }).name).toBe('Ủy ban nhân dân tỉnh Sơn La'.normalize('NFC'));
  });
});
