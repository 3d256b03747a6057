import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leafDigests } from '../../src/audit/leaf.ts';
import { UNKNOWN, insured, people, taxpayers } from '../../src/sandbox/personas.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { sampleDossier } from '../helpers/dossiers.ts';
import { KEYS, startTestGateway, type TestGateway, subjectHasherOf } from '../helpers/gateway.ts';

/**
 * Complete records, end to end through the HTTP API and the sandbox: every identifier an exchange
 * touched, the business result, refused attempts, and the auditors' own searches and exports.
 */

interface Leaf {
  v?: number;
  id: string;
  client: string;
  operation: string;
  upstream: string | null;
  purpose: string | null;
  userHash: string;
  subjectHash: string | null;
  subjects: string[];
  outcome: string;
  status: number;
  code: string | null;
  result: string | null;
  caseId: string | null;
  resultCount: number | null;
  criteria: Record<string, string> | null;
  upstreamCalls: unknown[];
}

let gw: TestGateway;
let store: Store;
let hash: (value: string) => string;

// A person the population database, social insurance and the tax administration all know, with an old card number.
const person = taxpayers
  .filter((t) => t.taxpayerType === 'individual')
  .map((t) => people.find((p) => p.idNumber === t.taxCode)!)
  .find((p) => p.oldIdNumber && p.insuranceCode && !p.dateOfDeath && insured.some((i) => i.idNumber === p.idNumber))!;
const AUDITOR = { 'x-user-id': 'thanhtra-0007', 'x-purpose': 'THANH_TRA_KIEM_TRA' };
const desk = (userId: string, purpose = 'XAC_MINH_DANH_TINH') => ({ 'content-type': 'application/json', 'x-user-id': userId, 'x-purpose': purpose });

beforeAll(async () => {
  gw = await startTestGateway({ 'audit.integrateIntervalMs': 50, 'audit.timestampEverySeconds': 1 });
  store = await openStore({ sqlitePath: gw.dbPath });
  hash = subjectHasherOf(gw);
}, 60_000);
afterAll(async () => {
  await store?.close();
  await gw?.close();
});

