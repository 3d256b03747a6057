import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { GatewayError, type FieldProblem } from '../errors/gateway-error.ts';
import type { Contract } from './contract.ts';

/**
 * Request and response validation from the contract's schemas, compiled once: the request side of
 * every operation when the gateway starts, each response schema the first time it is needed.
 *
 * Problems are collected as a list of fields (`query.limit`, `header.x-purpose`, `path.index`,
 * `body.applicant.identifier`), each with a message in the caller's words (`is required`, `must be
 * one of: status, progress`), never the schema's vocabulary (oneOf, anyOf, if/then). Every invalid
 * field is reported (`allErrors`, the default), at most MAX_FIELD_PROBLEMS of them; without
 * `allErrors`, the first invalid location's first problem. A body whose schema offers several
 * forms (`oneOf` with a discriminator tag such as `kind`, or without one) is judged by the form its
 * tag names, or else by the form it comes closest to: only that form's problems are reported.
 * Within a location, the problems of known fields come first; fields (or query names) the contract
 * does not know are one problem listing them, so that they never hide the others behind the cap.
 * Integer parameters beyond 2^53 - 1 are refused (they would be read as another number).
 */

/** The most field problems one refusal names; its `detail` says how many more there were. */
export const MAX_FIELD_PROBLEMS = 20;

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
  /**
   * Checks the text fields of a body its handler reads itself (`multipart/form-data`, which no
   * body parser reads before the handler): against the contract's schema of that body less its
   * file parts (`format: binary`), with the same problems as any body (`body.subject is
   * required`); throws 400 VALIDATION_FAILED. Returns the fields with the schema's defaults.
   */
  form(fields: Record<string, unknown>): Record<string, unknown>;
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

/** Where a discriminated schema keeps its tag's values (an annotation Ajv ignores). */
const TAG_VALUES = 'x-tag-values';

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
      const { mapping, ...rest } = item as Record<string, unknown>;
      out[key] = rest;
      // The tag's values, for a refusal of an unknown one that lists them.
      if (mapping && typeof mapping === 'object') out[TAG_VALUES] = Object.keys(mapping);
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
  // verbose: a failed oneOf carries its forms and the value, to judge the value by its closest form.
  const ajv = new Ajv2020({ strict: false, strictNumbers: true, validateSchema: false, logger: false, discriminator: true, verbose: true, ...options });
  addFormats.default(ajv, { mode: 'full' });
  // RFC 3339 wants the offset as Z or ±hh:mm; ajv-formats also lets `+07` and `+0700` through,
  // which Date.parse cannot read: such a timestamp would reach the store as an invalid date.
  const dateTime = ajv.formats['date-time'] as { validate: (value: string) => boolean; compare?: (a: string, b: string) => number | undefined };
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (value: string) => dateTime.validate(value) && /(?:[zZ]|[+-]\d\d:\d\d)$/.test(value) && !Number.isNaN(Date.parse(value)),
    ...(dateTime.compare ? { compare: dateTime.compare } : {}),
  });
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

type Numeric = 'integer' | 'number';

/** Whether a parameter's schema takes an integer or a number (of its items, for an array); never when it also takes text. */
function numericOf(document: Schema, schema: Schema | undefined, hops = 0): Numeric | undefined {
  if (!schema || hops > 10) return undefined;
  if (typeof schema.$ref === 'string') return numericOf(document, resolve(document, schema as { $ref?: string }) as Schema, hops + 1);
  const types = ([] as unknown[]).concat(schema.type ?? []);
  if (types.includes('array')) return numericOf(document, schema.items as Schema | undefined, hops + 1);
  if (types.includes('string')) return undefined;
  return types.includes('integer') ? 'integer' : types.includes('number') ? 'number' : undefined;
}

/**
 * Parameters are text, and Ajv's coercion reads it as JavaScript would (`0x10` is 16, `1e3` is
 * 1000, ` 7` is 7): a number parameter must be written in decimal digits before it is coerced.
 */
const DECIMAL: Record<Numeric, { pattern: RegExp; message: string }> = {
  integer: { pattern: /^-?[0-9]+$/, message: 'must be an integer, written in decimal digits' },
  number: { pattern: /^-?[0-9]+(?:\.[0-9]+)?$/, message: 'must be a number, written in decimal digits' },
};

const UNSAFE_INTEGER = `must be an integer from ${Number.MIN_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}`;

