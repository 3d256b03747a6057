import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, hashApiKey, loadConfig } from '../../src/config/load.ts';
import { enterprises, people, procedures, taxpayers } from '../../src/sandbox/personas.ts';
import { eventually, fixtureAt, sampleDossier, simulatorDossier, statusEvent } from '../helpers/dossiers.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/**
 * Whose data a client sees: two portals of different agencies, a desk acting for the first
 * portal's agency, and an operator. A dossier or a link belongs to the client that made it; to
 * another portal it does not exist. And the purposes a client may claim in X-Purpose.
 */

const KEY = {
  portalA: 'scoping-portal-a-key-0001',
  portalB: 'scoping-portal-b-key-0001',
  desk: 'scoping-desk-key-0001',
  narrow: 'scoping-narrow-key-0001',
  operator: 'scoping-operator-key-0001',
} as const;
const EVERYDAY = ['TIEP_NHAN_HO_SO', 'LIEN_KET_TAI_KHOAN', 'XAC_MINH_DANH_TINH'];
/** A procedure of the sandbox's national catalogue, and the family of codes it belongs to. */
const PROCEDURE = procedures[0]!.code;
const FAMILY = `${PROCEDURE.split('.').slice(0, 2).join('.')}.*`;

let gw: TestGateway;
let dvcqg: string;
beforeAll(async () => {
  gw = await startTestGateway({
    'outbox.pollIntervalMs': 50,
    clients: [
      { id: 'portal-a', agency: 'H52', roles: ['portal'], keyHash: hashApiKey(KEY.portalA), purposes: [...EVERYDAY, '*'] },
      { id: 'portal-b', agency: 'H52.30', roles: ['portal'], keyHash: hashApiKey(KEY.portalB), purposes: [...EVERYDAY, '*'] },
      { id: 'desk-a', agency: 'H52.101.114', actsFor: ['H52'], roles: ['agency'], keyHash: hashApiKey(KEY.desk), purposes: EVERYDAY },
      // Only the procedures of one family, and no purpose code.
      { id: 'desk-narrow', agency: 'H52.101.115', roles: ['agency'], keyHash: hashApiKey(KEY.narrow), purposes: [FAMILY] },
      { id: 'ops', agency: 'H52.18', roles: ['operator'], keyHash: hashApiKey(KEY.operator), purposes: ['TIEP_NHAN_HO_SO', 'LIEN_KET_TAI_KHOAN'] },
    ],
  });
  dvcqg = gw.gateway.sandbox!.urls.dvcqg!;
});
afterAll(async () => {
  await gw?.close();
});

