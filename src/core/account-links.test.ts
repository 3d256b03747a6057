import { beforeEach, describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors/gateway-error.ts';
import { createAccountLinkStore } from '../store/account-links.ts';
import { createAccountLinkService, type AccountLinkService, type AccountLinkStore, type Actor } from './account-links.ts';
import { freshStores, noCitizens, noEnterprises, testHash } from '../../test/helpers/link-test-kit.ts';
import type { NationalAccount } from './national-sign-on-port.ts';

// National sign-on resolution needs no national database.
const newStore = freshStores('links');

const portal: Actor = { clientId: 'sandbox-portal', roles: ['portal'], userId: 'session-1' };
const LOA = 'urn:vneid:loa:2';
const person = (sub: string, idNumber: string): NationalAccount => ({ sub, accountType: 'person', idNumber, enterpriseCode: null, fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' });

let clock: Date;
let links: AccountLinkService;
let linkStore: AccountLinkStore;
beforeEach(async () => {
  const store = await newStore();
  clock = new Date('2026-11-27T02:00:00Z');
  linkStore = createAccountLinkStore({ db: store.db });
  links = createAccountLinkService(
    { store: linkStore, citizens: noCitizens, enterprises: noEnterprises, hashIdentifier: testHash, now: () => clock },
    { pendingTtlMs: 15 * 60_000 },
  );
});

/** A confirmed national sign-on of `national`, started for `portalAccountId`, verified in exchange `exchangeId`. */
const resolve = (national: NationalAccount, portalAccountId: string | null, exchangeId: string) => links.resolveSignOn(portal, links.signedOn(national, LOA, exchangeId), portalAccountId);

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isGatewayError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('national sign-on outcomes', () => {
  it('links a new national account, then signs it in by sub alone', async () => {
    const first = await resolve(person('sub-1', '014089001234'), 'cd-1', 'ex-1');
    expect(first).toMatchObject({ outcome: 'linked', link: { portalAccountId: 'cd-1', state: 'active', nationalAccountLinked: true, exchangeId: 'ex-1' } });
    expect(await linkStore.events(first.link!.id)).toMatchObject([{ event: 'created', exchangeId: 'ex-1', reason: `national sign-on at level of assurance ${LOA}` }]);
    // Another ID number under the same national account id still signs in to the linked account.
    expect(await resolve(person('sub-1', '014089001234'), null, 'ex-2')).toMatchObject({ outcome: 'signed_in', link: { id: first.link!.id } });
  });

  it('offers a pending link on an ID-number match that only the same client may confirm, before it lapses', async () => {
    await resolve(person('sub-old', '014089001234'), 'cd-1', 'ex-1');
    // The person's national account changed (a new sub) but the ID number is linked.
    const offered = await resolve(person('sub-new', '014089001234'), 'cd-2', 'ex-2');
    expect(offered).toMatchObject({ outcome: 'confirmation_required', link: { portalAccountId: 'cd-1', state: 'pending', expiresAt: '2026-11-27T09:15:00+07:00' } });
    expect(await linkStore.events(offered.link!.id)).toMatchObject([{ event: 'offered', reason: `national sign-on at level of assurance ${LOA}` }]);
    expect(await code(links.confirm({ ...portal, clientId: 'other-portal' }, offered.link!.id))).toBe('LINK_NOT_FOUND');
    clock = new Date(clock.getTime() + 15 * 60_000);
    expect(await code(links.confirm(portal, offered.link!.id))).toBe('VERIFICATION_MISMATCH');
  });

  it('drops the offer when the link it would replace is removed first', async () => {
    const old = await resolve(person('sub-old', '014089001234'), 'cd-1', 'ex-1');
    const offered = await resolve(person('sub-new', '014089001234'), null, 'ex-2');
    await links.remove({ clientId: 'ops', roles: ['operator'], userId: 'op-1' }, old.link!.id, 'obtained with false evidence');
    expect(await code(links.confirm(portal, offered.link!.id))).toBe('VERIFICATION_MISMATCH');
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([]);
  });

  it('confirms within the time: the pending link replaces the old one', async () => {
    const old = await resolve(person('sub-old', '014089001234'), 'cd-1', 'ex-1');
    const offered = await resolve(person('sub-new', '014089001234'), null, 'ex-2');
    clock = new Date(clock.getTime() + 60_000);
    const confirmed = await links.confirm(portal, offered.link!.id);
    expect(confirmed).toMatchObject({ state: 'active', portalAccountId: 'cd-1', verification: { verifiedAt: '2026-11-27T09:01:00+07:00' } });
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([confirmed]);
    expect(await resolve(person('sub-old', '014089001234'), null, 'ex-3')).toMatchObject({ outcome: 'confirmation_required' });
    expect(old.link!.id).not.toBe(confirmed.id);
  });

  it('reports not_linked without a portal account and conflict when the account is linked to someone else', async () => {
    expect(await resolve(person('sub-1', '014089001234'), null, 'ex-1')).toEqual({ outcome: 'not_linked', link: null });
    await resolve(person('sub-1', '014089001234'), 'cd-1', 'ex-2');
    expect(await resolve(person('sub-2', '014189005678'), 'cd-1', 'ex-3')).toMatchObject({ outcome: 'conflict', detail: expect.stringMatching(/cd-1 is already linked/) });
  });

  it('previews what a sign-on would give without writing anything', async () => {
    const preview = (sub: string, idNumber: string, account: string | null) => links.previewSignOn(links.signedOn(person(sub, idNumber), LOA, 'ex-p'), account);
    expect(await preview('sub-1', '014089001234', 'cd-1')).toEqual({ outcome: 'linked' });
    expect(await preview('sub-1', '014089001234', null)).toEqual({ outcome: 'not_linked' });
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([]);
    await resolve(person('sub-1', '014089001234'), 'cd-1', 'ex-1');
    expect(await preview('sub-1', '014089001234', null)).toEqual({ outcome: 'signed_in' });
    expect(await preview('sub-new', '014089001234', null)).toEqual({ outcome: 'confirmation_required' });
    expect(await preview('sub-2', '014189005678', 'cd-1')).toMatchObject({ outcome: 'conflict', detail: expect.stringMatching(/cd-1 is already linked/) });
    // No offer was made by previewing the ID-number match.
    expect(await links.list({ idNumber: '014089001234' })).toHaveLength(1);
  });

  it('removes only what exists, once, and only for the portal that made it (or an operator)', async () => {
    const { link } = await resolve(person('sub-1', '014089001234'), 'cd-1', 'ex-1');
    const otherPortal = { ...portal, clientId: 'other-portal' };
    expect(await code(links.remove(otherPortal, link!.id, 'not mine'))).toBe('LINK_NOT_FOUND');
    expect(await links.list({ idNumber: '014089001234' })).toHaveLength(1);
    await links.remove(portal, link!.id, 'asked');
    expect(await code(links.remove(portal, link!.id, 'again'))).toBe('LINK_NOT_FOUND');
    expect(await links.list({ idNumber: '014089001234' })).toEqual([]);
  });
});
