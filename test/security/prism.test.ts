import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../src/config/schema.ts';
import { CITIZEN_FIELDS } from '../../src/core/citizens.ts';
import { UNKNOWN, enterprises, insured, people, procedures, taxpayers } from '../../src/sandbox/personas.ts';
import { KEYS, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { isPrismError, startPrism, type PrismProxy } from '../helpers/prism.ts';
import { ACCOUNTABLE, UPSTREAM_SYSTEMS } from '../helpers/upstream-calls.ts';
import { KEY_OF, callerRole, consoleSession, contract, contractRequest, sessionOnly } from './requests.ts';

/**
 * An independent check of the contract: Stoplight Prism, as a validating proxy in front of the
 * real gateway, checks every request and every answer against openapi/gateway.yaml. With
 * --errors a violation becomes Prism's own answer, and the test fails on it.
 */

let gw: TestGateway;
let prism: PrismProxy;
beforeAll(async () => {
  const overrides: Record<string, unknown> = {
    'audit.integrateIntervalMs': 50,
    'catalogue.ttlSeconds': 0,
    'catalogue.maxStaleSeconds': 0,
    // Every operation is called with a wrong key once: brute-force throttling has its own test.
    'rateLimit.authFailures': { points: 1000, durationSeconds: 60 },
    // Generated lookups may ask for any citizen field: the field policy has its own tests.
    'citizenLookup.defaultFields': [...CITIZEN_FIELDS],
  };
  for (const id of UPSTREAM_SYSTEMS) {
    overrides[`upstreams.${id}.timeoutMs`] = 1000;
    overrides[`upstreams.${id}.breaker.volumeThreshold`] = 100_000;
  }
  gw = await startTestGateway(overrides);
  prism = await startPrism(gw.url);
}, 90_000);
afterAll(async () => {
  await prism?.close();
  await gw?.close();
});

/** One call through Prism; fails the test if Prism found a request or response violation. */
async function through(path: string, init: RequestInit & { key?: string | null } = {}): Promise<{ status: number; body: string }> {
  const headers = new Headers(init.headers);
  const key = init.key === undefined ? KEYS.portal : init.key;
  if (key !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${key}`);
  const res = await fetch(prism.url + path, { ...init, headers, redirect: 'manual' });
  const body = await res.text();
  expect(isPrismError(body, res.headers), `${init.method ?? 'GET'} ${path} → ${res.status} ${res.headers.get('sl-violations') ?? ''} ${body.slice(0, 1200)}`).toBe(false);
  return { status: res.status, body };
}

/** A call through Prism that must answer `status`. */
async function expectStatus(status: number, path: string, init: Parameters<typeof through>[1] = {}): Promise<string> {
  const res = await through(path, init);
  expect(res.status, `${init.method ?? 'GET'} ${path}: ${res.body.slice(0, 500)}`).toBe(status);
  return res.body;
}

const send = (request: ReturnType<typeof contractRequest>) =>
  through(request.url, { method: request.method, headers: request.headers, key: null, ...(request.body !== undefined ? { body: request.body } : {}) });

describe('every operation of the contract, through Prism', () => {
  it.each(contract.operations.map((o) => [o.operationId, o] as const))('%s: a contract request by an allowed caller, a forbidden role and a wrong key', async (_id, operation) => {
    const role = callerRole(operation);
    if (sessionOnly(operation)) {
      // The session operations take a console session, which only staff clients get: signed in, and signed in no more.
      const session = await consoleSession(prism.url, KEY_OF[role!]);
      const request = contractRequest(operation, undefined);
      const allowed = await send({ ...request, headers: { ...request.headers, ...session } });
      expect(allowed.status).toBeLessThan(300);
      const ended = await send({ ...request, headers: { ...request.headers, ...session, cookie: `lienthong_console=${'A'.repeat(43)}` } });
      expect(ended.status).toBe(401);
      return;
    }
    const allowed = await send(contractRequest(operation, role ? `Bearer ${KEY_OF[role]}` : undefined));
    expect(allowed.status).not.toBe(401);
    expect(allowed.status).not.toBe(403);
    if (!operation.authenticated) return;
    const forbidden = ROLES.find((r) => !operation.roles.includes(r));
    if (forbidden) expect((await send(contractRequest(operation, `Bearer ${KEY_OF[forbidden]}`))).status).toBe(403);
    expect((await send(contractRequest(operation, 'Bearer wrong-key-0123456789'))).status).toBe(401);
  });
});

const person = people.find((p) => !p.dateOfDeath)!;
const post = (status: number, path: string, body: unknown, key: string = KEYS.agency, headers: Record<string, string> = ACCOUNTABLE) =>
  expectStatus(status, path, { method: 'POST', key, headers, body: JSON.stringify(body) });

describe('success answers, through Prism', () => {
  it('of the operations that reach national systems', async () => {
    await post(200, '/v1/citizens/verify', { idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth });
    await post(200, '/v1/citizens/lookup', { idNumber: person.idNumber, fields: ['fullName', 'gender'] });
    await expectStatus(200, `/v1/enterprises/${enterprises[0]!.enterpriseCode}`);
    await expectStatus(200, `/v1/procedures?q=${encodeURIComponent('hộ kinh doanh')}&pageSize=5`);
    // Spaces as `+`, as URLSearchParams and HTML forms send them (and as Prism forwards them).
    await expectStatus(200, `/v1/procedures?${new URLSearchParams({ q: 'hộ kinh doanh', pageSize: '5' }).toString()}`);
    await expectStatus(200, `/v1/procedures/${procedures[0]!.code}`);
    await expectStatus(200, `/v1/taxpayers/${taxpayers[0]!.taxCode}`, { headers: ACCOUNTABLE });
    await post(200, '/v1/social-insurance/lookup', { insuranceCode: insured[0]!.insuranceCode }, KEYS.portal);
    await expectStatus(200, '/v1/upstreams', { key: KEYS.operator });
  });

  it('of the audit operations, once the exchanges above are in the log', async () => {
    for (let i = 0; i < 3; i++) await expectStatus(200, `/v1/enterprises/${enterprises[0]!.enterpriseCode}`);
    let size = 0;
    for (const deadline = Date.now() + 10_000; size < 3 && Date.now() < deadline; ) {
      const { status, body } = await through('/v1/audit/checkpoint', { key: KEYS.auditor });
      if (status === 200) size = (JSON.parse(body) as { treeSize: number }).treeSize;
      if (size < 3) await new Promise((r) => setTimeout(r, 100));
    }
    expect(size).toBeGreaterThanOrEqual(3);
    const auditor = { key: KEYS.auditor };
    await expectStatus(200, '/v1/audit/entries?limit=2', auditor);
    await expectStatus(200, '/v1/audit/entries/0', auditor);
    await expectStatus(200, `/v1/audit/entries/0/proof?treeSize=${size}`, auditor);
    await expectStatus(200, `/v1/audit/consistency?first=1&second=${size}`, auditor);
  });

  it('of the operational endpoints', async () => {
    for (const path of ['/healthz', '/readyz', '/.well-known/jwks.json', '/openapi.json']) await expectStatus(200, path, { key: null });
  });
});

describe('error answers, through Prism', () => {
  it('404 for a subject no national system holds', async () => {
    await expectStatus(404, `/v1/enterprises/${UNKNOWN.enterpriseCode}`);
    await post(404, '/v1/citizens/lookup', { idNumber: UNKNOWN.idNumber });
  });

  it('400 for what the schema allows but the gateway refuses: a wrong check digit, an unknown purpose', async () => {
    const code = enterprises[0]!.enterpriseCode;
    const wrongDigit = `${code.slice(0, 9)}${(Number(code[9]) + 1) % 10}`;
    await expectStatus(400, `/v1/enterprises/${wrongDigit}`);
    await post(400, '/v1/citizens/lookup', { idNumber: person.idNumber }, KEYS.agency, { ...ACCOUNTABLE, 'x-purpose': 'NO_SUCH_PURPOSE' });
  });

  it('502 and 503 when a national system misbehaves', async () => {
    try {
      await setFault(gw.controlUrl, { system: 'business-registry', mode: 'bad-signature' });
      await expectStatus(502, `/v1/enterprises/${enterprises[0]!.enterpriseCode}`);
      await setFault(gw.controlUrl, { system: 'business-registry', mode: 'down' });
      await expectStatus(503, `/v1/enterprises/${enterprises[0]!.enterpriseCode}`);
      await setFault(gw.controlUrl, { system: 'tax', mode: 'attack', variant: 'slow-body' });
      await expectStatus(503, `/v1/taxpayers/5500123457`, { headers: ACCOUNTABLE });
    } finally {
      await clearFaults(gw.controlUrl);
    }
  });
});

describe('Prism catches what breaks the contract (negative controls)', () => {
  it('a request outside the contract is Prism’s 422, never forwarded', async () => {
    const res = await fetch(`${prism.url}/v1/enterprises/55001`, { headers: { authorization: `Bearer ${KEYS.portal}` } });
    const body = await res.text();
    expect(res.status).toBe(422);
    expect(isPrismError(body, res.headers)).toBe(true);
  });

  it('an answer outside the contract is Prism’s 500 VIOLATIONS', async () => {
    // A stand-in for a gateway that answers /healthz with the wrong shape and no X-Request-Id.
    const liar: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":5}'));
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const proxy = await startPrism(`http://127.0.0.1:${(liar.address() as { port: number }).port}`);
    try {
      const res = await fetch(`${proxy.url}/healthz`);
      const body = await res.text();
      expect(res.status).toBe(500);
      expect(isPrismError(body, res.headers)).toBe(true);
      expect(res.headers.get('sl-violations')).toContain('x-request-id');
    } finally {
      await proxy.close();
      liar.close();
    }
  }, 90_000);
});
