import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors/gateway-error.ts';
import { createAccountLinkStore } from '../store/account-links.ts';
import { openStore, type Store } from '../store/store.ts';
import { createAccountLinkService, type AccountLinkService, type AccountLinkStore, type Actor } from './account-links.ts';
import type { CitizenService } from './citizens.ts';
import type { EnterpriseService } from './enterprises.ts';
import type { NationalAccount } from './national-sign-on-port.ts';

const dir = mkdtempSync(join(tmpdir(), 'lienthong-links-'));
const stores: Store[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

// National sign-on resolution needs no national database: these must never be called.
const unused = () => {
  throw new Error('no national call expected');
};
const citizens: CitizenService = { verify: unused, lookup: unused };
const enterprises: EnterpriseService = { get: unused };

const portal: Actor = { clientId: 'sandbox-portal', roles: ['portal'], userId: 'session-1' };
const LOA = 'urn:vneid:loa:2';
const person = (sub: string, idNumber: string): NationalAccount => ({ sub, accountType: 'person', idNumber, enterpriseCode: null, fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' });

let clock: Date;
let links: AccountLinkService;
let linkStore: AccountLinkStore;
let n = 0;
beforeEach(async () => {
  const store = await openStore({ sqlitePath: join(dir, `links-${n++}.db`) });
  stores.push(store);
  clock = new Date('2026-11-27T02:00:00Z');
  linkStore = createAccountLinkStore({ db: store.db });
  links = createAccountLinkService(
    { store: linkStore, citizens, enterprises, hashIdentifier: (v) => createHmac('sha256', 'k').update(v).digest('hex'), now: () => clock },
    { pendingTtlMs: 15 * 60_000 },
  );
});

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
    const first = await links.resolveSignOn(portal, person('sub-1', '014089001234'), 'cd-1', 'ex-1', LOA);
    expect(first).toMatchObject({ outcome: 'linked', link: { portalAccountId: 'cd-1', state: 'active', nationalAccountLinked: true, exchangeId: 'ex-1' } });
    expect(await linkStore.events(first.link!.id)).toMatchObject([{ event: 'created', exchangeId: 'ex-1', reason: `national sign-on at level of assurance ${LOA}` }]);
    // Another ID number under the same national account id still signs in to the linked account.
    expect(await links.resolveSignOn(portal, person('sub-1', '014089001234'), null, 'ex-2', LOA)).toMatchObject({ outcome: 'signed_in', link: { id: first.link!.id } });
  });

  it('offers a pending link on an ID-number match that only the same client may confirm, before it lapses', async () => {
    await links.resolveSignOn(portal, person('sub-old', '014089001234'), 'cd-1', 'ex-1', LOA);
    // The person's national account changed (a new sub) but the ID number is linked.
    const offered = await links.resolveSignOn(portal, person('sub-new', '014089001234'), 'cd-2', 'ex-2', LOA);
    expect(offered).toMatchObject({ outcome: 'confirmation_required', link: { portalAccountId: 'cd-1', state: 'pending', expiresAt: '2026-11-27T09:15:00+07:00' } });
    expect(await linkStore.events(offered.link!.id)).toMatchObject([{ event: 'offered', reason: `national sign-on at level of assurance ${LOA}` }]);
    expect(await code(links.confirm({ ...portal, clientId: 'other-portal' }, offered.link!.id))).toBe('ROUTE_NOT_FOUND');
    clock = new Date(clock.getTime() + 15 * 60_000);
    expect(await code(links.confirm(portal, offered.link!.id))).toBe('VERIFICATION_MISMATCH');
  });

  it('drops the offer when the link it would replace is removed first', async () => {
    const old = await links.resolveSignOn(portal, person('sub-old', '014089001234'), 'cd-1', 'ex-1', LOA);
    const offered = await links.resolveSignOn(portal, person('sub-new', '014089001234'), null, 'ex-2', LOA);
    await links.remove({ clientId: 'ops', roles: ['operator'], userId: 'op-1' }, old.link!.id, 'obtained with false evidence');
    expect(await code(links.confirm(portal, offered.link!.id))).toBe('VERIFICATION_MISMATCH');
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([]);
  });

  it('confirms within the time: the pending link replaces the old one', async () => {
    const old = await links.resolveSignOn(portal, person('sub-old', '014089001234'), 'cd-1', 'ex-1', LOA);
    const offered = await links.resolveSignOn(portal, person('sub-new', '014089001234'), null, 'ex-2', LOA);
    clock = new Date(clock.getTime() + 60_000);
    const confirmed = await links.confirm(portal, offered.link!.id);
    expect(confirmed).toMatchObject({ state: 'active', portalAccountId: 'cd-1', verification: { verifiedAt: '2026-11-27T09:01:00+07:00' } });
    expect(await links.list({ portalAccountId: 'cd-1' })).toEqual([confirmed]);
    expect(await links.resolveSignOn(portal, person('sub-old', '014089001234'), null, 'ex-3', LOA)).toMatchObject({ outcome: 'confirmation_required' });
    expect(old.link!.id).not.toBe(confirmed.id);
  });

  it('reports not_linked without a portal account and conflict when the account is linked to someone else', async () => {
    expect(await links.resolveSignOn(portal, person('sub-1', '014089001234'), null, 'ex-1', LOA)).toEqual({ outcome: 'not_linked', link: null });
    await links.resolveSignOn(portal, person('sub-1', '014089001234'), 'cd-1', 'ex-2', LOA);
    expect(await links.resolveSignOn(portal, person('sub-2', '014189005678'), 'cd-1', 'ex-3', LOA)).toMatchObject({ outcome: 'conflict', detail: expect.stringMatching(/cd-1 is already linked/) });
  });

  it('removes only what exists, once, and only for the portal that made it (or an operator)', async () => {
    const { link } = await links.resolveSignOn(portal, person('sub-1', '014089001234'), 'cd-1', 'ex-1', LOA);
    const otherPortal = { ...portal, clientId: 'other-portal' };
    expect(await code(links.remove(otherPortal, link!.id, 'not mine'))).toBe('ROUTE_NOT_FOUND');
    expect(await links.list({ idNumber: '014089001234' })).toHaveLength(1);
    await links.remove(portal, link!.id, 'asked');
    expect(await code(links.remove(portal, link!.id, 'again'))).toBe('ROUTE_NOT_FOUND');
    expect(await links.list({ idNumber: '014089001234' })).toEqual([]);
  });
});
