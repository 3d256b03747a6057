import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, loadConfig } from '../../src/config/load.ts';
import { maskIdentifier } from '../../src/core/identifiers/id-number.ts';
import type { components } from '../../src/generated/gateway.ts';
import { people } from '../../src/sandbox/personas.ts';
import { eventually, sampleDossier } from '../helpers/dossiers.ts';
import { AUDITOR_HEADERS, KEYS, startTestGateway, type TestGateway, subjectHasherOf } from '../helpers/gateway.ts';

/**
 * "Who looked at my data", end to end through the HTTP API and the sandbox: a citizen's access
 * list (getSubjectAccesses) holds every exchange the log holds about them, as the auditors' own
 * search by their ID number finds it, and nothing about anyone else.
 */

const living = people.filter((p) => !p.dateOfDeath);
const A = living[30]!;
const B = living[31]!;
const OTHER_PORTAL_KEY = 'other-portal-key-0001';
const ACCOUNT = { A: 'cd-acc-000030', B: 'cd-acc-000031' };
const VIEW = { 'x-user-id': 'portal-session-0001', 'x-purpose': 'XEM_LICH_SU_TRUY_CAP' };
const desk = (userId: string, purpose = 'XAC_MINH_DANH_TINH') => ({ 'content-type': 'application/json', 'x-user-id': userId, 'x-purpose': purpose });

type Access = components['schemas']['SubjectAccess'];
type AccessPage = components['schemas']['SubjectAccessPage'];
interface Entry {
  index: number;
  id: string;
  time: string;
  agency: string;
  client: string;
  operation: string;
  upstream: string | null;
  purpose: string | null;
  caseId?: string | null;
  outcome: string;
  userHash: string;
  subjects?: string[];
  criteria?: Record<string, string> | null;
}

/** The sandbox's clients, and a second portal of another agency that links no one. */
function clients(): unknown[] {
  const sandbox = loadConfig({}, { file: 'config/sandbox.yaml' }).clients;
  return JSON.parse(JSON.stringify([...sandbox, { id: 'other-portal', agency: 'H52.30', roles: ['portal'], keyHash: hashApiKey(OTHER_PORTAL_KEY), purposes: ['LIEN_KET_TAI_KHOAN', 'XEM_LICH_SU_TRUY_CAP'] }])) as unknown[];
}

async function startGateway(overrides: Record<string, unknown> = {}): Promise<TestGateway> {
  return startTestGateway({ 'audit.integrateIntervalMs': 50, 'outbox.pollIntervalMs': 50, clients: clients(), ...overrides });
}

async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function link(gw: TestGateway, account: string, person: (typeof living)[number]): Promise<string> {
  const res = await gw.fetch('/v1/accounts/links', {
    method: 'POST',
    headers: desk('portal-session-0001', 'LIEN_KET_TAI_KHOAN'),
    body: JSON.stringify({ portalAccountId: account, subject: { type: 'person', idNumber: person.idNumber }, evidence: { fullName: person.fullName, dateOfBirth: person.dateOfBirth } }),
  });
  await json(res, 201);
  return res.headers.get('x-exchange-id')!;
}

async function verify(gw: TestGateway, person: (typeof living)[number], officer: string, extra: Record<string, string> = {}): Promise<string> {
  const res = await gw.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers: { ...desk(officer), ...extra }, body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }) });
  await json(res, 200);
  return res.headers.get('x-exchange-id')!;
}

const accesses = (gw: TestGateway, query: string, key: string = KEYS.portal, headers: Record<string, string> = VIEW) => gw.fetch(`/v1/subjects/accesses?${query}`, { key, headers });

/** Every page of an access list, following nextBefore; checks the pages on the way. */
async function allAccesses(gw: TestGateway, query: string, key?: string, headers?: Record<string, string>): Promise<{ items: Access[]; pages: number; subject: AccessPage['subject'] }> {
  const items: Access[] = [];
  let before: number | null = null;
  let pages = 0;
  let subject: AccessPage['subject'] | undefined;
  do {
    const page: AccessPage = await json<AccessPage>(await accesses(gw, `${query}${before === null ? '' : `&before=${before}`}`, key, headers), 200);
    subject ??= page.subject;
    expect(page.subject).toEqual(subject);
    if (page.nextBefore !== null) expect(page.nextBefore).toBe(page.items[page.items.length - 1]!.index);
    items.push(...page.items);
    before = page.nextBefore;
    pages++;
  } while (before !== null);
  return { items, pages, subject: subject! };
}

