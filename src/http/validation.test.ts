import { describe, expect, it } from 'vitest';
import { isGatewayError, type GatewayError } from '../errors/gateway-error.ts';
import { loadContract } from './contract.ts';
import { createValidation, type RequestInput } from './validation.ts';

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
    expect(refusal('getEnterprise', { params: { enterpriseCode: '55-00' } }).errors).toEqual([{ field: 'path.enterpriseCode', message: expect.stringMatching(/^must match pattern/) }]);
    expect(refusal('listAuditEntries', { query: { from: 'abc' } }).errors).toEqual([{ field: 'query.from', message: 'must be integer' }]);
    expect(refusal('listAuditEntries', { query: { since: 'yesterday' } }).errors).toEqual([{ field: 'query.since', message: 'must match format "date-time"' }]);
    expect(refusal('listAuditEntries', { query: { since: '2026-02-30T00:00:00Z' } }).errors?.[0]?.field).toBe('query.since');
    expect(refusal('listAuditEntries', { headers: { 'x-user-id': '' } }).errors).toEqual([{ field: 'header.x-user-id', message: expect.stringMatching(/fewer than 1/) }]);
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
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: { ...person, idNumber: 14089001234 } }).errors).toEqual([{ field: 'body.idNumber', message: 'must be string' }]);
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: { fullName: person.fullName, dateOfBirth: person.dateOfBirth } }).errors).toEqual([
      { field: 'body.idNumber', message: "must have required property 'idNumber'" },
    ]);
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: true, body: { ...person, colour: 'blue' } }).errors).toEqual([
      { field: 'body.colour', message: 'must NOT have additional properties' },
    ]);
    expect(refusal('verifyCitizen', { headers: accountable, contentType: 'application/json', hasBody: false, body: undefined }).errors).toEqual([{ field: 'body', message: 'is required' }]);
  });

  it('checks a body with a discriminator against the branch its tag names only', () => {
    const event = (body: unknown) => refusal('addDossierEvent', { params: { dossierCode: '000.00.52.H52-261203-0001' }, contentType: 'application/json', hasBody: true, body }).errors;
    // A status event is not told about the progress event's fields, nor about oneOf.
    expect(event({ kind: 'status', status: 99, at: '2026-12-03T10:00:00+07:00' })).toEqual([{ field: 'body.status', message: 'must be <= 10' }]);
    expect(event({ kind: 'progress' })).toEqual([{ field: 'body.officer', message: "must have required property 'officer'" }]);
    expect(event({ kind: 'resolved' })).toEqual([{ field: 'body.kind', message: 'value of tag "kind" must be in oneOf' }]);
    expect(event([])).toEqual([{ field: 'body', message: 'must be object' }]);
    expect(refusal('createAccountLink', { headers: accountable, contentType: 'application/json', hasBody: true, body: { portalAccountId: 'a-1', subject: null, evidence: { fullName: person.fullName, dateOfBirth: person.dateOfBirth } } }).errors).toContainEqual({ field: 'body.subject', message: 'must be object' });
  });

  it('answers 415 for a body of a type the operation does not take', () => {
    const text = refusal('verifyCitizen', { headers: accountable, contentType: 'text/plain', hasBody: true, body: 'hello' });
    expect(text.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(text.errors).toEqual([{ field: 'header.content-type', message: 'must be application/json, not text/plain' }]);
    expect(refusal('verifyCitizen', { headers: accountable, hasBody: true }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('reports the first invalid field of each location, or all of them with allErrors', () => {
    const body = { idNumber: '1', fullName: person.fullName, dateOfBirth: 'yesterday' };
    const request = { query: {}, headers: accountable, contentType: 'application/json', hasBody: true, body };
    expect(refusal('verifyCitizen', request).errors?.map((e) => e.field)).toEqual(['body.idNumber']);
    const all = createValidation(contract, { allErrors: true });
    expect(refusal('verifyCitizen', { ...request, body: { ...body } }, all).errors?.map((e) => e.field)).toEqual(['body.idNumber', 'body.dateOfBirth']);
  });
});

describe('response validation', () => {
  const responses = validation.of('getEnterprise');

  it('names what an answer lacks, and refuses a status the contract does not document', () => {
    expect(responses.response(200, undefined, { enterpriseCode: '5500123457' }).map((p) => p.field)).toContain('response.name');
    expect(responses.response(418, undefined, {})).toEqual([{ field: 'response', message: expect.stringMatching(/status 418/) }]);
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
