import fc from 'fast-check';

/**
 * fast-check arbitraries from the JSON Schema subset openapi/gateway.yaml uses (OpenAPI 3.1):
 * $ref, type (also as a list), enum, const, oneOf/anyOf/allOf, properties, required,
 * additionalProperties, minProperties/maxProperties, items, minItems/maxItems, uniqueItems,
 * minLength/maxLength, pattern, format (date, date-time, uuid, uri, email, byte), minimum/maximum.
 *
 * `valid` draws values that follow the schema, boundaries included; `invalid` draws values that
 * break it in one way (type, bounds, pattern, format, enum, required or unknown properties).
 */

export type Schema = Record<string, unknown>;

/** Resolves local `$ref`s against the contract document. */
export type Resolver = (schema: Schema) => Schema;

export function resolverFor(document: Record<string, unknown>): Resolver {
  const resolve: Resolver = (schema) => {
    let current = schema;
    for (let hops = 0; typeof current.$ref === 'string' && hops < 20; hops++) {
      const ref = current.$ref;
      if (!ref.startsWith('#/')) throw new Error(`only local references are supported: ${ref}`);
      let target: unknown = document;
      for (const part of ref.slice(2).split('/')) target = (target as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      if (!target || typeof target !== 'object') throw new Error(`unresolved reference ${ref}`);
      current = target as Schema;
    }
    return current;
  };
  return resolve;
}

/** Strings that break naive text handling: combining marks, bidi controls, NUL, lone surrogates, BOM, zero-width, emoji, look-alikes. */
export const ODD_FRAGMENTS = [
  'Lò Văn Thắng'.normalize('NFD'),
  'e\u0301\u0302\u0323\u0300\u0301\u0302\u0323',
  '\u202Eabc\u202C',
  '\u200F\u05D0\u05D1\u200E',
  'a\u0000b',
  '\u0000',
  '\uD800',
  '\uDFFF\uD800',
  '\uFEFF',
  '\u200B\u200C\u200D\u2060',
  '👨‍👩‍👧‍👦',
  '０１４２０３０００１２３',
  '٠١٤٢٠٣٠٠٠١٢٣',
  '\u0130\u0131ß',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${jndi:ldap://x}',
  '../../etc/passwd',
  '%00%2e%2e%2f',
  '\\u0000',
  '\r\n\t\v\f',
  'A'.repeat(4096),
] as const;

export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ODD_FRAGMENTS),
  fc.array(fc.constantFrom(...ODD_FRAGMENTS), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 10 }),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);

const typesOf = (schema: Schema): string[] => (Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : []);

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Merges allOf members (object schemas) into one. */
function merged(schema: Schema, resolve: Resolver): Schema {
  if (!Array.isArray(schema.allOf)) return schema;
  const parts = (schema.allOf as Schema[]).map((s) => merged(resolve(s), resolve));
  const out: Schema = { ...schema, allOf: undefined };
  for (const part of parts) {
    out.type ??= part.type;
    out.properties = { ...(out.properties as object), ...(part.properties as object) };
    out.required = [...((out.required as string[]) ?? []), ...((part.required as string[]) ?? [])];
    if (part.additionalProperties === false) out.additionalProperties = false;
  }
  return out;
}

const DATE = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2100-12-31T00:00:00Z'), noInvalidDate: true });

function validString(schema: Schema): fc.Arbitrary<string> {
  const min = (schema.minLength as number | undefined) ?? 0;
  const max = (schema.maxLength as number | undefined) ?? Math.max(min, 64);
  const fits = (s: string) => [...s].length >= min && [...s].length <= max;
  switch (schema.format) {
    case 'date':
      return DATE.map((d) => d.toISOString().slice(0, 10));
    case 'date-time':
      return DATE.map((d) => d.toISOString());
    case 'uuid':
      return fc.uuid();
    case 'uri':
      return fc.webUrl().filter(fits);
    case 'email':
      return fc.emailAddress().filter(fits);
    default:
  }
  if (typeof schema.pattern === 'string') {
    return fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
  }
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.min(max, 64) }) },
    // Boundaries: the shortest and the longest allowed.
    { weight: 1, arbitrary: fc.constant('x'.repeat(Math.max(min, 1))).filter(fits) },
    { weight: 1, arbitrary: fc.constant('ă'.repeat(max)) },
    { weight: 1, arbitrary: oddString.filter(fits) },
  );
}

