import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { Agent, request as undiciRequest } from 'undici';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey, loadConfig } from '../../src/config/load.ts';
import { sample } from '../../src/signing/material.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { eventually, sampleDossier } from '../helpers/dossiers.ts';
import { KEYS, startTestGateway, type TestGateway, subjectHasherOf } from '../helpers/gateway.ts';

/**
 * Console sessions end to end, through the real gateway over HTTP: signing in with a staff key,
 * the cookie in place of the key, CSRF on changes, expiry and sign-out, the exchange log's
 * record of every call made with a session, and the console's page and files.
 */

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

interface Leaf {
  id: string;
  client: string;
  operation: string;
  userHash: string;
  status: number;
  outcome: string;
  code: string | null;
  criteria: Record<string, string> | null;
  subjectHash: string | null;
  subjects: string[];
}

/** A browser page of this site that the console does not serve: listed for CORS with credentials. */
const PORTAL_ORIGIN = 'https://dichvucong.sonla.gov.vn';

interface Session {
  cookie: string;
  token: string;
  setCookie: string;
  body: Record<string, unknown>;
}

let gw: TestGateway;
let store: Store;
let hash: (value: string) => string;

beforeAll(async () => {
  gw = await startTestGateway({ 'audit.integrateIntervalMs': 50, 'server.cors.origins': [PORTAL_ORIGIN], 'server.cors.credentials': true });
  store = await openStore({ sqlitePath: gw.dbPath });
  hash = subjectHasherOf(gw);
}, 60_000);
afterAll(async () => {
  await store?.close();
  await gw?.close();
});

function signInRequest(apiKey: string, userId: string, headers: Record<string, string> = {}, at: TestGateway = gw): Promise<Response> {
  return at.fetch('/v1/console/sessions', { method: 'POST', key: null, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ apiKey, userId }) });
}

async function signIn(apiKey: string, userId: string, at: TestGateway = gw): Promise<Session> {
  const res = await signInRequest(apiKey, userId, {}, at);
  const text = await res.text();
  expect(res.status, text).toBe(201);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('lienthong_console='));
  expect(setCookie).toBeDefined();
  const token = /^lienthong_console=([^;]*)/.exec(setCookie!)![1]!;
  return { cookie: `lienthong_console=${token}`, token, setCookie: setCookie!, body: JSON.parse(text) as Record<string, unknown> };
}

/** A call with the session's cookie only (no key). */
function withCookie(session: Session, path: string, init: RequestInit = {}, at: TestGateway = gw): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('cookie', session.cookie);
  return at.fetch(path, { ...init, key: null, headers });
}

/** The Set-Cookie that tells the browser to drop the console's cookie, if the answer carries one. */
function clearing(res: Response): string | undefined {
  return res.headers.getSetCookie().find((c) => /^lienthong_console=;/.test(c) && /Expires=Thu, 01 Jan 1970/.test(c));
}

/** The sandbox's clients with some of them changed. */
function sandboxClients(change: (client: Record<string, unknown>) => Record<string, unknown>): unknown[] {
  return (JSON.parse(JSON.stringify(loadConfig({}, { file: 'config/sandbox.yaml' }).clients)) as Record<string, unknown>[]).map(change);
}

async function sessionRows() {
  return store.db.selectFrom('console_sessions').selectAll().execute();
}

/** Integrated leaves matching `match`, once `count` of them are in the log. */
async function leaves(match: (leaf: Leaf) => boolean, count: number): Promise<Leaf[]> {
  return eventually(
    async () => {
      const rows = await store.db.selectFrom('exchange_entries').select('leaf').orderBy('idx').execute();
      const found = rows.map((r) => JSON.parse(r.leaf) as Leaf).filter(match);
      return found.length >= count ? found : undefined;
    },
    15_000,
    `${count} exchange-log entries`,
  );
}

