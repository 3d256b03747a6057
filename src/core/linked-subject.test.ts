import { beforeEach, describe, expect, it } from 'vitest';
import { createAccountLinkStore } from '../store/account-links.ts';
import { createAccountLinkService, type AccountLinkService, type Actor } from './account-links.ts';
import { freshStores, noCitizens, noEnterprises, testHash } from '../../test/helpers/link-test-kit.ts';
import type { NationalAccount } from './national-sign-on-port.ts';

/** Whom an account's link names, for the person's access list (getSubjectAccesses). */

const newStore = freshStores('linked-subject');
const portal: Actor = { clientId: 'sandbox-portal', roles: ['portal'], userId: 'session-1' };
const LOA = 'urn:vneid:loa:2';
const person = (sub: string, idNumber: string): NationalAccount => ({ sub, accountType: 'person', idNumber, enterpriseCode: null, fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' });
const own = { all: false, clients: ['sandbox-portal'] };

let links: AccountLinkService;
beforeEach(async () => {
  const store = await newStore();
  const now = new Date();
  links = createAccountLinkService({ store: createAccountLinkStore({ db: store.db }), citizens: noCitizens, enterprises: noEnterprises, hashIdentifier: testHash, now: () => now }, { pendingTtlMs: 15 * 60_000 });
});

const signOn = (national: NationalAccount, account: string | null, exchangeId: string) => links.resolveSignOn(portal, links.signedOn(national, LOA, exchangeId), account);

describe('linkedSubject', () => {
  it("names the active link's subject by its keyed hash and masked form, to the clients that may see the link", async () => {
    await signOn(person('sub-1', '014089001234'), 'cd-1', 'ex-1');
    expect(await links.linkedSubject('cd-1', own)).toEqual({ type: 'person', hash: testHash('014089001234'), masked: '014*******34' });
    expect(await links.linkedSubject('cd-1', { all: false, clients: ['other-portal'] })).toBeUndefined();
    expect(await links.linkedSubject('cd-1', { all: false, clients: [] })).toBeUndefined();
    expect(await links.linkedSubject('cd-2', own)).toBeUndefined();
  });

  it('counts no pending link: an offer names no one until it is confirmed', async () => {
    const first = await signOn(person('sub-old', '014089001234'), 'cd-1', 'ex-1');
    const offered = await signOn(person('sub-new', '014089001234'), 'cd-1', 'ex-2');
    expect(offered).toMatchObject({ outcome: 'confirmation_required', link: { state: 'pending', portalAccountId: 'cd-1' } });
    await links.remove(portal, first.link!.id, 'the person asked');
    expect(await links.list({ portalAccountId: 'cd-1' })).toMatchObject([{ state: 'pending' }]);
    expect(await links.linkedSubject('cd-1', own)).toBeUndefined();
  });
});