function validNumber(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const min = (schema.minimum as number | undefined) ?? (integer ? -1_000_000 : -1e9);
  const max = (schema.maximum as number | undefined) ?? (integer ? 1_000_000 : 1e9);
  const edges = fc.constantFrom(min, max);
  const inside = integer ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  return fc.oneof({ weight: 3, arbitrary: inside }, { weight: 1, arbitrary: edges });
}

/** Values that follow `schema`. */
export function valid(input: Schema, resolve: Resolver, depth = 0): fc.Arbitrary<unknown> {
  const schema = merged(resolve(input), resolve);
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const choices = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (choices) return fc.oneof(...choices.map((c) => valid(c, resolve, depth + 1)));
  const types = typesOf(schema);
  if (types.length > 1) return fc.oneof(...types.map((type) => valid({ ...schema, type }, resolve, depth)));
  switch (types[0]) {
    case 'string':
      return validString(schema);
    case 'integer':
      return validNumber(schema, true);
    case 'number':
      return validNumber(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = (schema.items as Schema | undefined) ?? {};
      const minLength = (schema.minItems as number | undefined) ?? 0;
      const maxLength = Math.min((schema.maxItems as number | undefined) ?? 4, depth > 3 ? minLength : minLength + 4);
      const item = valid(items, resolve, depth + 1);
      return schema.uniqueItems ? fc.uniqueArray(item, { minLength, maxLength, selector: (v) => JSON.stringify(v) }) : fc.array(item, { minLength, maxLength });
    }
    case 'object':
    case undefined: {
      const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
      if (types[0] === undefined && Object.keys(properties).length === 0) return anyJson;
      const required = (schema.required as string[] | undefined) ?? [];
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, valid(s, resolve, depth + 1)])),
        { requiredKeys: required.filter((r) => r in properties) },
      );
      const minProperties = (schema.minProperties as number | undefined) ?? 0;
      const maxProperties = (schema.maxProperties as number | undefined) ?? Number.POSITIVE_INFINITY;
      return record.filter((o) => Object.keys(o).length >= minProperties && Object.keys(o).length <= maxProperties);
    }
    default:
      return anyJson;
  }
}

/** Calendar dates that do not exist: refused wherever a date is taken. */
export const IMPOSSIBLE_DATES = ['2024-02-30', '1989-02-30', '1989-02-29', '2026-04-31', '2023-13-01', '2023-00-10'] as const;
export const IMPOSSIBLE_DATE_TIMES = ['2024-02-30T10:00:00Z', '2026-02-30T10:00:00+07:00', '2026-04-31T08:00:00+07:00', '2026-12-03T24:00:00+07:00', '2026-12-03T10:60:00+07:00'] as const;
/** Numbers written as text: `"2"` is no number in JSON; `0x10`, `1e3`, ` 7` are not decimal digits. */
export const NUMBERS_AS_TEXT = ['2', '0', '-1', '0x10', '1e3', ' 7', 'Infinity'] as const;

/** Values of any other JSON type than the schema allows. */
function wrongType(schema: Schema): fc.Arbitrary<unknown> {
  const allowed = new Set(typesOf(schema));
  if (allowed.has('number')) allowed.add('integer');
  return anyJson.filter((v) => allowed.size > 0 && !allowed.has(jsonType(v)));
}

