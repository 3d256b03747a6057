import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { isGatewayError, type GatewayError } from '../errors/gateway-error.ts';
import { sampleDossier } from '../../test/helpers/dossiers.ts';
import { loadContract } from './contract.ts';
import { createValidation, fieldProblems, MAX_FIELD_PROBLEMS, type RequestInput } from './validation.ts';

const contract = loadContract();
const validation = createValidation(contract);
const accountable = { 'x-user-id': 'officer-7', 'x-purpose': 'XAC_MINH_DANH_TINH' };
const person = { idNumber: '014089001234', fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-12' };

function input(partial: Partial<RequestInput>): RequestInput {
  return { params: {}, query: {}, headers: {}, contentType: undefined, hasBody: false, body: undefined, ...partial };
}

/** The error a request is refused with. */
function refusal(operationId: string, request: Partial<RequestInput>, checks = validation): GatewayError {
  try {
    checks.of(operationId).request(input(request));
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('the request was accepted');
}

describe('request validation compiled from the contract', () => {
  it('has the checks of every operation', () => {
    for (const operation of contract.operations) expect(() => validation.of(operation.operationId)).not.toThrow();
    expect(() => validation.of('noSuchOperation')).toThrow(/noSuchOperation/);
  });

  it('accepts a valid request and coerces the query to the declared types, with defaults', () => {
    const query: Record<string, unknown> = { limit: '5', since: '2026-11-27T00:00:00+07:00' };
    const checked = validation.of('listAuditEntries').request(input({ query }));
    expect(checked.query).toEqual({ limit: 5, from: 0, since: '2026-11-27T00:00:00+07:00' });
    expect(validation.of('getEnterprise').request(input({ params: { enterpriseCode: '5500123457' } })).params).toEqual({ enterpriseCode: '5500123457' });
  });

  it('names the field of a path parameter, a query parameter and a header', () => {
    expect(refusal('getEnterprise', { params: { enterpriseCode: '55-00' } }).errors).toEqual([{ field: 'path.enterpriseCode', message: "must be 10 digits, or 10 digits, '-' and 3 (a branch)" }]);
    expect(refusal('listAuditEntries', { query: { from: 'abc' } }).errors).toEqual([{ field: 'query.from', message: 'must be an integer, written in decimal digits' }]);
    expect(refusal('listAuditEntries', { query: { since: 'yesterday' } }).errors).toEqual([{ field: 'query.since', message: expect.stringMatching(/^must be a real date and time with its offset/) }]);
    expect(refusal('listAuditEntries', { query: { since: '2026-02-30T00:00:00Z' } }).errors?.[0]?.field).toBe('query.since');
    expect(refusal('listAuditEntries', { headers: { 'x-user-id': '' } }).errors).toEqual([{ field: 'header.x-user-id', message: 'must not be empty' }]);
    const invalid = refusal('listAuditEntries', { query: { limit: '1' } });
    expect(invalid.code).toBe('VALIDATION_FAILED');
    expect(invalid.detail).toBe('query.limit must be >= 2');
  });

  it('refuses unknown and empty query parameters, naming them', () => {
    expect(refusal('listProcedures', { query: { colour: 'blue' } }).errors).toEqual([{ field: 'query.colour', message: 'is not a parameter of this operation' }]);
    expect(refusal('listAuditEntries', { query: { limit: '' } }).errors).toEqual([{ field: 'query.limit', message: 'must not be empty' }]);
  });

  it('checks a JSON body by its schema, without coercing its types', () => {
    const verify = (body: unknown) => validation.of('verifyCitizen').request(input({ headers: accountable, contentType: 'application/json', hasBody: true, body }));
    expect(() => verify(person)).not.toThrow();
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: { ...person, idNumber: 14089001234 } }).errors).toEqual([{ field: 'body.idNumber', message: 'must be a string' }]);
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: { fullName: person.fullName, dateOfBirth: person.dateOfBirth } }).errors).toEqual([
      { field: 'body.idNumber', message: 'is required' },
    ]);
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: { ...person, colour: 'blue' } }).errors).toEqual([
      { field: 'body.colour', message: 'is not a known field' },
    ]);
  });

  it('calls a missing body a missing JSON body, whatever a body parser made of no bytes', () => {
    const missing = [{ field: 'body', message: 'is required: send a JSON body' }];
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: false, body: undefined }).errors).toEqual(missing);
    // express.json gives {} for a Content-Length: 0 body; without a Content-Type the body is still what is missing (not 415).
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: false, body: {} }).errors).toEqual(missing);
    expect(refusal('verifyCitizen', { headers: accountable, hasBody: false }).errors).toEqual(missing);
    // An empty JSON object is a body: its missing fields are named one by one.
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: {} }).errors).toEqual([
      { field: 'body.idNumber', message: 'is required' },
      { field: 'body.fullName', message: 'is required' },
      { field: 'body.dateOfBirth', message: 'is required' },
    ]);
  });

  it('refuses impossible calendar dates, in dates and in dates with a time', () => {
    const verify = (dateOfBirth: string) => validation.of('verifyCitizen').request(input({ headers: accountable, contentType: 'application/json', hasBody: true, body: { ...person, dateOfBirth } }));
    for (const impossible of ['1989-02-30', '1989-02-29', '1989-13-01', '1989-04-31', '1989-4-12']) {
      expect(() => verify(impossible), impossible).toThrow(/body\.dateOfBirth must be a real calendar date/);
    }
    expect(() => verify('1988-02-29')).not.toThrow();
    const event = (at: string) => refusal('addDossierEvent', { params: { dossierCode: '000.00.52.H52-261203-0001' }, contentType: 'application/json', hasBody: true, body: { kind: 'status', status: 2, at } }).errors;
    for (const impossible of ['2026-02-30T10:00:00+07:00', '2026-12-03T24:00:00+07:00', '2026-12-03T10:00:00', '2026-12-03']) {
      expect(event(impossible), impossible).toEqual([{ field: 'body.at', message: 'must be a real date and time with its offset, e.g. 2026-12-03T10:00:00+07:00' }]);
    }
  });

  it('refuses numbers sent as text in a JSON body, and numbers not in decimal digits in the query and path', () => {
    const event = (status: unknown) => refusal('addDossierEvent', { params: { dossierCode: '000.00.52.H52-261203-0001' }, contentType: 'application/json', hasBody: true, body: { kind: 'status', status, at: '2026-12-03T10:00:00+07:00' } }).errors;
    expect(event('2')).toEqual([{ field: 'body.status', message: 'must be an integer' }]);
    expect(event(2.5)).toEqual([{ field: 'body.status', message: 'must be an integer' }]);
    for (const text of ['0x10', '1e3', ' 16', '16.0', '+16', 'Infinity']) {
      expect(refusal('listAuditEntries', { query: { from: text } }).errors, text).toEqual([{ field: 'query.from', message: 'must be an integer, written in decimal digits' }]);
    }
    expect(refusal('getAuditEntry', { params: { index: '0x10' } }).errors).toEqual([{ field: 'path.index', message: 'must be an integer, written in decimal digits' }]);
    // Text in decimal digits is coerced, as before.
    expect(validation.of('listAuditEntries').request(input({ query: { from: '16', limit: '20' } })).query).toMatchObject({ from: 16, limit: 20 });
  });

  it('checks a body with a discriminator against the branch its tag names only', () => {
    const event = (body: unknown) => refusal('addDossierEvent', { params: { dossierCode: '000.00.52.H52-261203-0001' }, contentType: 'application/json', hasBody: true, body }).errors;
    // A status event is not told about the progress event's fields, nor about oneOf.
    expect(event({ kind: 'status', status: 99, at: '2026-12-03T10:00:00+07:00' })).toEqual([{ field: 'body.status', message: 'must be <= 10' }]);
    expect(event({ kind: 'status', status: '2', at: '2026-02-30T10:00:00+07:00', note: 'x'.repeat(2001) })).toEqual([
      { field: 'body.status', message: 'must be an integer' },
      { field: 'body.at', message: 'must be a real date and time with its offset, e.g. 2026-12-03T10:00:00+07:00' },
      { field: 'body.note', message: 'must have at most 2000 characters' },
    ]);
    expect(event({ kind: 'progress' })?.map((e) => e.field)).toEqual(['officer', 'title', 'department', 'content', 'startedAt', 'dueAt', 'at'].map((f) => `body.${f}`));
    expect(event({ kind: 'progress' })?.[0]).toEqual({ field: 'body.officer', message: 'is required' });
    // An unknown tag, or none, is named with the values it may take.
    expect(event({ kind: 'resolved' })).toEqual([{ field: 'body.kind', message: 'must be one of: status, progress' }]);
    expect(event({ status: 2 })).toEqual([{ field: 'body.kind', message: 'is required, one of: status, progress' }]);
    expect(event([])).toEqual([{ field: 'body', message: 'must be a JSON object' }]);
    const link = (body: Record<string, unknown>) =>
      refusal('createAccountLink', { headers: accountable, contentType: 'application/json', hasBody: true, body: { portalAccountId: 'a-1', subject: { type: 'person', idNumber: person.idNumber }, evidence: { fullName: person.fullName, dateOfBirth: person.dateOfBirth }, ...body } }).errors;
    expect(link({ subject: null })).toContainEqual({ field: 'body.subject', message: 'must be a JSON object' });
    expect(link({ subject: { type: 'robot' } })).toEqual([{ field: 'body.subject.type', message: 'must be one of: person, organization' }]);
    // Evidence has no tag: judged by the form it comes closest to (a person's), not by the organisation's too.
    expect(link({ evidence: { fullName: person.fullName, dateOfBirth: '1989-02-30', colour: 'blue' } })).toEqual([
      { field: 'body.evidence.dateOfBirth', message: 'must be a real calendar date, written YYYY-MM-DD' },
      { field: 'body.evidence.colour', message: 'is not a known field' },
    ]);
    // The subject's type says which form the evidence must take: a person's evidence for a person,
    // though an organisation's form would be nearer to what was sent.
    expect(link({ evidence: {} })).toEqual([
      { field: 'body.evidence.fullName', message: 'is required' },
      { field: 'body.evidence.dateOfBirth', message: 'is required' },
    ]);
    expect(link({ evidence: { name: '' } })).toEqual([
      { field: 'body.evidence.fullName', message: 'is required' },
      { field: 'body.evidence.dateOfBirth', message: 'is required' },
      { field: 'body.evidence.name', message: 'is not a known field' },
    ]);
    const organization = { type: 'organization', enterpriseCode: '5500123457' };
    expect(link({ subject: organization, evidence: { name: '' } })).toEqual([{ field: 'body.evidence.name', message: 'must not be empty' }]);
    expect(link({ subject: organization, evidence: { fullName: person.fullName } })).toEqual([
      { field: 'body.evidence.name', message: 'is required' },
      { field: 'body.evidence.fullName', message: 'is not a known field' },
    ]);
    expect(link({ evidence: 'Lò Văn Thắng' })).toEqual([{ field: 'body.evidence', message: 'must be a JSON object' }]);
  });

  it('answers 415 for a body of a type the operation does not take', () => {
    const text = refusal('verifyCitizen', { headers: accountable, contentType: 'text/plain', hasBody: true, body: 'hello' });
    expect(text.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(text.errors).toEqual([{ field: 'header.content-type', message: 'must be application/json, not text/plain' }]);
    expect(refusal('verifyCitizen', { headers: accountable, hasBody: true }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a parameter given twice, once, with a message that says so', () => {
    const twice = refusal('listAuditEntries', { query: { limit: ['1', '2'], from: ['0x1', '2'] }, headers: { 'x-user-id': 'thanhtra-0007', 'x-purpose': 'THANH_TRA_KIEM_TRA' } });
    expect(twice.errors).toEqual([
      { field: 'query.limit', message: 'must be given once' },
      { field: 'query.from', message: 'must be given once' },
    ]);
  });

  it('reports every invalid field, of every location, in the order query, header, path, body', () => {
    const body = { idNumber: '1', fullName: '', dateOfBirth: '1989-02-30' };
    const request = { query: {}, headers: accountable, contentType: 'application/json', hasBody: true, body };
    const three = refusal('verifyCitizen', request);
    expect(three.errors).toEqual([
      { field: 'body.idNumber', message: 'must be 12 digits (a citizen identity card) or 9 (an old identity card)' },
      { field: 'body.fullName', message: 'must not be empty' },
      { field: 'body.dateOfBirth', message: 'must be a real calendar date, written YYYY-MM-DD' },
    ]);
    expect(three.detail).toBe(three.errors!.map((e) => `${e.field} ${e.message}`).join('; '));
    const everywhere = refusal('listAuditEntries', { query: { limit: '1', colour: 'blue' }, headers: { 'x-user-id': '' } });
    expect(everywhere.errors?.map((e) => e.field)).toEqual(['query.limit', 'query.colour', 'header.x-user-id']);
    // Without allErrors, the first problem only.
    expect(refusal('verifyCitizen', { ...request, body: { ...body } }, createValidation(contract, { allErrors: false })).errors?.map((e) => e.field)).toEqual(['body.idNumber']);
  });

  it('reports at most MAX_FIELD_PROBLEMS problems, saying how many more there were', () => {
    // Attachments without their required fields: more problems than a refusal names.
    const attachments = Array.from({ length: MAX_FIELD_PROBLEMS }, () => ({}));
    const many = refusal('createDossier', { headers: { ...accountable, 'x-purpose': 'TIEP_NHAN_HO_SO' }, contentType: 'application/json', hasBody: true, body: { ...sampleDossier(1), attachments } });
    expect(many.errors).toHaveLength(MAX_FIELD_PROBLEMS);
    expect(many.errors?.[0]).toEqual({ field: 'body.attachments.0.id', message: 'is required' });
    const total = Number(/; and (\d+) more problems, not listed \(at most 20 are\)$/.exec(many.detail ?? '')?.[1]) + MAX_FIELD_PROBLEMS;
    expect(total).toBeGreaterThan(MAX_FIELD_PROBLEMS);
    expect(MAX_FIELD_PROBLEMS).toBe(20);
  });

  it('names the problems of known fields before unknown ones, which it lists as one problem', () => {
    const extra = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`x${i}`, 1]));
    const event = refusal('addDossierEvent', { params: { dossierCode: '000.00.52.H52-261203-0001' }, contentType: 'application/json', hasBody: true, body: { kind: 'status', status: '2', at: '2026-12-03T10:00:00+07:00', ...extra } });
    expect(event.errors).toEqual([
      { field: 'body.status', message: 'must be an integer' },
      { field: 'body', message: 'has 25 fields it does not know: x0, x1, x2, x3, x4, x5, x6, x7, x8, x9 and 15 more' },
    ]);
    expect(event.detail).toBe('body.status must be an integer; body has 25 fields it does not know: x0, x1, x2, x3, x4, x5, x6, x7, x8, x9 and 15 more');
    // Two unknown fields are listed whole; in the query too, after the known parameters' problems.
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: { ...person, colour: 'blue', size: 2 } }).errors).toEqual([
      { field: 'body', message: 'has 2 fields it does not know: colour, size' },
    ]);
    const query = { ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`colour${i}`, 'blue'])), limit: '1' };
    expect(refusal('listAuditEntries', { query }).errors).toEqual([
      { field: 'query.limit', message: 'must be >= 2' },
      { field: 'query', message: 'has 30 names that are not parameters of this operation: colour0, colour1, colour2, colour3, colour4, colour5, colour6, colour7, colour8, colour9 and 20 more' },
    ]);
  });

  it('refuses integer parameters beyond 2^53 - 1 rather than reading them as another number', () => {
    const message = 'must be an integer from -9007199254740991 to 9007199254740991';
    expect(refusal('getAuditEntry', { params: { index: '99999999999999999999' } }).errors).toEqual([{ field: 'path.index', message }]);
    expect(refusal('getAuditEntry', { params: { index: '9007199254740992' } }).errors).toEqual([{ field: 'path.index', message }]);
    expect(refusal('listAuditEntries', { query: { from: '99999999999999999999' } }).errors).toEqual([{ field: 'query.from', message }]);
    expect(validation.of('getAuditEntry').request(input({ params: { index: '9007199254740991' } })).params).toEqual({ index: 9007199254740991 });
  });

  it('never accepts a body that failed its schema, whatever judging its forms makes of it', () => {
    // A form whose default makes the value fit it when the form is checked alone.
    const dir = mkdtempSync(join(tmpdir(), 'contract-'));
    writeFileSync(
      join(dir, 'contract.yaml'),
      JSON.stringify({
        openapi: '3.1.0',
        info: { title: 'forms', version: '1' },
        paths: { '/things': { post: { operationId: 'addThing', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } }, responses: { '204': { description: 'added' } } } } },
        components: {
          schemas: {
            Thing: {
              type: 'object',
              properties: { shape: { oneOf: [{ $ref: '#/components/schemas/Square' }, { $ref: '#/components/schemas/Circle' }] } },
            },
            // Ajv ignores defaults inside a oneOf, but not in a form compiled alone.
            Square: { type: 'object', required: ['side'], properties: { side: { type: 'integer', default: 1 } } },
            Circle: { type: 'object', required: ['radius'], properties: { radius: { type: 'integer' } } },
          },
        },
      }),
    );
    const checks = createValidation(loadContract(join(dir, 'contract.yaml')));
    const body = { shape: {} };
    const refused = refusal('addThing', { contentType: 'application/json', hasBody: true, body }, checks);
    expect(refused.code).toBe('VALIDATION_FAILED');
    expect(refused.errors).toEqual([{ field: 'body.shape.side', message: 'is required' }]);
    // Judging the forms changed nothing in the request.
    expect(body).toEqual({ shape: {} });
  });
});

