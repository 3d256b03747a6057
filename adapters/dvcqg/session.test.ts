import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { procedures, UNKNOWN } from '../../src/sandbox/personas.ts';
import type { Dossier, DossierSnapshot } from '../../src/core/dossiers/port.ts';
import { failure, testContext } from '../contract/test-kit.ts';
import { SANDBOX_ACCOUNT } from './index.ts';
import { portalEnv } from './test-env.ts';


const setup = portalEnv;

const [first, second, third] = procedures as [(typeof procedures)[number], (typeof procedures)[number], (typeof procedures)[number]];

describe('dvcqg session', () => {
  it('logs in once with the sandbox account and reuses the session for every call', async () => {
    const env = await setup();
    expect((await env.ops.list(testContext())).map((p) => p.code)).toEqual(procedures.map((p) => p.code));
    for (const p of [first, second, third]) expect((await env.ops.get(testContext(), p.code)).code).toBe(p.code);

    expect(env.logins()).toBe(1);
    expect(env.requests[0]!.body).toEqual({ username: SANDBOX_ACCOUNT.username, password: SANDBOX_ACCOUNT.password });
    const calls = env.serviceCalls();
    expect(calls).toHaveLength(4);
    expect(new Set(calls.map((c) => c.body.session)).size).toBe(1);
    expect(calls[0]!.body).toEqual({ session: calls[0]!.body.session, madonvi: 'H52', service: 'LayDanhSachTTHC', MaTinh: 'H52' });
    expect(calls[1]!.body).toEqual({ session: calls[0]!.body.session, madonvi: 'H52', service: 'LayThuTuc', maTTHC: first.code });
    // The login names the calling agency in a dstcode header, as public integrations send it.
    expect(env.received[0]!.headers.dstcode).toBe('H52');
    expect(env.received.slice(1).every((r) => r.headers.dstcode === undefined)).toBe(true);
  });

  it('logs in again exactly once when the portal has ended the session, and the call succeeds', async () => {
    const env = await setup();
    await env.ops.get(testContext(), first.code);
    env.simulator.expireSessions();
    expect(env.simulator.sessionCount()).toBe(0);

    expect((await env.ops.get(testContext(), second.code)).code).toBe(second.code);
    expect(env.logins()).toBe(2);
    const calls = env.serviceCalls();
    expect(calls).toHaveLength(3);
    // The retried call carries the new session, not the expired one.
    expect(calls[2]!.body.session).not.toBe(calls[1]!.body.session);
    expect(calls[2]!.body.maTTHC).toBe(second.code);
  });

  it('logs in again when the session outlives its time to live', async () => {
    const env = await setup({ simulator: { sessionTtlMs: 300 } });
    await env.ops.get(testContext(), first.code);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await env.ops.list(testContext())).length).toBe(procedures.length);
    expect(env.logins()).toBe(2);
  });

  it('shares one re-login between concurrent calls that all find the session expired', async () => {
    const env = await setup();
    await env.ops.get(testContext(), first.code);
    env.simulator.expireSessions();
    const answers = await Promise.all(procedures.slice(0, 8).map((p) => env.ops.get(testContext(), p.code)));
    expect(answers.map((a) => a.code)).toEqual(procedures.slice(0, 8).map((p) => p.code));
    expect(env.logins()).toBe(2);
  });

  it('gives up with UPSTREAM_AUTH when a fresh session is refused too', async () => {
    // A zero time to live: every session has expired by the time it is used.
    const env = await setup({ simulator: { sessionTtlMs: 0 } });
    const err = await failure(env.ops.get(testContext(), first.code));
    expect(err).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
    expect(env.logins()).toBe(2);
    expect(env.serviceCalls()).toHaveLength(2);
  });

  it('answers UPSTREAM_AUTH for wrong credentials, counts it against the upstream, and never calls a service', async () => {
    const env = await setup({ credentials: { username: SANDBOX_ACCOUNT.username, password: 'wrong' }, volumeThreshold: 2 });
    for (let i = 0; i < 2; i++) {
      const err = await failure(env.ops.get(testContext(), first.code));
      expect(err).toMatchObject({ code: 'UPSTREAM_AUTH', status: 502, upstreamFailure: true });
      expect(err.detail).not.toContain('mật khẩu');
    }
    expect(env.policy.state()).toBe('open');
    expect(env.logins()).toBe(2);
    expect(env.serviceCalls()).toHaveLength(0);
  });

  it('uses the configured account instead of the sandbox one', async () => {
    const env = await setup({ credentials: { username: 'lienthong-h52-prod', password: 'other' } });
    expect((await failure(env.ops.list(testContext()))).code).toBe('UPSTREAM_AUTH');
    expect(env.requests[0]!.body).toEqual({ username: 'lienthong-h52-prod', password: 'other' });
  });

  it('answers UPSTREAM_AUTH when the account may not act for the configured agency', async () => {
    const env = await setup({ gatewayAgency: 'H14' });
    expect(await failure(env.ops.get(testContext(), first.code))).toMatchObject({ code: 'UPSTREAM_AUTH', upstreamFailure: true });
  });

  it('lets concurrent first calls share one login', async () => {
    const env = await setup();
    const answers = await Promise.all([env.ops.list(testContext()), ...procedures.slice(0, 9).map((p) => env.ops.get(testContext(), p.code))]);
    expect(answers).toHaveLength(10);
    expect(env.logins()).toBe(1);
    expect(env.serviceCalls()).toHaveLength(10);
  });

  it('does not cache a failed login: the next call logs in again', async () => {
    const env = await setup({ credentials: { username: 'lienthong-h52', password: 'wrong' } });
    await failure(env.ops.list(testContext()));
    await failure(env.ops.list(testContext()));
    expect(env.logins()).toBe(2);
  });
});

