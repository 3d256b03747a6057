import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createDossierService, type Actor, type DossierScope } from '../src/core/dossiers/service.ts';
import type { Dossier, DossierEvent } from '../src/core/dossiers/port.ts';
import { createDossierSealer } from '../src/store/dossier-sealer.ts';
import { createDossierStore } from '../src/store/dossiers.ts';
import { isGatewayError } from '../src/errors/gateway-error.ts';
import { createAccountLinkStore } from '../src/store/account-links.ts';
import { openStore } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';
import { fixtureAt, sampleDossier, statusEvent } from './helpers/dossiers.ts';

const { backends, cleanup } = storeBackends('dossier scope');
afterAll(cleanup);

const actor = (clientId: string, agency: string, scope?: DossierScope): Actor => ({ clientId, agency, userHash: 'u'.repeat(64), purpose: 'TIEP_NHAN_HO_SO', ...(scope ? { scope } : {}) });
const scope = (clientId: string, agencies: string[] = []): DossierScope => ({ all: false, clientId, agencies });
const code = (n: number) => String(sampleDossier(n).code);
const failure = async (work: Promise<unknown>) => {
  try {
    await work;
  } catch (err) {
    return isGatewayError(err) ? `${err.status} ${err.code}` : String(err);
  }
  return 'no error';
};

describe.each(backends)('whose dossiers and links, on $name', (backend) => {
  it.skipIf(backend.skip)('a client reads, lists, changes and redelivers only its own dossiers and those of the agencies it acts for', async () => {
    const store = await openStore(await backend.options());
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier: (v) => `h:${v}`, sealer: createDossierSealer(randomBytes(32)) });
      await service.create(actor('portal-a', 'H52'), sampleDossier(1) as unknown as Dossier);
      await service.create(actor('portal-b', 'H52.30'), sampleDossier(2) as unknown as Dossier);
      const page = async (s: DossierScope) => (await service.list(s, { page: 1, pageSize: 50 })).items.map((d) => d.code).sort();
      expect(await page(scope('portal-a'))).toEqual([code(1)]);
      expect(await page(scope('portal-b'))).toEqual([code(2)]);
      expect(await page(scope('desk', ['H52']))).toEqual([code(1)]);
      expect(await page({ all: true, clientId: 'ops', agencies: [] })).toEqual([code(1), code(2)]);

      expect(await failure(service.get(scope('portal-b'), code(1)))).toBe('404 DOSSIER_NOT_FOUND');
      expect(await failure(service.redeliver(scope('portal-b'), code(1)))).toBe('404 DOSSIER_NOT_FOUND');
      const refusal = statusEvent(3, fixtureAt(0, '09:00')) as DossierEvent;
      expect(await failure(service.addEvent(actor('portal-b', 'H52.30', scope('portal-b')), code(1), refusal))).toBe('404 DOSSIER_NOT_FOUND');
      // Without a scope an actor may touch only what it handed over itself.
      expect(await failure(service.addEvent(actor('portal-b', 'H52.30'), code(1), refusal))).toBe('404 DOSSIER_NOT_FOUND');
      expect((await service.get(scope('portal-a'), code(1))).history).toHaveLength(1);
      expect((await service.addEvent(actor('desk', 'H52.101.114', scope('desk', ['H52'])), code(1), statusEvent(2, fixtureAt(0, '09:00')) as DossierEvent)).status).toBe(202);
      expect(await failure(service.create(actor('portal-b', 'H52.30', scope('portal-b')), sampleDossier(1) as unknown as Dossier))).toBe('409 CONFLICT');
    } finally {
      await store.close();
    }
  });

  it.skipIf(backend.skip)('lists only the links made by the given clients', async () => {
    const store = await openStore(await backend.options());
    try {
      const links = createAccountLinkStore({ db: store.db });
      const at = new Date();
      const base = { subjectType: 'person' as const, subjectMasked: '014*******34', nationalAccountId: null, state: 'active' as const, verificationMethod: 'population_database' as const, verifiedAt: at, exchangeId: null, createdAt: at, supersedes: null, expiresAt: null };
      const event = (client: string) => ({ event: 'created' as const, client, userHash: null, reason: null, exchangeId: null, at });
      await links.insert({ ...base, id: '00000000-0000-4000-8000-000000000001', portalAccountId: 'a-1', subjectHash: 's1', createdBy: 'portal-a' }, event('portal-a'));
      await links.insert({ ...base, id: '00000000-0000-4000-8000-000000000002', portalAccountId: 'b-1', subjectHash: 's2', createdBy: 'portal-b' }, event('portal-b'));
      expect((await links.list({ subjectHash: 's1' }, at, ['portal-b'])).map((l) => l.id)).toEqual([]);
      expect((await links.list({ account: 'a-1' }, at, ['portal-b'])).map((l) => l.id)).toEqual([]);
      expect((await links.list({ subjectHash: 's1' }, at, ['portal-a', 'portal-b'])).map((l) => l.portalAccountId)).toEqual(['a-1']);
      expect((await links.list({ subjectHash: 's1' }, at, [])).map((l) => l.id)).toEqual([]);
      expect((await links.list({ subjectHash: 's2' }, at)).map((l) => l.portalAccountId)).toEqual(['b-1']);
    } finally {
      await store.close();
    }
  });
});
