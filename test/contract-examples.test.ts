/**
 * Every request example of openapi/gateway.yaml, sent to a real gateway wired to the sandbox, gets
 * the answer the contract documents for it.
 *
 * What a request example is: each example of an operation's request body (with the examples of
 * its parameters); for an operation without a body, one per name its parameters' named examples
 * (`examples`) use, or, when they use none, its parameters' examples together (`parameters`). A
 * parameter with named examples is sent with the one of the request example's name and left out
 * of the others (so a sign-on callback is sent once with `code`, once with `error`); a parameter
 * with a single `example` is sent with every request example. The list is read from the contract
 * on every run: an operation or example added there is executed here without a change to this
 * file.
 *
 * What the documented answer is:
 * - The response example named by `x-response-example` (on the body's example, the parameter's
 *   named example, or, for `parameters`, the operation), else the response example of the same
 *   name, else, when the operation has this one request example, its only success example.
 * - None of those, when the operation shows a success example or answers JSON: the request
 *   example FAILS as having no documented answer. Only an operation whose success answers are
 *   not JSON and shown by no example (a 204, a gzip bundle, an HTML page) is compared with the
 *   documented status and media type (and a body present exactly when one is documented).
 *   openapiDocument's documented answer is this contract itself.
 * - Paired: the answer has the status and media type of the paired example, and every field of
 *   the example is in the answer with the same value, except values made at run time (times,
 *   identifiers, hashes: compared only when the request supplied the same value) and the fields
 *   listed in RUN_DEPENDENT. A signed token (compact JWS) is compared by its claims: each claim
 *   the example's token shows must be in the answer's token, by the same rules (`iat`, `exp`,
 *   `nbf` for presence). Arrays: each element shown must be in the answer. A Prometheus text
 *   example: each metric family it shows must be in the answer with the same type and a sample
 *   with the labels shown; other text must appear as written.
 * - Always: a JSON answer validates against the contract's schema for its status (the same
 *   validators the gateway compiles from the contract).
 *
 * Examples are executed in the contract's order, rearranged where RUN_ORDER says. What an example
 * needs before it can run as written (a dossier with dead changes, a finished or cancelled
 * national sign-on) is set up by PREPARE, and the few values that exist only at run time (a
 * link's id, the sign-on's state, an exchange-log index) are put in by SUBSTITUTE; both are
 * listed below with the reason. An example that cannot be sent (a required parameter or body
 * without an example) or has no documented answer fails with the reason: none is skipped.
 *
 * The run prints each example with its status and what it was compared with.
 */
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_PASSWORD } from '../adapters/vneid/sandbox-account.ts';
import { loadContract } from '../src/http/contract.ts';
import { createValidation } from '../src/http/validation.ts';
import { loadHashKey } from '../src/signing/attestation.ts';
import { createDocumentLinks } from '../src/signing/document-links.ts';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { createBrowser } from './helpers/browser.ts';
import { eventually } from './helpers/dossiers.ts';
import { KEYS, startTestGateway, type TestGateway } from './helpers/gateway.ts';

type Json = unknown;
type Dict = Record<string, unknown>;

const contract = loadContract();
const document = contract.document as Dict;
const validation = createValidation(contract);

