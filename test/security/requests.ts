import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Role } from '../../src/config/schema.ts';
import { loadContract, type Contract, type Operation } from '../../src/http/contract.ts';
import { procedures } from '../../src/sandbox/personas.ts';
import { KEYS } from '../helpers/gateway.ts';
import { deeplyNested, invalid, oddString, resolverFor, valid, type Resolver, type Schema } from './schema-arbitraries.ts';

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

export function bodySchemaOf(operation: Operation): Schema | undefined {
  return rawOperation(operation).requestBody?.content?.['application/json']?.schema;
}

/** The statuses the contract documents for an operation, `4XX` standing for every 4xx. */
export function documentedStatuses(operation: Operation): Set<string> {
  return new Set(Object.keys(rawOperation(operation).responses));
}

/** The key of a sample client with this role (config/sandbox.yaml). */
export const KEY_OF: Record<Role, string> = KEYS;

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
      const type = body.contentType ?? 'application/json';
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
  const schema = bodySchemaOf(operation);
  const qs = search.toString();
  const request = { method: operation.method.toUpperCase(), url: url + (qs ? `?${qs}` : ''), headers };
  if (!schema) return request;
  headers['content-type'] = 'application/json';
  return { ...request, body: JSON.stringify(sampleOf(valid(schema, resolve))) };
}