/** Every entry the auditors' search by an identifier finds, all pages. */
async function auditorEntries(gw: TestGateway, identifier: string): Promise<Entry[]> {
  const found: Entry[] = [];
  for (let from: number | null = 0; from !== null; ) {
    const page: { items: Entry[]; nextFrom: number | null } = await json(await gw.fetch(`/v1/audit/entries?subject=${identifier}&from=${from}&limit=7`, { key: KEYS.auditor, headers: AUDITOR_HEADERS }), 200);
    found.push(...page.items);
    from = page.nextFrom;
  }
  return found;
}

/** The log's entries about `identifier` once every exchange of `ids` is among them. */
function settled(gw: TestGateway, identifier: string, ids: string[]): Promise<Entry[]> {
  return eventually(
    async () => {
      const entries = await auditorEntries(gw, identifier);
      return ids.every((id) => entries.some((e) => e.id === id)) ? entries : undefined;
    },
    15_000,
    'the exchanges in the exchange log',
  );
}

/** What an access shows of an entry of the log. */
const shown = (e: Entry) => ({ index: e.index, time: e.time, agency: e.agency, client: e.client, operation: e.operation, upstream: e.upstream, purpose: e.purpose, caseId: e.caseId ?? null, outcome: e.outcome });
const shownOf = (a: Access) => ({ index: a.index, time: a.time, agency: a.agency, client: a.client, operation: a.operation, upstream: a.upstream, purpose: a.purpose, caseId: a.caseId, outcome: a.outcome });

