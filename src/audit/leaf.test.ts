import { randomBytes } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import { describe, expect, it } from 'vitest';
import { createKeyedDigest, createSubjectHasher } from '../signing/attestation.ts';
import { bindingHash, bodiesMatchLeaf, exchangeLeaf, keyedLeaf, leafDigests, leafText, sha256Hex, type ExchangeLeafV1 } from './leaf.ts';

const KEY = randomBytes(32);
const digest = createKeyedDigest(KEY, 'exchange-bodies');
const ID_NUMBER = '014089001234';
/** The request of a lookup whose only content is an ID number, as the recorder canonicalises it. */
const lookup = (idNumber: string) => canonicalize({ method: 'POST', path: '/v1/citizens/lookup', query: {}, body: { idNumber } });
const response = '{"idNumber":"014089001234","fullName":"Lò Văn Thắng"}';

const fields = {
  id: 'ex-1',
  time: '2026-01-01T00:00:00.000Z',
  client: 'sandbox-agency',
  agency: 'H52',
  operation: 'lookupCitizen',
  upstream: 'population',
  purpose: 'XAC_MINH_DANH_TINH',
  userHash: 'a'.repeat(64),
  subjectHash: createSubjectHasher(KEY)(ID_NUMBER),
  outcome: 'success' as const,
  status: 200,
  latencyMs: 12,
  upstreamCalls: [],
  code: null,
  subjects: [],
  result: null,
  caseId: null,
  resultCount: null,
  criteria: null,
};

function v1Leaf(request: string, answer: string): ExchangeLeafV1 {
  const requestHash = sha256Hex(request);
  const responseHash = sha256Hex(answer);
  return { ...fields, requestHash, responseHash, bindingHash: bindingHash(fields.id, requestHash, responseHash) };
}

/** What anyone holding an export does: hash every candidate ID number and look for it in the leaf. */
function enumerate(leafJson: string): string | undefined {
  // Province 014, century and sex digit, year 89, and a known first digit: 100,000 numbers remain
  // (the whole space of a province and year is ten times that, about 27 s on one core).
  for (let n = 0; n < 100_000; n++) {
    const candidate = `0140890${String(n).padStart(5, '0')}`;
    if (leafJson.includes(sha256Hex(lookup(candidate)))) return candidate;
  }
  return undefined;
}