/** Follows local `$ref`s (`#/components/...`). */
function deref<T = Dict>(value: unknown): T {
  let current = value as Dict;
  for (let hops = 0; current && typeof current.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error(`a $ref loop at ${String(current.$ref)}`);
    current = (current.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce<Dict>((node, key) => node[key.replaceAll('~1', '/').replaceAll('~0', '~')] as Dict, document);
  }
  return current as T;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  example?: unknown;
  examples?: Record<string, unknown>;
}

interface ResponseExample {
  status: number;
  mediaType: string;
  name: string;
  value: Json;
}

interface RequestExample {
  operationId: string;
  method: string;
  /** The OpenAPI path, e.g. /v1/dossiers/{dossierCode}. */
  path: string;
  /** The body example's name, or `parameters` for an operation without a body. */
  name: string;
  roles: string[];
  authenticated: boolean;
  pathParams: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: { mediaType: string; value: Json };
  /** The paired response example, if any. */
  paired?: ResponseExample;
  /** The operation's documented success statuses. */
  successes: number[];
  /** The media types each success status documents (none: no content). */
  successMedia: Map<number, string[]>;
  /** Why it cannot be sent as the contract gives it, when it cannot. */
  unusable?: string;
  /** Why no response example is its documented answer, when none is (it is sent, and fails). */
  unpaired?: string;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/**
 * Optional query parameters that are alternatives to each other: one request per group, each
 * with the required parameters. listAccountLinks takes exactly one of its two selectors (400
 * otherwise, as its description says). (A sign-on callback's `code` and `error`, never sent
 * together, are told apart by their named examples: `linked` and `cancelled`.)
 */
const QUERY_ALTERNATIVES: Record<string, string[][]> = {
  listAccountLinks: [['portalAccountId'], ['idNumber']],
  // A portal names the account, an auditor the identifier, never both (400); the example is sent as the portal (its first role).
  getSubjectAccesses: [['portalAccountId', 'before', 'limit', 'since']],
};

/**
 * Fields whose value depends on the run, not on the request: compared for presence only. Keyed
 * by operationId; each entry is a field name, matched at any depth.
 */
const RUN_DEPENDENT: Record<string, string[]> = {
  // Retries are scheduled from the time the change was accepted.
  createDossier: ['nextAttemptAt'],
  // A change's place in its dossier's history: how many changes the examples before it made.
  addDossierEvent: ['sequence'],
  getDossier: ['nextAttemptAt'],
  correctDossier: ['nextAttemptAt'],
  // The authorization URL carries the flow's state, nonce and PKCE challenge, and the sandbox's port.
  startSso: ['authorizationUrl'],
  // returnTo carries the signed result of this sign-on.
  completeSso: ['returnTo'],
  // Positions in the exchange log and figures of this run's traffic.
  getAuditCheckpoint: ['treeSize', 'checkpoint', 'note'],
  listAuditEntries: ['index', 'nextFrom', 'latencyMs'],
  // Positions in the exchange log, and whether the person's history of this run fills more than a page.
  getSubjectAccesses: ['index', 'nextBefore'],
  getAuditEntry: ['index', 'latencyMs', 'leaf', 'treeSize'],
  getAuditInclusionProof: ['index', 'treeSize', 'auditPath'],
  getAuditConsistencyProof: ['first', 'second', 'proof'],
  listUpstreams: ['url', 'latencyMs', 'errorRate', 'inFlight', 'queued'],
  // Figures of the dossiers the examples before it handed over (the createDossier examples, received in 2026-11).
  getDigitisationReport: ['agency', 'dossiers', 'count', 'share'],
  // The same dossiers' service index: counts, rates and points depend on the examples run before it and on today.
  getServiceIndex: ['numerator', 'denominator', 'unknown', 'rate', 'points', 'counts'],
  readyz: ['latencyMs'],
  // The sandbox's health-insurance cards run for the current calendar year (Vietnam time).
  lookupSocialInsurance: ['validFrom', 'validTo'],
  // The served contract names the gateway it was fetched from as its server.
  openapiDocument: ['servers'],
  // A document's code carries this year and the run's sequence, its URL the gateway's address,
  // its size and seal this run's signature (the sample seal's certificate, the sandbox TSA's token).
  createDocument: ['code', 'contentUrl', 'size', 'signatures'],
  listDocuments: ['code', 'contentUrl', 'size', 'signatures'],
  getDocument: ['code', 'contentUrl', 'size', 'signatures'],
};

/** The operation that serves this contract: its documented answer is the contract itself, not an example of it. */
const CONTRACT_OPERATION = 'openapiDocument';

/** The named examples of a parameter (`examples`), by name. */
function namedExamples(parameter: Parameter): Record<string, Dict> {
  return Object.fromEntries(Object.entries(parameter.examples ?? {}).map(([name, example]) => [name, deref<Dict>(example)]));
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function responseExamples(operation: Dict): ResponseExample[] {
  const found: ResponseExample[] = [];
  for (const [status, raw] of Object.entries((operation.responses ?? {}) as Dict)) {
    if (!/^\d{3}$/.test(status)) continue;
    const response = deref(raw);
    for (const [mediaType, media] of Object.entries((response.content ?? {}) as Dict)) {
      const m = media as Dict;
      for (const [name, example] of Object.entries((m.examples ?? {}) as Dict)) found.push({ status: Number(status), mediaType, name, value: deref<Dict>(example).value });
      if (m.example !== undefined) found.push({ status: Number(status), mediaType, name: '(example)', value: m.example });
    }
  }
  return found;
}

/** The media types an operation's success statuses document, by status (empty: no content). */
function successMedia(operation: Dict): Map<number, string[]> {
  const found = new Map<number, string[]>();
  for (const [status, raw] of Object.entries((operation.responses ?? {}) as Dict)) {
    if (/^2\d\d$/.test(status)) found.set(Number(status), Object.keys((deref(raw).content ?? {}) as Dict));
  }
  return found;
}

/**
 * The documented answer of a request example: the response example `x-response-example` names,
 * else the one of the same name, else, when the operation has this one request example, its
 * only success example. Otherwise, an operation that shows success examples, or documents a JSON
 * success answer without showing one, leaves the request example unpaired: it fails.
 */
function pairOf(name: string, explicit: unknown, requests: number, responses: ResponseExample[], media: Map<number, string[]>): { paired?: ResponseExample; unpaired?: string } {
  if (explicit !== undefined) {
    const named = responses.find((r) => r.name === explicit);
    return named ? { paired: named } : { unpaired: `its x-response-example names ${JSON.stringify(explicit)}, which no response of the operation shows` };
  }
  const same = responses.find((r) => r.name === name);
  if (same) return { paired: same };
  const successes = responses.filter((r) => r.status >= 200 && r.status < 300);
  if (successes.length === 1 && requests === 1) return { paired: successes[0]! };
  if (successes.length > 0) return { unpaired: `no response example is named ${JSON.stringify(name)} or named by its x-response-example, among the success examples ${successes.map((r) => `${r.status} ${r.name}`).join(", ")}` };
  const json = [...media].filter(([, types]) => types.some((t) => /json/.test(t)));
  if (json.length > 0) return { unpaired: `the operation answers ${json.map(([s]) => s).join(' or ')} with JSON but shows no example of it` };
  return {};
}

/** Every request example of the contract, in the contract's order. */
function requestExamples(): RequestExample[] {
  const all: RequestExample[] = [];
  for (const [path, rawItem] of Object.entries((document.paths ?? {}) as Dict)) {
    const item = rawItem as Dict;
    for (const method of METHODS) {
      const operation = item[method] as Dict | undefined;
      if (!operation) continue;
      const operationId = operation.operationId as string;
      const parameters = [...((item.parameters ?? []) as unknown[]), ...((operation.parameters ?? []) as unknown[])].map((p) => deref<Parameter>(p));
      const responses = responseExamples(operation);
      const media = successMedia(operation);
      const base = {
        operationId,
        method: method.toUpperCase(),
        path,
        roles: (operation['x-roles'] ?? []) as string[],
        authenticated: !(Array.isArray(operation.security) && operation.security.length === 0),
        successes: [...media.keys()],
        successMedia: media,
      };

      // The request examples: the body's, or, without one, one per name the parameters' named
      // examples use (or a single `parameters` when they use none).
      const requestBody = operation.requestBody ? deref(operation.requestBody) : undefined;
      const bodies: { name: string; explicit?: unknown; body?: { mediaType: string; value: Json } }[] = [];
      for (const [mediaType, media] of Object.entries((requestBody?.content ?? {}) as Dict)) {
        const m = media as Dict;
        for (const [name, raw] of Object.entries((m.examples ?? {}) as Dict)) {
          const example = deref<Dict>(raw);
          bodies.push({ name, explicit: example['x-response-example'], body: { mediaType, value: example.value } });
        }
        if (m.example !== undefined) bodies.push({ name: '(example)', body: { mediaType, value: m.example } });
      }
      const bodyMissing = bodies.length === 0 && requestBody?.required === true;
      if (bodies.length === 0) {
        const byName = new Map<string, unknown>();
        for (const p of parameters) for (const [name, example] of Object.entries(namedExamples(p))) if (!byName.has(name) || byName.get(name) === undefined) byName.set(name, example['x-response-example']);
        if (byName.size === 0) bodies.push({ name: 'parameters', explicit: operation['x-response-example'] });
        else for (const [name, explicit] of byName) bodies.push({ name, explicit });
      }

      for (const { name, explicit, body } of bodies) {
        const pathParams: Record<string, string> = {};
        const headers: Record<string, string> = {};
        const optionalQuery: Record<string, string> = {};
        const requiredQuery: Record<string, string> = {};
        const missing: string[] = bodyMissing ? ['the required body has no example'] : [];
        for (const p of parameters) {
          // A parameter with named examples is sent with the one of this request example's name,
          // and left out of the others; one with a single `example` is sent with every one.
          const named = namedExamples(p);
          const value = Object.keys(named).length > 0 ? named[name]?.value : p.example;
          if (value === undefined) {
            if (p.required) missing.push(`${p.in}.${p.name} has no example${Object.keys(named).length > 0 ? ` named ${name}` : ''}`);
            continue;
          }
          if (p.in === 'path') pathParams[p.name] = asText(value);
          else if (p.in === 'header') headers[p.name.toLowerCase()] = asText(value);
          else if (p.in === 'query') (p.required ? requiredQuery : optionalQuery)[p.name] = asText(value);
        }
        const alternatives = QUERY_ALTERNATIVES[operationId];
        const queries = alternatives
          ? alternatives.map((names) => ({
              suffix: alternatives.length > 1 ? ` (${names.join(', ')})` : '',
              query: { ...requiredQuery, ...Object.fromEntries(names.filter((n) => optionalQuery[n] !== undefined).map((n) => [n, optionalQuery[n]!])) },
            }))
          : [{ suffix: '', query: { ...requiredQuery, ...optionalQuery } }];
        const itself: { paired?: ResponseExample; unpaired?: string } | undefined =
          operationId === CONTRACT_OPERATION ? { paired: { status: 200, mediaType: 'application/json', name: '(this contract)', value: document } } : undefined;
        const { paired, unpaired } = itself ?? pairOf(name, explicit, bodies.length, responses, media);
        for (const { suffix, query } of queries) {
          all.push({
            ...base,
            name: name + suffix,
            pathParams: { ...pathParams },
            query,
            headers: { ...headers },
            ...(body ? { body: structuredClone(body) } : {}),
            ...(paired ? { paired } : {}),
            ...(missing.length > 0 ? { unusable: `cannot be sent as the contract gives it: ${missing.join(', ')}` } : {}),
            ...(unpaired ? { unpaired: `no documented answer to compare with: ${unpaired}` } : {}),
          });
        }
      }
    }
  }
  return all;
}

// ---------------------------------------------------------------------------------------------
// Comparing an answer with the documented example

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JWS = /^[\w-]+\.[\w-]*\.[\w-]+$/;
const BLOB = /^(?:[0-9a-f]{32,}|[A-Za-z0-9+/_-]{40,}={0,2})$/i;

/** A value the gateway makes at run time: a time, an identifier, a signature, a hash. */
function generated(value: unknown): boolean {
  return typeof value === 'string' && (DATE_TIME.test(value) || UUID.test(value) || (JWS.test(value) && value.length > 40) || BLOB.test(value));
}

/** Every string the request carried (path, query, headers, body), to tell an echo from a generated value. */
function suppliedValues(request: { pathParams: Dict; query: Dict; headers: Dict; body?: { value: Json } }): Set<string> {
  const found = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === 'string') found.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk([request.pathParams, request.query, request.headers, request.body?.value]);
  return found;
}

/** The JSON claims of a compact JWS, unverified; undefined for anything else. */
function signedClaims(value: unknown): Dict | undefined {
  if (typeof value !== 'string' || !JWS.test(value)) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(value.split('.')[1]!, 'base64url').toString('utf8')) as unknown;
    return payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Dict) : undefined;
  } catch {
    return undefined;
  }
}