describe('GET /v1/subjects/accesses', () => {
  let gw: TestGateway;
  let hash: (value: string) => string;
  const aboutA: string[] = [];
  const aboutB: string[] = [];

  beforeAll(async () => {
    gw = await startGateway();
    hash = subjectHasherOf(gw);
    aboutA.push(await link(gw, ACCOUNT.A, A));
    aboutB.push(await link(gw, ACCOUNT.B, B));
    // A's identity checked at a desk (one with a case), A's record looked up by the portal, A's dossier handed over.
    aboutA.push(await verify(gw, A, 'canbo-motcua-0201'));
    aboutA.push(await verify(gw, A, 'canbo-motcua-0202', { 'x-case-id': 'H52.101.114-261204-0007' }));
    const lookup = await gw.fetch('/v1/citizens/lookup', { method: 'POST', headers: desk('portal-session-0001'), body: JSON.stringify({ idNumber: A.idNumber }) });
    await json(lookup, 200);
    aboutA.push(lookup.headers.get('x-exchange-id')!);
    const dossier = sampleDossier(30, { applicant: { type: 'citizen', identifier: A.idNumber, name: A.fullName } });
    await json(await gw.fetch('/v1/dossiers', { method: 'POST', key: KEYS.agency, headers: desk('canbo-motcua-0201', 'TIEP_NHAN_HO_SO'), body: JSON.stringify(dossier) }), 202);
    // B's identity checked twice.
    aboutB.push(await verify(gw, B, 'canbo-motcua-0203'));
    aboutB.push(await verify(gw, B, 'canbo-motcua-0201'));
    // The dossier's delivery to the national portal is an exchange about A too.
    await eventually(
      async () => ((await auditorEntries(gw, A.idNumber)).some((e) => e.operation === 'deliverDossier') ? true : undefined),
      15_000,
      "the dossier's delivery in the exchange log",
    );
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  it("lists exactly the log's entries about the person, newest first, paged without gap or overlap, and none about anyone else", async () => {
    await settled(gw, A.idNumber, aboutA);
    const listed = await allAccesses(gw, `portalAccountId=${ACCOUNT.A}&limit=2`);
    expect(listed.subject).toEqual({ type: 'person', maskedIdentifier: maskIdentifier(A.idNumber) });
    const indexes = listed.items.map((a) => a.index);
    expect(listed.pages).toBeGreaterThan(2);
    expect(indexes).toEqual([...indexes].sort((x, y) => y - x));
    expect(new Set(indexes).size).toBe(indexes.length);

    // The auditors' search by A's ID number, made after: the same entries, and later ones only
    // (this search's own entries and the list's pages, each an entry about A).
    const newest = indexes[0]!;
    const entries = await auditorEntries(gw, A.idNumber);
    expect(entries.filter((e) => e.index <= newest).map(shown).reverse()).toEqual(listed.items.map(shownOf));
    for (const later of entries.filter((e) => e.index > newest)) expect(['getSubjectAccesses', 'listAuditEntries']).toContain(later.operation);
    for (const id of aboutA) expect(entries.find((e) => e.id === id)!.index).toBeLessThanOrEqual(newest);
    // The exchanges made about A (the auditors' searches, appended after they answer, may or may not be in yet).
    expect([...new Set(listed.items.map((a) => a.operation))].filter((o) => o !== 'listAuditEntries').sort()).toEqual(['createAccountLink', 'createDossier', 'deliverDossier', 'lookupCitizen', 'verifyCitizen']);

    // Nothing about B: B's entries are in the log, and none of them is listed.
    const bEntries = await settled(gw, B.idNumber, aboutB);
    expect(bEntries.length).toBeGreaterThanOrEqual(aboutB.length);
    expect(bEntries.filter((e) => indexes.includes(e.index))).toEqual([]);
    const listedB = await allAccesses(gw, `portalAccountId=${ACCOUNT.B}`);
    expect(listedB.items.filter((a) => indexes.includes(a.index))).toEqual([]);
    expect(listedB.items.filter((a) => a.operation === 'verifyCitizen')).toHaveLength(2);

    // One page as large as the history gives the same entries (and newer ones: the pages just read).
    const one = await json<AccessPage>(await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100`), 200);
    expect(one.items.filter((a) => a.index <= newest)).toEqual(listed.items);
    expect(one.nextBefore).toBeNull();
  });

  it('says when, which agency, what and why in words, never the officer by default; Cache-Control no-store', async () => {
    const ids = await settled(gw, A.idNumber, aboutA);
    const res = await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { items } = await json<AccessPage>(res, 200);
    const withCase = items.find((a) => a.index === ids.find((e) => e.id === aboutA[2])!.index)!;
    expect(withCase).toEqual({
      index: expect.any(Number),
      time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$/),
      agency: 'H52.101.114',
      client: 'sandbox-agency',
      operation: 'verifyCitizen',
      summary: "Verify a person's name and date of birth",
      upstream: 'population',
      purpose: 'XAC_MINH_DANH_TINH',
      purposeDescription: 'Identity verification at a one-stop desk',
      caseId: 'H52.101.114-261204-0007',
      outcome: 'success',
      officer: null,
    });
    expect(Math.abs(Date.parse(withCase.time) - Date.now())).toBeLessThan(120_000);
    expect(items.every((a) => a.officer === null)).toBe(true);
    // A dossier handed over: its delivery, for the dossier as its case, with the purpose it was received for (a procedure's, no description).
    expect(items.find((a) => a.operation === 'deliverDossier')).toMatchObject({ upstream: 'dvcqg', caseId: expect.stringMatching(/^H52\.101\.114-/), summary: expect.stringMatching(/^Deliver a dossier/) });
    // No officer's identifier and no ID number anywhere in the answer.
    const text = JSON.stringify(items);
    for (const secret of [A.idNumber, 'canbo-motcua-0201', 'canbo-motcua-0202', hash('user:canbo-motcua-0201')]) expect(text).not.toContain(secret);
  });

  it('is itself an entry about the person, found by their hash though the portal named only the account', async () => {
    const before = await json<AccessPage>(await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=5`), 200);
    const newest = before.items[0]?.index ?? -1;
    const listCall = await eventually(
      async () => {
        const page = await json<AccessPage>(await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=5`), 200);
        return page.items.find((a) => a.index > newest && a.operation === 'getSubjectAccesses');
      },
      10_000,
      'the list call in the next answer',
    );
    expect(listCall).toMatchObject({
      operation: 'getSubjectAccesses',
      summary: 'Who asked about this person or organisation',
      client: 'sandbox-portal',
      agency: 'H52',
      upstream: null,
      purpose: 'XEM_LICH_SU_TRUY_CAP',
      purposeDescription: expect.any(String),
      outcome: 'success',
    });
    // The recorded entry lists A's hash among its subjects, and names neither the account nor the person in clear.
    const recorded = await eventually(
      async () => (await auditorEntries(gw, A.idNumber)).find((e) => e.index === listCall.index),
      10_000,
      'the list call among the entries about A',
    );
    expect(recorded.subjects).toEqual([hash(A.idNumber)]);
    expect(recorded.criteria).toEqual({ limit: '5' });
    expect(JSON.stringify(recorded)).not.toContain(ACCOUNT.A);
    // B's list does not show it.
    const listedB = await allAccesses(gw, `portalAccountId=${ACCOUNT.B}&limit=100`);
    expect(listedB.items.some((a) => a.index === recorded.index)).toBe(false);
  });

  it("is the same list for an agency acting for the portal's agency, and for an auditor naming the ID number", async () => {
    await settled(gw, A.idNumber, aboutA);
    const portal = await allAccesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100`);
    const agency = await allAccesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100`, KEYS.agency, { 'x-user-id': 'canbo-motcua-0201', 'x-purpose': 'XEM_LICH_SU_TRUY_CAP' });
    const auditor = await allAccesses(gw, `subject=${A.idNumber}&limit=100`, KEYS.auditor, AUDITOR_HEADERS);
    expect(auditor.subject).toEqual({ type: null, maskedIdentifier: maskIdentifier(A.idNumber) });
    expect(agency.subject).toEqual(portal.subject);
    const newest = portal.items[0]!.index;
    // Each later answer adds the entries of the calls before it (lists and searches), and only those.
    expect(agency.items.filter((a) => a.index <= newest)).toEqual(portal.items);
    expect(auditor.items.filter((a) => a.index <= newest)).toEqual(portal.items);
    for (const later of auditor.items.filter((a) => a.index > newest)) expect(['getSubjectAccesses', 'listAuditEntries']).toContain(later.operation);
  });

  it('answers 404 LINK_NOT_FOUND for an account linked by another portal, or by no one', async () => {
    const other = { 'x-user-id': 'other-portal-session', 'x-purpose': 'XEM_LICH_SU_TRUY_CAP' };
    for (const account of [ACCOUNT.A, 'cd-acc-unlinked']) {
      const problem = await json<{ code: string; errors: { field: string }[] }>(await accesses(gw, `portalAccountId=${account}`, OTHER_PORTAL_KEY, other), 404);
      expect(problem).toMatchObject({ code: 'LINK_NOT_FOUND', errors: [{ field: 'query.portalAccountId' }] });
    }
    expect(await json(await accesses(gw, 'portalAccountId=cd-acc-unlinked'), 404)).toMatchObject({ code: 'LINK_NOT_FOUND' });
  });

  it('refuses a portal naming the person, an auditor naming an account, either naming nothing, and a call without a purpose', async () => {
    const refused = async (res: Response, status: number, code: string, field?: string) => {
      const problem = await json<{ code: string; errors?: { field: string }[] }>(res, status);
      expect(problem.code).toBe(code);
      if (field) expect(problem.errors?.map((e) => e.field)).toContain(field);
    };
    await refused(await accesses(gw, `subject=${A.idNumber}`), 400, 'VALIDATION_FAILED', 'query.subject');
    await refused(await accesses(gw, `portalAccountId=${ACCOUNT.A}&subject=${A.idNumber}`), 400, 'VALIDATION_FAILED', 'query.subject');
    await refused(await accesses(gw, 'limit=5'), 400, 'VALIDATION_FAILED', 'query.portalAccountId');
    await refused(await accesses(gw, `portalAccountId=${ACCOUNT.A}`, KEYS.auditor, AUDITOR_HEADERS), 400, 'VALIDATION_FAILED', 'query.portalAccountId');
    await refused(await accesses(gw, 'limit=5', KEYS.auditor, AUDITOR_HEADERS), 400, 'VALIDATION_FAILED', 'query.subject');
    await refused(await accesses(gw, `portalAccountId=${ACCOUNT.A}`, KEYS.portal, { 'x-user-id': 'portal-session-0001' }), 400, 'ACCOUNTABILITY_REQUIRED');
    await refused(await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=101`), 400, 'VALIDATION_FAILED', 'query.limit');
    // An operator is no role of the operation.
    expect((await accesses(gw, `subject=${A.idNumber}`, KEYS.operator, { 'x-user-id': 'ops-01', 'x-purpose': 'LIEN_KET_TAI_KHOAN' })).status).toBe(403);
  });

  it('records a refused call (no purpose) without the account in clear', async () => {
    const officer = 'portal-session-0099';
    await json(await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=7`, KEYS.portal, { 'x-user-id': officer }), 400);
    const [refused] = await eventually(
      async () => {
        const page = await json<{ items: (Entry & { status: number; code: string | null })[] }>(
          await gw.fetch('/v1/audit/entries?operation=getSubjectAccesses&client=sandbox-portal&limit=1000', { key: KEYS.auditor }),
          200,
        );
        const found = page.items.filter((e) => e.userHash === hash(`user:${officer}`));
        return found.length > 0 ? found : undefined;
      },
      10_000,
      'the refused call in the exchange log',
    );
    expect(refused).toMatchObject({ status: 400, code: 'ACCOUNTABILITY_REQUIRED', outcome: 'denied' });
    expect(refused!.criteria).toEqual({ limit: '7' });
    expect(JSON.stringify(refused)).not.toContain(ACCOUNT.A);
  });

  it('gives only entries at or after `since`', async () => {
    // One more exchange about A in a later second than every one before it.
    const earlier = await allAccesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(earlier.items[0]!.time) + 1100 - Date.now())));
    const late = await verify(gw, A, 'canbo-motcua-0204');
    const entry = (await settled(gw, A.idNumber, [late])).find((e) => e.id === late)!;
    const all = await allAccesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100`);
    const newest = all.items[0]!.index;
    // That exchange's time, to the second (as answered): it and the entries after it.
    const since = entry.time;
    const page = await json<AccessPage>(await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100&since=${encodeURIComponent(since)}`), 200);
    const expected = all.items.filter((a) => Date.parse(a.time) >= Date.parse(since));
    expect(expected.length).toBeLessThan(all.items.length);
    expect(expected.map((a) => a.index)).toContain(entry.index);
    expect(page.items.filter((a) => a.index <= newest)).toEqual(expected);
  });
});

describe('the README', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  it("runs its commands as written: the portal's list and the inspector's show the desk's check", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Who asked about me\n'));
    const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    expect(script, 'the README shows the commands').toBeDefined();
    // One answer a line, to read them apart; otherwise the commands as written.
    const { stdout } = await promisify(execFile)('bash', ['-euc', script!.replaceAll('curl -s ', "curl -s -w '\\n' ")], { env: { ...process.env, GW: gw.url } });
    const [linked, verified, listed, inspected] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(linked).toMatchObject({ portalAccountId: 'cd-000184522', state: 'active' });
    expect(verified).toMatchObject({ result: 'match' });
    const desk = { client: 'sandbox-agency', operation: 'verifyCitizen', purpose: 'XAC_MINH_DANH_TINH', outcome: 'success', officer: null };
    expect(listed).toMatchObject({ subject: { type: 'person', maskedIdentifier: '014*******34' }, items: expect.arrayContaining([expect.objectContaining(desk)]) });
    expect(inspected).toMatchObject({ subject: { type: null, maskedIdentifier: '014*******34' }, items: expect.arrayContaining([expect.objectContaining(desk)]) });
  });
});

describe('GET /v1/subjects/accesses with subjectAccesses.officer: pseudonym', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ 'subjectAccesses.officer': 'pseudonym' });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  it("names each access's officer by the log's keyed pseudonym (userHash), never in clear", async () => {
    const ids = [await link(gw, ACCOUNT.A, A), await verify(gw, A, 'canbo-motcua-0301')];
    const entries = await settled(gw, A.idNumber, ids);
    const { items } = await json<AccessPage>(await accesses(gw, `portalAccountId=${ACCOUNT.A}&limit=100`), 200);
    const hash = subjectHasherOf(gw);
    const verifyEntry = entries.find((e) => e.id === ids[1])!;
    expect(items.find((a) => a.index === verifyEntry.index)!.officer).toBe(hash('user:canbo-motcua-0301'));
    for (const access of items) {
      const entry = entries.find((e) => e.index === access.index);
      if (entry) expect(access.officer).toBe(entry.userHash);
      expect(access.officer).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(JSON.stringify(items)).not.toContain('canbo-motcua-0301');
  });
});