describe('dvcqg dossier refusals', () => {
  const dossier = JSON.parse(readFileSync(new URL('./fixtures/dossier.json', import.meta.url), 'utf8')) as Dossier;
  const snapshot = (d: Dossier): DossierSnapshot => ({ dossier: d, status: 1, processingEndedAt: null, returnedAt: null });

  it('marks a dossier the portal refuses as invalid as a permanent refusal with its reason, not counted against the breaker', async () => {
    // A breaker that opens on the first counted failure.
    const env = await setup({ volumeThreshold: 1 });
    const invalid = snapshot({ ...dossier, code: 'H52.101.114-261127-0901', procedureCode: UNKNOWN.procedureCode });
    for (let i = 1; i <= 3; i++) {
      const err = await failure(env.ops.sync(testContext(), invalid, { isUpdating: false, mark: { id: `m${i}`, sequence: 1 } }));
      expect(err).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', permanent: true, upstreamReason: '400 Mã thủ tục hành chính không tồn tại', upstreamFailure: false });
      // The portal's words are for operators: not in the detail a problem body would carry.
      expect(err.detail).not.toContain('không tồn tại');
    }
    expect(env.policy.stats().state).toBe('closed');
    // The portal's answer says nothing about repeats: the answer does not pretend to know.
    expect(await env.ops.sync(testContext(), snapshot(dossier), { isUpdating: false, mark: { id: 'm4', sequence: 1 } })).toEqual({ duplicate: null });
    // A dossier the portal does not know, updated, is not an invalid item: not permanent.
    const unknown = await failure(env.ops.sync(testContext(), snapshot({ ...dossier, code: 'H52.101.114-261127-0902' }), { isUpdating: true, mark: { id: 'm5', sequence: 1 } }));
    expect(unknown).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', permanent: false });
  });

  it('sends a creation the portal answers "đã tồn tại" again as an update, which is delivered', async () => {
    const env = await setup();
    const code = 'H52.101.114-261127-0903';
    expect(await env.ops.lookup(testContext(), code)).toBe(false);
    await env.ops.sync(testContext(), snapshot({ ...dossier, code }), { isUpdating: false, mark: { id: 'c1', sequence: 1 } });
    expect(await env.ops.lookup(testContext(), code)).toBe(true);
    // Another change sent as new (the gateway had not learnt the portal holds it): refused, then sent as an update.
    expect(await env.ops.sync(testContext(), { ...snapshot({ ...dossier, code }), status: 2 }, { isUpdating: false, mark: { id: 'c2', sequence: 2 } })).toEqual({ duplicate: null });
    const syncs = env.serviceCalls().filter((c) => c.body.service === 'DongBoHoSoMC');
    expect(syncs.map((c) => c.body.isUpdating)).toEqual(['False', 'False', 'True']);
    expect(env.simulator.dossiers().find((d) => d.code === code)).toMatchObject({ status: '2', duplicates: 0 });
    // TraCuuHoSo is asked with the newer parameter name.
    expect(env.serviceCalls().filter((c) => c.body.service === 'TraCuuHoSo').map((c) => Object.keys(c.body))).toEqual([
      ['session', 'madonvi', 'service', 'mahoso'],
      ['session', 'madonvi', 'service', 'mahoso'],
    ]);
  });
});
