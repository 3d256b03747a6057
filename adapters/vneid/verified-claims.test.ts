import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../src/http/listen.ts';
import { createLogger } from '../../src/logging.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createPolicy, type UpstreamPolicy } from '../../src/resilience/policy.ts';
import { FaultBoard } from '../../src/sandbox/faults.ts';
import { people } from '../../src/sandbox/personas.ts';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { createBrowser } from '../../test/helpers/browser.ts';
import { startTamperingProxy, type Tamper, type TamperingProxy } from '../../test/helpers/tampering-proxy.ts';
import { failure, testContext } from '../contract/test-kit.ts';
import { createVneidClient, type VneidClient } from './client.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_PASSWORD } from './sandbox-account.ts';
import { createVneidSimulator, nationalAccountId } from './simulator/server.ts';

/**
 * The national sign-on answers rewritten on the wire, between the gateway's client and the
 * sign-on simulator: the account the gateway links on comes from the verified ID token, and a
 * rewritten ID token or userinfo is refused rather than read.
 */

const REDIRECT = 'http://127.0.0.1:9/v1/accounts/sso/callback';
const LEVEL_2 = ['urn:vneid:loa:2'];
const log = createLogger({ level: 'silent' });
const living = people.filter((p) => !p.dateOfDeath);
const victim = living[10]!;
const attacker = living[11]!;

let simulator: Listening;
let proxy: TamperingProxy;
let policy: UpstreamPolicy;
let client: VneidClient;

beforeAll(async () => {
  proxy = await startTamperingProxy();
  // The simulator names the proxy as its issuer: to the client, the proxy is the national service.
  simulator = await listen(createVneidSimulator({ faults: new FaultBoard(), log, signing: simulatorSigning('vneid'), selfUrl: () => proxy.url }), '127.0.0.1', 0);
  proxy.target = simulator.url;
  policy = createPolicy({ log, metrics: createMetrics({ defaultMetrics: false }) }, 'vneid', {
    timeoutMs: 2000,
    retryAfterSeconds: 3,
    breaker: { errorThresholdPercentage: 50, volumeThreshold: 1000, resetTimeoutMs: 600, rollingCountTimeoutMs: 10_000 },
  });
  client = createVneidClient({ policy }, { issuer: proxy.url, clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET, retryAfterSeconds: 3 });
});
afterAll(async () => {
  policy?.shutdown();
  await simulator?.close();
  await proxy?.close();
});
afterEach(() => {
  proxy.tamper = (body) => body;
});

/** A sign-on through the proxy up to the callback, as the gateway keeps it. */
async function signOn(login: string) {
  const secrets = { state: randomBytes(16).toString('base64url'), nonce: randomBytes(16).toString('base64url'), codeVerifier: randomBytes(32).toString('base64url') };
  const codeChallenge = createHash('sha256').update(secrets.codeVerifier).digest('base64url');
  const url = await client.authorizationUrl(testContext(), { redirectUri: REDIRECT, state: secrets.state, nonce: secrets.nonce, codeChallenge, acrValues: LEVEL_2 });
  const browser = createBrowser();
  const page = await browser.follow(url);
  const back = await browser.submit({ html: await page.response.text(), url: page.url }, /\/login$/, { username: login, password: SANDBOX_PASSWORD }, REDIRECT);
  return { ...secrets, callbackUrl: new URL(back.url), redirectUri: REDIRECT, acrValues: LEVEL_2 };
}

const isToken = (path: string) => new URL(path, 'http://x').pathname === '/token';
const isUserinfo = (path: string) => new URL(path, 'http://x').pathname === '/me';

/** Rewrites the JSON answers of one endpoint; counts the rewrites. */
function rewrite(which: (path: string) => boolean, change: (body: Record<string, unknown>) => Record<string, unknown>): { count: () => number } {
  let count = 0;
  const tamper: Tamper = (body, exchange) => {
    if (!which(exchange.path) || exchange.status !== 200) return body;
    count++;
    return JSON.stringify(change(JSON.parse(body) as Record<string, unknown>));
  };
  proxy.tamper = tamper;
  return { count: () => count };
}

