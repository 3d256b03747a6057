import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterprises, people, personasSummary, procedures } from '../../src/sandbox/personas.ts';
import { KEYS, clearFaults, metric, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const known = enterprises[0]!;
const PROBLEM = 'application/problem+json';
const UPSTREAM_TIMEOUT_MS = 1500;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    'upstreams.business-registry.timeoutMs': UPSTREAM_TIMEOUT_MS,
    'upstreams.business-registry.breaker.volumeThreshold': 4,
    'upstreams.business-registry.breaker.resetTimeoutMs': 800,
  });
});
afterAll(async () => {
  await gw?.close();
});

async function problem(res: Response) {
  expect(res.headers.get('content-type')).toContain(PROBLEM);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status: res.status, requestId: res.headers.get('x-request-id') });
  expect(String(body.type)).toMatch(/^https:\/\/lienthong\.sonla\.gov\.vn\/problems\//);
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|node_modules/); // no stack traces
  return body as { code: string; detail?: string; errors?: { field: string; message: string }[] };
}

describe('GET /v1/enterprises/{enterpriseCode}', () => {
  it('returns a sandbox enterprise through the typed client', async () => {
    const { data, error, response } = await gw.client(KEYS.portal).GET('/v1/enterprises/{enterpriseCode}', {
      params: { path: { enterpriseCode: known.enterpriseCode } },
    });
    expect(error).toBeUndefined();
    expect(response.status).toBe(200);
    expect(data).toMatchObject({
      enterpriseCode: known.enterpriseCode,
      name: known.name,
      legalForm: known.legalForm,
      status: known.status,
      registrationDate: known.registrationDate,
      headOffice: { province: 'Sơn La', commune: known.headOffice.commune },
      legalRepresentative: { fullName: 'Trần Đức Minh' },
      charterCapital: known.charterCapital,
    });
    expect(data!.retrievedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$/);
    expect(response.headers.get('x-exchange-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('serves every sandbox enterprise, branches and every status included, to agencies too', async () => {
    for (const e of enterprises) {
      const res = await gw.fetch(`/v1/enterprises/${e.enterpriseCode}`, { key: KEYS.agency });
      expect(res.status, e.enterpriseCode).toBe(200);
      expect(await res.json()).toMatchObject({ enterpriseCode: e.enterpriseCode, status: e.status, legalForm: e.legalForm });
    }
  });

  it('echoes a caller X-Request-Id', async () => {
    const res = await gw.fetch(`/v1/enterprises/${known.enterpriseCode}`, { headers: { 'x-request-id': 'portal-req.42:a' } });
    expect(res.headers.get('x-request-id')).toBe('portal-req.42:a');
  });

  it('refuses a wrong check digit with 400 before any upstream call', async () => {
    const before = await metric(gw.url, 'lienthong_upstream_calls_total', { upstream: 'business-registry' });
    const wrong = known.enterpriseCode.slice(0, 9) + String((Number(known.enterpriseCode[9]) + 1) % 10);
    const res = await gw.fetch(`/v1/enterprises/${wrong}`);
    expect(res.status).toBe(400);
    const body = await problem(res);
    expect(body.code).toBe('INVALID_IDENTIFIER');
    expect(body.errors).toEqual([{ field: 'path.enterpriseCode', message: expect.stringMatching(/check digit/) }]);
    expect(res.headers.get('x-exchange-id')).toBeNull();
    expect(await metric(gw.url, 'lienthong_upstream_calls_total', { upstream: 'business-registry' })).toBe(before);
  });

  it('refuses a code of the wrong shape, naming the field', async () => {
    const res = await gw.fetch('/v1/enterprises/55-00');
    expect(res.status).toBe(400);
    const body = await problem(res);
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.errors?.[0]?.field).toBe('path.enterpriseCode');
  });

  it('answers 404 SUBJECT_NOT_FOUND for a valid code the registry does not know', async () => {
    const res = await gw.fetch(`/v1/enterprises/${personasSummary().unknown.enterpriseCode}`);
    expect(res.status).toBe(404);
    expect((await problem(res)).code).toBe('SUBJECT_NOT_FOUND');
    expect(res.headers.get('x-exchange-id')).toBeTruthy();
  });
});

describe('authentication and access', () => {
  it('answers 401 without a key, with a wrong key, and with a malformed header', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-a-real-key-at-all' }, { authorization: 'Basic c2FuZGJveA==' }] as Record<string, string>[]) {
      const res = await gw.fetch(`/v1/enterprises/${known.enterpriseCode}`, { key: null, headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await problem(res)).code).toBe('UNAUTHENTICATED');
    }
  });

  it('answers 403 to the auditor on enterprise lookups and to the portal on the audit log', async () => {
    const res = await gw.fetch(`/v1/enterprises/${known.enterpriseCode}`, { key: KEYS.auditor });
    expect(res.status).toBe(403);
    expect((await problem(res)).code).toBe('FORBIDDEN');
    const audit = await gw.fetch('/v1/audit/checkpoint', { key: KEYS.portal });
    expect(audit.status).toBe(403);
  });

  it('requires X-User-Id and X-Purpose on operations that touch personal data', async () => {
    const person = people[0]!;
    const body = JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth });
    const missing = await gw.fetch('/v1/citizens/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(missing.status).toBe(400);
    const p = await problem(missing);
    expect(p.code).toBe('ACCOUNTABILITY_REQUIRED');
    expect(p.errors?.map((e) => e.field)).toEqual(['header.x-user-id', 'header.x-purpose']);

    const badPurpose = await gw.fetch('/v1/citizens/verify', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'officer-7', 'x-purpose': 'CURIOSITY' },
      body,
    });
    expect((await problem(badPurpose)).errors?.map((e) => e.field)).toEqual(['header.x-purpose']);
  });
});

