import { describe, expect, it } from 'vitest';
import { loadContract } from '../http/contract.ts';
import { IDENTIFIER_SHAPES, identifiersOf, readSubjectPaths } from './subjects.ts';

type Schema = Record<string, unknown>;

/** Property names the contract gives identifiers of people and enterprises (and a search's subject). */
const IDENTIFIER_NAMES = new Set(['idNumber', 'oldIdNumber', 'insuranceCode', 'taxCode', 'enterpriseCode', 'identifier', 'subject']);

const contract = loadContract();
const components = (contract.document.components ?? {}) as Record<string, Record<string, Schema>>;

function resolve(node: Schema | undefined): Schema {
  let current = node ?? {};
  while (typeof current.$ref === 'string') {
    const [, , section, name] = current.$ref.split('/');
    current = components[section!]?.[name!] ?? {};
  }
  return current;
}

/** Whether a schema holds a string (an identifier's value), not an object. */
function isText(node: Schema | undefined): boolean {
  const schema = resolve(node);
  const types = ([] as unknown[]).concat(schema.type ?? []);
  return types.includes('string') || ['oneOf', 'anyOf'].some((k) => ((schema[k] as Schema[] | undefined) ?? []).some(isText));
}

/** Every property path (dot-separated) of a schema, through objects and their alternatives, not into arrays; `text` when it holds a string. */
function propertyPaths(node: Schema | undefined, prefix: string, depth = 0): { path: string; text: boolean }[] {
  const schema = resolve(node);
  if (depth > 4) return [];
  const alternatives = ['oneOf', 'anyOf', 'allOf'].flatMap((k) => (schema[k] as Schema[] | undefined) ?? []);
  const own = Object.entries((schema.properties ?? {}) as Record<string, Schema>).flatMap(([name, child]) => [
    { path: `${prefix}.${name}`, text: isText(child) },
    ...propertyPaths(child, `${prefix}.${name}`, depth + 1),
  ]);
  return [...own, ...alternatives.flatMap((alt) => propertyPaths(alt, prefix, depth + 1))];
}

/** Where the contract puts identifiers for an operation: request body, path and query parameters, and the success answer. */
function contractPaths(operationId: string, withAnswer: boolean): Map<string, boolean> {
  const op = contract.byId.get(operationId)!;
  const raw = (contract.document.paths as Record<string, Record<string, Schema>>)[op.path]![op.method]!;
  const paths: { path: string; text: boolean }[] = [];
  for (const p of ((raw.parameters ?? []) as Schema[]).map(resolve)) {
    if (p.in === 'path' || p.in === 'query') paths.push({ path: `${p.in === 'path' ? 'params' : 'query'}.${String(p.name)}`, text: isText(p.schema as Schema) });
  }
  const body = resolve(raw.requestBody as Schema | undefined).content as Record<string, { schema?: Schema }> | undefined;
  // A multipart form's fields are the body the exchange recorder reads (the route sets them on req.body).
  paths.push(...propertyPaths((body?.['application/json'] ?? body?.['multipart/form-data'])?.schema, 'body'));
  if (withAnswer) {
    for (const [status, response] of Object.entries((raw.responses ?? {}) as Record<string, Schema>)) {
      if (!/^2/.test(status)) continue;
      const content = resolve(response).content as Record<string, { schema?: Schema }> | undefined;
      paths.push(...propertyPaths(content?.['application/json']?.schema, 'answer'));
    }
  }
  return new Map(paths.map((p) => [p.path, p.text]));
}

/** The contract's x-subjects of an operation. */
const subjectsOf = (operationId: string) => contract.byId.get(operationId)!.subjects;

describe('the identifier table', () => {
  it('names only places the contract has, and every identifier of every operation the log records', () => {
    for (const op of contract.operations) {
      // Answers are read for what the log records on success: exchanges and audit operations.
      const recorded = op.exchange || op.auditRecord;
      if (!recorded && !op.personalData && op.personalDataParameters.length === 0) continue;
      const inContract = contractPaths(op.operationId, recorded);
      const table = op.subjects.map((p) => p.path);
      for (const path of table) expect(inContract.has(path), `${op.operationId}: ${path} is not in the contract`).toBe(true);
      const identifiers = [...inContract].filter(([p, text]) => text && IDENTIFIER_NAMES.has(p.split('.').pop()!)).map(([p]) => p);
      for (const path of identifiers) expect(table, `${op.operationId}: ${path} carries an identifier the table does not read`).toContain(path);
    }
  });

  it('is read from the contract, and a malformed x-subjects is refused', () => {
    expect(contract.byId.get('getEnterprise')!.subjects).toEqual([
      { path: 'params.enterpriseCode', kind: 'enterpriseCode' },
      { path: 'answer.enterpriseCode', kind: 'enterpriseCode' },
    ]);
    expect(contract.byId.get('listProcedures')!.subjects).toEqual([]);
    expect(readSubjectPaths('x', [{ path: 'query.subject', kind: 'any' }])).toEqual([{ path: 'query.subject', kind: 'any' }]);
    expect(() => readSubjectPaths('x', { path: 'query.subject' })).toThrow(/x: x-subjects must be a list/);
    expect(() => readSubjectPaths('x', [{ path: 'headers.x', kind: 'any' }])).toThrow(/x-subjects\[0\]\.path/);
    expect(() => readSubjectPaths('x', [{ path: 'body.id', kind: 'passport' }])).toThrow(/x-subjects\[0\]\.kind must be one of/);
  });

  it('reads identifiers from the request and the answer, well-formed ones only, without repeats', () => {
    const answer = { idNumber: '014089001234', oldIdNumber: '050712345', father: { fullName: 'X', idNumber: '014058000987' }, mother: { fullName: 'Y', idNumber: null } };
    expect(identifiersOf(subjectsOf('lookupCitizen'), { body: { idNumber: '014089001234' }, answer })).toEqual(['014089001234', '050712345', '014058000987']);
    expect(identifiersOf(subjectsOf('lookupSocialInsurance'), { body: { idNumber: '01408900123X', insuranceCode: '1412345678' } })).toEqual(['1412345678']);
    expect(identifiersOf(subjectsOf('getTaxpayer'), { params: { taxCode: '5500123457-001' } })).toEqual(['5500123457-001']);
    expect(identifiersOf(subjectsOf('getEnterprise'), { params: { enterpriseCode: '../etc' } })).toEqual([]);
    expect(identifiersOf(subjectsOf('listAuditEntries'), { query: { subject: 'abc', from: '0' } })).toEqual([]);
    expect(identifiersOf(subjectsOf('listProcedures'), { query: { q: '014089001234' } })).toEqual([]);
    // An array or a scalar where an object is expected: nothing, never a throw.
    expect(identifiersOf(subjectsOf('createAccountLink'), { body: { subject: ['014089001234'] } })).toEqual([]);
    expect(identifiersOf(subjectsOf('lookupCitizen'), { body: 'x', answer: [1] })).toEqual([]);
    for (const shape of Object.values(IDENTIFIER_SHAPES)) expect(shape.test('014089001234\n')).toBe(false);
  });
});
