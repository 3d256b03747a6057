import { beforeEach, describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors/gateway-error.ts';
import { createAccountLinkStore, createSsoFlowStore } from '../store/account-links.ts';
import { createAccountLinkService, type AccountLinkService, type Actor } from './account-links.ts';
import { freshStores, noCitizens, noEnterprises, testHash, unused } from '../../test/helpers/link-test-kit.ts';
import { createSsoService, type SsoFlowStore, type SsoService } from './national-sso.ts';

// Confirming a sign-on calls no national system and signs nothing.
const newStore = freshStores('sso');

const RETURN_TO = 'http://localhost:3000/auth/national/callback?s=session-1';
const RESULT_TTL_SECONDS = 120;
const portal: Actor = { clientId: 'sandbox-portal', roles: ['portal'], userId: 'session-1' };

let clock: Date;
let flows: SsoFlowStore;
let links: AccountLinkService;
let sso: SsoService;
beforeEach(async () => {
  const store = await newStore();
  clock = new Date();
  flows = createSsoFlowStore({ db: store.db });
  links = createAccountLinkService(
    { store: createAccountLinkStore({ db: store.db }), citizens: noCitizens, enterprises: noEnterprises, hashIdentifier: testHash, now: () => clock },
    { pendingTtlMs: 15 * 60_000 },
  );
  sso = createSsoService(
    { signOn: { authorizationUrl: unused, complete: unused }, flows, links, attester: { attest: unused }, now: () => clock },
    { redirectUri: () => 'http://127.0.0.1/v1/accounts/sso/callback', returnToAllowList: [], acrValues: ['urn:vneid:loa:2'], flowTtlMs: 600_000, resultTtlSeconds: RESULT_TTL_SECONDS },
  );
});

/** A sign-on the callback verified and recorded, as it does: pending for the portal account cd-1. */
async function signedOn(id: string, portalAccountId: string | null = 'cd-1') {
  const account = links.signedOn({ sub: `sub-${id}`, accountType: 'person', idNumber: '014089001234', enterpriseCode: null, fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' }, 'urn:vneid:loa:2', `ex-${id}`);
  await flows.savePending(id, { clientId: portal.clientId, portalAccountId, returnTo: RETURN_TO, account, expiresAt: new Date(clock.getTime() + RESULT_TTL_SECONDS * 1000) }, clock);
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, field: err.errors?.[0]?.field };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('confirming a national sign-on', () => {
  it('links only on confirmation with the returnTo bound at start', async () => {
    await signedOn('a'.repeat(43));
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([]);
    const confirmed = await sso.confirm(portal, { signOn: 'a'.repeat(43), returnTo: RETURN_TO });
    expect(confirmed).toMatchObject({ outcome: 'linked', portalAccountId: 'cd-1', link: { portalAccountId: 'cd-1', state: 'active', exchangeId: `ex-${'a'.repeat(43)}` }, national: { maskedIdentifier: '014*******34', acr: 'urn:vneid:loa:2' } });
    expect(await links.list({ portalAccountId: 'cd-1' })).toHaveLength(1);
  });

  it('lapses after sso.resultTtlSeconds: nothing linked, and a later sign-in is not signed in', async () => {
    await signedOn('b'.repeat(43));
    clock = new Date(clock.getTime() + RESULT_TTL_SECONDS * 1000);
    expect(await refusal(sso.confirm(portal, { signOn: 'b'.repeat(43), returnTo: RETURN_TO }))).toEqual({ code: 'VERIFICATION_MISMATCH', field: 'body.signOn' });
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([]);
    // The same national account signing in again has nothing to land in.
    await signedOn('c'.repeat(43), null);
    expect(await sso.confirm(portal, { signOn: 'c'.repeat(43), returnTo: RETURN_TO })).toMatchObject({ outcome: 'not_linked', link: null });
  });

  it("is not another client's to confirm, and asking does not use it up", async () => {
    await signedOn('d'.repeat(43));
    expect(await refusal(sso.confirm({ ...portal, clientId: 'other-portal' }, { signOn: 'd'.repeat(43), returnTo: RETURN_TO }))).toEqual({ code: 'SIGN_ON_NOT_FOUND', field: 'body.signOn' });
    expect((await sso.confirm(portal, { signOn: 'd'.repeat(43), returnTo: RETURN_TO })).outcome).toBe('linked');
  });

  it('ends the sign-on on a returnTo other than the one bound at start', async () => {
    await signedOn('e'.repeat(43));
    for (const other of [`${RETURN_TO}x`, RETURN_TO.replace('session-1', 'session-2'), '']) {
      expect(await refusal(sso.confirm(portal, { signOn: 'e'.repeat(43), returnTo: other }))).toMatchObject({ code: 'VERIFICATION_MISMATCH' });
    }
    expect(await refusal(sso.confirm(portal, { signOn: 'e'.repeat(43), returnTo: RETURN_TO }))).toEqual({ code: 'VERIFICATION_MISMATCH', field: 'body.signOn' });
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([]);
  });

  it('confirms once, however many confirmations arrive at once', async () => {
    await signedOn('f'.repeat(43));
    const settled = await Promise.allSettled(Array.from({ length: 6 }, () => sso.confirm(portal, { signOn: 'f'.repeat(43), returnTo: RETURN_TO })));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    expect(await links.list({ portalAccountId: 'cd-1' })).toHaveLength(1);
  });
});
