import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { contract, documentedStatuses, fuzzRequest, type FuzzRequest } from './requests.ts';

/**
 * Property-based fuzzing of every operation of openapi/gateway.yaml, generated from its schemas
 * (operations that land later are covered without a change here). FUZZ_RUNS sets the cases per
 * operation (CI default below), FUZZ_SEED replays a run.
 *
 * Every answer must be a 2xx the contract documents, a 4xx problem+json, or a 5xx the contract
 * documents for that operation other than 500 (501 not built yet, 502/503 upstream); the process
 * stays up; no log line holds a generated ID number, name or user id.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({
    // Fuzzing is not a flood: the limits have their own tests.
    'rateLimit.default': { points: 1_000_000_000, durationSeconds: 1 },
    'rateLimit.authFailures': { points: 1_000_000_000, durationSeconds: 1 },
    'catalogue.ttlSeconds': 300,
  });
});
afterAll(async () => {
  await gw?.close();
});

/** What a log line could hold of a secret: the text as is, and as JSON escapes it. */
function traces(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1)])];
}

/** Secrets long and varied enough that finding one in a log line is not a coincidence. */
const distinctive = (s: string) => [...s.trim()].length >= 6 && new Set(s).size >= 4 && !(s.trim() in Object.prototype) && s.trim() !== '__proto__';

let cases = 0;
/** Answers by status, over the whole run (printed at the end: the fuzzing reaches past validation). */
const statuses = new Map<number, number>();

/** The secrets found in log lines, each with the first line holding it. */
function leaksOf(secrets: Iterable<string>, logLines: string[]): string[] {
  // The request id is the caller's own correlation token, logged on purpose: a generated one may repeat a generated name.
  const lines = logLines.map((l) => l.replace(/"req":\{"id":"(?:[^"\\]|\\.)*"/, '"req":{'));
  // The logged path is the request's own URL (its identifiers masked): only identifiers sent in the
  // path (numeric) can leak there. A name or user id generated from the same fragments as a path
  // segment would otherwise match it by coincidence.
  const withoutPath = lines.map((l) => l.replace(/"path":"(?:[^"\\]|\\.)*"/, '"path":""'));
  const leaks: string[] = [];
  for (const secret of secrets) {
    const searched = /^\d+$/.test(secret) ? lines : withoutPath;
    for (const trace of traces(secret)) {
      const line = searched.find((l) => l.includes(trace));
      if (line) leaks.push(`${JSON.stringify(secret)} in ${line.slice(0, 400)}`);
    }
  }
  return leaks;
}

async function send(request: FuzzRequest): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(gw.url + request.url, {
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined ? { body: request.body as BodyInit } : {}),
    signal: AbortSignal.timeout(15_000),
    redirect: 'manual',
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

describe.each(contract.operations.map((o) => [o.operationId, o] as const))('%s', (_id, operation) => {
  it(`answers ${RUNS} generated requests as the contract documents, without crashing or logging personal data`, async () => {
    const documented = documentedStatuses(operation);
    const secrets = new Set<string>();
    const logStart = gw.logs.length;
    await fc.assert(
      fc.asyncProperty(fuzzRequest(operation), async (request) => {
        cases++;
        for (const s of request.secrets) if (distinctive(s)) secrets.add(s);
        const { status, type, text } = await send(request);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const where = `${request.method} ${request.url} → ${status} ${text.slice(0, 300)}`;
        if (status >= 200 && status < 300) {
          expect(documented.has(String(status)), where).toBe(true);
        } else if (status >= 400 && status < 500) {
          expect(type, where).toContain('application/problem+json');
          const problem = JSON.parse(text) as { status: number; code: string; type: string };
          expect(problem.status, where).toBe(status);
          expect(problem.code, where).toMatch(/^[A-Z_]+$/);
          // The key a caller sent never comes back.
          expect(text, where).not.toMatch(/sandbox-[a-z]+-key/);
        } else {
          expect([501, 502, 503].includes(status) && documented.has(String(status)), where).toBe(true);
          expect(type, where).toContain('application/problem+json');
        }
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true },
    );

    expect(leaksOf(secrets, gw.logs.slice(logStart))).toEqual([]);
  });
});

describe('after the fuzzing', () => {
  it('the gateway is still up and ready', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    const histogram = [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ');
    console.info(`fuzz: ${cases} requests over ${contract.operations.length} operations (${RUNS} per operation): ${histogram}`);
    expect(cases).toBeGreaterThanOrEqual(contract.operations.length * RUNS);
  });
});

describe('the log check', () => {
  it('finds a name or an ID number that does reach a log line, as such or JSON-escaped', () => {
    const start = gw.logs.length;
    gw.gateway.log.info({ note: 'Lò Văn "Thắng"', other: '014203000123' }, 'planted');
    expect(leaksOf(['Lò Văn "Thắng"', '014203000123', 'absent-value'], gw.logs.slice(start))).toHaveLength(2);
  });
});

describe('requests Node refuses before the gateway sees them', () => {
  /** Writes raw bytes on a new connection and reads the answer until the server closes it. */
  function raw(bytes: string): Promise<string> {
    const { hostname, port } = new URL(gw.url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => socket.end(bytes));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
    });
  }

  it('answer problem+json for headers over the size limit and for bytes that are not HTTP', async () => {
    const huge = await raw(`GET /v1/procedures?q=${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 400 /);
    expect(huge).toContain('content-type: application/problem+json');
    expect(JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    // Request smuggling: both Content-Length and Transfer-Encoding.
    const smuggled = await raw(`POST /v1/citizens/lookup HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`);
    expect(smuggled).toMatch(/^HTTP\/1\.1 400 /);
    expect(smuggled).toContain('application/problem+json');
    const garbage = await raw('\u0000\u0001 NOT HTTP\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toContain('"code":"VALIDATION_FAILED"');
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});
