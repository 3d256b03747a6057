import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBodyVault } from '../../src/audit/bodies.ts';
import { bodiesMatchLeaf, sha256Hex } from '../../src/audit/leaf.ts';
import { enterprises, people } from '../../src/sandbox/personas.ts';
import { createKeyedDigest, loadHashKey } from '../../src/signing/attestation.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { KEYS, metric, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { eventually, fixtureCodeDay, sampleDossier } from '../helpers/dossiers.ts';

let gw: TestGateway;
let store: Store;

beforeAll(async () => {
  gw = await startTestGateway({ 'audit.bodies.operations': ['getEnterprise'], 'audit.integrateIntervalMs': 50 });
  store = await openStore({ sqlitePath: gw.dbPath });
});
afterAll(async () => {
  await store?.close();
  await gw?.close();
});

describe('exchange bodies behind the API', () => {
  it('keeps the encrypted bodies of a listed operation, matching the keyed digests in its leaf, and none of the others', async () => {
    const enterprise = enterprises[0]!;
    const res = await gw.fetch(`/v1/enterprises/${enterprise.enterpriseCode}`);
    expect(res.status).toBe(200);
    const answer = await res.text();
    const id = res.headers.get('x-exchange-id')!;
    expect(id).toBeTruthy();

    const row = await store.db.selectFrom('exchange_bodies').selectAll().where('exchange_id', '=', id).executeTakeFirst();
    expect(row).toBeDefined();
    expect(row!.response).not.toContain(enterprise.enterpriseCode);

    const masterKey = loadHashKey(join(dirname(gw.dbPath), 'hash-key'), { create: false });
    const vault = createBodyVault({ db: store.db, masterKey });
    const body = (await vault.read(id))!;
    expect(body.response.toString('utf8')).toBe(answer);
    const queued = await store.db.selectFrom('exchange_queue').select('leaf').where('exchange_id', '=', id).executeTakeFirst();
    const entry = await store.db.selectFrom('exchange_entries').select('leaf').where('exchange_id', '=', id).executeTakeFirst();
    const leaf = JSON.parse((queued ?? entry)!.leaf) as { v: number; requestMac: string; responseMac: string };
    // Only the holder of the privacy key confirms the bodies; their plain SHA-256 is not in the leaf.
    const digest = createKeyedDigest(masterKey, 'exchange-bodies');
    expect(leaf).toMatchObject({ v: 3, requestMac: digest(body.request), responseMac: digest(body.response) });
    expect(bodiesMatchLeaf(leaf, body.request, body.response, digest)).toBe(true);
    expect((queued ?? entry)!.leaf).not.toContain(sha256Hex(body.request));

    const person = people.find((p) => !p.dateOfDeath)!;
    const verify = await gw.fetch('/v1/citizens/verify', {
      method: 'POST',
      key: KEYS.agency,
      headers: { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' },
      body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
    });
    const other = verify.headers.get('x-exchange-id');
    expect(other).toBeTruthy();
    expect(await store.db.selectFrom('exchange_bodies').select('exchange_id').where('exchange_id', '=', other!).executeTakeFirst()).toBeUndefined();
  });
});

interface Problem {
  status: number;
  code: string;
  detail?: string;
  errors?: { field: string; message: string }[];
}

describe('refusals that say everything', () => {
  const accountable = { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' };
  const person = people.find((p) => !p.dateOfDeath)!;
  const upstreamCalls = () => metric(gw.url, 'lienthong_upstream_calls_total', {});
  const problem = async (res: Response, status: number): Promise<Problem> => {
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const body = (await res.json()) as Problem;
    expect(res.status, JSON.stringify(body)).toBe(status);
    return body;
  };
  const verify = (body: unknown, headers: Record<string, string> = accountable) =>
    gw.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const event = (body: unknown) =>
    gw.fetch(`/v1/dossiers/H52.101.114-${fixtureCodeDay()}-0001/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  /** A POST with Transfer-Encoding: chunked and no chunk at all (only the last, empty one). */
  const emptyChunked = (path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${gw.url}${path}`, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });

  it('names every invalid field, three for three, in plain words, before any national system is called', async () => {
    const before = await upstreamCalls();
    const refused = await problem(await verify({ idNumber: '1', fullName: '', dateOfBirth: '1989-02-30' }), 400);
    expect(refused).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(refused.errors).toEqual([
      { field: 'body.idNumber', message: 'must be 12 digits (a citizen identity card) or 9 (an old identity card)' },
      { field: 'body.fullName', message: 'must not be empty' },
      { field: 'body.dateOfBirth', message: 'must be a real calendar date, written YYYY-MM-DD' },
    ]);
    // An impossible date alone is refused too; a real one goes through to the population database.
    const impossible = await problem(await verify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: '1989-02-30' }), 400);
    expect(impossible.errors).toEqual([{ field: 'body.dateOfBirth', message: 'must be a real calendar date, written YYYY-MM-DD' }]);
    expect(await upstreamCalls()).toBe(before);
    expect((await verify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth })).status).toBe(200);
    expect(await upstreamCalls()).toBeGreaterThan(before);
  });

  it('calls a missing body a missing JSON body, with or without a content type', async () => {
    for (const headers of [accountable, { 'x-user-id': 'officer-17', 'x-purpose': 'XAC_MINH_DANH_TINH' }]) {
      const refused = await problem(await verify(undefined, headers), 400);
      expect(refused).toMatchObject({ code: 'VALIDATION_FAILED', detail: 'body is required: send a JSON body', errors: [{ field: 'body', message: 'is required: send a JSON body' }] });
    }
    // Chunked, with no chunk at all: as missing as a Content-Length: 0 body.
    const chunked = await emptyChunked('/v1/citizens/verify', { ...accountable, authorization: `Bearer ${KEYS.agency}` });
    expect(chunked.status).toBe(400);
    expect(JSON.parse(chunked.text)).toMatchObject({ detail: 'body is required: send a JSON body', errors: [{ field: 'body', message: 'is required: send a JSON body' }] });
    // JSON that is not an object is not called invalid JSON.
    for (const text of ['null', '"x"', '5']) {
      const refused = await problem(await gw.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers: accountable, body: text }), 400);
      expect(refused, text).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body', message: 'must be a JSON object' }] });
    }
    const broken = await problem(await gw.fetch('/v1/citizens/verify', { method: 'POST', key: KEYS.agency, headers: accountable, body: '{"idNumber":' }), 400);
    expect(broken.errors).toEqual([{ field: 'body', message: 'is not valid JSON' }]);
    const empty = await problem(await verify({}), 400);
    expect(empty.errors?.map((e) => `${e.field} ${e.message}`)).toEqual(['body.idNumber is required', 'body.fullName is required', 'body.dateOfBirth is required']);
  });

  it("judges a dossier event by its kind only, refusing a number sent as text and an impossible instant", async () => {
    const refused = await problem(await event({ kind: 'status', status: '2', at: '2026-02-30T10:00:00+07:00' }), 400);
    expect(refused.errors).toEqual([
      { field: 'body.status', message: 'must be an integer' },
      { field: 'body.at', message: 'must be a real date and time with its offset, e.g. 2026-12-03T10:00:00+07:00' },
    ]);
    const unknown = await problem(await event({ kind: 'resolved', status: 2 }), 400);
    expect(unknown.errors).toEqual([{ field: 'body.kind', message: 'must be one of: status, progress' }]);
    for (const body of [refused, unknown]) expect(JSON.stringify(body)).not.toMatch(/oneOf|anyOf|officer|property/);
  });

  it('reports at most 20 problems, and says how many more there were', async () => {
    const attachments = Array.from({ length: 20 }, () => ({}));
    const refused = await problem(await gw.fetch('/v1/dossiers', { method: 'POST', headers: { ...accountable, 'x-purpose': 'TIEP_NHAN_HO_SO' }, body: JSON.stringify({ ...sampleDossier(900), attachments }) }), 400);
    expect(refused.errors).toHaveLength(20);
    expect(refused.detail).toMatch(/; and \d+ more problems?, not listed \(at most 20 are\)$/);
  });

  it('never hides a known field\'s problem behind unknown fields, listing those as one problem', async () => {
    const extra = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`x${i}`, 1]));
    const refused = await problem(await event({ kind: 'status', status: '2', at: '2026-12-03T10:00:00+07:00', ...extra }), 400);
    expect(refused.errors).toEqual([
      { field: 'body.status', message: 'must be an integer' },
      { field: 'body', message: 'has 25 fields it does not know: x0, x1, x2, x3, x4, x5, x6, x7, x8, x9 and 15 more' },
    ]);
    const query = new URLSearchParams(Array.from({ length: 26 }, (_, i) => [`colour${i}`, 'blue']));
    query.set('limit', '1');
    const listed = await problem(await gw.fetch(`/v1/audit/entries?${query}`, { key: KEYS.auditor }), 400);
    expect(listed.errors?.map((e) => e.field)).toEqual(['query.limit', 'query']);
    expect(listed.errors?.[1]?.message).toBe('has 26 names that are not parameters of this operation: colour0, colour1, colour2, colour3, colour4, colour5, colour6, colour7, colour8, colour9 and 16 more');
  });

  it('reads number parameters in decimal digits only', async () => {
    for (const from of ['0x10', '1e3', '%2016']) {
      const refused = await problem(await gw.fetch(`/v1/audit/entries?from=${from}`, { key: KEYS.auditor }), 400);
      expect(refused.errors).toEqual([{ field: 'query.from', message: 'must be an integer, written in decimal digits' }]);
    }
    expect((await gw.fetch('/v1/audit/entries?from=0&limit=5', { key: KEYS.auditor })).status).toBe(200);
    const path = await problem(await gw.fetch('/v1/audit/entries/0x1', { key: KEYS.auditor }), 400);
    expect(path.errors).toEqual([{ field: 'path.index', message: 'must be an integer, written in decimal digits' }]);
    // Beyond 2^53 - 1 a number would be read as another one (1e20): refused, not looked up.
    const huge = await problem(await gw.fetch('/v1/audit/entries/99999999999999999999', { key: KEYS.auditor }), 400);
    expect(huge.errors).toEqual([{ field: 'path.index', message: 'must be an integer from -9007199254740991 to 9007199254740991' }]);
    expect((await problem(await gw.fetch('/v1/audit/entries?from=99999999999999999999', { key: KEYS.auditor }), 400)).errors?.[0]?.field).toBe('query.from');
  });

  it('answers a missing resource with its own code, and an unknown path with ROUTE_NOT_FOUND', async () => {
    expect(await problem(await gw.fetch(`/v1/dossiers/H52.101.114-${fixtureCodeDay()}-0999`, { headers: accountable }), 404)).toMatchObject({ code: 'DOSSIER_NOT_FOUND' });
    const link = await gw.fetch('/v1/accounts/links/3f6c1a52-8d2e-4f7b-9a41-6b0e2d9c7a15', { method: 'DELETE', headers: accountable, body: JSON.stringify({ reason: 'thử nghiệm' }) });
    expect(await problem(link, 404)).toMatchObject({ code: 'LINK_NOT_FOUND', title: 'No such account link' });
    expect(await problem(await gw.fetch('/v1/audit/entries/99999', { key: KEYS.auditor }), 404)).toMatchObject({ code: 'AUDIT_ENTRY_NOT_FOUND' });
    expect(await problem(await gw.fetch('/v1/nothing-here'), 404)).toMatchObject({ code: 'ROUTE_NOT_FOUND', title: 'No such route' });
  });

  it('answers the exchange log entries\' times in +07:00, as every other time, the leaf keeping its own', async () => {
    // The entries of the exchanges above, once integrated into the log.
    const { text, page } = await eventually(async () => {
      const res = await gw.fetch('/v1/audit/entries?limit=50', { key: KEYS.auditor });
      const text = await res.text();
      const page = JSON.parse(text) as { items: { index: number; time: string }[] };
      return res.status === 200 && page.items.length > 0 ? { text, page } : undefined;
    }, 10_000, 'exchange-log entries');
    // No answered instant is in UTC's `Z`.
    expect(text).not.toMatch(/"\d{4}-\d{2}-\d{2}T[0-9:.]+Z"/);
    const item = page.items[0]!;
    expect(item.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$/);
    const entry = (await (await gw.fetch(`/v1/audit/entries/${item.index}`, { key: KEYS.auditor })).json()) as { time: string; leaf: string };
    const leafTime = (JSON.parse(entry.leaf) as { time: string }).time;
    expect(leafTime).toMatch(/Z$/);
    expect(Date.parse(entry.time)).toBe(Math.floor(Date.parse(leafTime) / 1000) * 1000);
  });
});