describe('messages in the caller\'s words', () => {
  it('says what a value must be for every keyword, never the schema vocabulary', () => {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: false });
    const schema = {
      type: 'object',
      properties: {
        channel: { enum: ['online', 'desk', null] },
        version: { const: 2 },
        tags: { type: 'array', uniqueItems: true, minItems: 2, maxItems: 3 },
        note: { type: ['string', 'null'], maxLength: 3 },
        contact: { anyOf: [{ type: 'string', format: 'email' }, { type: 'object', required: ['phone'], properties: { phone: { type: 'string' } } }] },
        kind: { type: 'string' },
        officer: { type: 'string' },
      },
      if: { properties: { kind: { const: 'progress' } }, required: ['kind'] },
      then: { required: ['officer'] },
      additionalProperties: false,
    };
    const validate = ajv.compile(schema);
    expect(validate({ channel: 'post', version: 3, tags: ['a', 'a'], note: 7, contact: { mobile: 1 }, kind: 'progress', extra: true })).toBe(false);
    const problems = fieldProblems('body', validate.errors, ajv);
    // In the order Ajv met them (if/then first); the `if`'s own summary is dropped.
    expect(problems).toHaveLength(7);
    expect(problems).toEqual(expect.arrayContaining([
      { field: 'body.extra', message: 'is not a known field' },
      { field: 'body.channel', message: 'must be one of: online, desk, null' },
      { field: 'body.version', message: 'must be 2' },
      { field: 'body.tags', message: 'must not repeat an item (items 0 and 1 are the same)' },
      { field: 'body.note', message: 'must be a string or null' },
      { field: 'body.contact.phone', message: 'is required' },
      { field: 'body.officer', message: 'is required' },
    ]));
    expect(fieldProblems('body', (validate({ tags: ['a'] }), validate.errors), ajv)).toEqual([{ field: 'body.tags', message: 'must have at least 2 items' }]);
  });
});