interface LocationChecks {
  schema: Schema;
  names: Set<string>;
  emptyAllowed: Set<string>;
  numeric: Map<string, Numeric>;
  /** Parameters that are lists (`type: array`): the only ones that may be given more than once. */
  repeatable: Set<string>;
}

/** The object schema of one location's parameters (header names in lower case, as Node gives them). */
function locationSchema(document: Schema, parameters: RawParameter[], where: RawParameter['in']): LocationChecks | undefined {
  const here = parameters.filter((p) => p.in === where);
  if (here.length === 0) return undefined;
  const name = (p: RawParameter) => (where === 'header' ? p.name.toLowerCase() : p.name);
  const required = here.filter((p) => p.required).map(name);
  const numeric = new Map<string, Numeric>();
  for (const p of here) {
    const kind = numericOf(document, p.schema);
    if (kind) numeric.set(name(p), kind);
  }
  return {
    schema: { type: 'object', properties: Object.fromEntries(here.map((p) => [name(p), anchored(p.schema ?? {})])), ...(required.length ? { required } : {}) },
    names: new Set(here.map(name)),
    emptyAllowed: new Set(here.filter((p) => p.allowEmptyValue).map(name)),
    numeric,
    repeatable: new Set(here.filter((p) => p.schema && resolve(document, p.schema as { $ref?: string } & Schema).type === 'array').map(name)),
  };
}

/** Problems with number parameters not written in decimal digits, by field name. */
function notDecimal(location: string, checks: LocationChecks | undefined, values: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const [name, kind] of checks?.numeric ?? []) {
    const value = values[name];
    const texts = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string' && v !== '');
    if (texts.some((text) => !DECIMAL[kind].pattern.test(text))) problems.push({ field: `${location}.${name}`, message: DECIMAL[kind].message });
    // Beyond 2^53 an integer is read as another one (99999999999999999999 as 1e20): refused, whatever the schema's bounds.
    else if (kind === 'integer' && texts.some((text) => !Number.isSafeInteger(Number(text)))) problems.push({ field: `${location}.${name}`, message: UNSAFE_INTEGER });
  }
  return problems;
}

