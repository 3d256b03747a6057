import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { GatewayError, type FieldProblem } from '../errors/gateway-error.ts';
import type { Contract } from './contract.ts';

/**
 * Request and response validation from the contract's schemas, compiled once: the request side of
 * every operation when the gateway starts, each response schema the first time it is needed.
 *
 * Problems are collected as a list of fields (`query.limit`, `header.x-purpose`, `path.index`,
 * `body.applicant.identifier`); with `allErrors` every invalid field, without it the first
 * invalid location's first problem (as the gateway answers today).
 */
export interface Validation {
  /** The checks of one operation (every operation of the contract has them). */
  of(operationId: string): OperationValidation;
}

export interface OperationValidation {
  /**
   * Checks a request: path parameters, query (coerced, defaults applied, unknown names refused),
   * declared headers, and the body by its content type. Returns the values to use (the query
   * and path parameters, coerced) or throws a GatewayError (400 VALIDATION_FAILED naming the
   * fields, or 415).
   */
  request(input: RequestInput): { params: Record<string, unknown>; query: Record<string, unknown> };
  /** Problems with an answer's JSON body for its status and content type; empty when it conforms. */
  response(status: number, contentType: string | undefined, body: unknown): FieldProblem[];
}

export interface RequestInput {
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  /** The media type of the body as sent (Content-Type without parameters), if any. */
  contentType: string | undefined;
  /** Whether the request carries a body (Content-Length or Transfer-Encoding). */
  hasBody: boolean;
  body: unknown;
}

type Schema = Record<string, unknown>;

interface RawParameter {
  $ref?: string;
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  allowEmptyValue?: boolean;
  schema?: Schema;
}

interface RawMedia {
  schema?: Schema;
}

interface RawBody {
  $ref?: string;
  required?: boolean;
  content?: Record<string, RawMedia>;
}

interface RawResponse {
  $ref?: string;
  content?: Record<string, RawMedia>;
}

interface RawOperation {
  parameters?: RawParameter[];
  requestBody?: RawBody;
  responses?: Record<string, RawResponse>;
}

/** The id under which the contract's components are known to Ajv. */
const CONTRACT = 'lienthong-contract';

/** Formats OpenAPI defines beyond JSON Schema's; `binary` and `byte` bodies are never validated as JSON. */
const OPENAPI_FORMATS: Record<string, true | RegExp | ((value: number) => boolean)> = {
  int32: (v) => Number.isInteger(v) && v >= -(2 ** 31) && v <= 2 ** 31 - 1,
  int64: (v) => Number.isInteger(v),
  float: () => true,
  double: () => true,
  byte: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
  binary: true,
  password: true,
};

/**
 * The components as Ajv's `discriminator` reads them: without OpenAPI's `mapping` (each branch's
 * own enum of the tag already says which it is) and typed as objects, so that a body is checked
 * against the branch its tag names and only that branch's problems are reported.
 */
function withoutMappings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutMappings);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === 'discriminator' && item && typeof item === 'object') {
      const { mapping: _mapping, ...rest } = item as Record<string, unknown>;
      out[key] = rest;
      // Ajv reads the tag of whatever it is given: anything but an object is refused first.
      if (!('type' in value)) out.type = 'object';
    } else {
      out[key] = withoutMappings(item);
    }
  }
  return out;
}

function createAjv(document: Schema, options: Options): Ajv2020 {
  // strict: false, as OpenAPI schemas carry keywords JSON Schema does not know (example, x-*).
  const ajv = new Ajv2020({ strict: false, strictNumbers: true, validateSchema: false, logger: false, discriminator: true, ...options });
  addFormats.default(ajv, { mode: 'full' });
  for (const [name, format] of Object.entries(OPENAPI_FORMATS)) {
    ajv.addFormat(name, typeof format === 'function' ? { type: 'number', validate: format } : format);
  }
  ajv.addSchema({ components: withoutMappings(document.components ?? {}) }, CONTRACT);
  return ajv;
}

/** A copy of a schema whose local references (#/components/...) point into the contract. */
function anchored<T>(value: T): T {
  if (Array.isArray(value)) return value.map(anchored) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = key === '$ref' && typeof item === 'string' && item.startsWith('#/') ? `${CONTRACT}${item}` : anchored(item);
  }
  return out as T;
}

