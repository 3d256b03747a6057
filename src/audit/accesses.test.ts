import { describe, expect, it } from 'vitest';
import { loadContract } from '../http/contract.ts';
import { createKeyedDigest, createSubjectHasher } from '../signing/attestation.ts';
import { operationSummaries, subjectAccess, type AccessTerms } from './accesses.ts';
import { exchangeLeaf, leafText } from './leaf.ts';
import type { EntryRecord } from './store.ts';

const key = Buffer.alloc(32, 3);
const hash = createSubjectHasher(key);
const digest = createKeyedDigest(key, 'exchange-bodies');
const summaries = operationSummaries(loadContract().document);
const terms = (officer: AccessTerms['officer'] = 'hidden'): AccessTerms => ({ summaries, purposes: new Map([['XAC_MINH_DANH_TINH', 'Identity verification at a one-stop desk']]), officer });

function entry(index: number, fields: Partial<Parameters<typeof exchangeLeaf>[0]> = {}): EntryRecord {
  const leaf = exchangeLeaf(
    {
      id: `ex-${index}`,
      startedAt: new Date(Date.UTC(2026, 10, 27, 2, 15, 42, 613)),
      client: 'sandbox-agency',
      agency: 'H52.101.114',
      operation: 'verifyCitizen',
      upstream: 'population',
      purpose: 'XAC_MINH_DANH_TINH',
      userHash: hash('user:canbo-0042'),
      subjectHash: hash('014089001234'),
      status: 200,
      latencyMs: 12,
      upstreamCalls: [],
      code: null,
      subjects: [],
      result: 'match',
      caseId: null,
      resultCount: null,
      criteria: null,
      request: 'request',
      response: 'response',
      ...fields,
    },
    digest,
  );
  return { index, leaf: leafText(leaf), leafHash: Buffer.alloc(32) };
}

describe('subjectAccess', () => {
  it("shows when, who, what and why, in Vietnam time, with the contract's summary and the purpose's description", () => {
    expect(subjectAccess(entry(7), terms())).toEqual({
      index: 7,
      time: '2026-11-27T09:15:42+07:00',
      agency: 'H52.101.114',
      client: 'sandbox-agency',
      operation: 'verifyCitizen',
      summary: "Verify a person's name and date of birth",
      upstream: 'population',
      purpose: 'XAC_MINH_DANH_TINH',
      purposeDescription: 'Identity verification at a one-stop desk',
      caseId: null,
      outcome: 'success',
      officer: null,
    });
  });

  it('names the officer only by the keyed pseudonym, and only when configured', () => {
    expect(subjectAccess(entry(1), terms('hidden')).officer).toBeNull();
    expect(subjectAccess(entry(1), terms('pseudonym')).officer).toBe(hash('user:canbo-0042'));
  });

  it('gives no description for a procedure code or no purpose, and the case as recorded', () => {
    const procedure = subjectAccess(entry(2, { purpose: '1.001808.000.00.00.H52', caseId: 'H52.101.114-261127-0001', status: 404, code: 'SUBJECT_NOT_FOUND' }), terms());
    expect(procedure).toMatchObject({ purpose: '1.001808.000.00.00.H52', purposeDescription: null, caseId: 'H52.101.114-261127-0001', outcome: 'business_error' });
    expect(subjectAccess(entry(3, { purpose: null }), terms())).toMatchObject({ purpose: null, purposeDescription: null });
  });

  it("names the gateway's own deliveries in words, and an operation the contract does not know by its name", () => {
    expect(subjectAccess(entry(4, { operation: 'deliverDossier', upstream: 'dvcqg' }), terms()).summary).toMatch(/^Deliver a dossier/);
    expect(subjectAccess(entry(5, { operation: 'TraCuuHoSo' }), terms()).summary).toBe('TraCuuHoSo');
  });

  it('reads leaves written before format 3 (no caseId)', () => {
    const { v: _v, caseId: _c, ...older } = JSON.parse(entry(6).leaf) as Record<string, unknown>;
    expect(subjectAccess({ index: 6, leaf: JSON.stringify({ ...older, v: 2 }), leafHash: Buffer.alloc(32) }, terms())).toMatchObject({ caseId: null, operation: 'verifyCitizen' });
  });
});

describe('operationSummaries', () => {
  it('holds every operation of the contract', () => {
    const contract = loadContract();
    for (const operation of contract.operations) expect(summaries.get(operation.operationId), operation.operationId).toEqual(expect.any(String));
    expect(summaries.get('getSubjectAccesses')).toBe('Who asked about this person or organisation');
  });
});
