import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { LinkConflictError, type LinkRecord } from '../src/core/account-links.ts';
import { createAccountLinkStore, createSsoFlowStore } from '../src/store/account-links.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';

const { backends, cleanup } = storeBackends('account link store tests');
afterAll(cleanup);

const record = (over: Partial<LinkRecord>): LinkRecord => ({
  id: randomUUID(),
  portalAccountId: `cd-${randomUUID()}`,
  subjectType: 'person',
  subjectHash: randomUUID().replaceAll('-', ''),
  subjectMasked: '014*******34',
  nationalAccountId: null,
  state: 'active',
  verificationMethod: 'population_database',
  verifiedAt: new Date(),
  exchangeId: randomUUID(),
  createdBy: 'sandbox-portal',
  createdAt: new Date(),
  supersedes: null,
  expiresAt: null,
  ...over,
});
const event = { event: 'created' as const, client: 'sandbox-portal', userHash: null, reason: null, exchangeId: null, at: new Date() };

/** Runs the writes at once and sorts out which succeeded and which broke which rule. */
async function race(writes: (() => Promise<unknown>)[]) {
  const settled = await Promise.allSettled(writes.map((w) => w()));
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
  for (const f of failures) expect(f).toBeInstanceOf(LinkConflictError);
  return { ok: settled.length - failures.length, kinds: new Set(failures.map((f) => (f as LinkConflictError).kind)) };
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`account links on ${backend.name}`, () => {
    const open: Store[] = [];
    afterAll(async () => {
      await Promise.all(open.map((s) => s.close()));
    });
    const fresh = async () => {
      const store = await openStore(await backend.options());
      open.push(store);
      return { store, links: createAccountLinkStore({ db: store.db }) };
    };

    it('keeps one active link per identity when many requests (and, on PostgreSQL, processes) insert at once', async () => {
      // PostgreSQL: two stores on one database, as two gateway processes. SQLite serves one process
      // (DESIGN: scale-out is PostgreSQL), whose requests share its one connection.
      const options = await backend.options();
      const a = await openStore(options);
      const b = backend.name === 'PostgreSQL' ? await openStore(options) : a;
      open.push(...new Set([a, b]));
      const stores = [createAccountLinkStore({ db: a.db }), createAccountLinkStore({ db: b.db })];
      const subjectHash = 'f'.repeat(64);
      const result = await race(Array.from({ length: 16 }, (_, i) => () => stores[i % 2]!.insert(record({ subjectHash }), event)));
      expect(result).toEqual({ ok: 1, kinds: new Set(['subject']) });
      expect((await stores[0]!.list({ subjectHash }, new Date())).length).toBe(1);
    });

    it('keeps one active link per portal account and per national account', async () => {
      const { links } = await fresh();
      const byAccount = await race(Array.from({ length: 10 }, () => () => links.insert(record({ portalAccountId: 'cd-one' }), event)));
      expect(byAccount).toEqual({ ok: 1, kinds: new Set(['account']) });
      const byNational = await race(Array.from({ length: 10 }, () => () => links.insert(record({ nationalAccountId: 'sub-1', verificationMethod: 'national_sso' }), event)));
      expect(byNational).toEqual({ ok: 1, kinds: new Set(['national']) });
    });

    it('frees the identity when a link ends, and keeps every change as an event', async () => {
      const { links } = await fresh();
      const first = record({ subjectHash: 'a'.repeat(64) });
      await links.insert(first, event);
      await expect(links.insert(record({ subjectHash: first.subjectHash }), event)).rejects.toMatchObject({ kind: 'subject' });
      expect(await links.end(first.id, { ...event, event: 'deleted', reason: 'asked by the holder' })).toBe(true);
      expect(await links.end(first.id, { ...event, event: 'deleted', reason: 'again' })).toBe(false);
      await links.insert(record({ subjectHash: first.subjectHash }), event);
      expect((await links.events(first.id)).map((e) => [e.event, e.reason])).toEqual([
        ['created', null],
        ['deleted', 'asked by the holder'],
      ]);
    });

    it('confirms a pending link once: it replaces the old link in one transaction', async () => {
      const { links } = await fresh();
      const old = record({ subjectHash: 'b'.repeat(64), portalAccountId: 'cd-old' });
      await links.insert(old, event);
      const pending = record({ subjectHash: old.subjectHash, portalAccountId: 'cd-old', state: 'pending', supersedes: old.id, nationalAccountId: 'sub-2', verificationMethod: 'national_sso', expiresAt: new Date(Date.now() + 60_000) });
      await links.insert(pending, { ...event, event: 'offered' });
      const confirmations = await Promise.all(Array.from({ length: 6 }, () => links.activate(pending.id, { ...event, event: 'confirmed' }, new Date())));
      expect(confirmations.filter(Boolean)).toHaveLength(1);
      expect((await links.get(old.id))?.state).toBe('superseded');
      expect(await links.findActive({ national: 'sub-2' })).toMatchObject({ id: pending.id, portalAccountId: 'cd-old' });
      expect(await links.findActive({ subject: { type: 'person', hash: old.subjectHash } })).toMatchObject({ id: pending.id });
    });

    it('hands out a sign-on flow once, to one of many concurrent callbacks, and never after it expires', async () => {
      const { store } = await fresh();
      const flows = createSsoFlowStore({ db: store.db });
      const flow = { nonce: 'n', codeVerifier: 'v', clientId: 'sandbox-portal', agency: 'H52', userId: 'u', purpose: 'LIEN_KET_TAI_KHOAN', portalAccountId: null, returnTo: 'http://localhost:3000/cb', expiresAt: new Date(Date.now() + 60_000) };
      await flows.save('state-1', flow, new Date());
      const taken = await Promise.all(Array.from({ length: 8 }, () => flows.take('state-1', new Date())));
      expect(taken.filter(Boolean)).toHaveLength(1);
      await flows.save('state-2', { ...flow, expiresAt: new Date(Date.now() - 1) }, new Date());
      expect(await flows.take('state-2', new Date())).toBeUndefined();
      expect(await flows.take('never-issued', new Date())).toBeUndefined();
    });

    it('hands a completed sign-on to one confirmation of its own client, never after it lapses', async () => {
      const { store } = await fresh();
      const flows = createSsoFlowStore({ db: store.db });
      const account = { sub: 'sub-9', subjectType: 'person' as const, subjectHash: randomUUID().replaceAll('-', ''), subjectMasked: '014*******34', acr: 'urn:vneid:loa:2', exchangeId: randomUUID() };
      const pending = { clientId: 'sandbox-portal', portalAccountId: 'cd-9', returnTo: 'http://localhost:3000/cb?s=1', account, expiresAt: new Date(Date.now() + 60_000) };
      await flows.savePending('sign-on-1', pending, new Date());
      expect(await flows.claimPending('sign-on-1', 'other-portal', new Date())).toEqual({ refused: 'unknown' });
      const claims = await Promise.all(Array.from({ length: 8 }, () => flows.claimPending('sign-on-1', 'sandbox-portal', new Date())));
      expect(claims.filter((c) => 'pending' in c)).toEqual([{ pending }]);
      expect(claims.filter((c) => 'refused' in c)).toEqual(Array(7).fill({ refused: 'used' }));
      await flows.savePending('sign-on-2', { ...pending, expiresAt: new Date(Date.now() - 1) }, new Date());
      expect(await flows.claimPending('sign-on-2', 'sandbox-portal', new Date())).toEqual({ refused: 'lapsed' });
      expect(await flows.claimPending('never-issued', 'sandbox-portal', new Date())).toEqual({ refused: 'unknown' });
    });
  });
}