describe('exchange-log leaves', () => {
  it('give no ID number back to enumeration once the body digests are keyed (format 2)', () => {
    // Format 1 held plain SHA-256: the enumeration finds the number.
    expect(enumerate(leafText(v1Leaf(lookup(ID_NUMBER), response)))).toBe(ID_NUMBER);
    const leaf = keyedLeaf(fields, digest, lookup(ID_NUMBER), response);
    expect(leaf).toMatchObject({ v: 3, requestMac: digest(lookup(ID_NUMBER)), responseMac: digest(response) });
    expect(enumerate(leafText(leaf))).toBeUndefined();
    // The holder of the key confirms the bodies; another key does not.
    expect(bodiesMatchLeaf(leaf, lookup(ID_NUMBER), response, digest)).toBe(true);
    expect(bodiesMatchLeaf(leaf, lookup('014089001235'), response, digest)).toBe(false);
    expect(bodiesMatchLeaf(leaf, lookup(ID_NUMBER), response, createKeyedDigest(randomBytes(32), 'exchange-bodies'))).toBe(false);
  }, 60_000);

  it('read every format, and check the binding of the digests to the leaf', () => {
    const old = JSON.parse(leafText(v1Leaf(lookup(ID_NUMBER), response))) as Record<string, unknown>;
    expect(leafDigests(old)).toEqual({ format: 1, request: sha256Hex(lookup(ID_NUMBER)), response: sha256Hex(response) });
    expect(bodiesMatchLeaf(old, lookup(ID_NUMBER), response, digest)).toBe(true);
    const current = JSON.parse(leafText(keyedLeaf(fields, digest, lookup(ID_NUMBER), null))) as Record<string, unknown>;
    expect(leafDigests(current)).toEqual({ format: 3, request: digest(lookup(ID_NUMBER)), response: null });
    // Format 2, as written before format 3: the same digests, without format 3's fields.
    const { code: _e, subjects: _s, result: _r, caseId: _c, resultCount: _n, criteria: _q, ...v2fields } = current;
    const v2 = { ...v2fields, v: 2 };
    expect(leafDigests(v2)).toEqual({ format: 2, request: digest(lookup(ID_NUMBER)), response: null });
    expect(bodiesMatchLeaf(JSON.parse(leafText(keyedLeaf(fields, digest, lookup(ID_NUMBER), response))) as Record<string, unknown>, lookup(ID_NUMBER), response, digest)).toBe(true);

    expect(() => leafDigests({ ...current, v: 4 })).toThrow(/unknown leaf format v=4/);
    expect(() => leafDigests({ ...current, v: '2' })).toThrow(/unknown leaf format/);
    expect(() => leafDigests({ ...v2, requestHash: sha256Hex('x') })).toThrow(/format 2 leaf holds requestHash/);
    expect(() => leafDigests({ ...current, requestHash: sha256Hex('x') })).toThrow(/format 3 leaf holds requestHash/);
    expect(() => leafDigests({ ...v2fields, v: 3 })).toThrow(/format 3 leaf needs subjects/);
    expect(() => leafDigests({ ...old, requestMac: digest('x') })).toThrow(/format 1 leaf .* holds requestMac/);
    expect(() => leafDigests({ ...current, requestMac: 'not hex' })).toThrow(/needs requestMac/);
    expect(() => leafDigests({ ...old, responseHash: undefined })).toThrow(/needs requestHash and responseHash/);
    expect(() => leafDigests({ ...current, id: 'ex-2' })).toThrow(/bindingHash does not bind/);
    expect(() => leafDigests({ ...old, requestHash: sha256Hex('other') })).toThrow(/bindingHash does not bind/);
  });

  it('key each purpose with its own derived key', () => {
    const data = canonicalize({ idNumber: ID_NUMBER });
    const values = [
      createKeyedDigest(KEY, 'exchange-bodies')(data),
      createKeyedDigest(KEY, 'dossier-content')(data),
      createKeyedDigest(KEY, 'idempotency-request')(data),
      createSubjectHasher(KEY)(data),
      sha256Hex(data),
    ];
    expect(new Set(values).size).toBe(values.length);
    // Deterministic for one key (another process, a restart), different under another.
    expect(createKeyedDigest(Buffer.from(KEY), 'exchange-bodies')(data)).toBe(values[0]);
    expect(createKeyedDigest(randomBytes(32), 'exchange-bodies')(data)).not.toBe(values[0]);
    expect(() => createKeyedDigest(randomBytes(16), 'exchange-bodies')).toThrow(RangeError);
  });

  it('format 3 lists every subject sorted, once, the primary one included, and checks its own fields', () => {
    const hash = createSubjectHasher(KEY);
    const insurance = hash('1412345678');
    const oldCard = hash('050812345');
    const leaf = keyedLeaf({ ...fields, subjects: [oldCard, insurance, fields.subjectHash, insurance], result: 'mismatch', caseId: 'H52.101.114-261127-0001' }, digest, lookup(ID_NUMBER), response);
    expect(leaf.subjects).toEqual([fields.subjectHash, insurance, oldCard].sort());
    expect(leaf).toMatchObject({ v: 3, result: 'mismatch', caseId: 'H52.101.114-261127-0001', resultCount: null, criteria: null });
    const parsed = JSON.parse(leafText(leaf)) as Record<string, unknown>;
    expect(leafDigests(parsed).format).toBe(3);
    // Keyed hashes only: the identifiers themselves appear nowhere.
    for (const id of [ID_NUMBER, '1412345678', '050812345']) expect(leafText(leaf)).not.toContain(id);

    expect(() => leafDigests({ ...parsed, subjects: [...leaf.subjects].reverse() })).toThrow(/subjects sorted, without repeats/);
    expect(() => leafDigests({ ...parsed, subjects: [insurance] })).toThrow(/subjectHash among its subjects/);
    expect(() => leafDigests({ ...parsed, subjects: ['014089001234'] })).toThrow(/needs subjects/);
    expect(() => leafDigests({ ...parsed, result: 'success' })).toThrow(/needs result/);
    expect(() => leafDigests({ ...parsed, caseId: 7 })).toThrow(/needs caseId/);
    expect(() => leafDigests({ ...parsed, code: 400 })).toThrow(/needs code/);
    expect(() => leafDigests({ ...parsed, resultCount: -1 })).toThrow(/needs resultCount/);
    expect(() => leafDigests({ ...parsed, criteria: { from: 0 } })).toThrow(/needs criteria/);
    expect(leafDigests({ ...parsed, resultCount: 12, criteria: { from: '0', to: '12' } }).format).toBe(3);
  });

  it('are built from an exchange record alone: time, outcome and digests decided in one place', () => {
    const { time, outcome: _outcome, ...rest } = fields;
    const record = { ...rest, startedAt: new Date(time), request: lookup(ID_NUMBER), response };
    // The same bytes as the leaf assembled by hand.
    expect(leafText(exchangeLeaf(record, digest))).toBe(leafText(keyedLeaf(fields, digest, lookup(ID_NUMBER), response)));
    // The outcome follows from the status and the code, unless the recorder knows better.
    expect(exchangeLeaf({ ...record, status: 502, code: 'UPSTREAM_ERROR' }, digest).outcome).toBe('refused');
    expect(exchangeLeaf({ ...record, status: 503, code: 'UPSTREAM_BUSY' }, digest).outcome).toBe('rejected');
    expect(exchangeLeaf({ ...record, status: 403, code: 'FORBIDDEN', upstream: null, outcome: 'denied' }, digest).outcome).toBe('denied');
    // Nothing but the leaf's own fields is written: not the start time, nor the bodies.
    const keys = Object.keys(JSON.parse(leafText(exchangeLeaf({ ...record, response: null }, digest))) as object);
    expect(keys).not.toContain('startedAt');
    expect(keys).not.toContain('request');
    expect(keys).toContain('time');
  });
});