/** Completes the sign-on with the proxy's rewrite in place; the refusal, or what was accepted. */
async function completeThrough(login: string, which: (path: string) => boolean, change: (body: Record<string, unknown>) => Record<string, unknown>) {
  const flow = await signOn(login);
  const rewritten = rewrite(which, change);
  const outcome = await failure(client.complete(testContext(), flow));
  expect(rewritten.count(), 'the proxy rewrote an answer').toBe(1);
  return outcome;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('national sign-on answers rewritten on the wire', () => {
  it('carries the account claims in the signed ID token, and reads the account from it', async () => {
    const flow = await signOn(victim.idNumber);
    const result = await client.complete(testContext(), flow);
    expect(result.account).toMatchObject({ sub: nationalAccountId('person', victim.idNumber), idNumber: victim.idNumber, fullName: victim.fullName });
    const tokenAnswer = proxy.seen.findLast((e) => isToken(e.path))!;
    const idToken = decodeJwt((JSON.parse(tokenAnswer.body) as { id_token: string }).id_token);
    expect(idToken).toMatchObject({ sub: nationalAccountId('person', victim.idNumber), SoDinhDanh: victim.idNumber, LoaiTaiKhoan: 1 });
  });

  it('refuses an unsigned ID token naming another person', async () => {
    const refused = await completeThrough(attacker.idNumber, isToken, (body) => {
      const claims = { ...decodeJwt(body.id_token as string), sub: nationalAccountId('person', victim.idNumber), TechID: nationalAccountId('person', victim.idNumber), SoDinhDanh: victim.idNumber, HoVaTen: victim.fullName };
      return { ...body, id_token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.` };
    });
    expect(refused).toMatchObject({ status: 502, code: 'UPSTREAM_BAD_RESPONSE' });
    expect((refused as { detail: string }).detail).toMatch(/"alg"/);
  });

  it('refuses an ID token re-signed with another key under the service key id', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const refused = await completeThrough(attacker.idNumber, isToken, (body) => {
      const genuine = body.id_token as string;
      const header = b64(decodeProtectedHeader(genuine));
      const payload = b64({ ...decodeJwt(genuine), SoDinhDanh: victim.idNumber, HoVaTen: victim.fullName });
      const signature = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey).toString('base64url');
      return { ...body, id_token: `${header}.${payload}.${signature}` };
    });
    expect(refused).toMatchObject({ status: 502, code: 'UPSTREAM_SIGNATURE_INVALID' });
  });

  it('refuses userinfo whose ID number differs from the signed ID token’s, keeping the sub', async () => {
    const refused = await completeThrough(attacker.idNumber, isUserinfo, (body) => ({ ...body, SoDinhDanh: victim.idNumber }));
    expect(refused).toMatchObject({ status: 502, code: 'UPSTREAM_BAD_RESPONSE' });
    expect((refused as { detail: string }).detail).toMatch(/SoDinhDanh differs/);
  });

  it('refuses userinfo whose name differs from the signed ID token’s', async () => {
    const refused = await completeThrough(attacker.idNumber, isUserinfo, (body) => ({ ...body, HoVaTen: victim.fullName }));
    expect(refused).toMatchObject({ status: 502, code: 'UPSTREAM_BAD_RESPONSE' });
  });

  it('refuses userinfo about another subject', async () => {
    const victimSub = nationalAccountId('person', victim.idNumber);
    const refused = await completeThrough(attacker.idNumber, isUserinfo, (body) => ({ ...body, sub: victimSub, TechID: victimSub, SoDinhDanh: victim.idNumber, HoVaTen: victim.fullName }));
    // openid-client compares userinfo's sub with the ID token's before the claims are bound.
    expect(refused).toMatchObject({ status: 422, code: 'VERIFICATION_MISMATCH' });
    expect((refused as { detail: string }).detail).toMatch(/"sub"/);
  });
});
