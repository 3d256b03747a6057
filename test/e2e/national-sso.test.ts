import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVneidSimulator } from '../../adapters/vneid/simulator/server.ts';
import { SANDBOX_PASSWORD } from '../../adapters/vneid/sandbox-account.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createKeyedDigest, loadHashKey } from '../../src/signing/attestation.ts';
import { createLogger } from '../../src/logging.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { enterprises, people } from '../../src/sandbox/personas.ts';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { createBrowser } from '../helpers/browser.ts';
import { KEYS, clearFaults, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const RETURN_TO = 'http://localhost:3000/auth/national/callback';
const living = people.filter((p) => !p.dateOfDeath);
const accountable = { 'x-user-id': 'portal-session-1', 'x-purpose': 'LIEN_KET_TAI_KHOAN' };

let gw: TestGateway;
let jwks: ReturnType<typeof createLocalJWKSet>;
beforeAll(async () => {
  gw = await startTestGateway();
  jwks = createLocalJWKSet((await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as never);
});
afterAll(async () => {
  await gw?.close();
});

interface Link {
  id: string;
  portalAccountId: string;
  state: string;
  nationalAccountLinked: boolean;
  verification: { method: string };
  subject: { maskedIdentifier: string };
}

/** The signed result the browser brings back to returnTo: names a pending sign-on, links nothing. */
interface Result extends JWTPayload {
  outcome: string;
  signOn: string | null;
  portalAccountId: string | null;
  national: { accountType: string; maskedIdentifier: string; acr: string } | null;
  returnTo: string;
}

/** What the portal's confirmation answers. */
interface Confirmation {
  outcome: string;
  portalAccountId: string | null;
  link: Link | null;
  national: { accountType: string; maskedIdentifier: string; acr: string };
  detail?: string;
}

/** The portal backend asks the gateway to start; the Location is where it sends the browser. */
async function start(query: Record<string, string> = {}): Promise<string> {
  const res = await gw.fetch(`/v1/accounts/sso/start?${new URLSearchParams({ returnTo: RETURN_TO, ...query })}`, { headers: accountable, redirect: 'manual' });
  expect(res.status, await res.clone().text()).toBe(302);
  return res.headers.get('location')!;
}

/** The browser goes to the national login page, logs in as `login`, and is sent back; returns where the gateway's callback leads. */
async function browse(authorizationUrl: string, login: string, stopAt = RETURN_TO, level?: string) {
  const browser = createBrowser();
  const page = await browser.follow(authorizationUrl);
  expect(page.response.status).toBe(200);
  const html = await page.response.text();
  expect(html).toMatch(/<form method="post" action="\/interaction\/[\w-]+\/login"/);
  const done = await browser.submit({ html, url: page.url }, /\/login$/, { username: login, password: SANDBOX_PASSWORD, ...(level ? { acr: level } : {}) }, stopAt);
  return { browser, ...done };
}

/** Where the national service sends the browser back to the gateway (not followed). */
async function callbackUrl(authorizationUrl: string, login: string, level?: string): Promise<string> {
  const { url, response } = await browse(authorizationUrl, login, `${gw.url}/v1/accounts/sso/callback`, level);
  expect(response.status).toBe(303);
  return url;
}

async function result(url: string): Promise<Result> {
  expect(url, url).toMatch(new RegExp(`^${RETURN_TO}\\?(s=[\\w-]+&)?result=`));
  const token = new URL(url).searchParams.get('result')!;
  const { payload } = await jwtVerify(token, jwks, { audience: 'sandbox-portal', issuer: 'https://lienthong.sonla.gov.vn' });
  return payload as Result;
}

/** The portal's backend confirms a sign-on, server to server, with the returnTo it kept in the browser's session. */
const confirmSso = (body: Record<string, unknown>, key: string = KEYS.portal) =>
  gw.fetch('/v1/accounts/sso/confirm', { method: 'POST', key, headers: { ...accountable, 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A browser arriving at returnTo with `url`, in the portal session that started the flow: the portal confirms. */
async function confirmed(url: string, returnTo = RETURN_TO): Promise<Confirmation & { token: Result }> {
  const token = await result(url);
  expect(token.returnTo).toBe(returnTo);
  const res = await confirmSso({ signOn: token.signOn, returnTo });
  expect(res.status, await res.clone().text()).toBe(200);
  return { ...((await res.json()) as Confirmation), token };
}

/** The whole legitimate sign-on: started, signed in, and confirmed in the same portal session. */
async function signIn(login: string, query: Record<string, string> = {}): Promise<Confirmation & { token: Result }> {
  const { url, response } = await browse(await start(query), login);
  expect(response.status, await response.clone().text()).toBe(302);
  return confirmed(url, query.returnTo ?? RETURN_TO);
}

/** The links as an agency sees them; `portalLinks` as the portal does. */
const links = async (query: string) => {
  const res = await gw.fetch(`/v1/accounts/links?${query}`, { key: KEYS.agency, headers: { 'x-user-id': 'officer-17', 'x-purpose': 'LIEN_KET_TAI_KHOAN' } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { id: string; state: string; portalAccountId: string; verification: { method: string } }[] }).items;
};

const portalLinks = async (query: string) => {
  const res = await gw.fetch(`/v1/accounts/links?${query}`, { headers: accountable });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { id: string; state: string; portalAccountId: string }[] }).items;
};

const linkRows = () => {
  const db = new BetterSqlite3(gw.dbPath, { readonly: true });
  try {
    return (db.prepare('select count(*) as n from account_links').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

const linkEvents = (linkId: string) => {
  const db = new BetterSqlite3(gw.dbPath, { readonly: true });
  try {
    return db.prepare('select event, reason from account_link_events where link_id = ? order by seq').all(linkId) as { event: string; reason: string | null }[];
  } finally {
    db.close();
  }
};

/** The exchange-log leaf of an exchange, queued or appended. */
const leafOf = (exchangeId: string) => {
  const db = new BetterSqlite3(gw.dbPath, { readonly: true });
  try {
    const row = db.prepare('select leaf from exchange_queue where exchange_id = ? union all select leaf from exchange_entries where exchange_id = ?').get(exchangeId, exchangeId) as { leaf: string };
    return JSON.parse(row.leaf) as { operation: string; status: number; outcome: string; responseMac: string; upstreamCalls: { upstream: string; outcome: string; code: string | null }[] };
  } finally {
    db.close();
  }
};

describe('national sign-on over HTTP, through the simulator login form', () => {
  it('sends the portal to the national login page with PKCE, state and nonce', async () => {
    const url = new URL(await start({ portalAccountId: 'cd-sso-shape' }));
    expect(url.origin).toBe(gw.gateway.upstreamUrls.vneid);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: 'lienthong-sonla',
      response_type: 'code',
      scope: 'openid',
      code_challenge_method: 'S256',
      redirect_uri: `${gw.url}/v1/accounts/sso/callback`,
      acr_values: 'urn:vneid:loa:2',
    });
    expect(url.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
  });

  it('gives the URL as JSON to a caller that asks for JSON', async () => {
    const res = await gw.fetch(`/v1/accounts/sso/start?${new URLSearchParams({ returnTo: RETURN_TO })}`, { headers: { ...accountable, accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ authorizationUrl: expect.stringMatching(/\/auth\?/), expiresAt: expect.stringMatching(/\+07:00$/) });
  });

  it('links a new national account to the portal account that started, then signs it straight in', async () => {
    const person = living[40]!;
    const first = await signIn(person.idNumber, { portalAccountId: 'cd-sso-0040' });
    expect(first).toMatchObject({
      outcome: 'linked',
      portalAccountId: 'cd-sso-0040',
      link: { portalAccountId: 'cd-sso-0040', state: 'active', nationalAccountLinked: true, verification: { method: 'national_sso' } },
      national: { accountType: 'person', maskedIdentifier: `${person.idNumber.slice(0, 3)}*******${person.idNumber.slice(-2)}`, acr: 'urn:vneid:loa:2' },
    });
    expect(first.token).toMatchObject({ outcome: 'linked', portalAccountId: 'cd-sso-0040', signOn: expect.stringMatching(/^[\w-]{43}$/) });
    expect(first.token).not.toHaveProperty('link');
    expect(linkEvents(first.link!.id)).toEqual([{ event: 'created', reason: 'national sign-on at level of assurance urn:vneid:loa:2' }]);
    expect(JSON.stringify(first)).not.toContain(person.idNumber);

    // Signed in by the national account id alone: no portal account given, the link says which.
    const again = await signIn(person.idNumber);
    expect(again).toMatchObject({ outcome: 'signed_in', portalAccountId: null, link: { id: first.link!.id, portalAccountId: 'cd-sso-0040' }, national: { maskedIdentifier: first.national!.maskedIdentifier } });
    expect(await links(`idNumber=${person.idNumber}`)).toHaveLength(1);
  });

  it('offers a pending link when the ID number is linked already, and signs in once the person confirms', async () => {
    const person = living[41]!;
    const created = await gw.fetch('/v1/accounts/links', {
      method: 'POST',
      headers: { ...accountable, 'content-type': 'application/json' },
      body: JSON.stringify({ portalAccountId: 'cd-db-0041', subject: { type: 'person', idNumber: person.idNumber }, evidence: { fullName: person.fullName, dateOfBirth: person.dateOfBirth } }),
    });
    expect(created.status).toBe(201);
    const existing = (await created.json()) as { id: string };

    const offered = await signIn(person.idNumber, { portalAccountId: 'cd-other-0041' });
    expect(offered).toMatchObject({ outcome: 'confirmation_required', link: { portalAccountId: 'cd-db-0041', state: 'pending', nationalAccountLinked: true } });
    // Not yet: the national account does not sign in before the person confirms.
    expect((await signIn(person.idNumber)).outcome).toBe('confirmation_required');

    // Another client cannot confirm it; the portal that started can, once.
    const confirm = (key: string) => gw.fetch(`/v1/accounts/links/${offered.link!.id}/confirm`, { method: 'POST', key, headers: accountable });
    expect((await confirm(KEYS.agency)).status).toBe(403);
    const confirmed = await confirm(KEYS.portal);
    expect(confirmed.status, await confirmed.clone().text()).toBe(200);
    expect(await confirmed.json()).toMatchObject({ id: offered.link!.id, state: 'active', portalAccountId: 'cd-db-0041', verification: { method: 'national_sso' } });
    expect((await confirm(KEYS.portal)).status).toBe(404);

    const signedIn = await signIn(person.idNumber);
    expect(signedIn).toMatchObject({ outcome: 'signed_in', link: { id: offered.link!.id, portalAccountId: 'cd-db-0041' } });
    const now = await links(`idNumber=${person.idNumber}`);
    expect(now.map((l) => l.id)).toEqual([offered.link!.id]);
    expect(now[0]!.id).not.toBe(existing.id);
  });

  it('signs organisations in by enterprise code', async () => {
    const enterprise = enterprises.find((e) => e.status === 'active')!;
    const linked = await signIn(enterprise.enterpriseCode, { portalAccountId: 'dn-sso-0001' });
    expect(linked).toMatchObject({ outcome: 'linked', national: { accountType: 'organization' }, link: { subject: { maskedIdentifier: expect.stringMatching(/^\d{3}\*+\d{2}$/) } } });
    expect((await signIn(enterprise.enterpriseCode)).outcome).toBe('signed_in');
  });

  it('says not_linked without a portal account, conflict when the portal account is linked to someone else, cancelled on cancel', async () => {
    expect(await signIn(living[42]!.idNumber)).toMatchObject({ outcome: 'not_linked', link: null });
    await signIn(living[43]!.idNumber, { portalAccountId: 'cd-sso-0043' });
    expect(await signIn(living[44]!.idNumber, { portalAccountId: 'cd-sso-0043' })).toMatchObject({ outcome: 'conflict', link: null });
    expect(await links('portalAccountId=cd-sso-0043')).toHaveLength(1);

    const browser = createBrowser();
    const page = await browser.follow(await start({ portalAccountId: 'cd-sso-cancel' }));
    const done = await browser.submit({ html: await page.response.text(), url: page.url }, /\/abort$/, {}, RETURN_TO);
    expect(await result(done.url)).toMatchObject({ outcome: 'cancelled', error: 'access_denied', signOn: null, national: null });
    expect(await links('portalAccountId=cd-sso-cancel')).toHaveLength(0);
  });

  it("keeps returnTo's own query, for the portal's session check", async () => {
    const res = await gw.fetch(`/v1/accounts/sso/start?${new URLSearchParams({ returnTo: `${RETURN_TO}?s=portal-csrf-1` })}`, { headers: accountable, redirect: 'manual' });
    const { url } = await browse(res.headers.get('location')!, living[46]!.idNumber);
    expect(url).toMatch(new RegExp(`^${RETURN_TO}\\?s=portal-csrf-1&result=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
    // The session value is inside the signed result too: swapping the query for another browser's
    // session value leaves the signed one unchanged, so the portal can tell.
    const swapped = new URL(url.replace('s=portal-csrf-1', 's=attacker-session'));
    const { payload: signed } = await jwtVerify(swapped.searchParams.get('result')!, jwks, { audience: 'sandbox-portal', issuer: 'https://lienthong.sonla.gov.vn' });
    expect(signed.returnTo).toBe(`${RETURN_TO}?s=portal-csrf-1`);
    // Nothing in the token names the person or their national account.
    const payload = Buffer.from(new URL(url).searchParams.get('result')!.split('.')[1]!, 'base64url').toString('utf8');
    expect(payload).not.toContain(living[46]!.fullName);
    expect(payload).not.toContain(living[46]!.idNumber);
    expect(payload).not.toMatch(/"sub"|TechID/);
  });

  it('gives the callback result as JSON to a caller that asks for JSON', async () => {
    const back = await callbackUrl(await start({ portalAccountId: 'cd-json-1' }), living[47]!.idNumber);
    const res = await fetch(back, { headers: { accept: 'application/json' } });
    const body = (await res.json()) as { returnTo: string; result: string };
    expect(res.status).toBe(200);
    expect(body.returnTo).toBe(`${RETURN_TO}?result=${body.result}`);
    expect(await result(body.returnTo)).toMatchObject({ outcome: 'linked', portalAccountId: 'cd-json-1' });
  });

  it('refuses the wrong login and shows the form again', async () => {
    const browser = createBrowser();
    const page = await browser.follow(await start());
    const again = await browser.submit({ html: await page.response.text(), url: page.url }, /\/login$/, { username: living[45]!.idNumber, password: 'wrong' });
    expect(again.response.status).toBe(200);
    expect(await again.response.text()).toMatch(/không đúng/);
  });
});

describe('level of assurance', () => {
  /** A person who logs in at level 1 while the gateway accepts level 2 only (sso.acrValues). */
  async function atLevelOne(portalAccountId: string, login: string) {
    const back = await callbackUrl(await start({ portalAccountId }), login, 'urn:vneid:loa:1');
    const res = await fetch(back, { redirect: 'manual' });
    const text = await res.text();
    return { res, text, problem: JSON.parse(text) as { code: string; detail: string; acr: string | null; acrValues: string[] } };
  }

  it('refuses a sign-on below the accepted level with 422: no link, nothing stored, the browser not sent back', async () => {
    const person = living[70]!;
    const rows = linkRows();
    const { res, text, problem } = await atLevelOne('cd-loa-1', person.idNumber);
    expect(res.status, text).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('location')).toBeNull();
    expect(problem).toMatchObject({ code: 'VERIFICATION_MISMATCH', acr: 'urn:vneid:loa:1', acrValues: ['urn:vneid:loa:2'], detail: expect.stringMatching(/level of assurance urn:vneid:loa:1.*accepts only urn:vneid:loa:2/) });
    expect(text).not.toContain(person.idNumber);
    expect(linkRows()).toBe(rows);
    expect(await links('portalAccountId=cd-loa-1')).toHaveLength(0);

    // Recorded: the exchange refused (its response digest binds the problem naming the level), the token exchange its one upstream call; userinfo never read.
    const leaf = leafOf(res.headers.get('x-exchange-id')!);
    expect(leaf).toMatchObject({ operation: 'completeSso', status: 422, outcome: 'business_error', upstreamCalls: [{ upstream: 'vneid', outcome: 'business_error', code: 'VERIFICATION_MISMATCH' }] });
    expect(leaf.responseMac).toBe(createKeyedDigest(loadHashKey(join(dirname(gw.dbPath), 'hash-key'), { create: false }), 'exchange-bodies')(text));

    // The same person at level 2 links as usual.
    expect(await signIn(person.idNumber, { portalAccountId: 'cd-loa-1' })).toMatchObject({ outcome: 'linked', national: { acr: 'urn:vneid:loa:2' } });
  });

  it('does not sign a linked national account in below the accepted level', async () => {
    const person = living[71]!;
    const linked = await signIn(person.idNumber, { portalAccountId: 'cd-loa-2' });
    expect(linked.outcome).toBe('linked');
    const { res, problem } = await atLevelOne('cd-loa-2', person.idNumber);
    expect(res.status).toBe(422);
    expect(problem).toMatchObject({ code: 'VERIFICATION_MISMATCH', acr: 'urn:vneid:loa:1' });
    expect(linkEvents(linked.link!.id).map((e) => e.event)).toEqual(['created']);
    expect((await signIn(person.idNumber)).outcome).toBe('signed_in');
  });
});

describe('forged and replayed callbacks', () => {
  const callback = (query: string) => fetch(`${gw.url}/v1/accounts/sso/callback?${query}`, { redirect: 'manual' });

  it('refuses an unknown state with 422 and links nothing', async () => {
    const before = linkRows();
    const res = await callback('state=forged-state-value&code=abc');
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: 'VERIFICATION_MISMATCH', errors: [{ field: 'query.state' }] });
    expect(linkRows()).toBe(before);
  });

  it('refuses a replayed callback: the state is used up', async () => {
    const url = await callbackUrl(await start({ portalAccountId: 'cd-replay-1' }), living[50]!.idNumber);
    const first = await fetch(url, { redirect: 'manual' });
    expect(first.status).toBe(302);
    const replay = await fetch(url, { redirect: 'manual' });
    expect(replay.status).toBe(422);
    expect(await confirmed(first.headers.get('location')!)).toMatchObject({ outcome: 'linked', portalAccountId: 'cd-replay-1' });
    expect(await links('portalAccountId=cd-replay-1')).toHaveLength(1);
  });

  it('refuses a code used again under a new state (the national service refuses it)', async () => {
    const used = new URL(await callbackUrl(await start({ portalAccountId: 'cd-reuse-1' }), living[51]!.idNumber));
    expect((await fetch(used, { redirect: 'manual' })).status).toBe(302);
    const fresh = new URL(await start({ portalAccountId: 'cd-reuse-2' }));
    const res = await callback(`state=${fresh.searchParams.get('state')}&code=${used.searchParams.get('code')}&iss=${encodeURIComponent(gw.gateway.upstreamUrls.vneid)}`);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/invalid_grant/);
    expect(await links('portalAccountId=cd-reuse-2')).toHaveLength(0);
  });

  it('refuses an ID token whose nonce is not the one the gateway sent', async () => {
    const url = new URL(await start({ portalAccountId: 'cd-nonce-1' }));
    url.searchParams.set('nonce', 'nonce-of-an-attacker-session-000000000000');
    const back = await callbackUrl(url.href, living[52]!.idNumber);
    const res = await fetch(back, { redirect: 'manual' });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/nonce/);
    expect(await links('portalAccountId=cd-nonce-1')).toHaveLength(0);
  });

  describe('a code from another provider', () => {
    let rogue: Listening;
    beforeAll(async () => {
      let url = '';
      rogue = await listen(createVneidSimulator({ faults: new FaultBoard(), log: createLogger({ level: 'silent' }), signing: simulatorSigning('vneid'), selfUrl: () => url }), '127.0.0.1', 0);
      url = rogue.url;
    });
    afterAll(async () => {
      await rogue?.close();
    });

    it('is refused: the callback names another issuer', async () => {
      const url = new URL(await start({ portalAccountId: 'cd-issuer-1' }));
      const elsewhere = new URL(url.pathname + url.search, rogue.url);
      const back = new URL(await callbackUrl(elsewhere.href, living[53]!.idNumber));
      expect(back.searchParams.get('iss')).toBe(rogue.url);
      const res = await fetch(back, { redirect: 'manual' });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/iss/);
      expect(await links('portalAccountId=cd-issuer-1')).toHaveLength(0);
    });
  });

  it('refuses an ID token whose signature does not verify (502) and links nothing', async () => {
    const back = await callbackUrl(await start({ portalAccountId: 'cd-sig-1' }), living[54]!.idNumber);
    await setFault(gw.controlUrl, { system: 'vneid', mode: 'bad-signature' });
    try {
      const res = await fetch(back, { redirect: 'manual' });
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ code: 'UPSTREAM_SIGNATURE_INVALID' });
      expect(res.headers.get('x-exchange-id')).toBeTruthy();
    } finally {
      await clearFaults(gw.controlUrl);
    }
    expect(await links('portalAccountId=cd-sig-1')).toHaveLength(0);
  });

  it('refuses a returnTo outside the allow-list before anything starts', async () => {
    for (const returnTo of ['https://evil.example/auth/national/callback', `${RETURN_TO}/../../x`, 'http://localhost:3000/other', `${RETURN_TO}#frag`]) {
      const res = await gw.fetch(`/v1/accounts/sso/start?${new URLSearchParams({ returnTo })}`, { headers: accountable, redirect: 'manual' });
      expect(res.status, returnTo).toBe(400);
      expect(await res.json()).toMatchObject({ errors: [{ field: 'query.returnTo' }] });
    }
  });
});

describe('the national service failing during the callback', () => {
  it.each([
    ['down', 503, 'UPSTREAM_UNAVAILABLE'],
    ['error', 503, 'UPSTREAM_UNAVAILABLE'],
    ['malformed', 502, 'UPSTREAM_BAD_RESPONSE'],
  ] as const)('%s: %i %s, recorded in the exchange log, nothing linked', async (mode, status, code) => {
    const account = `cd-fault-${mode}`;
    const back = await callbackUrl(await start({ portalAccountId: account }), living[60]!.idNumber);
    await setFault(gw.controlUrl, { system: 'vneid', mode });
    let exchangeId: string | null;
    try {
      const res = await fetch(back, { redirect: 'manual' });
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ code });
      if (status === 503) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      exchangeId = res.headers.get('x-exchange-id');
    } finally {
      await clearFaults(gw.controlUrl);
    }
    expect(exchangeId).toBeTruthy();
    expect(await links(`portalAccountId=${account}`)).toHaveLength(0);
  });

  it('records a completed sign-on as an exchange of the client that started it, findable by the ID number', async () => {
    const person = living[61]!;
    const { response } = await browse(await start({ portalAccountId: 'cd-logged-1' }), person.idNumber);
    const exchangeId = response.headers.get('x-exchange-id')!;
    expect(exchangeId).toBeTruthy();
    const db = new BetterSqlite3(gw.dbPath, { readonly: true });
    try {
      const row = db.prepare('select leaf from exchange_queue where exchange_id = ? union all select leaf from exchange_entries where exchange_id = ?').get(exchangeId, exchangeId) as { leaf: string };
      const leaf = JSON.parse(row.leaf) as { subjectHash: string; upstreamCalls: unknown[] };
      expect(leaf).toMatchObject({ operation: 'completeSso', client: 'sandbox-portal', upstream: 'vneid', purpose: 'LIEN_KET_TAI_KHOAN', status: 302, outcome: 'success' });
      expect(leaf.upstreamCalls.length).toBeGreaterThanOrEqual(2); // token and userinfo
      // The same keyed hash as the link-by-database verification of this person would carry.
      const verified = await gw.fetch('/v1/citizens/verify', {
        method: 'POST',
        key: KEYS.agency,
        headers: { 'content-type': 'application/json', 'x-user-id': 'officer-1', 'x-purpose': 'XAC_MINH_DANH_TINH' },
        body: JSON.stringify({ idNumber: person.idNumber, fullName: person.fullName, dateOfBirth: person.dateOfBirth }),
      });
      const other = verified.headers.get('x-exchange-id')!;
      const otherRow = db.prepare('select leaf from exchange_queue where exchange_id = ? union all select leaf from exchange_entries where exchange_id = ?').get(other, other) as { leaf: string };
      expect(leaf.subjectHash).toBe((JSON.parse(otherRow.leaf) as { subjectHash: string }).subjectHash);
    } finally {
      db.close();
    }
  });
});

describe('a sign-on started for one portal account and sent to someone else', () => {
  /**
   * The portal as the contract asks it to behave: each browser has a portal session, start keeps
   * its returnTo (with the session's own value in the query) in that session, and a browser that
   * arrives with a result is confirmed with the returnTo kept in its own session.
   */
  const sessions = new Map<string, string>();
  async function startInSession(session: string, portalAccountId?: string): Promise<string> {
    const returnTo = `${RETURN_TO}?s=${session}`;
    sessions.set(session, returnTo);
    return start({ returnTo, ...(portalAccountId ? { portalAccountId } : {}) });
  }
  /** The browser signs in as `login` and is sent back to the portal: the signed result it carries. */
  async function signInAt(authorizationUrl: string, login: string): Promise<Result> {
    const { url, response } = await browse(authorizationUrl, login);
    expect(response.status).toBe(302);
    return result(url);
  }
  const arriveInSession = (session: string, token: Result) => confirmSso({ signOn: token.signOn, returnTo: sessions.get(session) });

  it("leaves the starting account unlinked, and the person's later sign-ins never land in it", async () => {
    const victim = living[80]!;
    const rows = linkRows();

    // The attacker, signed in to the portal as cd-attacker-80, starts a sign-on "to link their
    // profile" and sends the national login page to the victim instead of following it.
    const invitation = await startInSession('attacker-session-80', 'cd-attacker-80');

    // The victim's own browser (its own cookie jar) signs in with the victim's identity and is
    // sent back through the gateway's callback to the portal.
    const token = await signInAt(invitation, victim.idNumber);
    expect(token).toMatchObject({ outcome: 'linked', portalAccountId: 'cd-attacker-80', returnTo: `${RETURN_TO}?s=attacker-session-80` });

    // The callback linked nothing: no row, no active link for either account or the ID number.
    expect(linkRows()).toBe(rows);
    expect(await portalLinks('portalAccountId=cd-attacker-80')).toEqual([]);
    expect(await portalLinks(`idNumber=${victim.idNumber}`)).toEqual([]);

    // The victim's browser is in the victim's portal session: the portal confirms with the value
    // kept there, which is not the one bound at start. Without any value it cannot confirm at all.
    sessions.set('victim-session-80', `${RETURN_TO}?s=victim-session-80`);
    const missing = await confirmSso({ signOn: token.signOn });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field: 'body.returnTo' })] });
    const other = await arriveInSession('victim-session-80', token);
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ code: 'VERIFICATION_MISMATCH', errors: [{ field: 'body.returnTo' }] });
    // The refusal ended the sign-on: even the attacker's own session value no longer confirms it.
    const late = await arriveInSession('attacker-session-80', token);
    expect(late.status).toBe(422);
    expect(await late.json()).toMatchObject({ code: 'VERIFICATION_MISMATCH', errors: [{ field: 'body.signOn', message: 'was used already' }] });
    expect(await portalLinks('portalAccountId=cd-attacker-80')).toEqual([]);
    expect(await portalLinks(`idNumber=${victim.idNumber}`)).toEqual([]);

    // Later, the victim signs in at the portal's login page (no portal account): nothing leads to
    // the attacker's account.
    const later = await signInAt(await startInSession('victim-session-80'), victim.idNumber);
    expect(later.outcome).toBe('not_linked');
    const laterConfirmed = await arriveInSession('victim-session-80', later);
    expect(laterConfirmed.status).toBe(200);
    expect(await laterConfirmed.json()).toMatchObject({ outcome: 'not_linked', link: null, portalAccountId: null });

    // The victim links their own account from their profile, then signs straight in to it.
    const own = await signInAt(await startInSession('victim-session-80', 'cd-victim-80'), victim.idNumber);
    const linked = (await (await arriveInSession('victim-session-80', own)).json()) as Confirmation;
    expect(linked).toMatchObject({ outcome: 'linked', link: { portalAccountId: 'cd-victim-80', state: 'active' } });
    const again = await signInAt(await startInSession('victim-session-80'), victim.idNumber);
    expect(again.outcome).toBe('signed_in');
    expect(await (await arriveInSession('victim-session-80', again)).json()).toMatchObject({ outcome: 'signed_in', link: { id: linked.link!.id, portalAccountId: 'cd-victim-80' } });
    expect(await portalLinks('portalAccountId=cd-attacker-80')).toEqual([]);
    expect((await portalLinks(`idNumber=${victim.idNumber}`)).map((l) => l.portalAccountId)).toEqual(['cd-victim-80']);
  });

  it('signs no one in to a linked account before the portal confirms, and confirms once', async () => {
    const person = living[81]!;
    const linked = await signIn(person.idNumber, { portalAccountId: 'cd-once-81' });
    expect(linked.outcome).toBe('linked');

    // The result of a sign-in names no account: only the confirmation says where it leads.
    const token = await signInAt(await startInSession('session-81'), person.idNumber);
    expect(token).toMatchObject({ outcome: 'signed_in', portalAccountId: null });
    expect(token).not.toHaveProperty('link');
    const first = await arriveInSession('session-81', token);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ outcome: 'signed_in', link: { id: linked.link!.id, portalAccountId: 'cd-once-81' } });
    const second = await arriveInSession('session-81', token);
    expect(second.status).toBe(422);
    expect(await second.json()).toMatchObject({ code: 'VERIFICATION_MISMATCH', errors: [{ field: 'body.signOn' }] });
  });

  it('answers 404 for a sign-on id that was never issued, and refuses a malformed one with 400', async () => {
    const unknown = await confirmSso({ signOn: 'A'.repeat(43), returnTo: RETURN_TO });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'SIGN_ON_NOT_FOUND', errors: [{ field: 'body.signOn' }] });
    const malformed = await confirmSso({ signOn: 'not an id', returnTo: RETURN_TO });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field: 'body.signOn' })] });
  });

  it('may be confirmed by portals only', async () => {
    const res = await confirmSso({ signOn: 'A'.repeat(43), returnTo: RETURN_TO }, KEYS.agency);
    expect(res.status).toBe(403);
  });
});