/** JSON Pointer segments of an Ajv instance path, unescaped. */
function pointerParts(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** A value as a caller would write it in JSON: `"status"`, `2`, `null`. */
function shown(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
};

function typeWords(type: unknown): string {
  const types = (Array.isArray(type) ? type : String(type).split(',')).map(String);
  return `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}`;
}

const FORMAT_WORDS: Record<string, string> = {
  date: 'must be a real calendar date, written YYYY-MM-DD',
  'date-time': 'must be a real date and time with its offset, e.g. 2026-12-03T10:00:00+07:00',
  time: 'must be a time of day with its offset, e.g. 10:00:00+07:00',
  uuid: 'must be a UUID',
  uri: 'must be an absolute URI',
  'uri-reference': 'must be a URI',
  email: 'must be an e-mail address',
  int32: 'must be a 32-bit integer',
  int64: 'must be an integer',
};

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * One Ajv error in the caller's words: what the value must be, without the schema's vocabulary
 * (`must be one of: status, progress`, not `must be equal to one of the allowed values`).
 */
function words(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const limit = Number(params.limit);
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'dependentRequired':
      return `is required when ${String(params.property)} is given`;
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return 'is not a known field';
    case 'type':
      return typeWords(params.type);
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).map(shown).join(', ')}`;
    case 'const':
      return `must be ${shown(params.allowedValue)}`;
    case 'format':
      return FORMAT_WORDS[String(params.format)] ?? `must be a valid ${String(params.format)}`;
    case 'minLength':
      return limit === 1 ? 'must not be empty' : `must have at least ${plural(limit, 'character')}`;
    case 'maxLength':
      return `must have at most ${plural(limit, 'character')}`;
    case 'minItems':
      return limit === 1 ? 'must not be empty' : `must have at least ${plural(limit, 'item')}`;
    case 'maxItems':
      return `must have at most ${plural(limit, 'item')}`;
    case 'minProperties':
      return limit === 1 ? 'must not be empty' : `must have at least ${plural(limit, 'field')}`;
    case 'maxProperties':
      return `must have at most ${plural(limit, 'field')}`;
    case 'uniqueItems':
      return `must not repeat an item (items ${String(params.j)} and ${String(params.i)} are the same)`;
    case 'pattern': {
      // The contract says in words what each pattern stands for (`x-pattern-description`).
      const described = (error.parentSchema as Record<string, unknown> | undefined)?.['x-pattern-description'];
      return typeof described === 'string' ? `must be ${described}` : `must match the pattern ${String(params.pattern)}`;
    }
    case 'discriminator': {
      const values = ((error.parentSchema as Record<string, unknown> | undefined)?.[TAG_VALUES] as string[] | undefined) ?? [];
      const allowed = values.length ? `one of: ${values.join(', ')}` : 'one of the documented values';
      return params.tagValue === undefined ? `is required, ${allowed}` : `must be ${allowed}`;
    }
    case 'oneOf':
      return params.passingSchemas ? 'fits more than one of the forms it may take' : 'does not fit any of the forms it may take';
    case 'anyOf':
      return 'does not fit any of the forms it may take';
    case 'if':
      return 'does not fit the other fields given';
    case 'not':
    case 'false schema':
      return 'is not allowed';
    case 'contains':
      return `must contain at least ${plural(Number(params.minContains ?? 1), 'valid item')}`;
    default:
      return error.message ?? 'is not valid';
  }
}

/** Whether `path` is `within` or inside it (JSON Pointers). */
const inside = (path: string, within: string) => path === within || path.startsWith(`${within}/`);

/**
 * Replaces each failed `oneOf`/`anyOf` (and everything its forms reported) with the problems of
 * the form the value comes closest to: the one with the fewest problems among those of the
 * value's type; when the value has none of the forms' types, one problem naming the types. Keeps
 * `if` only where nothing else explains the failure, and drops `propertyNames`'s summary.
 */
function settle(errors: readonly ErrorObject[], ajv: Ajv2020 | undefined, depth = 0, data?: unknown): ErrorObject[] {
  let list = errors.filter((e) => e.keyword !== 'propertyNames');
  list = list.filter((e) => e.keyword !== 'if' || !list.some((o) => o !== e && o.keyword !== 'if' && inside(o.instancePath, e.instancePath)));
  const settled = new WeakSet<ErrorObject>();
  // Judging forms validates again: at most as many as a refusal names (a long array of failed
  // forms gets the plain message for the rest).
  let judged = 0;
  for (;;) {
    const index = list.findLastIndex((e) => (e.keyword === 'oneOf' || e.keyword === 'anyOf') && !settled.has(e));
    if (index < 0) return list;
    const choice = list[index]!;
    settled.add(choice);
    const replaced = judged++ < MAX_FIELD_PROBLEMS ? closestForm(choice, ajv, depth, data) : undefined;
    if (!replaced) continue;
    for (const e of replaced) settled.add(e);
    const at = choice.instancePath;
    list = [...list.slice(0, index).filter((e) => !inside(e.instancePath, at)), ...replaced, ...list.slice(index + 1)];
  }
}

/**
 * Each form's check, compiled once by the Ajv instance given to judge forms. That instance applies
 * no defaults and coerces nothing, and judges a copy of the value: a form checked alone must
 * neither change the request nor pass because of what it filled in.
 */
const formChecks = new WeakMap<Ajv2020, WeakMap<object, ValidateFunction>>();

/**
 * The form a sibling names, where the contract says so: `x-form-follows: { property: 'subject/type',
 * forms: { person: '#/components/schemas/PersonEvidence', … } }` on the member with the choice
 * (the property path is read from the object holding that member). Its index among the forms.
 */
function formNamedBySibling(choice: ErrorObject, forms: unknown[], data: unknown): number | undefined {
  const follows = (choice.parentSchema as Record<string, unknown> | undefined)?.['x-form-follows'] as { property?: unknown; forms?: Record<string, unknown> } | undefined;
  if (!follows || typeof follows.property !== 'string' || !follows.forms) return undefined;
  let value: unknown = data;
  for (const part of [...pointerParts(choice.instancePath).slice(0, -1), ...follows.property.split('/')]) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  const named = typeof value === 'string' && Object.hasOwn(follows.forms, value) ? follows.forms[value] : undefined;
  // The forms' references point into the contract as Ajv knows it (`lienthong-contract#/components/…`).
  const refOf = (form: unknown) => (form !== null && typeof form === 'object' ? String((form as { $ref?: unknown }).$ref ?? '').replace(/^[^#]*/, '') : '');
  const index = forms.findIndex((form) => refOf(form) === named);
  return named === undefined || index < 0 ? undefined : index;
}

function closestForm(choice: ErrorObject, ajv: Ajv2020 | undefined, depth: number, data: unknown): ErrorObject[] | undefined {
  const forms = choice.schema;
  if (!ajv || depth > 8 || !Array.isArray(forms) || (choice.params as { passingSchemas?: unknown }).passingSchemas) return undefined;
  const at = choice.instancePath;
  const judged = forms.map((form: unknown) => {
    if (form === null || typeof form !== 'object') return undefined;
    let checks = formChecks.get(ajv);
    if (!checks) formChecks.set(ajv, (checks = new WeakMap()));
    let check = checks.get(form);
    if (!check) {
      // A form's own references are the contract's (`#/components/...`).
      check = ajv.compile(anchored(form) as Schema);
      checks.set(form, check);
    }
    if (check(structuredClone(choice.data))) return [];
    return settle(check.errors ?? [], ajv, depth + 1, choice.data).map((e) => ({ ...e, instancePath: at + e.instancePath }));
  });
  // A form the value fits when judged alone (what the other forms did to it, defaults, made it
  // fit): no closest form to tell of; the failure is reported as Ajv saw it.
  if (judged.some((errors) => errors === undefined || errors.length === 0)) return undefined;
  const all = judged as ErrorObject[][];
  // The form a sibling names (a person's evidence for a person subject) speaks, whatever the others say.
  const named = formNamedBySibling(choice, forms, data);
  if (named !== undefined) return all[named];
  const wrongType = (errors: ErrorObject[]) => errors.length === 1 && errors[0]!.keyword === 'type' && errors[0]!.instancePath === at;
  const fitting = all.filter((errors) => !wrongType(errors));
  if (fitting.length === 0) {
    const types = [...new Set(all.flatMap((errors) => String((errors[0]!.params as { type: unknown }).type).split(',')))];
    return [{ ...all[0]![0]!, params: { type: types } }];
  }
  return fitting.reduce((best, errors) => (errors.length < best.length ? errors : best));
}

/**
 * Ajv's errors as field problems: the field is where the value sits (a missing or unexpected
 * property named as the property itself, a discriminator's tag as the tag), the message in the
 * caller's words. With the Ajv instance that compiled the schema, a value refused by every form
 * of a `oneOf` is judged by its closest form only.
 */
export function fieldProblems(location: string, errors: readonly ErrorObject[] | null | undefined, ajv?: Ajv2020, data?: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  // Unknown fields by the object they were sent in: reported after every known field's problem, folded into one.
  const unknown = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const error of settle(errors ?? [], ajv, 0, data)) {
    const parts = pointerParts(error.instancePath);
    const params = error.params as { missingProperty?: string; additionalProperty?: string; unevaluatedProperty?: string; tag?: string };
    // A discriminator's tag (`kind`) that names no branch is a problem of the tag itself.
    const named = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty ?? (error.keyword === 'discriminator' ? params.tag : undefined);
    if (named !== undefined) parts.push(named);
    if (error.keyword === 'additionalProperties' || error.keyword === 'unevaluatedProperties') {
      const within = [location, ...parts.slice(0, -1)].join('.');
      const names = unknown.get(within) ?? [];
      if (!names.includes(named!)) names.push(named!);
      unknown.set(within, names);
      continue;
    }
    const problem = { field: [location, ...parts].join('.'), message: words(error) };
    const key = `${problem.field}\u0000${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(problem);
    }
  }
  for (const [within, names] of unknown) problems.push(unknownNames(within, names, 'is not a known field', 'fields it does not know'));
  return problems;
}

/** Names listed in one problem, at most this many (the rest counted). */
const MAX_LISTED_NAMES = 10;

/**
 * Names a request has that the contract does not (body fields, query parameters): one of them as
 * a problem of its own (`body.colour is not a known field`), several as one problem of the place
 * they were sent in, so that they never hide the problems of known fields behind the cap.
 */
export function unknownNames(within: string, names: string[], one: string, several: string): FieldProblem {
  if (names.length === 1) return { field: `${within}.${names[0]!}`, message: one };
  const listed = names.slice(0, MAX_LISTED_NAMES).join(', ');
  const more = names.length > MAX_LISTED_NAMES ? ` and ${names.length - MAX_LISTED_NAMES} more` : '';
  return { field: within, message: `has ${names.length} ${several}: ${listed}${more}` };
}

/** 400 VALIDATION_FAILED naming at most MAX_FIELD_PROBLEMS fields; the detail says how many more there were. */
export function validationFailed(problems: FieldProblem[]): GatewayError {
  const errors = problems.slice(0, MAX_FIELD_PROBLEMS);
  const omitted = problems.length - errors.length;
  const listed = errors.map((e) => `${e.field} ${e.message}`).join('; ');
  const detail = omitted > 0 ? `${listed}; and ${plural(omitted, 'more problem')}, not listed (at most ${MAX_FIELD_PROBLEMS} are)` : listed;
  return new GatewayError('VALIDATION_FAILED', { detail, errors });
}

/** Requests whose body, read by a body parser, had no bytes at all (see markEmptyBody). */
const emptyBodies = new WeakSet<object>();

/**
 * A body parser's `verify` hook (express.json's): notes a request whose body had no bytes, which
 * express.json hands on as `{}`, so that a chunked body with no chunk is a missing body too.
 */
export function markEmptyBody(req: object, _res: unknown, bytes: Buffer): void {
  if (bytes.length === 0) emptyBodies.add(req);
}

/** Whether a request carries a body: a Content-Length other than 0, or a Transfer-Encoding and at least one byte. */
export function carriesBody(req: { headers: Record<string, string | string[] | undefined> }): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined && !emptyBodies.has(req);
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

/** What a required body that is missing is called: `a JSON body` for JSON, else its declared types. */
function bodyWords(declared: string[]): string {
  return declared.every((type) => type === 'application/json' || type.endsWith('+json')) ? 'a JSON body' : `a body (${declared.join(', ')})`;
}

/**
 * The Ajv instances of the request side: `query` for parameters (coerced from text, defaults
 * applied), `body` for JSON bodies (defaults applied, never coerced), and `judge`, which judges a
 * failed `oneOf`'s forms one by one (no defaults, no coercion: see closestForm).
 */
interface RequestAjv {
  query: Ajv2020;
  body: Ajv2020;
  judge: () => Ajv2020;
}

function compileRequest(ajv: RequestAjv, document: Schema, raw: RawOperation, options: { allErrors: boolean }): OperationValidation['request'] {
  const parameters = (raw.parameters ?? []).map((p) => resolve(document, p));
  const path = locationSchema(document, parameters, 'path');
  const query = locationSchema(document, parameters, 'query');
  const header = locationSchema(document, parameters, 'header');
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
  const requiredBody = `is required: send ${bodyWords([...bodies.keys()])}`;
  const knownQuery = query?.names ?? new Set<string>();
  const emptyAllowed = query?.emptyAllowed ?? new Set<string>();
  const repeatable = query?.repeatable ?? new Set<string>();

  return (input) => {
    const errors: FieldProblem[] = [];
    const more = () => errors.length === 0 || options.allErrors;
    /** Checks one location; a field already refused (empty, not in decimal digits) is not named twice. */
    const run = (check: Check | undefined, checks: LocationChecks | undefined, data: Record<string, unknown>): void => {
      if (!check) return;
      const given = new Set(errors.map((p) => p.field));
      errors.push(...notDecimal(check.location, checks, data).filter((p) => !given.has(p.field)));
      if (check.validate(data) || !more()) return;
      const refused = new Set(errors.map((p) => p.field));
      errors.push(...explained(check.location, check.validate.errors, data).filter((p) => !refused.has(p.field)));
    };
    /** A refusal always names something, whatever the problems' translation made of Ajv's errors. */
    const explained = (location: string, found: ValidateFunction['errors'], data: unknown): FieldProblem[] => {
      const problems = fieldProblems(location, found, ajv.judge(), data);
      return problems.length > 0 ? problems : [{ field: location, message: 'is not valid' }];
    };
    // The same order as the answer names them: query, headers, path, body.
    // Names that are not parameters are reported after the problems of those that are, as one.
    const unknownQuery: string[] = [];
    for (const name in input.query) {
      if (!knownQuery.has(name)) unknownQuery.push(name);
      else if (input.query[name] === '' && !emptyAllowed.has(name)) errors.push({ field: `query.${name}`, message: 'must not be empty' });
      else if (Array.isArray(input.query[name]) && !repeatable.has(name)) errors.push({ field: `query.${name}`, message: 'must be given once' });
    }
    if (more()) run(queryCheck, query, input.query);
    if (unknownQuery.length > 0) errors.push(unknownNames('query', unknownQuery, 'is not a parameter of this operation', 'names that are not parameters of this operation'));
    if (more()) run(headerCheck, header, input.headers);
    if (more()) run(pathCheck, path, input.params);
    if (body && more()) {
      if (!input.hasBody) {
        // No bytes at all (whatever a body parser made of them): the body is missing, not empty JSON.
        if (bodyRequired) errors.push({ field: 'body', message: requiredBody });
      } else if (!input.contentType) {
        throw unsupported(declaredTypes, 'is required');
      } else {
        const validate = mediaMatch(bodies, input.contentType);
        if (!validate) throw unsupported(declaredTypes, `must be ${declaredTypes}, not ${input.contentType}`);
        // A streamed body (multipart) is read by its handler, which checks its fields (see `form`).
        if (isStreamed(input.contentType)) {
          // Its content type is checked here; its parts, as they arrive.
        } else if (input.body === undefined) {
          if (bodyRequired) errors.push({ field: 'body', message: requiredBody });
        } else if (!validate(input.body)) {
          errors.push(...explained('body', validate.errors, input.body));
        }
      }
    }
    if (errors.length > 0) throw validationFailed(options.allErrors ? errors : errors.slice(0, 1));
    return { params: input.params, query: input.query };
  };
}

/** Bodies no body parser reads before the handler: their handler streams them (src/http/multipart.ts). */
function isStreamed(mediaType: string): boolean {
  return mediaType.startsWith('multipart/');
}

/** A schema's properties that are files (`format: binary`), by name. */
function fileParts(document: Schema, schema: Schema): Set<string> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  return new Set(Object.entries(properties).filter(([, property]) => resolve(document, property as { $ref?: string } & Schema).format === 'binary').map(([name]) => name));
}

/** The check of a streamed body's text fields: its schema without its file parts (see OperationValidation.form). */
function compileForm(ajv: RequestAjv, document: Schema, raw: RawOperation, options: { allErrors: boolean }): OperationValidation['form'] {
  const body = raw.requestBody ? resolve(document, raw.requestBody) : undefined;
  const media = Object.entries(body?.content ?? {}).find(([type]) => isStreamed(type.toLowerCase()))?.[1];
  let validate: ValidateFunction | undefined;
  return (fields) => {
    if (!media?.schema) throw new Error('the operation has no multipart body in the contract');
    if (!validate) {
      const schema = resolve(document, media.schema as { $ref?: string } & Schema);
      const files = fileParts(document, schema);
      const properties = Object.fromEntries(Object.entries((schema.properties ?? {}) as Record<string, Schema>).filter(([name]) => !files.has(name)));
      const required = ((schema.required ?? []) as string[]).filter((name) => !files.has(name));
      validate = ajv.body.compile(anchored({ ...schema, properties, required }));
    }
    const data = { ...fields };
    if (validate(data)) return data;
    const problems = fieldProblems('body', validate.errors, ajv.judge(), data);
    const found = problems.length > 0 ? problems : [{ field: 'body', message: 'is not valid' }];
    throw validationFailed(options.allErrors ? found : found.slice(0, 1));
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
    return entry.validate(body) ? [] : fieldProblems('response', entry.validate.errors, ajv());
  };
}

/** `allErrors` (the default): every invalid field, at most MAX_FIELD_PROBLEMS; without it, the first problem only. */
export function createValidation(contract: Contract, options: { allErrors?: boolean } = {}): Validation {
  const document = contract.document;
  const allErrors = options.allErrors ?? true;
  let responseAjv: Ajv2020 | undefined;
  // Neither defaults nor coercion: answers are checked as sent, forms judged as the caller wrote the value.
  const responses = () => (responseAjv ??= createAjv(document, { coerceTypes: false, useDefaults: false, allErrors: true }));
  const ajv: RequestAjv = {
    // Parameters arrive as text; a JSON body has its own types and is never coerced.
    query: createAjv(document, { coerceTypes: true, useDefaults: true, allErrors }),
    body: createAjv(document, { coerceTypes: false, useDefaults: true, allErrors }),
    judge: responses,
  };
  const paths = (document.paths ?? {}) as Record<string, Record<string, RawOperation>>;
  const checks = new Map<string, OperationValidation>();
  for (const operation of contract.operations) {
    const raw = paths[operation.path]![operation.method]!;
    checks.set(operation.operationId, {
      request: compileRequest(ajv, document, raw, { allErrors }),
      response: compileResponses(responses, document, raw),
      form: compileForm(ajv, document, raw, { allErrors }),
    });
  }
  return {
    of(operationId) {
      const found = checks.get(operationId);
      if (!found) throw new Error(`no operation ${operationId} in the contract`);
      return found;
    },
  };
}
