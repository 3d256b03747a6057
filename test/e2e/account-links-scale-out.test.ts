import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_PASSWORD } from '../../adapters/vneid/sandbox-account.ts';
import { SYSTEM_IDS } from '../../src/config/schema.ts';
import { people } from '../../src/sandbox/personas.ts';
import { storeBackends } from '../helpers/backends.ts';
import { createBrowser } from '../helpers/browser.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/**
 * Two gateways on one PostgreSQL, as two replicas behind a load balancer: links made at once
 * through both are still one per identity, and a sign-on started on one completes on the other,
 * once.
 */
const { backends, cleanup } = storeBackends('account links across two gateways');
const postgres = backends.find((b) => b.name === 'PostgreSQL')!;
const living = people.filter((p) => !p.dateOfDeath);
// The address the load balancer would have; nothing listens there: the test hands the callback to a replica itself.
const BALANCER = 'http://127.0.0.1:9/v1/accounts/sso/callback';
const RETURN_TO = 'http://localhost:3000/auth/national/callback';
const headers = { 'content-type': 'application/json', 'x-user-id': 'officer-17', 'x-purpose': 'LIEN_KET_TAI_KHOAN' };

describe.skipIf(postgres.skip)('account links and sign-on across two gateways on PostgreSQL', () => {
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    const options = await postgres.options();
    const shared = { 'database.url': options.url, 'database.schema': options.searchPath, 'privacy.hashKeyFile': join(mkdtempSync(join(tmpdir(), 'lienthong-keys-')), 'hash-key'), 'sso.redirectUri': BALANCER };
    a = await startTestGateway(shared);
    // The second replica talks to the first one's sandbox, as replicas share the national systems.
    const upstreams = Object.fromEntries(SYSTEM_IDS.map((id) => [`upstreams.${id}.url`, a.gateway.upstreamUrls[id]]));
    b = await startTestGateway({ ...shared, ...upstreams });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await cleanup();
  });

  it('makes one link when both replicas link the same person at once', async () => {
    const p = living[30]!;
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? b : a).fetch('/v1/accounts/links', {
          method: 'POST',
          headers,
          body: JSON.stringify({ portalAccountId: `cd-scale-${i}`, subject: { type: 'person', idNumber: p.idNumber }, evidence: { fullName: p.fullName, dateOfBirth: p.dateOfBirth } }),
        }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([201, ...Array<number>(9).fill(409)]);
    const listed = await b.fetch(`/v1/accounts/links?idNumber=${p.idNumber}`, { headers });
    expect(((await listed.json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it('completes on one replica a sign-on started on the other, and refuses the replay on either', async () => {
    const start = await a.fetch(`/v1/accounts/sso/start?${new URLSearchParams({ returnTo: RETURN_TO, portalAccountId: 'cd-scale-sso' })}`, { headers, redirect: 'manual' });
    expect(start.status).toBe(302);
    const browser = createBrowser();
    const page = await browser.follow(start.headers.get('location')!);
    const back = await browser.submit({ html: await page.response.text(), url: page.url }, /\/login$/, { username: living[31]!.idNumber, password: SANDBOX_PASSWORD }, BALANCER);
    const query = new URL(back.url).search;
    const done = await fetch(`${b.url}/v1/accounts/sso/callback${query}`, { redirect: 'manual' });
    expect(done.status, await done.clone().text()).toBe(302);
    expect(done.headers.get('location')).toMatch(/^http:\/\/localhost:3000\/auth\/national\/callback\?result=/);
    for (const replica of [a, b]) expect((await fetch(`${replica.url}/v1/accounts/sso/callback${query}`, { redirect: 'manual' })).status).toBe(422);
    // The portal confirms on the first replica the sign-on the second recorded; then the link exists.
    const token = new URL(done.headers.get('location')!).searchParams.get('result')!;
    const { signOn } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { signOn: string };
    const confirmed = await a.fetch('/v1/accounts/sso/confirm', { method: 'POST', headers, body: JSON.stringify({ signOn, returnTo: RETURN_TO }) });
    expect(confirmed.status, await confirmed.clone().text()).toBe(200);
    const listed = await a.fetch('/v1/accounts/links?portalAccountId=cd-scale-sso', { headers });
    expect(((await listed.json()) as { items: { verification: { method: string } }[] }).items).toMatchObject([{ verification: { method: 'national_sso' } }]);
  });
});