/** A GET with the path sent exactly as written (fetch would resolve its dot segments first). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('signing in to the console', () => {
  it('exchanges a staff key for an HttpOnly, SameSite=Strict cookie and a CSRF token, keeping neither the key nor the token in the database', async () => {
    const res = await signInRequest(KEYS.auditor, 'thanhtra-0101');
    const text = await res.text();
    expect(res.status, text).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const setCookie = res.headers.getSetCookie();
    expect(setCookie).toHaveLength(1);
    const attributes = setCookie[0]!.split(';').map((a) => a.trim());
    const [pair, ...flags] = attributes;
    expect(pair).toMatch(/^lienthong_console=[A-Za-z0-9_-]{43}$/);
    expect(flags).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=14400']));
    // Plain HTTP: not Secure (the browser would drop it), and not the __Host- name.
    expect(flags.map((f) => f.toLowerCase())).not.toContain('secure');
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toMatchObject({ client: 'sandbox-auditor', agency: 'H52.04', roles: ['auditor'], userId: 'thanhtra-0101', purposes: ['THANH_TRA_KIEM_TRA'] });
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(body.expiresAt as string) - Date.now()).toBeGreaterThan(14_300_000);
    expect(Date.parse(body.idleExpiresAt as string) - Date.now()).toBeLessThanOrEqual(900_000);
    expect(text).not.toContain(KEYS.auditor);

    const token = pair!.slice('lienthong_console='.length);
    const rows = await sessionRows();
    const row = rows.find((r) => r.id === createHash('sha256').update(token).digest('hex'));
    expect(row).toMatchObject({ client_id: 'sandbox-auditor', user_hash: hash('user:thanhtra-0101'), ended_at: null });
    const stored = JSON.stringify(rows);
    for (const secret of [token, body.csrfToken as string, 'thanhtra-0101', KEYS.auditor]) expect(stored).not.toContain(secret);
  });

  it('refuses a wrong key (401, counted as a failed authentication) and a client without a staff role (403): no cookie, no session', async () => {
    const before = (await sessionRows()).length;
    const wrong = await signInRequest('not-a-key-of-anyone', 'thanhtra-0102');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'UNAUTHENTICATED', errors: [{ field: 'body.apiKey' }] });
    expect(wrong.headers.getSetCookie()).toEqual([]);
    const portal = await signInRequest(KEYS.portal, 'canbo-0103');
    expect(portal.status).toBe(403);
    expect(await portal.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect(portal.headers.getSetCookie()).toEqual([]);
    expect((await sessionRows()).length).toBe(before);
    // The known client's refused sign-in is in the log; the unknown caller's is not.
    const [refused] = await leaves((l) => l.operation === 'createConsoleSession' && l.userHash === hash('user:canbo-0103'), 1);
    expect(refused).toMatchObject({ client: 'sandbox-portal', status: 403, outcome: 'denied' });
    const rows = await store.db.selectFrom('exchange_entries').select('leaf').execute();
    expect(rows.map((r) => JSON.parse(r.leaf) as Leaf).filter((l) => l.userHash === hash('user:thanhtra-0102'))).toEqual([]);
  });

  it('refuses an officer X-User-Id would not take', async () => {
    for (const userId of ['thanh tra 01', 'Đ'.repeat(100)]) {
      const res = await signInRequest(KEYS.auditor, userId);
      expect(res.status, userId).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.userId' }] });
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    // Vietnamese letters are letters.
    expect((await signInRequest(KEYS.auditor, 'thanhtra.Đức-0105')).status).toBe(201);
  });

  it('refuses a sign-in sent from another origin', async () => {
    const res = await signInRequest(KEYS.auditor, 'thanhtra-0104', { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'CSRF_REJECTED', errors: [{ field: 'header.origin' }] });
    expect(res.headers.getSetCookie()).toEqual([]);
  });
});

describe('over HTTPS', () => {
  it('names the cookie __Host-lienthong_console and makes it Secure, and takes only that name there', async () => {
    const dispatcher = new Agent({ connect: { ca: readFileSync(sample('root-ca.pem'), 'utf8'), servername: 'localhost' } });
    try {
      const url = gw.gateway.tlsUrl!;
      const signIn = await undiciRequest(`${url}/v1/console/sessions`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: KEYS.auditor, userId: 'thanhtra-0151' }) });
      expect(signIn.statusCode).toBe(201);
      await signIn.body.dump();
      const setCookie = [signIn.headers['set-cookie']].flat()[0]!;
      const [pair, ...flags] = setCookie.split(';').map((a) => a.trim());
      expect(pair).toMatch(/^__Host-lienthong_console=[A-Za-z0-9_-]{43}$/);
      expect(flags).toEqual(expect.arrayContaining(['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']));
      expect(flags.some((f) => /^domain=/i.test(f))).toBe(false);
      const token = pair!.split('=')[1]!;
      const current = async (cookie: string) => {
        const res = await undiciRequest(`${url}/v1/console/sessions/current`, { dispatcher, headers: { cookie } });
        await res.body.dump();
        return res.statusCode;
      };
      expect(await current(`__Host-lienthong_console=${token}`)).toBe(200);
      // The plain name, which a sibling host could have set, is not looked at over HTTPS.
      expect(await current(`lienthong_console=${token}`)).toBe(401);
    } finally {
      await dispatcher.close();
    }
  });
});

describe('calls with the session cookie', () => {
  it('authenticate as the session client, fill X-User-Id, and are each an entry of the exchange log', async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0201');
    const checkpoint = await eventually(async () => {
      const res = await withCookie(session, '/v1/audit/checkpoint');
      return res.status === 200 ? res : undefined;
    });
    expect(checkpoint.status).toBe(200);
    // No key and no cookie: refused as ever.
    expect((await gw.fetch('/v1/audit/checkpoint', { key: null })).status).toBe(401);

    const current = await withCookie(session, '/v1/console/sessions/current');
    expect(current.status).toBe(200);
    expect(current.headers.get('cache-control')).toBe('no-store');
    const body = (await current.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ client: 'sandbox-auditor', userId: 'thanhtra-0201', csrfToken: session.body.csrfToken, expiresAt: session.body.expiresAt });
    expect(Date.parse(body.idleExpiresAt as string)).toBeGreaterThanOrEqual(Date.parse(session.body.idleExpiresAt as string));

    // A search by a person's number needs a purpose; the officer is the session's.
    const search = await withCookie(session, '/v1/audit/entries?subject=001089000123&limit=5', { headers: { 'x-purpose': 'THANH_TRA_KIEM_TRA' } });
    expect(search.status, await search.text()).toBe(200);

    const signOut = await withCookie(session, '/v1/console/sessions/current', { method: 'DELETE', headers: { 'x-csrf-token': session.body.csrfToken as string } });
    expect(signOut.status).toBe(204);

    const user = hash('user:thanhtra-0201');
    const found = await leaves((l) => l.userHash === user, 5);
    expect(found.every((l) => l.client === 'sandbox-auditor')).toBe(true);
    expect(found.map((l) => l.operation)).toEqual(expect.arrayContaining(['createConsoleSession', 'getAuditCheckpoint', 'getConsoleSession', 'listAuditEntries', 'deleteConsoleSession']));
    // Officers named by the log are resolvable by the inspectorate, the session's too.
    expect(await store.db.selectFrom('officer_registry').select('user_hash').where('user_hash', '=', user).executeTakeFirst()).toBeDefined();
  });

  it('does not change anything without the session CSRF token, or from another origin', async () => {
    const session = await signIn(KEYS.operator, 'vanhanh-0301');
    const csrf = session.body.csrfToken as string;
    const redeliver = (headers: Record<string, string>) => withCookie(session, '/v1/dossiers/H52-261127-9999/redeliver', { method: 'POST', headers });

    const none = await redeliver({});
    expect(none.status).toBe(403);
    expect(await none.json()).toMatchObject({ code: 'CSRF_REJECTED', errors: [{ field: 'header.x-csrf-token' }] });
    const wrong = await redeliver({ 'x-csrf-token': `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ code: 'CSRF_REJECTED', errors: [{ field: 'header.x-csrf-token' }] });
    const foreign = await redeliver({ 'x-csrf-token': csrf, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: 'CSRF_REJECTED', errors: [{ field: 'header.origin' }] });

    // With the token and the gateway's own origin the call goes through: no such dossier.
    const allowed = await redeliver({ 'x-csrf-token': csrf, origin: new URL(gw.url).origin });
    expect(allowed.status).toBe(404);
    expect(await allowed.json()).toMatchObject({ code: 'DOSSIER_NOT_FOUND' });
    // Reading needs no token.
    expect((await withCookie(session, '/v1/upstreams')).status).toBe(200);

    const refused = await leaves((l) => l.userHash === hash('user:vanhanh-0301') && l.operation === 'redeliverDossier', 4);
    expect(refused.map((l) => [l.status, l.code])).toEqual([
      [403, 'CSRF_REJECTED'],
      [403, 'CSRF_REJECTED'],
      [403, 'CSRF_REJECTED'],
      [404, 'DOSSIER_NOT_FOUND'],
    ]);
    expect(refused.every((l) => l.client === 'sandbox-operator')).toBe(true);
  });

  it('refuses a call naming another officer than the session', async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0401');
    const other = await withCookie(session, '/v1/audit/checkpoint', { headers: { 'x-user-id': 'thanhtra-9999' } });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ code: 'FORBIDDEN', errors: [{ field: 'header.x-user-id' }] });
    const same = await withCookie(session, '/v1/console/sessions/current', { headers: { 'x-user-id': 'thanhtra-0401' } });
    expect(same.status).toBe(200);
    // The refusal is logged under the session's officer, not the one claimed.
    const [refused] = await leaves((l) => l.operation === 'getAuditCheckpoint' && l.userHash === hash('user:thanhtra-0401'), 1);
    expect(refused).toMatchObject({ client: 'sandbox-auditor', status: 403, code: 'FORBIDDEN' });
  });

  it("refuses every call, reading ones too, that the browser says comes from another page than the gateway's own", async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0451');
    // A sibling host's <img src=".../v1/audit/checkpoint">: the same site, so the cookie goes along.
    const image = await withCookie(session, '/v1/audit/checkpoint', { headers: { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' } });
    expect(image.status).toBe(403);
    expect(await image.json()).toMatchObject({ code: 'CSRF_REJECTED', errors: [{ field: 'header.sec-fetch-site' }] });
    for (const site of ['cross-site', 'none']) expect((await withCookie(session, '/v1/audit/checkpoint', { headers: { 'sec-fetch-site': site } })).status, site).toBe(403);
    // The console's own fetch.
    const own = await withCookie(session, '/v1/console/sessions/current', { headers: { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' } });
    expect(own.status).toBe(200);
    // With a key, those headers mean nothing: a key is no ambient credential.
    expect((await gw.fetch('/v1/audit/checkpoint', { key: KEYS.auditor, headers: { 'sec-fetch-site': 'same-site' } })).status).not.toBe(403);
  });

  it('never lets another origin read an answer to a call made with the cookie, though server.cors allows credentials', async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0461');
    // The portal's page, listed for CORS with credentials, reading with the inspector's cookie.
    const foreign = await withCookie(session, '/v1/console/sessions/current', { headers: { origin: PORTAL_ORIGIN } });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: 'CSRF_REJECTED', errors: [{ field: 'header.origin' }] });
    expect(foreign.headers.get('access-control-allow-credentials')).toBeNull();
    // A same-origin read goes through, and is no more shareable.
    const own = await withCookie(session, '/v1/console/sessions/current');
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-credentials')).toBeNull();
    // The same origin with a key is answered with credentials allowed, as configured.
    const keyed = await gw.fetch('/v1/upstreams', { key: KEYS.operator, headers: { origin: PORTAL_ORIGIN } });
    expect(keyed.status).toBe(200);
    expect(keyed.headers.get('access-control-allow-origin')).toBe(PORTAL_ORIGIN);
    expect(keyed.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('answers a call made with the cookie Cache-Control: no-store, Vary: Cookie', async () => {
    const session = await signIn(KEYS.operator, 'vanhanh-0471');
    const keyed = await gw.fetch('/v1/upstreams', { key: KEYS.operator });
    expect(keyed.headers.get('cache-control')).not.toBe('no-store');
    const res = await withCookie(session, '/v1/upstreams');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('vary')?.split(',').map((v) => v.trim().toLowerCase())).toContain('cookie');
  });

  it("records what a session's lookup asked only for audit operations: never a person's number in clear", async () => {
    const session = await signIn(KEYS.operator, 'vanhanh-0481');
    const links = await withCookie(session, '/v1/accounts/links?idNumber=014089001234', { headers: { 'x-purpose': 'LIEN_KET_TAI_KHOAN' } });
    expect(links.status, await links.text()).toBe(200);
    const byAccount = await withCookie(session, '/v1/accounts/links?portalAccountId=cd-000184599', { headers: { 'x-purpose': 'LIEN_KET_TAI_KHOAN' } });
    expect(byAccount.status).toBe(200);
    const found = await leaves((l) => l.userHash === hash('user:vanhanh-0481') && l.operation === 'listAccountLinks', 2);
    for (const leaf of found) {
      expect(leaf.criteria).toBeNull();
      expect(JSON.stringify(leaf)).not.toContain('014089001234');
      expect(JSON.stringify(leaf)).not.toContain('cd-000184599');
    }
  });

  it("records an operator's read of a dossier as an access to its applicant", async () => {
    const applicant = '014192004578';
    const dossier = sampleDossier(61, { applicant: { type: 'citizen', identifier: applicant, name: 'Cầm Văn Pọm' } });
    const created = await gw.fetch('/v1/dossiers', { method: 'POST', key: KEYS.portal, headers: { 'content-type': 'application/json', 'x-user-id': 'canbo-0061', 'x-purpose': 'TIEP_NHAN_HO_SO' }, body: JSON.stringify(dossier) });
    expect(created.status, await created.text()).toBe(202);
    const session = await signIn(KEYS.operator, 'vanhanh-0482');
    const read = await withCookie(session, `/v1/dossiers/${String(dossier.code)}`, { headers: { 'x-purpose': 'TIEP_NHAN_HO_SO' } });
    expect(read.status, await read.text()).toBe(200);
    const [leaf] = await leaves((l) => l.userHash === hash('user:vanhanh-0482') && l.operation === 'getDossier', 1);
    // The applicant is named only by the dossier's code: the entry carries their keyed hash, so their access list shows the read.
    expect(leaf).toMatchObject({ subjectHash: hash(applicant), subjects: [hash(applicant)] });
  });

  it('takes the key over the cookie when both are sent, and answers the session operations only for a session', async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0501');
    const keyed = await gw.fetch('/v1/console/sessions/current', { key: KEYS.auditor, headers: { cookie: session.cookie } });
    expect(keyed.status).toBe(401);
    expect(await keyed.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    // With the key the call is the key's: no CSRF token is asked.
    const redeliver = await gw.fetch('/v1/dossiers/H52-261127-9999/redeliver', { method: 'POST', key: KEYS.operator, headers: { cookie: session.cookie } });
    expect(redeliver.status).toBe(404);
  });
});

describe('the end of a session', () => {
  it('refuses the cookie once signed out, and clears it', async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0601');
    const out = await withCookie(session, '/v1/console/sessions/current', { method: 'DELETE', headers: { 'x-csrf-token': session.body.csrfToken as string } });
    expect(out.status).toBe(204);
    const cleared = out.headers.getSetCookie().find((c) => c.startsWith('lienthong_console='));
    expect(cleared).toMatch(/^lienthong_console=;/);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
    const after = await withCookie(session, '/v1/audit/checkpoint');
    expect(after.status).toBe(401);
    const problem = (await after.json()) as { code: string; detail: string; errors: { field: string }[] };
    expect(problem).toMatchObject({ code: 'UNAUTHENTICATED', errors: [{ field: 'cookie.lienthong_console' }] });
    expect(problem.detail).toMatch(/console session has ended/);
    expect((await withCookie(session, '/v1/console/sessions/current', { method: 'DELETE', headers: { 'x-csrf-token': session.body.csrfToken as string } })).status).toBe(401);
  });

  it('refuses the cookie once the session has been idle too long, and an unknown one', async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0701');
    expect((await withCookie(session, '/v1/console/sessions/current')).status).toBe(200);
    // The idle time passed: what the clock would do in 15 minutes, done to the row.
    const id = createHash('sha256').update(session.token).digest('hex');
    await store.db.updateTable('console_sessions').set({ idle_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', id).execute();
    const idle = await withCookie(session, '/v1/console/sessions/current');
    expect(idle.status).toBe(401);
    expect(((await idle.json()) as { detail: string }).detail).toMatch(/console session has ended/);
    const unknown = await withCookie({ ...session, cookie: `lienthong_console=${'A'.repeat(43)}` }, '/v1/console/sessions/current');
    expect(unknown.status).toBe(401);
    const malformed = await withCookie({ ...session, cookie: 'lienthong_console=../../etc' }, '/v1/console/sessions/current');
    expect(malformed.status).toBe(401);
  });

  it('refuses an ended session\'s cookie without counting it as a failed authentication, and clears it', async () => {
    const session = await signIn(KEYS.auditor, 'thanhtra-0701b');
    const id = createHash('sha256').update(session.token).digest('hex');
    await store.db.updateTable('console_sessions').set({ idle_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', id).execute();
    const idle = await withCookie(session, '/v1/console/sessions/current');
    expect(idle.status).toBe(401);
    expect(clearing(idle)).toBeDefined();
    // An unknown token is cleared too.
    expect(clearing(await withCookie({ ...session, cookie: `lienthong_console=${'B'.repeat(43)}` }, '/v1/console/sessions/current'))).toBeDefined();
  });

  it('purges sessions past their absolute expiry when someone signs in, and keeps ended ones until then', async () => {
    const expired = await signIn(KEYS.auditor, 'thanhtra-0801');
    const ended = await signIn(KEYS.auditor, 'thanhtra-0802');
    const idOf = (s: Session) => createHash('sha256').update(s.token).digest('hex');
    const past = new Date(Date.now() - 1000).toISOString();
    await store.db.updateTable('console_sessions').set({ idle_expires_at: past, expires_at: past }).where('id', '=', idOf(expired)).execute();
    expect((await withCookie(ended, '/v1/console/sessions/current', { method: 'DELETE', headers: { 'x-csrf-token': ended.body.csrfToken as string } })).status).toBe(204);
    await signIn(KEYS.auditor, 'thanhtra-0803');
    await eventually(async () => ((await sessionRows()).every((r) => Date.parse(r.expires_at) > Date.now()) ? true : undefined), 5000, 'a purge');
    expect((await sessionRows()).find((r) => r.id === idOf(ended))).toMatchObject({ ended_at: expect.any(String) });
  });

  it("keeps at most 20 live sessions per client: a 21st sign-in ends the client's oldest", async () => {
    const sessions: Session[] = [];
    for (let i = 0; i < 21; i++) sessions.push(await signIn(KEYS.operator, `vanhanh-11${String(i).padStart(2, '0')}`));
    const first = await withCookie(sessions[0]!, '/v1/console/sessions/current');
    expect(first.status).toBe(401);
    for (const later of sessions.slice(1)) expect((await withCookie(later, '/v1/console/sessions/current')).status).toBe(200);
    const live = (await sessionRows()).filter((r) => r.client_id === 'sandbox-operator' && r.ended_at === null && Date.parse(r.idle_expires_at) > Date.now());
    expect(live).toHaveLength(20);
  });

  it('opens no session when the sign-in cannot be logged: 500, no cookie', async () => {
    const user = hash('user:thanhtra-0851');
    await sql.raw(`CREATE TRIGGER refuse_sign_in BEFORE INSERT ON exchange_queue WHEN instr(NEW.leaf, '${user}') > 0 BEGIN SELECT RAISE(ABORT, 'the log refuses this entry'); END`).execute(store.db);
    try {
      const before = (await sessionRows()).length;
      const res = await signInRequest(KEYS.auditor, 'thanhtra-0851');
      expect(res.status).toBe(500);
      expect(res.headers.getSetCookie()).toEqual([]);
      expect((await sessionRows()).length).toBe(before);
    } finally {
      await sql.raw('DROP TRIGGER refuse_sign_in').execute(store.db);
    }
    // The log takes entries again: the same officer signs in.
    expect((await signInRequest(KEYS.auditor, 'thanhtra-0851')).status).toBe(201);
  });
});

describe('the console page and files', () => {
  it('serves the page at /console and /console/ under the console policy', async () => {
    for (const path of ['/console', '/console/']) {
      const res = await gw.fetch(path, { key: null });
      const html = await res.text();
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toBe(CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(html).toMatch(/<html/);
      // Its files are named relative to /console/: without the slash, from the directory above.
      if (path === '/console') expect(html).not.toMatch(/(?:src|href)="(?:assets|vendor)\//);
      else expect(html).not.toMatch(/(?:src|href)="console\//);
      const etag = res.headers.get('etag')!;
      expect(etag).toBeTruthy();
      // As a browser revalidates (fetch would add Cache-Control: no-cache to a conditional request).
      expect((await rawGet(path, { 'if-none-match': etag })).status).toBe(304);
    }
  });

  it('serves the console scripts and the charting library, and nothing outside them', async () => {
    const style = await gw.fetch('/console/assets/console.css', { key: null });
    expect(style.status).toBe(200);
    expect(style.headers.get('content-type')).toMatch(/^text\/css/);
    const script = await gw.fetch('/console/assets/api.js', { key: null });
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('content-security-policy')).toBe(CSP);
    expect(script.headers.get('cache-control')).toBe('no-cache');
    expect((await rawGet('/console/assets/api.js', { 'if-none-match': script.headers.get('etag')! })).status).toBe(304);
    const vendor = await gw.fetch('/console/vendor/chart.umd.min.js', { key: null });
    expect(vendor.status).toBe(200);
    expect(vendor.headers.get('content-type')).toMatch(/^(text|application)\/javascript/);
    expect(await vendor.text()).toMatch(/Chart/);
    for (const path of ['/console/assets/../package.json', '/console/assets/%2e%2e/package.json', '/console/assets/..%2fpackage.json', '/console/vendor/chart.js', '/console/vendor/..%2f..%2fpackage.json', '/console/assets/missing.js', '/console/assets/tsconfig.json', '/console/assets/index.html']) {
      expect((await rawGet(path)).status, path).toBe(404);
    }
  });

  it('answers what it does not serve under /console 404 under the console policy too', async () => {
    for (const path of ['/console/nope', '/console/vendor/nope.js', '/console/assets/tsconfig.json', '/console/assets/missing.js']) {
      const res = await rawGet(path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-security-policy'], path).toBe(CSP);
      expect(res.headers['x-content-type-options'], path).toBe('nosniff');
    }
    // Elsewhere the gateway-wide policy, as before.
    expect((await rawGet('/consolex')).headers['content-security-policy']).not.toBe(CSP);
  });
});

describe('with the console switched off', () => {
  let off: TestGateway;
  beforeAll(async () => {
    off = await startTestGateway({ 'console.enabled': false });
  }, 60_000);
  afterAll(async () => {
    await off?.close();
  });

  it('answers 404 for the page and the sign-in, and API keys work as ever', async () => {
    expect((await off.fetch('/console', { key: null })).status).toBe(404);
    expect((await off.fetch('/console/assets/api.js', { key: null })).status).toBe(404);
    const signIn = await off.fetch('/v1/console/sessions', { method: 'POST', key: null, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: KEYS.auditor, userId: 'thanhtra-0901' }) });
    expect(signIn.status).toBe(404);
    expect((await off.fetch('/v1/upstreams', { key: KEYS.operator })).status).toBe(200);
  });
});

describe('with small limits: failed authentications per address, the auditor\'s requests', () => {
  let strict: TestGateway;
  let strictStore: Store;
  beforeAll(async () => {
    strict = await startTestGateway({
      'rateLimit.authFailures': { points: 3, durationSeconds: 60 },
      // The auditor may make 3 requests a minute: sign-ins count.
      clients: sandboxClients((c) => (c.id === 'sandbox-auditor' ? { ...c, rateLimit: { points: 3, durationSeconds: 60 } } : c)),
    });
    strictStore = await openStore({ sqlitePath: strict.dbPath });
  }, 60_000);
  afterAll(async () => {
    await strictStore?.close();
    await strict?.close();
  });

  it("spends the client's request budget on each sign-in: 429 with Retry-After once spent, and no session", async () => {
    for (let i = 1; i <= 3; i++) {
      const res = await signInRequest(KEYS.auditor, `thanhtra-130${i}`, {}, strict);
      expect(res.status, `sign-in ${i}`).toBe(201);
      expect(res.headers.get('ratelimit-limit')).toBe('3');
      expect(res.headers.get('ratelimit-remaining')).toBe(String(3 - i));
    }
    const before = (await strictStore.db.selectFrom('console_sessions').select('id').execute()).length;
    const refused = await signInRequest(KEYS.auditor, 'thanhtra-1304', {}, strict);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.headers.getSetCookie()).toEqual([]);
    expect((await strictStore.db.selectFrom('console_sessions').select('id').execute()).length).toBe(before);
  });

  it("does not lock out the address for an idle browser's ended session, but does for tokens never issued", async () => {
    const session = await signIn(KEYS.operator, 'vanhanh-1201', strict);
    const id = createHash('sha256').update(session.token).digest('hex');
    await strictStore.db.updateTable('console_sessions').set({ idle_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', id).execute();
    // An idle tab polling with its expired cookie, more often than the limit.
    for (let i = 0; i < 5; i++) {
      const res = await withCookie(session, '/v1/console/sessions/current', {}, strict);
      expect(res.status, `poll ${i}`).toBe(401);
      expect(clearing(res), `poll ${i}`).toBeDefined();
    }
    // The address is not locked out: an API client behind it goes on.
    expect((await strict.fetch('/v1/upstreams', { key: KEYS.operator })).status).toBe(200);
    // Tokens never issued are counted: the fourth attempt is refused before anything is looked at.
    const forged = { ...session, cookie: `lienthong_console=${'C'.repeat(43)}` };
    for (let i = 0; i < 3; i++) expect((await withCookie(forged, '/v1/console/sessions/current', {}, strict)).status).toBe(401);
    expect((await strict.fetch('/v1/upstreams', { key: KEYS.operator })).status).toBe(429);
  });
});

describe('after a restart with a client key replaced', () => {
  let first: TestGateway | undefined;
  let second: TestGateway | undefined;
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('ends the sessions opened with the old key, and only those', async () => {
    first = await startTestGateway();
    const auditor = await signIn(KEYS.auditor, 'thanhtra-1401', first);
    const operator = await signIn(KEYS.operator, 'vanhanh-1401', first);
    const dir = dirname(first.dbPath);
    await first.close();
    first = undefined;
    // The same database and hash key; the auditor's key replaced.
    second = await startTestGateway({
      'database.sqlitePath': join(dir, 'gateway.db'),
      'privacy.hashKeyFile': join(dir, 'hash-key'),
      clients: sandboxClients((c) => (c.id === 'sandbox-auditor' ? { ...c, keyHash: hashApiKey('rotated-auditor-key-0001') } : c)),
    });
    const old = await withCookie(auditor, '/v1/console/sessions/current', {}, second);
    expect(old.status).toBe(401);
    expect(((await old.json()) as { detail: string }).detail).toMatch(/key .* has changed/);
    expect(clearing(old)).toBeDefined();
    // Ended for good, not only refused once.
    expect((await withCookie(auditor, '/v1/console/sessions/current', {}, second)).status).toBe(401);
    // The operator's key is the same: its session goes on.
    expect((await withCookie(operator, '/v1/console/sessions/current', {}, second)).status).toBe(200);
    // The new key signs in.
    expect((await signInRequest('rotated-auditor-key-0001', 'thanhtra-1402', {}, second)).status).toBe(201);
  }, 60_000);
});
