import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNKNOWN, enterprises, people } from '../../src/sandbox/personas.ts';
import { KEYS, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const living = people.filter((p) => !p.dateOfDeath);
const headers = (user = 'officer-17') => ({ 'content-type': 'application/json', 'x-user-id': user, 'x-purpose': 'LIEN_KET_TAI_KHOAN' });

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

type Person = (typeof living)[number];
const personLink = (portalAccountId: string, p: Person, evidence: Partial<{ fullName: string; dateOfBirth: string }> = {}) => ({
  portalAccountId,
  subject: { type: 'person', idNumber: p.idNumber },
  evidence: { fullName: p.fullName, dateOfBirth: p.dateOfBirth, ...evidence },
});
const create = (body: unknown, key: string = KEYS.portal) => gw.fetch('/v1/accounts/links', { method: 'POST', key, headers: headers(), body: JSON.stringify(body) });
const list = async (query: string, key: string = KEYS.agency) => {
  const res = await gw.fetch(`/v1/accounts/links?${query}`, { key, headers: headers() });
  return { status: res.status, body: (await res.json()) as { items: { id: string; portalAccountId: string }[]; code?: string } };
};

async function json<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** Reads the gateway's SQLite file as an auditor of the store would. */
function query<T>(sql: string, ...params: unknown[]): T[] {
  const db = new BetterSqlite3(gw.dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}
const linkCount = () => query<{ n: number }>('select count(*) as n from account_links')[0]!.n;

describe('POST /v1/accounts/links (person)', () => {
  it('links with true evidence: 201, masked subject, verification and the exchange that verified it', async () => {
    const p = living[10]!;
    const res = await create(personLink('cd-000010', p, { fullName: p.fullName.normalize('NFD').toLocaleUpperCase('vi') }));
    const link = await json<{ id: string; exchangeId: string; subject: { maskedIdentifier: string } }>(res, 201);
    expect(link).toMatchObject({
      portalAccountId: 'cd-000010',
      state: 'active',
      subject: { type: 'person', maskedIdentifier: `${p.idNumber.slice(0, 3)}*******${p.idNumber.slice(-2)}` },
      verification: { method: 'population_database', verifiedAt: expect.stringMatching(/\+07:00$/) },
      nationalAccountLinked: false,
    });
    expect(res.headers.get('location')).toBe(`/v1/accounts/links/${link.id}`);
    expect(res.headers.get('x-exchange-id')).toBe(link.exchangeId);
    // The verification is in the exchange log, with the population database's calls.
    const leaves = query<{ leaf: string }>('select leaf from exchange_queue where exchange_id = ? union all select leaf from exchange_entries where exchange_id = ?', link.exchangeId, link.exchangeId);
    expect(leaves).toHaveLength(1);
    expect(JSON.parse(leaves[0]!.leaf)).toMatchObject({ operation: 'createAccountLink', upstream: 'population', client: 'sandbox-portal', status: 201 });
    // No ID number in clear in the store.
    const rows = query<Record<string, unknown>>('select * from account_links where id = ?', link.id);
    expect(JSON.stringify(rows)).not.toContain(p.idNumber);
    expect(query('select event, client from account_link_events where link_id = ?', link.id)).toEqual([{ event: 'created', client: 'sandbox-portal' }]);

    // A retry is answered with the same link, without a second verification.
    const again = await create(personLink('cd-000010', p));
    expect((await json<{ id: string }>(again, 200)).id).toBe(link.id);
    expect(again.headers.get('x-exchange-id')).toBeNull();
  });

  it('refuses a wrong date of birth with 422 naming the field, and stores nothing', async () => {
    const p = living[11]!;
    const before = linkCount();
    const day = p.dateOfBirth.slice(8) === '01' ? '02' : '01';
    const res = await create(personLink('cd-000011', p, { dateOfBirth: `${p.dateOfBirth.slice(0, 8)}${day}` }));
    expect(await json(res, 422)).toMatchObject({ code: 'VERIFICATION_MISMATCH', errors: [{ field: 'body.evidence.dateOfBirth' }] });
    expect(res.headers.get('x-exchange-id')).toBeTruthy();
    expect(linkCount()).toBe(before);
    expect((await list(`idNumber=${p.idNumber}`)).body.items).toEqual([]);
    const wrongName = await create(personLink('cd-000011', p, { fullName: `${p.fullName} Thị` }));
    expect(await json(wrongName, 422)).toMatchObject({ errors: [{ field: 'body.evidence.fullName' }] });
    expect(await json(await create(personLink('cd-000011', { ...p, idNumber: UNKNOWN.idNumber, dateOfBirth: '1989-03-03' })), 422)).toMatchObject({ code: 'VERIFICATION_MISMATCH' });
    expect(linkCount()).toBe(before);
  });

  it('refuses a second account for the same person with 409, without naming the other account', async () => {
    const p = living[12]!;
    await json(await create(personLink('cd-000012', p)), 201);
    const second = await json<{ code: string; detail: string }>(await create(personLink('cd-999912', p), KEYS.agency), 409);
    expect(second.code).toBe('CONFLICT');
    expect(second.detail).toMatch(/already linked to another portal account/);
    expect(second.detail).not.toContain('cd-000012');
    // And a second identity for the same account.
    const otherRes = await create(personLink('cd-000012', living[13]!));
    const other = await json<{ detail: string }>(otherRes, 409);
    expect(other.detail).toMatch(/portal account cd-000012 is already linked/);
    expect(otherRes.headers.get('x-exchange-id')).toBeNull(); // refused before any national call
    expect((await list(`idNumber=${p.idNumber}`)).body.items.map((l) => l.portalAccountId)).toEqual(['cd-000012']);
  });

  it('refuses invalid identifiers with 400 naming the rule, before any national call', async () => {
    const p = living[14]!;
    // Registered abroad (392 is no province), and its century digit contradicts the date of birth.
    const province = await create(personLink('cd-000014', { ...p, idNumber: `392${(Number(p.idNumber[3]) + 2) % 10}${p.idNumber.slice(4)}` }));
    expect(await json(province, 400)).toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.evidence.dateOfBirth', message: expect.stringMatching(/4th digit says born/) }] });
    expect(province.headers.get('x-exchange-id')).toBeNull();
    const year = Number(p.dateOfBirth.slice(0, 4)) + 1;
    const birth = await create(personLink('cd-000014', p, { dateOfBirth: `${year}${p.dateOfBirth.slice(4)}` }));
    expect(await json(birth, 400)).toMatchObject({ code: 'INVALID_IDENTIFIER', errors: [{ field: 'body.evidence.dateOfBirth', message: expect.stringMatching(/ending/) }] });
    const code = await create({ portalAccountId: 'dn-000014', subject: { type: 'organization', enterpriseCode: '5500123450' }, evidence: { name: 'X' } });
    expect(await json(code, 400)).toMatchObject({ code: 'INVALID_IDENTIFIER', detail: expect.stringMatching(/check digit/), errors: [{ field: 'body.subject.enterpriseCode' }] });
    const mixed = await create({ portalAccountId: 'cd-000014', subject: { type: 'person', idNumber: p.idNumber }, evidence: { name: p.fullName } });
    expect(await json(mixed, 400)).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('makes exactly one link when many requests link the same person at once', async () => {
    const p = living[15]!;
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => create(personLink(`cd-race-${i}`, p))));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect((await list(`idNumber=${p.idNumber}`)).body.items).toHaveLength(1);
  });
});

describe('POST /v1/accounts/links (organisation)', () => {
  const e = enterprises.find((x) => x.status === 'active' && !x.enterpriseCode.includes('-'))!;

  it('links with the registered name in any Unicode form or case, refuses another name', async () => {
    const wrong = await create({ portalAccountId: 'dn-000001', subject: { type: 'organization', enterpriseCode: e.enterpriseCode }, evidence: { name: `${e.name} Mới` } });
    expect(await json(wrong, 422)).toMatchObject({ code: 'VERIFICATION_MISMATCH', errors: [{ field: 'body.evidence.name' }] });
    const res = await create({ portalAccountId: 'dn-000001', subject: { type: 'organization', enterpriseCode: e.enterpriseCode }, evidence: { name: e.name.normalize('NFD').toLocaleLowerCase('vi') } });
    expect(await json(res, 201)).toMatchObject({ subject: { type: 'organization', maskedIdentifier: `${e.enterpriseCode.slice(0, 3)}*****${e.enterpriseCode.slice(-2)}` }, verification: { method: 'business_registry' } });
  });

  it('refuses an enterprise the registry does not know with 422', async () => {
    const res = await create({ portalAccountId: 'dn-000002', subject: { type: 'organization', enterpriseCode: UNKNOWN.enterpriseCode }, evidence: { name: 'Công ty không tồn tại' } });
    expect(await json(res, 422)).toMatchObject({ code: 'VERIFICATION_MISMATCH' });
  });
});

describe('GET and DELETE /v1/accounts/links', () => {
  it('lists by portal account or ID number, exactly one of them', async () => {
    const p = living[20]!;
    const link = await json<{ id: string }>(await create(personLink('cd-000020', p)), 201);
    expect((await list('portalAccountId=cd-000020')).body.items.map((l) => l.id)).toEqual([link.id]);
    expect((await list(`idNumber=${p.idNumber}`, KEYS.operator)).body.items.map((l) => l.id)).toEqual([link.id]);
    expect((await list(`idNumber=${p.idNumber}&portalAccountId=cd-000020`)).status).toBe(400);
    expect((await list('')).status).toBe(400);
    // 392 is no province: a birth registered abroad, a valid number with no links.
    expect((await list('idNumber=392089001234')).body).toEqual({ items: [] });
    expect((await list('idNumber=01408900123X')).status).toBe(400);
    expect((await list('portalAccountId=cd-000020', KEYS.auditor)).status).toBe(403);
  });

  it('removes a link with a reason kept in its history; the identity can then be linked again', async () => {
    const p = living[21]!;
    const link = await json<{ id: string }>(await create(personLink('cd-000021', p)), 201);
    const del = (key: string, body: unknown = { reason: 'Công dân đề nghị hủy liên kết' }) =>
      gw.fetch(`/v1/accounts/links/${link.id}`, { method: 'DELETE', key, headers: headers('operator-3'), body: JSON.stringify(body) });
    expect((await del(KEYS.agency)).status).toBe(403);
    expect((await del(KEYS.operator, {})).status).toBe(400);
    expect((await del(KEYS.operator)).status).toBe(204);
    expect((await del(KEYS.operator)).status).toBe(404);
    expect((await list('portalAccountId=cd-000021')).body.items).toEqual([]);
    const events = query<{ event: string; client: string; reason: string | null; user_hash: string | null }>('select event, client, reason, user_hash from account_link_events where link_id = ? order by seq', link.id);
    expect(events.map((e) => [e.event, e.client, e.reason])).toEqual([
      ['created', 'sandbox-portal', null],
      ['deleted', 'sandbox-operator', 'Công dân đề nghị hủy liên kết'],
    ]);
    expect(events[1]!.user_hash).toMatch(/^[0-9a-f]{64}$/);
    await json(await create(personLink('cd-000121', p)), 201);
  });
});