describe('response validation', () => {
  const responses = validation.of('getEnterprise');

  it('names what an answer lacks, and refuses a status the contract does not document', () => {
    expect(responses.response(200, undefined, { enterpriseCode: '5500123457' }).map((p) => p.field)).toContain('response.name');
    expect(responses.response(418, undefined, {})).toEqual([{ field: 'response', message: expect.stringMatching(/status 418/) }]);
  });

  it('judges a member that may take several forms by its closest form, without the schema vocabulary', () => {
    const problems = validation.of('lookupCitizen').response(200, 'application/json', { permanentAddress: 'Sơn La', father: { colour: 'blue' } });
    expect(problems).toContainEqual({ field: 'response.permanentAddress', message: 'must be a JSON object or null' });
    expect(problems.filter((p) => p.field.startsWith('response.father'))).not.toEqual([]);
    expect(problems.map((p) => p.message).join('\n')).not.toMatch(/oneOf|anyOf|must be null/);
  });

  it('accepts a problem answer as its schema documents it', () => {
    const problem = { type: 'https://lienthong.gov.vn/problems/subject-not-found', title: 'Not found', status: 404, code: 'SUBJECT_NOT_FOUND', requestId: 'r', instance: 'urn:lienthong:request:r' };
    expect(responses.response(404, 'application/problem+json', problem)).toEqual([]);
  });
});