/** Values that break `schema` in one way. */
export function invalid(input: Schema, resolve: Resolver, depth = 0): fc.Arbitrary<unknown> {
  const schema = merged(resolve(input), resolve);
  const options: fc.Arbitrary<unknown>[] = [];
  const types = typesOf(schema);
  if (types.length > 0) options.push(wrongType(schema));
  if (Array.isArray(schema.enum)) {
    const values = new Set(schema.enum as unknown[]);
    options.push(fc.oneof(oddString, fc.string({ maxLength: 12 })).filter((s) => !values.has(s)));
    // A listed word in another case, with a trailing space (enums of numbers have none).
    const altered = (schema.enum as unknown[]).filter((v): v is string => typeof v === 'string').map((v) => v.toUpperCase() + ' ');
    if (altered.length > 0) options.push(fc.constantFrom(...altered));
  }
  const choices = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (choices) options.push(...choices.map((c) => invalid(c, resolve, depth + 1)), fc.constant({}));
  if (types.includes('string') && !Array.isArray(schema.enum)) {
    const min = schema.minLength as number | undefined;
    const max = schema.maxLength as number | undefined;
    if (max !== undefined) options.push(fc.constant('9'.repeat(max + 1)), fc.constant('ắ'.repeat(max + 1)));
    if (min !== undefined && min > 0) options.push(fc.constant(''));
    if (typeof schema.pattern === 'string') {
      const pattern = new RegExp(schema.pattern);
      options.push(oddString.filter((s) => !pattern.test(s)), fc.string({ maxLength: 20 }).filter((s) => !pattern.test(s)));
    }
    if (schema.format === 'date') options.push(fc.constantFrom(...IMPOSSIBLE_DATES, '17/04/1989', '1989-04-17T00:00:00Z', '０１-01-2000'));
    if (schema.format === 'date-time') options.push(fc.constantFrom(...IMPOSSIBLE_DATE_TIMES, 'yesterday', '2024-01-01 25:00', '1e3'));
    if (schema.format === 'uuid') options.push(fc.constantFrom('not-a-uuid', '{00000000-0000-0000-0000-000000000000}'));
    if (schema.format === 'uri') options.push(fc.constantFrom('not a uri', 'http//x', 'javascript:alert(1)'));
    if (!schema.pattern && !schema.format && max === undefined && min === undefined) options.push(fc.constant('\u0000'.repeat(3)));
  }
  if (types.includes('integer') || types.includes('number')) {
    const min = schema.minimum as number | undefined;
    const max = schema.maximum as number | undefined;
    if (min !== undefined) options.push(fc.constantFrom(min - 1, min - 0.5, -1e308));
    if (max !== undefined) options.push(fc.constantFrom(max + 1, max + 0.5, 1e308));
    if (types.includes('integer') && !types.includes('number')) options.push(fc.constantFrom(1.5, 2 ** 53 + 2, -(2 ** 63)));
    // A number as text (refused in a JSON body), or text that is a number only to JavaScript (refused in a parameter too).
    if (!types.includes('string')) options.push(fc.constantFrom(...NUMBERS_AS_TEXT));
  }
  if (types.includes('array')) {
    const items = (schema.items as Schema | undefined) ?? {};
    if (typeof schema.maxItems === 'number') options.push(fc.array(valid(items, resolve, depth + 1), { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 2 }));
    if (typeof schema.minItems === 'number' && schema.minItems > 0) options.push(fc.constant([]));
    if (depth < 4) options.push(fc.array(invalid(items, resolve, depth + 1), { minLength: 1, maxLength: 3 }));
    if (schema.uniqueItems) options.push(valid(items, resolve, depth + 1).map((v) => [v, v]));
  }
  const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
  if (types.includes('object') || Object.keys(properties).length > 0) {
    const base = valid(schema, resolve, depth + 1) as fc.Arbitrary<Record<string, unknown>>;
    const required = ((schema.required as string[] | undefined) ?? []).filter((r) => r in properties);
    if (required.length > 0) options.push(fc.tuple(base, fc.constantFrom(...required)).map(([o, drop]) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== drop))));
    if (schema.additionalProperties === false) {
      options.push(fc.tuple(base, fc.oneof(fc.constantFrom('__proto__', 'constructor', 'extra', 'IdNumber'), oddString)).filter(([, k]) => !(k in properties)).map(([o, k]) => ({ ...o, [k]: 1 })));
    }
    const names = Object.keys(properties);
    if (names.length > 0 && depth < 4) {
      options.push(
        fc
          .tuple(base, fc.constantFrom(...names))
          .chain(([o, name]) => invalid(properties[name]!, resolve, depth + 1).map((bad) => ({ ...o, [name]: bad }))),
      );
    }
    if (typeof schema.maxProperties === 'number') {
      const all = fc.record(Object.fromEntries(Object.entries(properties).map(([n, s]) => [n, valid(s, resolve, depth + 1)])), { requiredKeys: names });
      if (names.length > schema.maxProperties) options.push(all);
    }
    if (typeof schema.minProperties === 'number' && schema.minProperties > 0) options.push(fc.constant({}));
  }
  if (options.length === 0) return fc.constant(Symbol.for('no-invalid-value'));
  return fc.oneof(...options);
}

/** JSON text nested `depth` levels deep: `[[[…]]]` or `{"a":{"a":…}}`. */
export function deeplyNested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}
