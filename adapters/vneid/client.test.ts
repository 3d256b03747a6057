import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamCall } from '../../src/audit/leaf.ts';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { enterprises, people } from '../../src/sandbox/personas.ts';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { createBrowser } from '../../test/helpers/browser.ts';
import { failure, testContext } from '../contract/test-kit.ts';
import { createVneidClient, type VneidClient } from './client.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_PASSWORD } from './sandbox-account.ts';
import { createVneidSimulator, nationalAccountId } from './simulator/server.ts';

const REDIRECT = 'http://127.0.0.1:9/v1/accounts/sso/callback';
const LEVEL_2 = ['urn:vneid:loa:2'];
const faults = new FaultBoard();
const log = createLogger({ level: 'silent' });
let simulator: Listening;
let policy: UpstreamPolicy;
let client: VneidClient;

beforeAll(async () => {
  let url = '';
  simulator = await listen(createVneidSimulator({ faults, log, signing: simulatorSigning('vneid'), selfUrl: () => url }), '127.0.0.1', 0);
  url = simulator.url;
  // The provider makes its signing key on its first request: not what the timeouts below measure.
  await (await fetch(`${url}/.well-known/openid-configuration`)).text();
});
afterAll(async () => {
  await simulator?.close();
});
afterEach(() => {
  faults.clear();
  policy?.shutdown();
});

const build = (secret = SANDBOX_CLIENT_SECRET) => {
  policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'vneid', {
    timeoutMs: 400,
    retryAfterSeconds: 3,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 600, rollingCountTimeoutMs: 10_000 },
  });
  client = createVneidClient({ policy }, { issuer: simulator.url, clientId: SANDBOX_CLIENT_ID, clientSecret: secret, retryAfterSeconds: 3 });
};

/** One sign-on up to the callback: what the gateway keeps, and the URL the browser comes back to. */
async function signOn(login: string, level?: string) {
  const secrets = { state: randomBytes(16).toString('base64url'), nonce: randomBytes(16).toString('base64url'), codeVerifier: randomBytes(32).toString('base64url') };
  const codeChallenge = createHash('sha256').update(secrets.codeVerifier).digest('base64url');
  const url = await client.authorizationUrl(testContext(), { redirectUri: REDIRECT, state: secrets.state, nonce: secrets.nonce, codeChallenge, acrValues: LEVEL_2 });
  expect(new URL(url).searchParams.get('acr_values')).toBe('urn:vneid:loa:2');
  const browser = createBrowser();
  const page = await browser.follow(url);
  const back = await browser.submit({ html: await page.response.text(), url: page.url }, /\/login$/, { username: login, password: SANDBOX_PASSWORD, ...(level ? { acr: level } : {}) }, REDIRECT);
  return { ...secrets, callbackUrl: new URL(back.url), redirectUri: REDIRECT, acrValues: LEVEL_2 };
}

describe('national sign-on client against the simulator', () => {
  it('reads a person and an organisation after checking the ID token', async () => {
    build();
    const person = people.find((p) => !p.dateOfDeath)!;
    expect(await client.complete(testContext(), await signOn(person.idNumber))).toEqual({
      account: {
        sub: nationalAccountId('person', person.idNumber),
        accountType: 'person',
        idNumber: person.idNumber,
        enterpriseCode: null,
        fullName: person.fullName,
        dateOfBirth: person.dateOfBirth,
      },
      acr: 'urn:vneid:loa:2',
    });
    const e = enterprises[0]!;
    expect(await client.complete(testContext(), await signOn(e.enterpriseCode))).toMatchObject({ account: { accountType: 'organization', enterpriseCode: e.enterpriseCode, fullName: e.name }, acr: 'urn:vneid:loa:2' });
  });

  it('refuses an ID token of a lower level of assurance before reading userinfo, not counted against the breaker', async () => {
    build();
    const calls: UpstreamCall[] = [];
    const ctx = testContext({ recordCall: (call) => calls.push(call) });
    const flow = await signOn(people[6]!.idNumber, 'urn:vneid:loa:1');
    expect(await failure(client.complete(ctx, flow))).toMatchObject({ code: 'VERIFICATION_MISMATCH', status: 422, upstreamFailure: false, extensions: { acr: 'urn:vneid:loa:1', acrValues: LEVEL_2 } });
    // One call (the token exchange), refused; userinfo is never asked for.
    expect(calls).toMatchObject([{ outcome: 'business_error', code: 'VERIFICATION_MISMATCH' }]);
    expect(policy.state()).toBe('closed');
    // Accepting level 1 as well, the same login at level 1 signs in.
    expect(await client.complete(testContext(), { ...(await signOn(people[6]!.idNumber, 'urn:vneid:loa:1')), acrValues: ['urn:vneid:loa:1', 'urn:vneid:loa:2'] })).toMatchObject({ acr: 'urn:vneid:loa:1' });
  });

  it('refuses a wrong PKCE verifier or state as VERIFICATION_MISMATCH, not counted against the breaker', async () => {
    build();
    const person = people[3]!;
    const flow = await signOn(person.idNumber);
    expect(await failure(client.complete(testContext(), { ...flow, codeVerifier: randomBytes(32).toString('base64url') }))).toMatchObject({ code: 'VERIFICATION_MISMATCH', upstreamFailure: false });
    const other = await signOn(person.idNumber);
    expect(await failure(client.complete(testContext(), { ...other, state: 'another-state' }))).toMatchObject({ code: 'VERIFICATION_MISMATCH' });
    expect(policy.state()).toBe('closed');
  });

  it("says UPSTREAM_AUTH when the service refuses the gateway's client secret", async () => {
    build('not-the-secret');
    const flow = await signOn(people[4]!.idNumber);
    expect(await failure(client.complete(testContext(), flow))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
  });

  it('times out a silent service with UPSTREAM_TIMEOUT and reports health', async () => {
    build();
    const flow = await signOn(people[5]!.idNumber);
    expect(await client.health(testContext())).toMatchObject({ status: 'up' });
    faults.set({ system: 'vneid', mode: 'timeout' });
    expect(await failure(client.complete(testContext(), flow))).toMatchObject({ code: 'UPSTREAM_TIMEOUT', retryAfter: 3 });
    faults.set({ system: 'vneid', mode: 'down' });
    expect(await client.health(testContext())).toMatchObject({ status: 'down' });
  });
});
