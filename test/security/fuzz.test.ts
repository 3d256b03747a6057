import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FIELD_PROBLEMS } from '../../src/http/validation.ts';
import { eventually, sampleDossier } from '../helpers/dossiers.ts';
import { KEYS, metric, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import type { Operation } from '../../src/http/contract.ts';
import { bodyFieldsOf, callerRole, contract, contractRequest, dateFieldsOf, documentedStatuses, fuzzRequest, integerParametersOf, KEY_OF, typesOfField, withBranches, withParameter, withValue, type BodyField, type FuzzRequest } from './requests.ts';
import { NUMBERS_AS_TEXT } from './schema-arbitraries.ts';

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

const SETTINGS = {
  // Fuzzing is not a flood: the limits have their own tests.
  'rateLimit.default': { points: 1_000_000_000, durationSeconds: 1 },
  'rateLimit.authFailures': { points: 1_000_000_000, durationSeconds: 1 },
  'catalogue.ttlSeconds': 300,
};

let gw: TestGateway;
/**
 * A gateway no fuzzed request reached, for the checks that nothing was called or stored: no
 * dossier of its own is delivered to the national portal in the background, so its count of
 * upstream calls moves only with the requests sent to it.
 */
let quiet: TestGateway;
beforeAll(async () => {
  [gw, quiet] = await Promise.all([startTestGateway(SETTINGS), startTestGateway(SETTINGS)]);
});
afterAll(async () => {
  await Promise.all([gw?.close(), quiet?.close()]);
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

/** What a refusal never says: the schema's vocabulary instead of the caller's words. */
const SCHEMA_WORDS = /oneOf|anyOf|allOf|must match "(?:then|else)"|property '|must be equal to|must NOT|additional properties|value of tag|boolean schema|the pattern/;

/** A 400 VALIDATION_FAILED names at most MAX_FIELD_PROBLEMS fields, each by its location, in plain words. */
function expectPlainRefusal(problem: { detail?: string; errors?: { field: string; message: string }[] }, where: string): void {
  expect(problem.errors?.length ?? 0, where).toBeLessThanOrEqual(MAX_FIELD_PROBLEMS);
  for (const error of problem.errors ?? []) {
    expect(error.field, where).toMatch(/^(?:request|path|query|header|body)(?:\.|$)/);
    expect(error.message, where).not.toMatch(SCHEMA_WORDS);
  }
  expect(problem.detail ?? '', where).not.toMatch(SCHEMA_WORDS);
}

/**
 * Instants a caller gave that are echoed as given (a search's criteria): this request's or an
 * earlier one's, so they may be in any offset. A dossier's times are answered in +07:00 whatever
 * offset they were sent in.
 */
const CALLER_INSTANTS = new Set(['since', 'until']);

/** Instants in UTC's `Z` an answer holds that no caller gave: the gateway answers every time of its own in +07:00. */
function utcInstantsOf(text: string, request: { url: string; body?: unknown }): string[] {
  const sent = request.url + (typeof request.body === 'string' ? request.body : '');
  return [...text.matchAll(/"([A-Za-z]+)":"(\d{4}-\d{2}-\d{2}T[0-9:.]+Z)"/g)]
    .filter(([, key, instant]) => !CALLER_INSTANTS.has(key!) && !sent.includes(instant!))
    .map(([, key, instant]) => `${key}: ${instant}`);
}

async function send(request: FuzzRequest, to: TestGateway = gw): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(to.url + request.url, {
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
          expect(utcInstantsOf(text, request), where).toEqual([]);
        } else if (status >= 400 && status < 500) {
          expect(type, where).toContain('application/problem+json');
          const problem = JSON.parse(text) as { status: number; code: string; type: string; detail?: string; errors?: { field: string; message: string }[] };
          expect(problem.status, where).toBe(status);
          expect(problem.code, where).toMatch(/^[A-Z_]+$/);
          if (problem.code === 'VALIDATION_FAILED') expectPlainRefusal(problem, where);
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

/** The request the contract documents for an operation, as its caller sends it (dossiers for their own purpose). */
function baseRequest(operation: Operation) {
  const role = callerRole(operation);
  const base = contractRequest(operation, role ? `Bearer ${KEY_OF[role]}` : undefined);
  if (operation.path.startsWith('/v1/dossiers') && base.headers['x-purpose']) base.headers['x-purpose'] = 'TIEP_NHAN_HO_SO';
  return base;
}

/**
 * What a refused request must not have caused, on the quiet gateway: a call to any national
 * system, the national portal included; for a dossier operation, anything stored or queued for
 * the portal: the dossier it names is as it was (still unknown, or with the same history).
 */
let dossierNumber = 900;

/**
 * For an operation on one dossier (its code in the path), the request made on a dossier of the
 * quiet gateway's own, created and delivered first: its history is what must stay as it was.
 */
async function onOwnDossier<R extends { url: string }>(operation: Operation, request: R): Promise<R> {
  if (!operation.path.startsWith('/v1/dossiers/{dossierCode}')) return request;
  const body = sampleDossier(++dossierNumber);
  const headers = { authorization: `Bearer ${KEYS.portal}`, 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'TIEP_NHAN_HO_SO' };
  const created = await fetch(`${quiet.url}/v1/dossiers`, { method: 'POST', headers, body: JSON.stringify(body) });
  expect(created.status, await created.clone().text()).toBeLessThan(300);
  const code = encodeURIComponent(String(body.code));
  await eventually(async () => {
    const state = (await (await fetch(`${quiet.url}/v1/dossiers/${code}`, { headers })).json()) as { deliveryState?: string };
    return state.deliveryState === 'delivered' ? true : undefined;
  }, 15_000, `dossier ${code} delivered`);
  return { ...request, url: request.url.replace(/^\/v1\/dossiers\/[^/?]+/, `/v1/dossiers/${code}`) };
}

async function effectsOf(operation: Operation, request: { url: string; headers: Record<string, string>; body?: string }): Promise<() => Promise<unknown>> {
  const dossiers = operation.path.startsWith('/v1/dossiers');
  const code = dossiers ? (/^\/v1\/dossiers\/([^/?]+)/.exec(request.url)?.[1] ?? encodeURIComponent(String((JSON.parse(request.body ?? '{}') as { code?: unknown }).code))) : undefined;
  const dossier = async () => {
    const res = await fetch(`${quiet.url}/v1/dossiers/${code}`, { headers: { authorization: request.headers.authorization ?? '', 'x-user-id': 'officer-17', 'x-purpose': 'TIEP_NHAN_HO_SO' } });
    const state = (await res.json()) as { status?: unknown; history?: unknown[] };
    return { status: res.status, dossierStatus: state.status, history: state.history?.length };
  };
  return async () => ({
    // Every national system, the national portal included.
    upstreamCalls: await metric(quiet.url, 'lienthong_upstream_calls_total', {}),
    ...(code !== undefined ? { dossier: await dossier() } : {}),
  });
}

describe('impossible calendar dates', () => {
  const dated = contract.operations.flatMap((operation) => dateFieldsOf(operation).map((date) => [`${operation.operationId} ${date.field}`, operation, date] as const));

  it('reaches the dates of every form of a body', () => {
    const names = dated.map(([name]) => name);
    for (const name of ['createAccountLink body.evidence.dateOfBirth', 'addDossierEvent body.at', 'addDossierEvent body.startedAt', 'addDossierEvent body.dueAt']) expect(names).toContain(name);
  });

  it.each(dated)('%s: refused with 400 naming the field, before any national system is called or anything is stored', async (_name, operation, date) => {
    const base = await onOwnDossier(operation, withBranches(baseRequest(operation), date.branches));
    const effects = await effectsOf(operation, base);
    const before = await effects();
    // Every impossible value, each once.
    for (const impossible of date.impossible) {
      const request = withValue(base, date.field, impossible);
      const { status, text } = await send({ ...request, secrets: [] }, quiet);
      const where = `${request.method} ${request.url} ${date.field}=${impossible} → ${status} ${text.slice(0, 400)}`;
      expect(status, where).toBe(400);
      const problem = JSON.parse(text) as { code: string; errors?: { field: string; message: string }[] };
      expect(problem.code, where).toBe('VALIDATION_FAILED');
      expect(problem.errors?.map((e) => e.field), where).toContain(date.field);
    }
    expect(await effects()).toEqual(before);
  });
});

describe('numbers not written in decimal digits', () => {
  const numbered = contract.operations.flatMap((operation) => integerParametersOf(operation).map((parameter) => [`${operation.operationId} ${parameter.field}`, operation, parameter] as const));

  it.each(numbered)('%s: refused with 400 naming the parameter', async (_name, operation, parameter) => {
    const base = baseRequest(operation);
    // Every such text, each once (not a random sample of them).
    for (const text of ['0x10', '1e3', '0b11', ' 16', '16.0', '+16', 'Infinity', '99999999999999999999']) {
      const request = withParameter(base, operation, parameter, text);
      const { status, text: answer } = await send({ ...request, secrets: [] });
      const where = `${request.method} ${request.url} → ${status} ${answer.slice(0, 300)}`;
      expect(status, where).toBe(400);
      expect((JSON.parse(answer) as { errors?: { field: string }[] }).errors?.map((e) => e.field), where).toContain(parameter.field);
    }
  });
});

/** Scalar body members of one JSON type, reached through objects or a discriminated form only. */
const scalar = (member: BodyField): string | undefined => {
  const types = typesOfField(member.schema);
  return types.length === 1 && ['string', 'integer', 'number', 'boolean'].includes(types[0]!) && !('const' in member.schema) && !('enum' in member.schema) ? types[0] : undefined;
};

describe('numbers sent as text in a JSON body', () => {
  const numbers = contract.operations.flatMap((operation) =>
    bodyFieldsOf(operation)
      .filter((member) => ['integer', 'number'].includes(scalar(member) ?? ''))
      .map((member) => [`${operation.operationId} ${member.field}`, operation, member] as const),
  );

  it('finds them, the status of a dossier event among them', () => {
    expect(numbers.map(([name]) => name)).toContain('addDossierEvent body.status');
  });

  it.each(numbers)('%s: refused with 400 naming the field', async (_name, operation, member) => {
    const base = await onOwnDossier(operation, withBranches(baseRequest(operation), member.branches));
    const effects = await effectsOf(operation, base);
    const before = await effects();
    // Every value, not a sample of them.
    for (const text of NUMBERS_AS_TEXT) {
      const request = withValue(base, member.field, text);
      const { status, text: answer } = await send({ ...request, secrets: [] }, quiet);
      const where = `${request.method} ${request.url} ${member.field}=${JSON.stringify(text)} → ${status} ${answer.slice(0, 300)}`;
      expect(status, where).toBe(400);
      expect((JSON.parse(answer) as { errors?: { field: string }[] }).errors?.map((e) => e.field), where).toContain(member.field);
    }
    expect(await effects()).toEqual(before);
  });
});

describe('several invalid fields', () => {
  /** A value of another JSON type than the member's, breaking nothing else of its schema (type-specific keywords do not apply to it). */
  const WRONG: Record<string, unknown> = { string: 7, integer: 'seven', number: 'seven', boolean: 'yes' };
  // Body operations with members reached through objects only (a form is judged as a whole by how close the value comes).
  const candidates = contract.operations
    .map((operation) => [operation, bodyFieldsOf(operation).filter((member) => member.branches.length === 0 && scalar(member) !== undefined)] as const)
    .filter(([, members]) => members.length >= 3);

  it('has body operations to try', () => {
    expect(candidates.map(([operation]) => operation.operationId)).toContain('createDossier');
  });

  it.each(candidates.map(([operation, members]) => [operation.operationId, operation, members] as const))('%s: N invalid fields give N errors, one for each', async (_id, operation, members) => {
    const base = baseRequest(operation);
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(members, { minLength: 1, maxLength: Math.min(MAX_FIELD_PROBLEMS, members.length) }), async (chosen) => {
        let request = base;
        for (const member of chosen) request = withValue(request, member.field, WRONG[scalar(member)!]);
        const { status, text } = await send({ ...request, secrets: [] });
        const where = `${request.method} ${request.url} ${chosen.map((m) => m.field).join(', ')} → ${status} ${text.slice(0, 400)}`;
        expect(status, where).toBe(400);
        const errors = (JSON.parse(text) as { errors?: { field: string }[] }).errors ?? [];
        expect(errors.map((e) => e.field).sort(), where).toEqual(chosen.map((m) => m.field).sort());
      }),
      { numRuns: Math.min(RUNS, 30), ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
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