describe('routing once from the contract', () => {
  it('gives the operation with its path parameters, percent-decoded, a trailing slash allowed', () => {
    expect(contract.match('GET', '/v1/enterprises/5500123457/')).toMatchObject({ operation: { operationId: 'getEnterprise' }, params: { enterpriseCode: '5500123457' } });
    expect(contract.match('GET', '/v1/enterprises/55%2D00')).toMatchObject({ params: { enterpriseCode: '55-00' } });
    expect(contract.match('HEAD', '/v1/enterprises/5500123457')).toMatchObject({ operation: { operationId: 'getEnterprise' } });
  });

  it('marks a parameter that is not valid percent-encoding, and matches nothing deeper or shallower', () => {
    expect(contract.match('GET', '/v1/enterprises/%zz')).toMatchObject({ operation: { operationId: 'getEnterprise' }, params: undefined });
    expect(contract.match('GET', '/v1/enterprises/5500123457/x')).toBeUndefined();
    expect(contract.match('GET', '/v1')).toBeUndefined();
  });
});

describe('a multipart body, read by its handler', () => {
  const checks = createValidation(contract).of('createDocument');
  const headers = { 'x-user-id': 'canbo-0042', 'x-purpose': 'TIEP_NHAN_HO_SO' };
  const fields = { subjectType: 'citizen', subject: '014089001234', kind: 'result', documentType: 'KQ.G15.000031', name: 'Quyết định', issuingAgency: 'H52.101.114' };

  it('passes the body on unread once its content type is one the operation takes', () => {
    const input: RequestInput = { params: {}, query: {}, headers, contentType: 'multipart/form-data', hasBody: true, body: undefined };
    expect(() => checks.request(input)).not.toThrow();
    expect(() => checks.request({ ...input, contentType: 'application/json', body: fields })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MEDIA_TYPE' }));
  });

  it('checks its text fields against the contract, less the file part, naming body.<field>', () => {
    expect(checks.form(fields)).toEqual(fields);
    const refused = (() => {
      try {
        checks.form({ ...fields, subject: '01408900123', kind: 'decision', colour: 'red', issuedOn: '2026-02-30', name: undefined });
      } catch (err) {
        return err as GatewayError;
      }
    })();
    expect(refused?.code).toBe('VALIDATION_FAILED');
    expect(refused?.errors).toEqual([
      { field: 'body.name', message: 'is required' },
      { field: 'body.subject', message: 'must be a 12-digit personal identification number, or an enterprise code (10 digits, or 10 digits, \'-\' and 3 for a branch)' },
      { field: 'body.kind', message: 'must be one of: submission, result' },
      { field: 'body.issuedOn', message: 'must be a real calendar date, written YYYY-MM-DD' },
      { field: 'body.colour', message: 'is not a known field' },
    ]);
  });
});