describe('the rest of the contract', () => {
  const accountable = { 'content-type': 'application/json', 'x-user-id': 'officer-7', 'x-purpose': procedures[0]!.code };

  it('answers 404 and 405 as problem+json', async () => {
    const missing = await gw.fetch('/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect((await problem(missing)).code).toBe('ROUTE_NOT_FOUND');
    const unauthenticatedMissing = await gw.fetch('/nope', { key: null });
    expect(unauthenticatedMissing.status).toBe(404);

    const wrongMethod = await gw.fetch(`/v1/enterprises/${known.enterpriseCode}`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect((await problem(wrongMethod)).code).toBe('METHOD_NOT_ALLOWED');
  });

  it('refuses a path that is not valid percent-encoding once the caller is known: 401 first, then 400 naming the path', async () => {
    const broken = '/v1/enterprises/%E0%A4%A';
    expect((await gw.fetch(broken, { key: null })).status).toBe(401);
    const refused = await gw.fetch(broken);
    expect(refused.status).toBe(400);
    expect((await problem(refused)).errors?.map((e) => e.field)).toEqual(['path']);
  });

  it('checks the request before any national call and names the field', async () => {
    const person = people[1]!;
    const invalid = await gw.fetch('/v1/citizens/verify', {
      method: 'POST',
      headers: accountable,
      body: JSON.stringify({ idNumber: '12345', fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
    });
    expect(invalid.status).toBe(400);
    const fields = (await problem(invalid)).errors?.map((e) => e.field);
    expect(fields).toContain('body.idNumber');
  });

  it('refuses bodies that are too large, not JSON, or of the wrong type', async () => {
    const huge = await gw.fetch('/v1/citizens/verify', { method: 'POST', headers: accountable, body: JSON.stringify({ fullName: 'x'.repeat(200_000) }) });
    expect(huge.status).toBe(413);
    expect((await problem(huge)).code).toBe('PAYLOAD_TOO_LARGE');

    const broken = await gw.fetch('/v1/citizens/verify', { method: 'POST', headers: accountable, body: '{"idNumber": ' });
    expect(broken.status).toBe(400);
    expect((await problem(broken)).errors?.[0]?.field).toBe('body');

    const text = await gw.fetch('/v1/citizens/verify', { method: 'POST', headers: { ...accountable, 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
    expect((await problem(text)).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses unknown query parameters, naming them', async () => {
    const res = await gw.fetch('/v1/procedures?colour=blue');
    expect(res.status).toBe(400);
    expect((await problem(res)).errors?.[0]?.field).toBe('query.colour');
  });
});

describe('a national system that fails', () => {
  const lookup = () => gw.fetch(`/v1/enterprises/${known.enterpriseCode}`);

  it('answers 503 with Retry-After at once when the registry is down, opens the breaker, and recovers', async () => {
    await setFault(gw.controlUrl, { system: 'business-registry', mode: 'down' });
    try {
      const started = performance.now();
      const res = await lookup();
      const elapsed = performance.now() - started;
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await problem(res)).code).toBe('UPSTREAM_UNAVAILABLE');
      // A dropped connection is reported at once, not after the upstream timeout.
      expect(elapsed).toBeLessThan(UPSTREAM_TIMEOUT_MS);

      // Failures accumulate in the rolling window until they outweigh the earlier successes.
      let open: Response | undefined;
      for (let i = 0; i < 100; i++) {
        const r = await lookup();
        const body = await problem(r);
        if (body.code === 'UPSTREAM_CIRCUIT_OPEN') {
          open = r;
          break;
        }
      }
      expect(open, 'the breaker opened').toBeDefined();
      expect(open!.status).toBe(503);
      expect(Number(open!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await metric(gw.url, 'lienthong_upstream_breaker_state', { upstream: 'business-registry' })).toBe(2);
    } finally {
      await clearFaults(gw.controlUrl);
    }
    let recovered: Response | undefined;
    for (let i = 0; i < 40; i++) {
      const r = await lookup();
      if (r.status === 200) {
        recovered = r;
        break;
      }
      await r.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recovered?.status).toBe(200);
    expect(await metric(gw.url, 'lienthong_upstream_breaker_state', { upstream: 'business-registry' })).toBe(0);
  });

  it('answers 503 UPSTREAM_TIMEOUT when the registry does not answer, and 502 when it answers garbage', async () => {
    await setFault(gw.controlUrl, { system: 'business-registry', mode: 'timeout' });
    try {
      const res = await lookup();
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await problem(res)).code).toBe('UPSTREAM_TIMEOUT');
      await setFault(gw.controlUrl, { system: 'business-registry', mode: 'malformed' });
      const bad = await lookup();
      expect(bad.status).toBe(502);
      const body = await problem(bad);
      expect(body.code).toBe('UPSTREAM_BAD_RESPONSE');
      expect(JSON.stringify(body)).not.toContain('MaLoi'); // the upstream's raw answer stays inside
    } finally {
      await clearFaults(gw.controlUrl);
    }
  });
});

describe('operations endpoints', () => {
  it('serves health, readiness, metrics, the contract and the API reference without a key', async () => {
    const health = await gw.fetch('/healthz', { key: null });
    expect(await health.json()).toEqual({ status: 'ok' });

    const ready = await gw.fetch('/readyz', { key: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { store: { status: 'ok' } } });

    const metrics = await (await gw.fetch('/metrics', { key: null })).text();
    expect(metrics).toMatch(/lienthong_http_requests_total\{operation="getEnterprise",method="GET",status="200"\} \d+/);
    expect(metrics).toMatch(/lienthong_http_request_duration_seconds_bucket\{/);
    expect(metrics).toMatch(/lienthong_upstream_calls_total\{upstream="business-registry",outcome="success"\}/);

    const contract = (await (await gw.fetch('/openapi.json', { key: null })).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(contract.openapi).toBe('3.1.0');
    expect(Object.keys(contract.paths)).toContain('/v1/enterprises/{enterpriseCode}');

    const docs = await gw.fetch('/docs', { key: null });
    expect(docs.headers.get('content-type')).toContain('text/html');
    const html = await docs.text();
    expect(html).toContain('/openapi.json'.replace('/openapi.json', '/docs/init.js'));
    for (const asset of ['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/docs/init.js']) {
      const res = await gw.fetch(asset, { key: null });
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10);
    }
    // Everything the page loads is ours: nothing from another host.
    expect(html).not.toMatch(/https?:\/\//);
    expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('sets security headers', async () => {
    const res = await gw.fetch(`/v1/enterprises/${known.enterpriseCode}`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('ratelimit-limit')).toBe('100');
  });
});

describe('logs', () => {
  it('hold no ID numbers, names, dates of birth or keys', async () => {
    const person = people[2]!;
    // Put personal data where a careless logger would pick it up: headers, URL, body.
    await gw.fetch(`/v1/taxpayers/${person.idNumber}`, { headers: { 'x-user-id': 'officer-7', 'x-purpose': 'XAC_MINH_DANH_TINH' } });
    await gw.fetch('/v1/citizens/verify', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'officer-7', 'x-purpose': 'XAC_MINH_DANH_TINH' },
      body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
    });
    await gw.fetch(`/v1/enterprises/${known.enterpriseCode}`);
    const text = gw.logs.join('\n');
    expect(text).toContain('"operation":"getEnterprise"');
    expect(text).toContain('014*******');
    for (const p of people) {
      expect(text).not.toContain(p.idNumber);
      expect(text).not.toContain(p.fullName);
    }
    expect(text).not.toContain(person.dateOfBirth);
    for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
    expect(text).not.toMatch(/authorization/i);
  });
});
