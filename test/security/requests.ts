import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Role } from '../../src/config/schema.ts';
import { loadContract, type Contract, type Operation } from '../../src/http/contract.ts';
import { procedures } from '../../src/sandbox/personas.ts';
import { KEYS } from '../helpers/gateway.ts';
import { deeplyNested, IMPOSSIBLE_DATES, IMPOSSIBLE_DATE_TIMES, invalid, oddString, resolverFor, valid, type Resolver, type Schema } from './schema-arbitraries.ts';

/** Requests made from the contract, for every operation: what the fuzz and access suites send. */

export const contract: Contract = loadContract();
export const resolve: Resolver = resolverFor(contract.document);

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

interface RawOperation {
  parameters?: Schema[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses: Record<string, unknown>;
}

export function rawOperation(operation: Operation): RawOperation {
  const paths = contract.document.paths as Record<string, Record<string, RawOperation & { parameters?: Schema[] }>>;
  const item = paths[operation.path]!;
  const raw = item[operation.method]!;
  const shared = (item as unknown as { parameters?: Schema[] }).parameters ?? [];
  return { ...raw, parameters: [...shared, ...(raw.parameters ?? [])] };
}

export function parametersOf(operation: Operation): Parameter[] {
  return (rawOperation(operation).parameters ?? []).map((p) => resolve(p) as unknown as Parameter);
}

/** The JSON media type an operation's body is sent as (`application/json`, else a `+json` type such as merge-patch), with its schema. */
export function bodyMediaOf(operation: Operation): { type: string; schema: Schema } | undefined {
  const content = rawOperation(operation).requestBody?.content ?? {};
  const type = 'application/json' in content ? 'application/json' : Object.keys(content).find((t) => t.endsWith('+json'));
  const schema = type ? content[type]?.schema : undefined;
  return type && schema ? { type, schema } : undefined;
}

export function bodySchemaOf(operation: Operation): Schema | undefined {
  return bodyMediaOf(operation)?.schema;
}

/** The statuses the contract documents for an operation, `4XX` standing for every 4xx. */
export function documentedStatuses(operation: Operation): Set<string> {
  return new Set(Object.keys(rawOperation(operation).responses));
}

/** The key of a sample client with this role (config/sandbox.yaml). */
export const KEY_OF: Record<Role, string> = KEYS;

/** Whether a console session is the operation's only security (the session operations): a key is not what it takes. */
export function sessionOnly(operation: Operation): boolean {
  const security = (rawOperation(operation) as { security?: Record<string, unknown>[] }).security;
  return security !== undefined && security.length > 0 && security.every((scheme) => Object.keys(scheme).every((name) => name === 'consoleSession'));
}

/**
 * A console session of a staff client, signed in with its key at `baseUrl` (the gateway, or a
 * proxy in front of it): the Cookie header and the X-CSRF-Token to send.
 */
export async function consoleSession(baseUrl: string, key: string): Promise<{ cookie: string; 'x-csrf-token': string }> {
  const res = await fetch(`${baseUrl}/v1/console/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: key, userId: 'officer-17' }) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`the console sign-in failed: ${res.status} ${text}`);
  return { cookie: res.headers.getSetCookie()[0]!.split(';')[0]!, 'x-csrf-token': (JSON.parse(text) as { csrfToken: string }).csrfToken };
}

/** A role the operation allows, preferring the portal; undefined for public endpoints. */
export function callerRole(operation: Operation): Role | undefined {
  return operation.roles.includes('portal') ? 'portal' : operation.roles[0];
}

export interface FuzzRequest {
  method: string;
  /** Path with its parameters in, and query string. */
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** What each generated personal identifier or name was: none of them may reach a log line. */
  secrets: string[];
}

/** Header values as a raw client sends them: UTF-8 bytes, without the bytes no HTTP header may hold. */
export const headerValue = (value: string): string =>
  Buffer.from(value, 'utf8')
    .toString('latin1')
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')
    .trim();

// Dates of birth are personal too, but a generated date can be today's, which every log line holds.
/** Lone surrogates cannot travel in a URL (they have no UTF-8): U+FFFD instead, as a browser sends. */
const wellFormed = (s: string) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

const PERSONAL_FIELDS = new Set(['idNumber', 'oldIdNumber', 'fullName', 'name', 'insuranceCode', 'portalAccountId']);

/** Generated values of personal fields, anywhere in a body. */
function personalValues(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 8 || value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (PERSONAL_FIELDS.has(k) && typeof v === 'string') out.push(v);
    else personalValues(v, out, depth + 1);
  }
  return out;
}

const HUGE_BODY = JSON.stringify({ idNumber: '014203000123', padding: 'x'.repeat(300 * 1024) });
/** 8 MiB of JSON in 8 KiB of gzip: the limit must hold for what the body inflates to. */
const GZIP_BOMB = gzipSync(`{"idNumber":"${'0'.repeat(8 * 1024 * 1024)}"}`);
const NO_VALUE = Symbol.for('no-invalid-value');

const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/problem+json',
  'application/merge-patch+json',
  'image/png',
  '',
];

/** A parameter's value: mostly valid, sometimes invalid or odd. */
function parameterValue(parameter: Parameter): fc.Arbitrary<string | undefined> {
  const schema = parameter.schema ?? {};
  const bad = invalid(schema, resolve).map((v) => (v === NO_VALUE ? '\u0000' : v));
  const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? 'null');
  return fc.oneof(
    { weight: 4, arbitrary: valid(schema, resolve).map(text) },
    { weight: 3, arbitrary: bad.map(text) },
    { weight: 1, arbitrary: oddString },
    { weight: parameter.required ? 1 : 3, arbitrary: fc.constant(undefined) },
  );
}

/** Every kind of request the contract allows for the operation, and most kinds it does not. */
export function fuzzRequest(operation: Operation): fc.Arbitrary<FuzzRequest> {
  const parameters = parametersOf(operation);
  const bodySchema = bodySchemaOf(operation);
  const role = callerRole(operation);

  const path = fc.tuple(...parameters.filter((p) => p.in === 'path').map((p) => parameterValue({ ...p, required: true }).map((v) => [p.name, v] as const)));
  const query = fc.tuple(
    ...parameters.filter((p) => p.in === 'query').map((p) => parameterValue(p).map((v) => [p.name, v] as const)),
    // Unknown and repeated parameters.
    fc.option(fc.constantFrom<[string, string]>(['unknown', '1'], ['__proto__', 'x'], ['page', '1'], ['limit[]', '2']), { freq: 4 }),
  );
  const headerParams = fc.tuple(
    ...parameters
      .filter((p) => p.in === 'header' && !['x-user-id', 'x-purpose'].includes(p.name.toLowerCase()))
      .map((p) => fc.option(parameterValue(p), { freq: 2 }).map((v) => [p.name, v ?? undefined] as const)),
  );
  const auth = fc.oneof(
    { weight: 12, arbitrary: fc.constant(role ? `Bearer ${KEY_OF[role]}` : undefined) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('Bearer wrong-key-0000', 'Basic c2FuZGJveDpwb3J0YWw=', 'Bearer', `bearer ${KEYS.portal}`, 'Bearer ' + 'k'.repeat(600)) },
  );
  const accountability: fc.Arbitrary<{ userId?: string; purpose?: string }> = fc.oneof(
    { weight: 10, arbitrary: fc.record({ userId: fc.stringMatching(/^[a-z][a-z0-9._-]{5,40}$/), purpose: fc.constantFrom('XAC_MINH_DANH_TINH', 'TIEP_NHAN_HO_SO', procedures[0]!.code) }) },
    { weight: 1, arbitrary: fc.record({ userId: oddString, purpose: oddString }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.constant({}) },
  );
  const body: fc.Arbitrary<{ text?: string | Uint8Array; value?: unknown; contentType?: string; encoding?: string }> = bodySchema
    ? fc.oneof(
        { weight: 4, arbitrary: valid(bodySchema, resolve).map((value) => ({ value, text: JSON.stringify(value) })) },
        { weight: 4, arbitrary: invalid(bodySchema, resolve).map((value) => ({ value, text: value === NO_VALUE ? '{}' : JSON.stringify(value) })) },
        { weight: 1, arbitrary: fc.constant({ text: HUGE_BODY }) },
        { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1000, max: 40_000 }), fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>).map(([d, k]) => ({ text: deeplyNested(d, k) })) },
        { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 500, max: 5000 }), fc.constantFrom('idNumber', 'fullName', 'subject')).map(([d, k]) => ({ text: `{"${k}":${deeplyNested(d, 'array')}}` })) },
        { weight: 1, arbitrary: fc.constantFrom('', '{', '{"a":1}}', 'null', '[]', '"\\ud800"', '{"idNumber":"\\u0000"}', '\uFEFF{}', '{"a":1,"a":2}', 'NaN').map((text) => ({ text })) },
        { weight: 1, arbitrary: oddString.map((text) => ({ text })) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            { text: GZIP_BOMB, encoding: 'gzip' },
            { text: '{}', encoding: 'zstd' },
            { text: 'not gzip', encoding: 'gzip' },
            { text: gzipSync('{}'), encoding: 'gzip, gzip' },
          ),
        },
        {
          weight: 2,
          arbitrary: fc
            .tuple(valid(bodySchema, resolve), fc.constantFrom(...CONTENT_TYPES))
            .map(([value, contentType]) => ({ value, text: JSON.stringify(value), contentType })),
        },
      )
    : fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.constantFrom({ text: '{"x":1}' }, { text: 'garbage', contentType: 'text/plain' }) });
  const requestId = fc.option(fc.oneof(fc.constant('r'.repeat(129)), oddString, fc.uuid()), { freq: 5 });

  return fc.record({ path, query, headerParams, auth, accountability, body, requestId }).map(({ path, query, headerParams, auth, accountability, body, requestId }) => {
    let url = operation.path;
    for (const [name, value] of path) url = url.replace(`{${name}}`, encodeURIComponent(wellFormed(value ?? '')));
    const search = new URLSearchParams();
    for (const entry of query) {
      if (!entry) continue;
      const [name, value] = entry;
      if (value !== undefined) search.append(name, wellFormed(value));
    }
    const qs = search.toString();
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (accountability.userId !== undefined) headers['x-user-id'] = headerValue(accountability.userId);
    if (accountability.purpose !== undefined) headers['x-purpose'] = headerValue(accountability.purpose);
    for (const [name, value] of headerParams) if (value !== undefined) headers[name.toLowerCase()] = headerValue(value);
    if (requestId) headers['x-request-id'] = headerValue(requestId);
    const canHaveBody = operation.method !== 'get';
    if (body.text !== undefined && canHaveBody) {
      const type = body.contentType ?? bodyMediaOf(operation)?.type ?? 'application/json';
      if (type !== '') headers['content-type'] = type;
      if (body.encoding) headers['content-encoding'] = body.encoding;
    }
    const secrets = [
      ...personalValues(body.value),
      ...query.flatMap((e) => (e && ['idNumber', 'portalAccountId', 'subject'].includes(e[0]) && e[1] !== undefined ? [e[1]] : [])),
      ...path.flatMap(([name, value]) => (name === 'taxCode' && value && /^\d{12}$/.test(value) ? [value] : [])),
      ...(accountability.userId !== undefined ? [accountability.userId] : []),
    ];
    return {
      method: operation.method.toUpperCase(),
      url: url + (qs ? `?${qs}` : ''),
      headers,
      ...(body.text !== undefined && canHaveBody ? { body: body.text } : {}),
      secrets,
    };
  });
}

/** One value of an arbitrary, the same on every run. */
const sampleOf = <T>(arbitrary: fc.Arbitrary<T>): T => fc.sample(arbitrary, { numRuns: 1, seed: 42 })[0]!;

/**
 * A request the contract allows for the operation (the parameters' examples where there are,
 * generated values elsewhere), sent with the given Authorization header, or none.
 */
export function contractRequest(operation: Operation, authorization: string | undefined): Omit<FuzzRequest, 'secrets' | 'body'> & { body?: string } {
  let url = operation.path;
  const search = new URLSearchParams();
  const headers: Record<string, string> = {};
  for (const parameter of parametersOf(operation)) {
    const example = (parameter as { example?: unknown }).example;
    const value = example !== undefined ? String(example) : parameter.required ? String(sampleOf(valid(parameter.schema ?? {}, resolve))) : undefined;
    if (value === undefined) continue;
    if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(value));
    else if (parameter.in === 'query' && parameter.required) search.append(parameter.name, value);
    else if (parameter.in === 'header' && parameter.name.toLowerCase() !== 'x-request-id') headers[parameter.name.toLowerCase()] = value;
  }
  if (operation.personalData) {
    headers['x-user-id'] = 'officer-17';
    // Auditors may claim only audit purposes, everyone else only the others.
    headers['x-purpose'] = operation.roles.every((r) => r === 'auditor') ? 'THANH_TRA_KIEM_TRA' : 'XAC_MINH_DANH_TINH';
  }
  if (authorization !== undefined) headers.authorization = authorization;
  // An API client asks for JSON (an operation that can also redirect a browser then answers JSON).
  const answers = Object.entries(rawOperation(operation).responses).filter(([status]) => status.startsWith('2'));
  if (answers.some(([, r]) => Object.keys((resolve(r as Schema).content as object | undefined) ?? {}).includes('application/json'))) headers.accept = 'application/json';
  const media = bodyMediaOf(operation);
  const qs = search.toString();
  const request = { method: operation.method.toUpperCase(), url: url + (qs ? `?${qs}` : ''), headers };
  const form = rawOperation(operation).requestBody?.content?.['multipart/form-data']?.schema;
  if (form) return { ...request, ...formRequest(sampleOf(valid(form, resolve)) as Record<string, unknown>, headers) };
  if (!media) return request;
  headers['content-type'] = media.type;
  return { ...request, body: JSON.stringify(sampleOf(valid(media.schema, resolve))) };
}

/** A form's fields as a multipart/form-data body, the binary ones (`file`) sent as a file part. */
function formRequest(fields: Record<string, unknown>, headers: Record<string, string>): { headers: Record<string, string>; body: string } {
  const boundary = 'contract-request-form';
  const parts = Object.entries(fields).map(([name, value]) => {
    const file = name === 'file' ? `; filename="${name}.pdf"\r\nContent-Type: application/pdf` : '';
    return `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file}\r\n\r\n${String(value)}\r\n`;
  });
  return { headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, body: `${parts.join('')}--${boundary}--\r\n` };
}

/**
 * A form a body member was reached through (a branch of a `oneOf`/`anyOf`): where it sits in the
 * body and a value of that form, to put there first so that the member belongs to the body.
 */
export interface BodyBranch {
  path: string[];
  value: unknown;
}

/** A scalar member of an operation's body, reached through objects and the forms of oneOf/anyOf. */
export interface BodyField {
  /** As a refusal names it: `body.evidence.dateOfBirth`. */
  field: string;
  schema: Schema;
  /** The forms on the way, outermost first (none when reached through objects only). */
  branches: BodyBranch[];
}

/** Every scalar member of an operation's JSON body, through objects and every form of a oneOf/anyOf (not into arrays). */
export function bodyFieldsOf(operation: Operation): BodyField[] {
  const fields = new Map<string, BodyField>();
  const walk = (schema: Schema, path: string[], branches: BodyBranch[], depth: number): void => {
    const resolved = resolve(schema);
    if (depth > 6) return;
    const forms = (resolved.oneOf ?? resolved.anyOf) as Schema[] | undefined;
    if (forms) {
      for (const form of forms) walk(form, path, [...branches, { path, value: sampleOf(valid(form, resolve)) }], depth + 1);
      return;
    }
    const properties = resolved.properties as Record<string, Schema> | undefined;
    if (properties) {
      for (const [name, property] of Object.entries(properties)) walk(property, [...path, name], branches, depth + 1);
      return;
    }
    const field = ['body', ...path].join('.');
    // The first way to a member is kept (the same member of two forms is one field).
    if (path.length > 0 && !fields.has(field)) fields.set(field, { field, schema: resolved, branches });
  };
  const body = bodySchemaOf(operation);
  if (body) walk(body, [], [], 0);
  return [...fields.values()];
}

/** A request whose body takes, at each branch's place, a value of that form (a body member's way in). */
export function withBranches<R extends { body?: string }>(request: R, branches: readonly BodyBranch[]): R {
  if (branches.length === 0) return request;
  let body = JSON.parse(request.body ?? '{}') as unknown;
  for (const branch of branches) {
    if (branch.path.length === 0) {
      body = structuredClone(branch.value);
      continue;
    }
    let target = body as Record<string, unknown>;
    for (const part of branch.path.slice(0, -1)) target = (target[part] ??= {}) as Record<string, unknown>;
    target[branch.path.at(-1)!] = structuredClone(branch.value);
  }
  return { ...request, body: JSON.stringify(body) };
}

/** Where an operation takes a date or a date-time: a query parameter, or a body member (through objects and forms). */
export interface DateField {
  /** As the refusal names it: `query.since`, `body.dateOfBirth`. */
  field: string;
  impossible: readonly string[];
  /** The forms a body member is reached through (see withBranches). */
  branches: BodyBranch[];
}

export function dateFieldsOf(operation: Operation): DateField[] {
  const impossibleFor = (schema: Schema): readonly string[] | undefined =>
    schema.format === 'date' ? IMPOSSIBLE_DATES : schema.format === 'date-time' ? IMPOSSIBLE_DATE_TIMES : undefined;
  const fields: DateField[] = [];
  for (const parameter of parametersOf(operation)) {
    const impossible = parameter.in === 'query' && parameter.schema ? impossibleFor(resolve(parameter.schema)) : undefined;
    if (impossible) fields.push({ field: `query.${parameter.name}`, impossible, branches: [] });
  }
  for (const member of bodyFieldsOf(operation)) {
    const impossible = impossibleFor(member.schema);
    if (impossible) fields.push({ field: member.field, impossible, branches: member.branches });
  }
  return fields;
}

/** The JSON types a body member's schema takes. */
export function typesOfField(schema: Schema): string[] {
  return ([] as unknown[]).concat(schema.type ?? []).map(String);
}

/** Sets a member of a JSON body (by its field name, `body.a.b`), or a query parameter (`query.x`), on a request. */
export function withValue<R extends { url: string; body?: string }>(request: R, field: string, value: unknown): R {
  const [where, ...path] = field.split('.');
  if (where === 'query') {
    const url = new URL(request.url, 'http://x');
    url.searchParams.set(path.join('.'), String(value));
    return { ...request, url: url.pathname + url.search };
  }
  const body = JSON.parse(request.body ?? '{}') as Record<string, unknown>;
  let target = body;
  for (const part of path.slice(0, -1)) target = (target[part] ??= {}) as Record<string, unknown>;
  target[path.at(-1)!] = value;
  return { ...request, body: JSON.stringify(body) };
}

/** Integer query and path parameters, each with text a JavaScript number parser reads as one though it is not decimal digits. */
export function integerParametersOf(operation: Operation): { name: string; in: 'query' | 'path'; field: string }[] {
  return parametersOf(operation)
    .filter((p): p is Parameter & { in: 'query' | 'path' } => (p.in === 'query' || p.in === 'path') && p.schema !== undefined && resolve(p.schema).type === 'integer')
    .map((p) => ({ name: p.name, in: p.in, field: `${p.in}.${p.name}` }));
}

/** A request with a path parameter set (encoded) or a query parameter set. */
export function withParameter<R extends { url: string }>(request: R, operation: Operation, parameter: { name: string; in: 'query' | 'path' }, value: string): R {
  if (parameter.in === 'query') return withValue(request as R & { body?: string }, `query.${parameter.name}`, value);
  const segments = operation.path.split('/');
  const at = segments.indexOf(`{${parameter.name}}`);
  const url = new URL(request.url, 'http://x');
  const parts = url.pathname.split('/');
  parts[at] = encodeURIComponent(value);
  return { ...request, url: parts.join('/') + url.search };
}