const accountable = (purpose = 'TIEP_NHAN_HO_SO') => ({ 'content-type': 'application/json', 'x-user-id': 'canbo-0042', 'x-purpose': purpose });
const call = (key: string, path: string, init: { method?: string; body?: unknown; purpose?: string } = {}) =>
  gw.fetch(path, { method: init.method ?? 'GET', key, headers: accountable(init.purpose), ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
const body = async (res: Response) => (await res.json()) as Record<string, unknown> & { code?: string; detail?: string };

function rows<T>(sql: string, ...params: unknown[]): T[] {
  const db = new BetterSqlite3(gw.dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

const listed = async (key: string, query = 'pageSize=100') => ((await body(await call(key, `/v1/dossiers?${query}`))) as { items: { code: string }[] }).items.map((d) => d.code);

describe('dossiers are scoped to the client that handed them over', () => {
  const dossier = sampleDossier(7101);
  const code = String(dossier.code);
  beforeAll(async () => {
    expect((await call(KEY.portalA, '/v1/dossiers', { method: 'POST', body: dossier })).status).toBe(202);
  });

  it('another portal gets 404 for reading, changing or redelivering it, and nothing is queued for the national portal', async () => {
    const before = rows<{ n: number }>('select count(*) as n from outbox_jobs where dossier_code = ?', code)[0]!.n;
    const read = await call(KEY.portalB, `/v1/dossiers/${code}`);
    expect(read.status).toBe(404);
    const problem = await body(read);
    expect(problem).toMatchObject({ code: 'DOSSIER_NOT_FOUND' });
    expect(JSON.stringify(problem)).not.toContain(String(dossier.procedureCode));
    // A refusal (3) pushed by the other portal would reach the national portal: it is not found instead.
    const refuse = await call(KEY.portalB, `/v1/dossiers/${code}/events`, { method: 'POST', body: statusEvent(3, fixtureAt(0, '09:00')) });
    expect(refuse.status).toBe(404);
    expect((await body(refuse)).code).toBe('DOSSIER_NOT_FOUND');
    expect((await call(KEY.portalB, `/v1/dossiers/${code}/redeliver`, { method: 'POST' })).status).toBe(404);
    expect(rows<{ n: number }>('select count(*) as n from outbox_jobs where dossier_code = ?', code)[0]!.n).toBe(before);
    expect(rows('select sequence from dossier_events where dossier_code = ? and client_id = ?', code, 'portal-b')).toEqual([]);
    expect(rows<{ last_sequence: number }>('select last_sequence from dossiers where code = ?', code)[0]!.last_sequence).toBe(before);
  });

  it('the owner, a desk acting for its agency and an operator see it; the desk may change it', async () => {
    expect((await call(KEY.portalA, `/v1/dossiers/${code}`)).status).toBe(200);
    expect((await call(KEY.operator, `/v1/dossiers/${code}`)).status).toBe(200);
    expect((await call(KEY.desk, `/v1/dossiers/${code}`)).status).toBe(200);
    expect((await call(KEY.desk, `/v1/dossiers/${code}/events`, { method: 'POST', body: statusEvent(2, fixtureAt(0, '09:00')) })).status).toBe(202);
    // The national portal got the owner's dossier and the desk's acceptance, never the other portal's refusal.
    const held = await eventually(async () => {
      const d = await simulatorDossier(dvcqg, code);
      return d && d.sequences.length === 2 ? d : undefined;
    }, 15_000, `${code} delivered twice`);
    expect(held.status).toBe('2');
    expect(held.held.map((h) => h.status)).not.toContain('3');
  });

  it('lists only what the caller may see; operators list all', async () => {
    const other = sampleDossier(7102);
    expect((await call(KEY.portalB, '/v1/dossiers', { method: 'POST', body: other })).status).toBe(202);
    const a = await listed(KEY.portalA);
    const b = await listed(KEY.portalB);
    const all = await listed(KEY.operator);
    expect(a).toContain(code);
    expect(a).not.toContain(other.code);
    expect(b).toEqual([other.code]);
    expect(all).toEqual(expect.arrayContaining([code, other.code]));
    const page = (await body(await call(KEY.portalB, '/v1/dossiers?pageSize=100'))) as { total: number };
    expect(page.total).toBe(1);
  });

  it('a code taken by another client is 409, the same whether or not the content matches, and shows nothing of that dossier', async () => {
    const same = await call(KEY.portalB, '/v1/dossiers', { method: 'POST', body: dossier });
    const different = await call(KEY.portalB, '/v1/dossiers', { method: 'POST', body: { ...dossier, summary: 'Nội dung khác' } });
    expect(same.status).toBe(409);
    expect(different.status).toBe(409);
    const [p1, p2] = [await body(same), await body(different)];
    expect(p1.code).toBe('CONFLICT');
    expect(p1.detail).toBe(p2.detail);
    expect(p1.detail).toMatch(/already taken/);
    for (const p of [p1, p2]) {
      expect(Object.keys(p).sort()).toEqual(['code', 'detail', 'instance', 'requestId', 'status', 'title', 'type']);
      expect(JSON.stringify(p)).not.toContain(String(dossier.procedureCode));
    }
    // The owner's own re-submission is still harmless.
    expect((await call(KEY.portalA, '/v1/dossiers', { method: 'POST', body: dossier })).status).toBe(202);
  });
});

describe('account links are scoped like dossiers', () => {
  const living = people.filter((p) => !p.dateOfDeath);
  const [p1, p2] = [living[40]!, living[41]!];
  const link = (key: string, account: string, p: (typeof living)[number]) =>
    call(key, '/v1/accounts/links', {
      method: 'POST',
      purpose: 'LIEN_KET_TAI_KHOAN',
      body: { portalAccountId: account, subject: { type: 'person', idNumber: p.idNumber }, evidence: { fullName: p.fullName, dateOfBirth: p.dateOfBirth } },
    });
  const ids = async (key: string, query: string) => {
    const res = await call(key, `/v1/accounts/links?${query}`, { purpose: 'LIEN_KET_TAI_KHOAN' });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: { portalAccountId: string }[] }).items.map((l) => l.portalAccountId);
  };
  beforeAll(async () => {
    expect((await link(KEY.portalA, 'a-000001', p1)).status).toBe(201);
    expect((await link(KEY.portalB, 'b-000001', p2)).status).toBe(201);
  });

  it("a portal does not see another portal's links, by ID number or by account", async () => {
    expect(await ids(KEY.portalB, `idNumber=${p1.idNumber}`)).toEqual([]);
    expect(await ids(KEY.portalB, 'portalAccountId=a-000001')).toEqual([]);
    expect(await ids(KEY.portalA, `idNumber=${p2.idNumber}`)).toEqual([]);
    expect(await ids(KEY.portalA, `idNumber=${p1.idNumber}`)).toEqual(['a-000001']);
    expect(await ids(KEY.portalB, `idNumber=${p2.idNumber}`)).toEqual(['b-000001']);
  });

  it('a desk sees the links of the agency it acts for; an operator sees all', async () => {
    expect(await ids(KEY.desk, `idNumber=${p1.idNumber}`)).toEqual(['a-000001']);
    expect(await ids(KEY.desk, `idNumber=${p2.idNumber}`)).toEqual([]);
    expect(await ids(KEY.operator, `idNumber=${p1.idNumber}`)).toEqual(['a-000001']);
    expect(await ids(KEY.operator, `idNumber=${p2.idNumber}`)).toEqual(['b-000001']);
  });
});

describe('X-Purpose: only the purposes registered for the client', () => {
  const person = people.filter((p) => !p.dateOfDeath)[42]!;
  const verify = (key: string, purpose: string) =>
    call(key, '/v1/citizens/verify', { method: 'POST', purpose, body: { idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth } });
  const leaves = () => rows<{ n: number }>('select (select count(*) from exchange_queue) + (select count(*) from exchange_entries) as n')[0]!.n;

  it('refuses a purpose the client is not registered for with 403 naming the header, before any national system is called', async () => {
    const before = leaves();
    for (const [key, purpose] of [
      [KEY.narrow, 'XAC_MINH_DANH_TINH'],
      [KEY.narrow, '1.000001.000.00.00.H52'],
      [KEY.portalA, 'THANH_TRA_KIEM_TRA'],
    ] as const) {
      const res = await verify(key, purpose);
      expect(res.status, purpose).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('x-exchange-id')).toBeNull();
      expect(await body(res)).toMatchObject({ code: 'PURPOSE_NOT_ALLOWED', errors: [{ field: 'header.x-purpose' }] });
    }
    // Each refusal is an entry of the log (outcome denied, no national system), and nothing more.
    expect(leaves()).toBe(before + 3);
    const denied = rows<{ leaf: string }>('select leaf from exchange_queue union all select leaf from exchange_entries').map((r) => JSON.parse(r.leaf) as { outcome: string; code: string | null; upstream: string | null; purpose: string });
    expect(denied.filter((l) => l.outcome === 'denied' && l.code === 'PURPOSE_NOT_ALLOWED' && l.upstream === null).map((l) => l.purpose).sort()).toEqual(['1.000001.000.00.00.H52', 'THANH_TRA_KIEM_TRA', 'XAC_MINH_DANH_TINH']);
  });

  it('lets through a purpose listed by name or matched by a procedure-code pattern', async () => {
    expect((await verify(KEY.narrow, PROCEDURE)).status).toBe(200);
    expect((await verify(KEY.portalA, 'XAC_MINH_DANH_TINH')).status).toBe(200);
    // A pattern grants procedure codes, never purpose codes; an unknown purpose code is still 400.
    expect((await verify(KEY.narrow, 'NO_SUCH_PURPOSE')).status).toBe(400);
  });

  it('refuses at start a client that lists a purpose code the gateway does not know', () => {
    expect(() =>
      loadConfig({}, { file: 'config/sandbox.yaml', overrides: { clients: [{ id: 'x-client', agency: 'H52', roles: ['portal'], keyHash: hashApiKey('x-client-key-0001'), purposes: ['TO_MO'] }] } }),
    ).toThrow(ConfigError);
  });
});

describe('identifiers in logged paths', () => {
  it('masks tax codes of every form, enterprise codes and ID numbers in request log lines', async () => {
    const enterprise = enterprises[0]!.enterpriseCode;
    const personal = taxpayers.find((t) => t.taxpayerType === 'individual')!.taxCode;
    const branch = `${enterprise}-001`;
    for (const path of [`/v1/enterprises/${enterprise}`, `/v1/taxpayers/${personal}`, `/v1/taxpayers/${branch}`, `/v1/taxpayers/8012345678`]) {
      await call(KEY.portalA, path, { purpose: 'XAC_MINH_DANH_TINH' });
    }
    await eventually(async () => (gw.logs.some((l) => l.includes('"path":"/v1/taxpayers/801*****78"')) ? true : undefined), 5000, 'the last request logged');
    for (const secret of [enterprise, personal, '8012345678']) expect(gw.logs.filter((l) => l.includes(secret))).toEqual([]);
    expect(gw.logs.some((l) => l.includes(`"path":"/v1/enterprises/${enterprise.slice(0, 3)}*****${enterprise.slice(-2)}"`))).toBe(true);
  });
});