function sameInstant(a: string, b: unknown): boolean {
  return typeof b === 'string' && DATE_TIME.test(b) && Date.parse(a) === Date.parse(b);
}

/** Where the answer differs from the documented example (empty when it shows everything the example shows). */
function differences(expected: unknown, actual: unknown, at: string, supplied: Set<string>, runDependent: Set<string>): string[] {
  const key = at.split('.').pop()!.replace(/\[\d+\]$/, '');
  if (runDependent.has(key)) return actual === undefined ? [`${at}: missing`] : [];
  // A signed token: the claims its example shows must be in the answer's (times of signing
  // compared for presence), whatever the signature.
  const documentedClaims = signedClaims(expected);
  const answeredClaims = signedClaims(actual);
  if (documentedClaims && !supplied.has(expected as string)) {
    if (!answeredClaims) return [`${at}: ${JSON.stringify(actual)}, documented a signed token`];
    return differences(documentedClaims, answeredClaims, `${at}(claims)`, supplied, runDependent);
  }
  if (generated(expected)) {
    if (actual === undefined) return [`${at}: missing`];
    if (!supplied.has(expected as string)) return typeof actual === typeof expected ? [] : [`${at}: ${JSON.stringify(actual)} is not a ${typeof expected}`];
    return actual === expected || sameInstant(expected as string, actual) ? [] : [`${at}: ${JSON.stringify(actual)}, documented ${JSON.stringify(expected)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: ${JSON.stringify(actual)}, documented an array`];
    const problems: string[] = [];
    expected.forEach((element, i) => {
      if (actual.some((candidate) => differences(element, candidate, `${at}[${i}]`, supplied, runDependent).length === 0)) return;
      const closest = actual[i] ?? actual[0];
      const why = differences(element, closest, `${at}[${i}]`, supplied, runDependent);
      problems.push(...(why.length > 0 ? why : [`${at}[${i}]: not in the answer`]));
    });
    return problems;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${at}: ${JSON.stringify(actual)}, documented an object`];
    return Object.entries(expected).flatMap(([k, v]) => differences(v, (actual as Dict)[k], at ? `${at}.${k}` : k, supplied, runDependent));
  }
  return Object.is(expected, actual) ? [] : [`${at || 'body'}: ${JSON.stringify(actual)}, documented ${JSON.stringify(expected)}`];
}

/** Claims of a signed token that every signing makes anew: compared for presence only. */
const RUN_DEPENDENT_CLAIMS = ['iat', 'exp', 'nbf'];

function sameMediaType(actual: string | undefined, documented: string): boolean {
  return (actual ?? '').split(';')[0]!.trim().toLowerCase() === documented.toLowerCase();
}

/** The metric families a Prometheus text exposition names (its `# TYPE` lines, else its samples). */
function metricFamilies(text: string): Set<string> {
  const typed = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  return new Set(typed.length > 0 ? typed : [...text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{| )/gm)].map((m) => m[1]!));
}

/**
 * A text answer against a text example: a metrics excerpt's families must each be in the answer
 * with the documented type and at least one sample carrying the documented labels; any other
 * text must be in the answer as written.
 */
function textDifferences(expected: unknown, actual: string): string[] {
  const text = asText(expected);
  const families = metricFamilies(text);
  if (!/^# (TYPE|HELP) /m.test(text)) return actual.includes(text.trim()) ? [] : ['body: does not contain the documented text'];
  const answered = metricFamilies(actual);
  const problems: string[] = [];
  for (const family of families) {
    if (!answered.has(family)) {
      problems.push(`metrics: family ${family} is not in the answer`);
      continue;
    }
    const type = new RegExp(`^# TYPE ${family} (\\S+)$`, 'm');
    const documentedType = type.exec(text)?.[1];
    const answeredType = type.exec(actual)?.[1];
    if (documentedType !== answeredType) problems.push(`metrics: ${family} is a ${answeredType}, documented a ${documentedType}`);
    for (const [, labels] of text.matchAll(new RegExp(`^${family}(\\{[^}]*\\})? `, 'gm'))) {
      const wanted = [...(labels ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => `${m[1]}="${m[2]}"`);
      const samples = [...actual.matchAll(new RegExp(`^${family}(\\{[^}]*\\})? `, 'gm'))].map((m) => m[1] ?? '');
      if (!samples.some((s) => wanted.every((w) => s.includes(w)))) problems.push(`metrics: no ${family} sample with ${wanted.join(',') || 'no labels'}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Running the examples

interface Answer {
  status: number;
  /** X-Exchange-Id: the exchange-log entry of the call, when it reached a national system. */
  exchangeId: string | undefined;
  contentType: string | undefined;
  body: Json;
  text: string;
}

interface Run {
  gw: TestGateway;
  /** Answers of the examples run so far, by `operationId/name`. */
  answers: Map<string, Answer>;
  /** Values set up by PREPARE for SUBSTITUTE, by name. */
  state: Map<string, string>;
  /** Files PREPARE made for the file parts of multipart examples, by part name. */
  files: Map<string, { bytes: Buffer; name: string; type: string }>;
}


async function send(run: Run, request: RequestExample): Promise<Answer> {
  const url = new URL(run.gw.url + request.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(request.pathParams[name] ?? '')));
  for (const [name, value] of Object.entries(request.query)) url.searchParams.set(name, value);
  const headers = new Headers(request.headers);
  const accept = request.paired?.mediaType ?? 'application/json, application/problem+json, */*;q=0.1';
  headers.set('accept', accept);
  // A console session's cookie (PREPARE signed in) stands for the key.
  if (request.authenticated && request.roles[0] && !headers.has('cookie')) headers.set('authorization', `Bearer ${KEYS[request.roles[0] as keyof typeof KEYS]}`);
  let body: string | FormData | undefined;
  if (request.body?.mediaType === 'multipart/form-data') {
    // Each field a part; a file part (its example value a description of the bytes) gets the file PREPARE made.
    body = new FormData();
    for (const [name, value] of Object.entries(request.body.value as Dict)) {
      const file = run.files.get(name);
      if (file) body.append(name, new Blob([new Uint8Array(file.bytes)], { type: file.type }), file.name);
      else body.append(name, asText(value));
    }
  } else if (request.body) {
    headers.set('content-type', request.body.mediaType);
    body = request.body.mediaType.includes('json') ? JSON.stringify(request.body.value) : asText(request.body.value);
  }
  const res = await fetch(url, { method: request.method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual' });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? undefined;
  let parsed: Json = text;
  if (contentType && /json/.test(contentType)) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, exchangeId: res.headers.get('x-exchange-id') ?? undefined, contentType, body: parsed, text };
}

/** The answer of an example already run, parsed; fails when it has not run or did not succeed. */
function answerOf(run: Run, key: string): Dict {
  const answer = run.answers.get(key);
  if (!answer || answer.status >= 300 || typeof answer.body !== 'object') throw new Error(`${key} has not run successfully before`);
  return answer.body as Dict;
}

/**
 * A person signs in at the sandbox's national sign-on page from `authorizationUrl` and is sent
 * back to the gateway's callback: that callback address (not followed), with `state`, `code`
 * and `iss`.
 */
async function signInAt(run: Run, authorizationUrl: string, idNumber: string): Promise<URL> {
  const browser = createBrowser();
  const page = await browser.follow(authorizationUrl);
  const html = await page.response.text();
  const done = await browser.submit({ html, url: page.url }, /\/login$/, { username: idNumber, password: SANDBOX_PASSWORD }, `${run.gw.url}/v1/accounts/sso/callback`);
  if (!done.url.startsWith(`${run.gw.url}/v1/accounts/sso/callback`)) throw new Error(`the sign-on did not come back to the gateway: ${done.response.status} ${done.url}`);
  return new URL(done.url);
}

/**
 * Signs in to the console as createConsoleSession's example does, and makes the example a call
 * of that session: its cookie in place of the key, its CSRF token where the example shows one.
 */
async function consoleSignIn(run: Run, example: RequestExample): Promise<void> {
  const signIn = examples.find((e) => e.operationId === 'createConsoleSession')!;
  const res = await run.gw.fetch('/v1/console/sessions', { method: 'POST', key: null, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...(signIn.body!.value as Dict), apiKey: KEYS.auditor }) });
  if (res.status !== 201) throw new Error(`the console sign-in failed: ${res.status} ${await res.text()}`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
  example.headers.cookie = cookie;
  if (example.headers['x-csrf-token'] !== undefined) example.headers['x-csrf-token'] = csrfToken;
}

/** Waits until the contract's example dossier (createDossier's) is as `settled` says. */
async function dossierSettled(run: Run, settled: (history: Dict[]) => boolean): Promise<void> {
  const code = answerOf(run, [...run.answers.keys()].find((k) => k.startsWith('createDossier/'))!).code as string;
  await eventually(
    async () => {
      const res = await run.gw.fetch(`/v1/dossiers/${encodeURIComponent(code)}`, { headers: { 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': 'TIEP_NHAN_HO_SO' } });
      return res.status === 200 && settled(((await res.json()) as { history: Dict[] }).history) ? true : undefined;
    },
    10_000,
    `dossier ${code} in the state the next example needs`,
  );
}

/** Waits until the exchange log has integrated every entry so far under a signed, timestamped checkpoint. */
async function settleLog(run: Run): Promise<number> {
  let last = -1;
  for (let tries = 0; tries < 100; tries++) {
    const res = await run.gw.fetch('/v1/audit/checkpoint?timestamped=true', { key: KEYS.auditor });
    const size = res.status === 200 ? Number(((await res.json()) as Dict).treeSize) : 0;
    if (size > 0 && size === last) return size;
    last = size;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('the exchange log did not settle');
}

/** The exchange-log entry of an exchange, as the auditor lists it. */
async function entryOf(run: Run, exchangeId: string): Promise<Dict> {
  const res = await run.gw.fetch('/v1/audit/entries?limit=1000', { key: KEYS.auditor });
  const found = ((await res.json()) as { items: Dict[] }).items.find((e) => e.id === exchangeId);
  if (!found) throw new Error(`exchange ${exchangeId} is not in the exchange log`);
  return found;
}

/**
 * Examples that run in another order than the contract's, because each uses what the one before
 * left, as a portal's day would: `operationId` or `operationId/example`. The examples named here
 * take, in this order, the places the same examples hold in the contract's order; every other
 * example keeps its place.
 *
 * Dossiers: the example dossier names a procedure the sandbox portal refuses, so its delivery is
 * dead at once; it is listed, read, redelivered (refused again), corrected (the dead change
 * requeued ahead of the correction), and gets a processing step and a status change last.
 * Accounts: the person's link made by database verification is deleted, national sign-on links
 * the same account again (after another person's offered link is confirmed), and the links are
 * listed last.
 */
const RUN_ORDER = [
  'createDossier',
  'listDossiers',
  'getDossier',
  'redeliverDossier',
  'correctDossier/procedure',
  'correctDossier/contact',
  'addDossierEvent/progress',
  'addDossierEvent/status',
  'createAccountLink',
  'deleteAccountLink',
  'confirmSsoLink',
  'startSso',
  'completeSso/linked',
  'completeSso/cancelled',
  'confirmSso',
  'listAccountLinks',
  'createDocument',
  'listDocuments',
  'getDocument',
  'getDocumentContent',
  'getSharedDocumentContent',
];

function orderKey(example: RequestExample): number {
  const exact = RUN_ORDER.indexOf(`${example.operationId}/${example.name.replace(/ \(.*\)$/, '')}`);
  return exact >= 0 ? exact : RUN_ORDER.indexOf(example.operationId);
}

/** The contract's order, the examples of RUN_ORDER rearranged among their own places. */
function ordered(list: RequestExample[]): RequestExample[] {
  const places = list.flatMap((e, i) => (orderKey(e) >= 0 ? [i] : []));
  const moving = places.map((i) => list[i]!).sort((x, y) => orderKey(x) - orderKey(y));
  const result = [...list];
  places.forEach((place, n) => (result[place] = moving[n]!));
  return result;
}

/**
 * What an example needs before it runs as written, by operationId; run just before it. Each
 * uses the gateway and the sandbox as a portal would, never the store behind them.
 */
const PREPARE: Record<string, (run: Run, example: RequestExample) => Promise<void>> = {
  /** The example dossier's first delivery refused by the portal: the dossier is `dead`. */
  async listDossiers(run) {
    await dossierSettled(run, (history) => history[0]?.deliveryState === 'dead');
  },
  /** Redelivered, the refused change is refused again before the dossier is corrected. */
  async 'correctDossier/procedure'(run) {
    await dossierSettled(run, (history) => history[0]?.deliveryState === 'dead');
  },
  /**
   * A pending link offered by national sign-on: an account (the example's answer's
   * portalAccountId) linked to a person by database verification, then that person signing in
   * nationally with no portal account: confirming the sign-on offers a pending link to that
   * account, which this example confirms.
   */
  async confirmSsoLink(run, example) {
    const documented = (example.paired?.value ?? {}) as Dict;
    const portalAccountId = (documented.portalAccountId as string | undefined) ?? 'cd-000207731';
    const person = SSO_PEOPLE.offered;
    const headers = { 'x-user-id': example.headers['x-user-id'] ?? 'canbo-tohieu-0042', 'x-purpose': example.headers['x-purpose'] ?? 'LIEN_KET_TAI_KHOAN', 'content-type': 'application/json' };
    const made = await run.gw.fetch('/v1/accounts/links', {
      method: 'POST',
      headers,
      body: JSON.stringify({ portalAccountId, subject: { type: 'person', idNumber: person.idNumber }, evidence: { fullName: person.fullName, dateOfBirth: person.dateOfBirth } }),
    });
    if (made.status !== 201) throw new Error(`the link to be replaced was not made: ${made.status} ${await made.text()}`);
    const returnTo = 'https://motcua.sonla.gov.vn/auth/national/callback?s=offer';
    const start = await run.gw.fetch(`/v1/accounts/sso/start?${new URLSearchParams({ returnTo })}`, { headers: { ...headers, accept: 'application/json' } });
    const { authorizationUrl } = (await start.json()) as { authorizationUrl: string };
    const callback = await signInAt(run, authorizationUrl, person.idNumber);
    const back = await fetch(callback, { headers: { accept: 'application/json' } });
    const { result } = (await back.json()) as { result: string };
    const confirmed = await run.gw.fetch('/v1/accounts/sso/confirm', { method: 'POST', headers, body: JSON.stringify({ signOn: signedClaims(result)!.signOn, returnTo }) });
    const body = (await confirmed.json()) as { outcome: string; link: { id: string } | null };
    if (body.outcome !== 'confirmation_required' || !body.link) throw new Error(`national sign-on offered no link: ${JSON.stringify(body)}`);
    run.state.set('offeredLinkId', body.link.id);
  },
  /** The national service's redirect after the person of SSO_PEOPLE.linked signed in, for the flow startSso's example began. */
  async 'completeSso/linked'(run) {
    const { authorizationUrl } = answerOf(run, [...run.answers.keys()].find((k) => k.startsWith('startSso/'))!) as { authorizationUrl: string };
    const callback = await signInAt(run, authorizationUrl, SSO_PEOPLE.linked.idNumber);
    for (const name of ['state', 'code', 'iss']) run.state.set(`sso.${name}`, callback.searchParams.get(name) ?? '');
  },
  /**
   * The national service's redirect after the person pressed its cancel button, for a flow
   * started as startSso's example starts one. The sandbox's denial must carry the example's
   * `error` (access_denied): only state and iss are this run's.
   */
  async 'completeSso/cancelled'(run, example) {
    const startSso = examples.find((e) => e.operationId === 'startSso')!;
    const start = await run.gw.fetch(`/v1/accounts/sso/start?${new URLSearchParams(startSso.query)}`, { headers: { ...startSso.headers, accept: 'application/json' } });
    if (start.status !== 200) throw new Error(`a second sign-on did not start: ${start.status} ${await start.text()}`);
    const { authorizationUrl } = (await start.json()) as { authorizationUrl: string };
    const browser = createBrowser();
    const page = await browser.follow(authorizationUrl);
    const done = await browser.submit({ html: await page.response.text(), url: page.url }, /\/abort$/, {}, `${run.gw.url}/v1/accounts/sso/callback`);
    const callback = new URL(done.url);
    if (!done.url.startsWith(`${run.gw.url}/v1/accounts/sso/callback`)) throw new Error(`the cancelled sign-on did not come back to the gateway: ${done.response.status} ${done.url}`);
    if (callback.searchParams.get('error') !== example.query.error) throw new Error(`the sandbox's denial carries error=${callback.searchParams.get('error')}, the example documents ${example.query.error}`);
    for (const name of ['state', 'iss']) run.state.set(`sso.${name}`, callback.searchParams.get(name) ?? '');
  },
  async getAuditCheckpoint(run) {
    await settleLog(run);
  },
  /**
   * The access the example shows: a one-stop desk verifying the identity of the person the
   * example's account is linked to (national sign-on linked it in confirmSso's example), its
   * entry in the log before the list is asked for.
   */
  async getSubjectAccesses(run, example) {
    const account = example.query.portalAccountId!;
    const links = await run.gw.fetch(`/v1/accounts/links?portalAccountId=${encodeURIComponent(account)}`, { headers: { 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': 'LIEN_KET_TAI_KHOAN' } });
    const { items } = (await links.json()) as { items: { state: string }[] };
    if (!items.some((l) => l.state === 'active')) throw new Error(`portal account ${account} has no active link; the examples before this one should have made it`);
    const desk = { 'x-user-id': 'canbo-motcua-0107', 'x-purpose': 'XAC_MINH_DANH_TINH', 'content-type': 'application/json' };
    const verified = await run.gw.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers: desk, body: JSON.stringify(SSO_PEOPLE.linked) });
    const exchangeId = verified.headers.get('x-exchange-id');
    if (verified.status !== 200 || !exchangeId) throw new Error(`the desk's verification failed: ${verified.status} ${await verified.text()}`);
    await eventually(
      async () => {
        const res = await run.gw.fetch('/v1/audit/entries?operation=verifyCitizen&client=sandbox-agency&limit=1000', { key: KEYS.auditor });
        return ((await res.json()) as { items: Dict[] }).items.some((e) => e.id === exchangeId) ? true : undefined;
      },
      10_000,
      "the desk's verification in the exchange log",
    );
  },
  /** The session operations answer for a console session only: the auditor of createConsoleSession's example signs in. */
  async getConsoleSession(run, example) {
    await consoleSignIn(run, example);
  },
  async deleteConsoleSession(run, example) {
    await consoleSignIn(run, example);
  },
  /** The example's file: a one-page PDF, deposited as the decision it names. */
  async createDocument(run) {
    const pdf = await PDFDocument.create();
    pdf.addPage([595, 842]).drawText('Giay chung nhan dang ky ho kinh doanh', { x: 50, y: 780, size: 14, font: await pdf.embedFont(StandardFonts.Helvetica) });
    run.files.set('file', { bytes: Buffer.from(await pdf.save()), name: 'giay-chung-nhan.pdf', type: 'application/pdf' });
  },
};

/**
 * Values that exist only at run time, put in place of the contract's example values, by
 * operationId. Everything else is sent as written.
 */
const SUBSTITUTE: Record<string, (run: Run, example: RequestExample) => Promise<void> | void> = {
  // A link's id is made by the gateway: the link createAccountLink's `person` example made.
  deleteAccountLink(run, example) {
    example.pathParams.linkId = answerOf(run, 'createAccountLink/person').id as string;
  },
  // The pending link PREPARE had national sign-on offer.
  confirmSsoLink(run, example) {
    example.pathParams.linkId = run.state.get('offeredLinkId')!;
  },
  // state and code are single-use secrets of one sign-on; iss is the sandbox service's address.
  completeSso(run, example) {
    for (const name of ['state', 'code', 'iss']) if (example.query[name] !== undefined) example.query[name] = run.state.get(`sso.${name}`)!;
  },
  // The sign-on's id is in the signed result completeSso gave.
  confirmSso(run, example) {
    const { result } = answerOf(run, 'completeSso/linked') as { result: string };
    (example.body!.value as Dict).signOn = signedClaims(result)!.signOn;
  },
  // A key is the one secret no example shows (the contract is served to anyone): the sandbox auditor's signs in.
  createConsoleSession(_run, example) {
    (example.body!.value as Dict).apiKey = KEYS.auditor;
  },
  // A document's code is made by the gateway: the one createDocument's example deposited.
  getDocument(run, example) {
    example.pathParams.documentCode = answerOf(run, 'createDocument/result').code as string;
  },
  getDocumentContent(run, example) {
    example.pathParams.documentCode = answerOf(run, 'createDocument/result').code as string;
  },
  // The address the national portal would have been given for that document: its token is made with the gateway's privacy key.
  getSharedDocumentContent(run, example) {
    const code = answerOf(run, 'createDocument/result').code as string;
    example.pathParams.documentCode = code;
    example.pathParams.token = createDocumentLinks(loadHashKey(join(dirname(run.gw.dbPath), 'hash-key'), { create: false })).token(code);
  },
  // Indexes, sizes and times of the exchange log are this run's: those of verifyCitizen's example's entry.
  async listAuditEntries(run, example) {
    const entry = await entryOf(run, run.state.get('exchange.verifyCitizen')!);
    example.query.from = String(entry.index);
    example.query.since = new Date(Date.parse(entry.time as string) - 60_000).toISOString();
    example.query.until = new Date(Date.parse(entry.time as string) + 60_000).toISOString();
  },
  async getAuditEntry(run, example) {
    example.pathParams.index = String((await entryOf(run, run.state.get('exchange.verifyCitizen')!)).index);
  },
  async getAuditOfficer(run, example) {
    example.pathParams.userHash = (await entryOf(run, run.state.get('exchange.verifyCitizen')!)).userHash as string;
  },
  async getAuditInclusionProof(run, example) {
    example.pathParams.index = String((await entryOf(run, run.state.get('exchange.verifyCitizen')!)).index);
    example.query.treeSize = String(await settleLog(run));
  },
  async getAuditConsistencyProof(run, example) {
    example.query.first = '1';
    example.query.second = String(await settleLog(run));
  },
  async exportAudit(run, example) {
    example.query.from = '0';
    example.query.to = String(await settleLog(run));
  },
};

/** Who signs in nationally in the sign-on examples (sandbox personas). */
const SSO_PEOPLE = {
  /** Signs in for startSso's example and is linked to its account on confirmation. */
  linked: { idNumber: '014089001234', fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' },
  /** Already linked to an account by database verification; signing in nationally offers a pending link. */
  offered: { idNumber: '014194002871', fullName: 'Cầm Thị Hoa', dateOfBirth: '1994-11-02' },
};

const examples = ordered(requestExamples());
const outcomes: string[] = [];
const usedIdempotencyKeys = new Set<string>();

describe('every request example of the contract', () => {
  const run = {} as Run;
  beforeAll(async () => {
    run.gw = await startTestGateway();
    run.answers = new Map();
    run.state = new Map();
    run.files = new Map();
  });
  afterAll(async () => {
    await run.gw?.close();
    console.log(`contract examples:\n${outcomes.join('\n')}`);
  });

  it('finds request examples in the contract', () => {
    expect(examples.length).toBeGreaterThan(20);
  });

  for (const example of examples) {
    it(`${example.operationId} ${example.name}: ${example.method} ${example.path}`, async () => {
      if (example.unusable) outcomes.push(`FAIL ${example.operationId} ${example.name}: ${example.unusable}`);
      expect(example.unusable, example.unusable).toBeUndefined();
      await (PREPARE[`${example.operationId}/${example.name}`] ?? PREPARE[example.operationId])?.(run, example);
      await SUBSTITUTE[example.operationId]?.(run, example);
      // One Idempotency-Key is for one write: the contract's one example key goes to the first
      // write that uses it; a later write sent with it would be the documented 422.
      const key = example.headers['idempotency-key'];
      if (key !== undefined) {
        if (usedIdempotencyKeys.has(key)) example.headers['idempotency-key'] = randomUUID();
        usedIdempotencyKeys.add(example.headers['idempotency-key']!);
      }
      const answer = await send(run, example);
      // DUMP_ANSWERS=1 prints every answer in full, to write a response example from what the sandbox answers.
      if (process.env.DUMP_ANSWERS) console.log(`ANSWER ${example.operationId}/${example.name} ${answer.status} ${answer.text}`);
      if (answer.exchangeId && !run.state.has(`exchange.${example.operationId}`)) run.state.set(`exchange.${example.operationId}`, answer.exchangeId);
      run.answers.set(`${example.operationId}/${example.name}`, answer);
      const label = `${example.operationId} ${example.name}`;
      const problems: string[] = [];
      if (example.unpaired) problems.push(example.unpaired);
      else if (example.paired) {
        if (answer.status !== example.paired.status) problems.push(`status ${answer.status}, documented ${example.paired.status} (${example.paired.name})`);
        else if (!sameMediaType(answer.contentType, example.paired.mediaType)) problems.push(`content type ${answer.contentType}, documented ${example.paired.mediaType}`);
        else if (/json/.test(example.paired.mediaType)) {
          problems.push(...differences(example.paired.value, answer.body, '', suppliedValues(example), new Set([...RUN_DEPENDENT_CLAIMS, ...(RUN_DEPENDENT[example.operationId] ?? [])])));
        } else problems.push(...textDifferences(example.paired.value, answer.text));
      } else {
        // No example shows this answer (the contract documents none for the operation, and its
        // success answers are not JSON): the documented status and media type.
        const types = example.successMedia.get(answer.status);
        if (!types) problems.push(`status ${answer.status}, documented ${example.successes.join(' or ')}`);
        else if (types.length === 0 && answer.text !== '') problems.push(`a body, documented none for ${answer.status}`);
        else if (types.length > 0 && !types.some((t) => sameMediaType(answer.contentType, t))) problems.push(`content type ${answer.contentType}, documented ${types.join(' or ')}`);
        else if (types.length > 0 && answer.text === '') problems.push(`an empty body, documented ${types.join(' or ')}`);
      }
      if (answer.contentType && /json/.test(answer.contentType) && typeof answer.body === 'object') {
        for (const p of validation.of(example.operationId).response(answer.status, answer.contentType, answer.body)) problems.push(`schema: ${p.field} ${p.message}`);
      }
      const compared = example.paired
        ? `compared with ${example.paired.status} ${example.paired.mediaType} example ${example.paired.name}${/json/.test(example.paired.mediaType) ? '' : ' (metric families / text)'}`
        : `no example documented: compared with status ${example.successes.join('|')} and its media type (${[...example.successMedia.values()].flat().join(', ') || 'no content'})`;
      outcomes.push(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${label} -> ${answer.status}, ${compared}${problems.map((p) => `\n       ${p}`).join('')}`);
      expect(problems, `${label} answered ${answer.status}: ${answer.text.slice(0, 600)}`).toEqual([]);
    });
  }
});