/** Follows a `$ref` to a component of the document (parameters, request bodies, responses). */
function resolve<T extends { $ref?: string }>(document: Schema, value: T): T {
  let current = value;
  for (let hops = 0; current.$ref && hops < 10; hops++) {
    let target: unknown = document;
    for (const part of current.$ref.replace(/^#\//, '').split('/')) target = (target as Record<string, unknown> | undefined)?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
    if (!target) throw new Error(`the contract refers to ${current.$ref}, which it does not define`);
    current = target as T;
  }
  return current;
}

/** The object schema of one location's parameters (header names in lower case, as Node gives them). */
function locationSchema(parameters: RawParameter[], where: RawParameter['in']): { schema: Schema; names: Set<string>; emptyAllowed: Set<string> } | undefined {
  const here = parameters.filter((p) => p.in === where);
  if (here.length === 0) return undefined;
  const name = (p: RawParameter) => (where === 'header' ? p.name.toLowerCase() : p.name);
  const required = here.filter((p) => p.required).map(name);
  return {
    schema: { type: 'object', properties: Object.fromEntries(here.map((p) => [name(p), anchored(p.schema ?? {})])), ...(required.length ? { required } : {}) },
    names: new Set(here.map(name)),
    emptyAllowed: new Set(here.filter((p) => p.allowEmptyValue).map(name)),
  };
}

/** JSON Pointer segments of an Ajv instance path, unescaped. */
function pointerParts(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * Ajv's errors as field problems: the field is where the value sits (a missing or unexpected
 * property named as the property itself), the message Ajv's (`must match format "date-time"`).
 */
export function fieldProblems(location: string, errors: readonly ErrorObject[] | null | undefined): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors ?? []) {
    const parts = pointerParts(error.instancePath);
    const params = error.params as { missingProperty?: string; additionalProperty?: string; unevaluatedProperty?: string; tag?: string };
    // A discriminator's tag (`kind`) that names no branch is a problem of the tag itself.
    const named = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty ?? (error.keyword === 'discriminator' ? params.tag : undefined);
    if (named !== undefined) parts.push(named);
    const problem = { field: [location, ...parts].join('.'), message: error.message ?? 'is not valid' };
    const key = `${problem.field}\u0000${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(problem);
    }
  }
  return problems;
}

function validationFailed(errors: FieldProblem[]): GatewayError {
  return new GatewayError('VALIDATION_FAILED', { detail: errors.map((e) => `${e.field} ${e.message}`).join('; '), errors });
}

/** Lower-case media type without parameters: `application/json; charset=utf-8` → `application/json`. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() || undefined;
}

/** Which declared media type a request's or answer's type falls under: exact, then `type/*`, then `*\/*`. */
function mediaMatch<T>(declared: Map<string, T>, mediaType: string): T | undefined {
  return declared.get(mediaType) ?? declared.get(`${mediaType.split('/')[0]}/*`) ?? declared.get('*/*');
}

interface Check {
  validate: ValidateFunction;
  location: string;
}

function compileRequest(ajv: { query: Ajv2020; body: Ajv2020 }, document: Schema, raw: RawOperation, options: { allErrors: boolean }): OperationValidation['request'] {
  const parameters = (raw.parameters ?? []).map((p) => resolve(document, p));
  const path = locationSchema(parameters, 'path');
  const query = locationSchema(parameters, 'query');
  const header = locationSchema(parameters, 'header');
  const compile = (schema: Schema | undefined, location: string, on: Ajv2020): Check | undefined => (schema ? { validate: on.compile(schema), location } : undefined);
  // Query, headers and path parameters are text: coerced to the declared types, defaults applied.
  const queryCheck = compile(query?.schema, 'query', ajv.query);
  const headerCheck = compile(header?.schema, 'header', ajv.query);
  const pathCheck = compile(path?.schema, 'path', ajv.query);
  const body = raw.requestBody ? resolve(document, raw.requestBody) : undefined;
  const bodies = new Map<string, ValidateFunction>();
  for (const [type, media] of Object.entries(body?.content ?? {})) bodies.set(type.toLowerCase(), ajv.body.compile(anchored(media.schema ?? {})));
  const bodyRequired = body?.required === true;
  const declaredTypes = [...bodies.keys()].join(', ');
  const knownQuery = query?.names ?? new Set<string>();
  const emptyAllowed = query?.emptyAllowed ?? new Set<string>();

  return (input) => {
    const errors: FieldProblem[] = [];
    const run = (check: Check | undefined, data: unknown): boolean => {
      if (!check || check.validate(data)) return true;
      errors.push(...fieldProblems(check.location, check.validate.errors));
      return false;
    };
    // The same order as the answer names them: query, headers, path, body.
    let queryValid = true;
    for (const name in input.query) {
      if (!knownQuery.has(name)) errors.push({ field: `query.${name}`, message: 'is not a parameter of this operation' });
      else if (input.query[name] === '' && !emptyAllowed.has(name)) errors.push({ field: `query.${name}`, message: 'must not be empty' });
      else continue;
      queryValid = false;
      if (!options.allErrors) break;
    }
    if (queryValid || options.allErrors) run(queryCheck, input.query);
    if (errors.length === 0 || options.allErrors) run(headerCheck, input.headers);
    if (errors.length === 0 || options.allErrors) run(pathCheck, input.params);
    if (body && (errors.length === 0 || options.allErrors)) {
      if (!input.contentType) {
        if (bodyRequired || input.hasBody) throw unsupported(declaredTypes, 'is required');
      } else {
        const validate = mediaMatch(bodies, input.contentType);
        if (!validate) throw unsupported(declaredTypes, `must be ${declaredTypes}, not ${input.contentType}`);
        if (input.body === undefined) {
          if (bodyRequired) errors.push({ field: 'body', message: 'is required' });
        } else if (!validate(input.body)) {
          errors.push(...fieldProblems('body', validate.errors));
        }
      }
    }
    if (errors.length > 0) throw validationFailed(errors);
    return { params: input.params, query: input.query };
  };
}

function unsupported(declared: string, message: string): GatewayError {
  return new GatewayError('UNSUPPORTED_MEDIA_TYPE', { detail: `send ${declared}`, errors: [{ field: 'header.content-type', message }] });
}

/** Response schemas by status (`200`, `4XX`, `default`) and media type, each compiled on first use. */
function compileResponses(ajv: () => Ajv2020, document: Schema, raw: RawOperation): OperationValidation['response'] {
  const byStatus = new Map<string, Map<string, { schema: Schema | undefined; validate?: ValidateFunction }>>();
  for (const [status, value] of Object.entries(raw.responses ?? {})) {
    const response = resolve(document, value);
    byStatus.set(status.toUpperCase(), new Map(Object.entries(response.content ?? {}).map(([type, media]) => [type.toLowerCase(), { schema: media.schema }])));
  }
  return (status, contentType, body) => {
    const media = byStatus.get(String(status)) ?? byStatus.get(`${String(status)[0]}XX`) ?? byStatus.get('DEFAULT');
    if (!media) return [{ field: 'response', message: `has status ${status}, which the contract does not document for this operation` }];
    if (media.size === 0) return body === undefined ? [] : [{ field: 'response', message: `has a body, which the contract does not document for status ${status}` }];
    const type = mediaTypeOf(contentType) ?? 'application/json';
    const entry = mediaMatch(media, type) ?? (contentType ? undefined : media.values().next().value);
    if (!entry) return [{ field: 'response', message: `is ${type}, which the contract does not document for status ${status}` }];
    if (!entry.schema) return [];
    entry.validate ??= ajv().compile(anchored(entry.schema));
    return entry.validate(body) ? [] : fieldProblems('response', entry.validate.errors);
  };
}

export function createValidation(contract: Contract, options: { allErrors?: boolean } = {}): Validation {
  const document = contract.document;
  const allErrors = options.allErrors ?? false;
  const ajv = {
    // Parameters arrive as text; a JSON body has its own types and is never coerced.
    query: createAjv(document, { coerceTypes: true, useDefaults: true, allErrors }),
    body: createAjv(document, { coerceTypes: false, useDefaults: true, allErrors }),
  };
  let responseAjv: Ajv2020 | undefined;
  const responses = () => (responseAjv ??= createAjv(document, { coerceTypes: false, useDefaults: false, allErrors: true }));
  const paths = (document.paths ?? {}) as Record<string, Record<string, RawOperation>>;
  const checks = new Map<string, OperationValidation>();
  for (const operation of contract.operations) {
    const raw = paths[operation.path]![operation.method]!;
    checks.set(operation.operationId, { request: compileRequest(ajv, document, raw, { allErrors }), response: compileResponses(responses, document, raw) });
  }
  return {
    of(operationId) {
      const found = checks.get(operationId);
      if (!found) throw new Error(`no operation ${operationId} in the contract`);
      return found;
    },
  };
}