/** Integrated leaves matching `match`, waiting until `count` of them are in the log. */
async function leaves(match: (leaf: Leaf) => boolean, count = 1): Promise<Leaf[]> {
  for (let i = 0; ; i++) {
    const rows = await store.db.selectFrom('exchange_entries').select('leaf').orderBy('idx').execute();
    const found = rows.map((r) => JSON.parse(r.leaf) as Leaf).filter(match);
    if (found.length >= count || i >= 200) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exchange(path: string, init: RequestInit & { key?: string }): Promise<{ id: string; status: number; body: Record<string, unknown> }> {
  const res = await gw.fetch(path, init);
  const body = (await res.json()) as Record<string, unknown>;
  const id = res.headers.get('x-exchange-id');
  expect(id, `${path}: ${JSON.stringify(body)}`).toBeTruthy();
  return { id: id!, status: res.status, body };
}

async function search(query: string, headers: Record<string, string> = AUDITOR): Promise<{ items: (Leaf & { index: number })[] }> {
  const res = await gw.fetch(`/v1/audit/entries?${query}`, { key: KEYS.auditor, headers });
  const body = await res.text();
  expect(res.status, body).toBe(200);
  return JSON.parse(body) as { items: (Leaf & { index: number })[] };
}

describe('complete records in the exchange log', () => {
  it("finds a person's lookups by any of their identifiers, the ones the answers named included", async () => {
    const officer = 'canbo-motcua-0101';
    const verify = await exchange('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers: desk(officer), body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }) });
    const lookup = await exchange('/v1/citizens/lookup', { method: 'POST', key: KEYS.agency, headers: desk(officer, 'TIEP_NHAN_HO_SO'), body: JSON.stringify({ idNumber: person.idNumber, fields: ['fullName', 'oldIdNumber'] }) });
    expect(lookup.body.oldIdNumber).toBe(person.oldIdNumber);
    const insurance = await exchange('/v1/social-insurance/lookup', { method: 'POST', key: KEYS.agency, headers: desk(officer), body: JSON.stringify({ insuranceCode: person.insuranceCode }) });
    expect(insurance.body.idNumber).toBe(person.idNumber);
    const tax = await exchange(`/v1/taxpayers/${person.idNumber}`, { key: KEYS.agency, headers: desk(officer) });
    expect([verify, lookup, insurance, tax].map((e) => e.status)).toEqual([200, 200, 200, 200]);
    const ids = [verify.id, lookup.id, insurance.id, tax.id];
    expect(await leaves((l) => ids.includes(l.id), 4)).toHaveLength(4);

    // The lookup by insurance code: both identifiers, sorted, the one asked for as the primary subject.
    const [insuranceLeaf] = await leaves((l) => l.id === insurance.id);
    expect(insuranceLeaf).toMatchObject({ v: 3, subjectHash: hash(person.insuranceCode!), subjects: [hash(person.insuranceCode!), hash(person.idNumber)].sort(), result: null, code: null, caseId: null, resultCount: null, criteria: null });
    expect(leafDigests(insuranceLeaf as unknown as Record<string, unknown>).format).toBe(3);
    const [lookupLeaf] = await leaves((l) => l.id === lookup.id);
    expect(lookupLeaf!.subjects).toEqual([hash(person.idNumber), hash(person.oldIdNumber!)].sort());

    const exchanges = (items: Leaf[]) => items.filter((e) => e.upstream !== null).map((e) => e.id).sort();
    // By ID number: all four (the tax code of a person is their ID number).
    expect(exchanges((await search(`subject=${person.idNumber}&limit=1000`)).items)).toEqual([...ids].sort());
    // By insurance code: the insurance lookup; by the old card number: the lookup whose answer named it.
    expect(exchanges((await search(`subject=${person.insuranceCode}&limit=1000`)).items)).toEqual([insurance.id]);
    expect(exchanges((await search(`subject=${person.oldIdNumber}&limit=1000`)).items)).toEqual([lookup.id]);
    // Nothing in clear.
    const text = JSON.stringify(await leaves((l) => ids.includes(l.id), 4));
    for (const id of [person.idNumber, person.insuranceCode!, person.oldIdNumber!, person.fullName, officer]) expect(text).not.toContain(id);
  });

  it('records the business result: match, mismatch, not_found', async () => {
    const headers = desk('canbo-motcua-0102');
    const call = (idNumber: string, fullName: string) =>
      gw.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers, body: JSON.stringify({ idNumber, fullName, dateOfBirth: person.dateOfBirth }) });
    const match = await call(person.idNumber, person.fullName);
    const mismatch = await call(person.idNumber, `${person.fullName} Thị`);
    const unknown = await call(UNKNOWN.idNumber, person.fullName);
    expect(((await mismatch.json()) as { result: string }).result).toBe('mismatch');
    const notFound = await gw.fetch('/v1/citizens/lookup', { method: 'POST', key: KEYS.agency, headers, body: JSON.stringify({ idNumber: UNKNOWN.idNumber }) });
    expect(notFound.status).toBe(404);
    const expected = new Map([
      [match.headers.get('x-exchange-id')!, { result: 'match', outcome: 'success', status: 200, code: null }],
      [mismatch.headers.get('x-exchange-id')!, { result: 'mismatch', outcome: 'success', status: 200, code: null }],
      [unknown.headers.get('x-exchange-id')!, { result: 'not_found', outcome: 'success', status: 200, code: null }],
      [notFound.headers.get('x-exchange-id')!, { result: 'not_found', outcome: 'business_error', status: 404, code: 'SUBJECT_NOT_FOUND' }],
    ]);
    const found = await leaves((l) => expected.has(l.id), 4);
    for (const leaf of found) expect(leaf).toMatchObject(expected.get(leaf.id)!);
    expect(found).toHaveLength(4);
  });

  it('records refused attempts on personal data as denied, hashing only well-formed identifiers; not unauthenticated ones', async () => {
    const attempt = (userId: string, path: string, init: RequestInit & { key?: string }) => gw.fetch(path, { ...init, headers: { ...desk(userId), ...(init.headers as Record<string, string>) } });
    // Not valid: an ID number of letters (400), and an insurance lookup naming two identifiers, one malformed.
    expect((await attempt('denied-01', '/v1/citizens/lookup', { method: 'POST', key: KEYS.agency, body: JSON.stringify({ idNumber: '01408900123X' }) })).status).toBe(400);
    expect((await attempt('denied-02', '/v1/social-insurance/lookup', { method: 'POST', key: KEYS.agency, body: JSON.stringify({ idNumber: person.idNumber, insuranceCode: '14-12' }) })).status).toBe(400);
    // A purpose the client is not registered for (403), no purpose at all (400), a client without the role (403).
    expect((await attempt('denied-03', `/v1/taxpayers/${person.idNumber}`, { key: KEYS.agency, headers: { 'x-purpose': 'THANH_TRA_KIEM_TRA' } })).status).toBe(403);
    expect((await gw.fetch(`/v1/taxpayers/${person.idNumber}`, { key: KEYS.agency, headers: { 'x-user-id': 'denied-04' } })).status).toBe(400);
    expect((await attempt('denied-05', '/v1/citizens/lookup', { method: 'POST', key: KEYS.auditor, body: JSON.stringify({ idNumber: person.idNumber }) })).status).toBe(403);
    // A body nested too deeply to canonicalise: still a 400 problem, and still recorded.
    const deep = await attempt('denied-07', '/v1/citizens/lookup', { method: 'POST', key: KEYS.agency, body: `{"idNumber":${'['.repeat(20_000)}${']'.repeat(20_000)}}` });
    expect(deep.status).toBe(400);
    expect(deep.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    // Unauthenticated: no leaf.
    expect((await attempt('denied-06', '/v1/citizens/lookup', { method: 'POST', key: 'not-a-key-of-anyone', body: JSON.stringify({ idNumber: person.idNumber }) })).status).toBe(401);

    const users = new Map(['denied-01', 'denied-02', 'denied-03', 'denied-04', 'denied-05', 'denied-06', 'denied-07'].map((u) => [hash(`user:${u}`), u]));
    const found = new Map((await leaves((l) => users.has(l.userHash), 6)).map((l) => [users.get(l.userHash)!, l]));
    const denied = { v: 3, outcome: 'denied', upstream: null, upstreamCalls: [], result: null };
    expect(found.get('denied-01')).toMatchObject({ ...denied, client: 'sandbox-agency', operation: 'lookupCitizen', status: 400, code: 'VALIDATION_FAILED', subjects: [], subjectHash: null });
    expect(found.get('denied-02')).toMatchObject({ ...denied, operation: 'lookupSocialInsurance', status: 400, code: 'VALIDATION_FAILED', subjects: [hash(person.idNumber)], subjectHash: hash(person.idNumber) });
    expect(found.get('denied-03')).toMatchObject({ ...denied, operation: 'getTaxpayer', status: 403, code: 'PURPOSE_NOT_ALLOWED', purpose: 'THANH_TRA_KIEM_TRA', subjects: [hash(person.idNumber)] });
    expect(found.get('denied-04')).toMatchObject({ ...denied, operation: 'getTaxpayer', status: 400, code: 'ACCOUNTABILITY_REQUIRED', purpose: null });
    expect(found.get('denied-05')).toMatchObject({ ...denied, client: 'sandbox-auditor', operation: 'lookupCitizen', status: 403, code: 'FORBIDDEN' });
    expect(found.get('denied-07')).toMatchObject({ ...denied, operation: 'lookupCitizen', status: 400, code: 'VALIDATION_FAILED', subjects: [] });
    expect(found.has('denied-06')).toBe(false);
    expect(found.size).toBe(6);
    // A search for the outcome finds them; the refused ID number of letters is nowhere.
    const listed = (await search('outcome=denied&limit=1000')).items;
    expect(listed.filter((e) => users.has(e.userHash))).toHaveLength(6);
    expect(JSON.stringify([...found.values()])).not.toContain('01408900123X');
  });

  it("records the auditors' own searches (who, why, which subject, how many) and exports", async () => {
    const before = await search(`subject=${person.idNumber}&limit=1000`, { ...AUDITOR, 'x-user-id': 'thanhtra-0042' });
    const plain = await search('operation=verifyCitizen&limit=5', { 'x-user-id': 'thanhtra-0043' });
    const searches = await leaves((l) => l.operation === 'listAuditEntries' && [hash('user:thanhtra-0042'), hash('user:thanhtra-0043')].includes(l.userHash), 2);
    const bySubject = searches.find((l) => l.userHash === hash('user:thanhtra-0042'))!;
    expect(bySubject).toMatchObject({
      v: 3,
      client: 'sandbox-auditor',
      upstream: null,
      upstreamCalls: [],
      purpose: 'THANH_TRA_KIEM_TRA',
      outcome: 'success',
      status: 200,
      subjectHash: hash(person.idNumber),
      subjects: [hash(person.idNumber)],
      resultCount: before.items.length,
      criteria: { limit: '1000' },
    });
    expect(before.items.length).toBeGreaterThanOrEqual(4);
    expect(searches.find((l) => l.userHash === hash('user:thanhtra-0043'))).toMatchObject({ subjects: [], subjectHash: null, resultCount: plain.items.length, criteria: { operation: 'verifyCitizen', limit: '5' } });
    // The search is about the person: a later search by the same identifier lists it.
    const after = await search(`subject=${person.idNumber}&limit=1000`);
    expect(after.items.some((e) => e.id === bySubject.id)).toBe(true);
    // A search by subject without saying who and why is refused, and the refusal is recorded too.
    const refused = await gw.fetch(`/v1/audit/entries?subject=${person.idNumber}`, { key: KEYS.auditor });
    expect(refused.status).toBe(400);
    expect(await leaves((l) => l.operation === 'listAuditEntries' && l.code === 'ACCOUNTABILITY_REQUIRED')).toMatchObject([{ outcome: 'denied', subjects: [hash(person.idNumber)], resultCount: null }]);

    // Paging through the searches' own entries ends: a full page of n ≥ 2 adds one entry only.
    expect((await gw.fetch('/v1/audit/entries?limit=1', { key: KEYS.auditor })).status).toBe(400);
    let from: number | null = 0;
    let pages = 0;
    while (from !== null) {
      const res = await gw.fetch(`/v1/audit/entries?operation=listAuditEntries&limit=2&from=${from}`, { key: KEYS.auditor, headers: { 'x-user-id': 'thanhtra-0045' } });
      from = ((await res.json()) as { nextFrom: number | null }).nextFrom;
      pages++;
      expect(pages).toBeLessThan(100);
      // Each page's own entry integrated before the next page is asked for.
      await leaves((l) => l.userHash === hash('user:thanhtra-0045'), pages);
    }

    // Resolving an officer: which officer was resolved, by whom.
    const officerHash = hash('user:thanhtra-0042');
    const resolved = await gw.fetch(`/v1/audit/officers/${officerHash}`, { key: KEYS.auditor, headers: { ...AUDITOR, 'x-user-id': 'thanhtra-0046' } });
    expect(resolved.status, await resolved.clone().text()).toBe(200);
    expect((await leaves((l) => l.operation === 'getAuditOfficer' && l.userHash === hash('user:thanhtra-0046')))[0]).toMatchObject({ upstream: null, outcome: 'success', purpose: 'THANH_TRA_KIEM_TRA', criteria: { userHash: officerHash } });

    // An export: who exported which range.
    // Once a timestamped checkpoint covers the entries above (an export ends at one).
    for (let i = 0; i < 150; i++) {
      const cp = await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor });
      const body = cp.status === 200 ? ((await cp.json()) as { treeSize: number; timestamp: string | null }) : undefined;
      if (body?.timestamp && body.treeSize >= 10) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const res = await gw.fetch('/v1/audit/export?from=2', { key: KEYS.auditor, headers: { 'x-user-id': 'thanhtra-0044' } });
    expect(res.status, await res.clone().text()).toBe(200);
    const name = /lienthong-audit-(\d+)-(\d+)/.exec(res.headers.get('content-disposition') ?? '')!;
    await res.arrayBuffer();
    const [exported] = await leaves((l) => l.operation === 'exportAudit');
    expect(exported).toMatchObject({ client: 'sandbox-auditor', upstream: null, outcome: 'success', status: 200, responseMac: null, criteria: { from: name[1], to: name[2] }, resultCount: Number(name[2]) - Number(name[1]) } as Partial<Leaf>);
    expect(Number(name[1])).toBe(2);
    expect(Number(name[2])).toBeGreaterThanOrEqual(10);
  }, 30_000);

  it('records the case: X-Case-Id of a call, the dossier code of a delivery', async () => {
    const caseId = 'H52.101.114-261127-0042';
    const call = await exchange('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers: { ...desk('canbo-motcua-0103'), 'x-case-id': caseId }, body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }) });
    expect((await leaves((l) => l.id === call.id))[0]).toMatchObject({ caseId, result: 'match' });

    const dossier = sampleDossier(77);
    const created = await gw.fetch('/v1/dossiers', { method: 'POST', key: KEYS.portal, headers: desk('canbo-tohieu-0042', 'TIEP_NHAN_HO_SO'), body: JSON.stringify(dossier) });
    expect(created.status, await created.clone().text()).toBe(202);
    const applicant = (dossier.applicant as { identifier: string }).identifier;
    const [delivery] = await leaves((l) => l.operation === 'deliverDossier' && l.caseId === dossier.code);
    expect(delivery).toMatchObject({ v: 3, upstream: 'dvcqg', subjectHash: hash(applicant), subjects: [hash(applicant)], result: null, code: null });
  }, 30_000);
});
