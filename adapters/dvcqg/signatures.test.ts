import { describe, expect, it } from 'vitest';
import { procedures, UNKNOWN } from '../../src/sandbox/personas.ts';
import { simulatorSigning } from '../../src/sandbox/signing.ts';
import { contentDigest } from '../../src/signing/http-signatures.ts';
import type { UpstreamSigning } from '../../src/signing/material.ts';
import { MESSAGE_FAULTS, failure, testContext, testSigning } from '../contract/test-kit.ts';
import { LOGIN_PATH, SERVICE_PATH } from './client.ts';
import { portalEnv } from './test-env.ts';

const known = procedures[0]!;

/** Both ends configured for the RFC 9421 profile (the real portal's default is `none`). */
const setup = (options: Parameters<typeof portalEnv>[0] = {}) => portalEnv({ messageSecurity: 'rfc9421', ...options });

describe('dvcqg without message signatures (messageSecurity none, the default)', () => {
  it('sends nothing signed and reads unsigned answers, as the real portal speaks', async () => {
    const env = await portalEnv();
    expect((await env.ops.get(testContext(), known.code)).code).toBe(known.code);
    expect((await env.adapter.health(testContext())).status).toBe('up');
    expect(env.received.map((r) => r.path)).toEqual([LOGIN_PATH, SERVICE_PATH, '/api/health']);
    for (const { headers } of env.received) {
      expect(headers['signature-input']).toBeUndefined();
      expect(headers.signature).toBeUndefined();
    }
  });

  it('is refused by a portal that requires signatures, with UPSTREAM_AUTH', async () => {
    const env = await portalEnv({ simulator: { messageSecurity: 'rfc9421' } });
    expect(await failure(env.ops.list(testContext()))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502 });
  });
});

describe('dvcqg message signatures (messageSecurity rfc9421), over real sockets', () => {
  it('signs the login and each service call, body digest included, and accepts the signed answers', async () => {
    const env = await setup();
    expect((await env.ops.get(testContext(), known.code)).code).toBe(known.code);
    expect(env.received.map((r) => r.path)).toEqual([LOGIN_PATH, SERVICE_PATH]);
    for (const { headers } of env.received) {
      expect(headers['signature-input']).toMatch(/^sig1=\("@method" "@target-uri" "date" "content-type" "content-digest"\);created=\d+;expires=\d+;nonce="[^"]+";keyid="[^"]+";alg="rsa-pss-sha512"$/);
      expect(headers['content-digest']).toMatch(/^sha-256=:[A-Za-z0-9+/]{43}=:$/);
      expect(headers['signature-certificate']).toMatch(/^:[A-Za-z0-9+/=]+:, :[A-Za-z0-9+/=]+:$/);
    }
    expect(env.received[0]!.headers['content-digest']).toBe(contentDigest(JSON.stringify({ username: 'lienthong-h52', password: 'sandbox-password' })));
  });

  for (const [mode, expected] of MESSAGE_FAULTS) {
    it(`refuses a ${mode} login answer with 502 ${expected} and never uses its session`, async () => {
      const env = await setup();
      env.faults.set({ system: 'dvcqg', mode });
      expect(await failure(env.ops.get(testContext(), known.code))).toMatchObject({ code: expected, status: 502, upstreamFailure: true });
      expect(env.logins()).toBe(1);
      expect(env.serviceCalls()).toHaveLength(0);
    });

    it(`refuses a ${mode} service answer with 502 ${expected}, "not found" included`, async () => {
      const env = await setup();
      await env.ops.get(testContext(), known.code);
      env.faults.set({ system: 'dvcqg', mode });
      expect(await failure(env.ops.get(testContext(), known.code))).toMatchObject({ code: expected, status: 502 });
      expect((await failure(env.ops.get(testContext(), UNKNOWN.procedureCode))).code).toBe(expected);
      expect(env.logins()).toBe(1);
    });
  }

  it('does not log in again on an unsigned "session expired" answer: it is refused first', async () => {
    const env = await setup();
    await env.ops.list(testContext());
    env.simulator.expireSessions();
    env.faults.set({ system: 'dvcqg', mode: 'unsigned' });
    expect((await failure(env.ops.list(testContext()))).code).toBe('UPSTREAM_SIGNATURE_INVALID');
    expect(env.logins()).toBe(1);
    // Signed again, the expiry is believed and handled by one new login.
    env.faults.clear();
    expect((await env.ops.list(testContext())).length).toBe(procedures.length);
    expect(env.logins()).toBe(2);
  });

  it('keeps signed failures mapped: error → UPSTREAM_UNAVAILABLE, malformed → UPSTREAM_BAD_RESPONSE', async () => {
    const env = await setup();
    env.faults.set({ system: 'dvcqg', mode: 'error' });
    expect(await failure(env.ops.get(testContext(), known.code))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 3 });
    env.faults.set({ system: 'dvcqg', mode: 'malformed' });
    expect((await failure(env.ops.get(testContext(), known.code))).code).toBe('UPSTREAM_BAD_RESPONSE');
  });

  it('answers UPSTREAM_AUTH, counted against the upstream, when the portal refuses the gateway certificate', async () => {
    const impostor: UpstreamSigning = { ...testSigning('dvcqg'), credentials: simulatorSigning('tax').credentials() };
    const env = await setup({ signing: impostor, volumeThreshold: 2 });
    for (let i = 0; i < 2; i++) expect(await failure(env.ops.list(testContext()))).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
    expect(env.policy.state()).toBe('open');
    // Refused before the portal looked at the account: no login was handled.
    expect(env.logins()).toBe(0);
  });

  it('reports health up with a signed probe', async () => {
    const env = await setup();
    expect((await env.adapter.health(testContext())).status).toBe('up');
    expect(env.received.at(-1)!.headers['signature-input']).toMatch(/^sig1=\("@method" "@target-uri" "date"\)/);
  });
});
