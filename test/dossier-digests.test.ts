import { randomBytes } from 'node:crypto';
import { canonicalize } from 'json-canonicalize';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/audit/leaf.ts';
import type { Dossier, DossierEvent } from '../src/core/dossiers/port.ts';
import { createDossierSealer } from '../src/store/dossier-sealer.ts';
import { createDossierStore } from '../src/store/dossiers.ts';
import { createDossierService, type Actor } from '../src/core/dossiers/service.ts';
import { createKeyedDigest } from '../src/signing/attestation.ts';
import { openStore } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';
import { fixtureAt, sampleDossier, statusEvent } from './helpers/dossiers.ts';

/**
 * The dossier's content hash and the Idempotency-Key's request hash stay in the database for as
 * long as the rows do. Plain SHA-256 of a body whose only unknown is an ID number gives the number
 * back to whoever reads the table; keyed, they give nothing, and replays still work.
 */

const { backends, cleanup } = storeBackends('dossier digests');
afterAll(cleanup);

const actor: Actor = { clientId: 'sandbox-portal', agency: 'H52', userHash: 'u'.repeat(64), purpose: 'TIEP_NHAN_HO_SO' };
const hashIdentifier = (value: string) => `h:${value}`;

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: { code?: string }) => err.code,
  );

describe.each(backends)('dossier digests on $name', (backend) => {
  it.skipIf(backend.skip)('are keyed, and still tell a replay from another request', async () => {
    const store = await openStore(await backend.options());
    try {
      const key = randomBytes(32);
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer: createDossierSealer(key) });
      const dossier = sampleDossier(1) as unknown as Dossier;
      const code = String(dossier.code);
      const first = await service.create(actor, dossier, 'create-1');
      expect(first.status).toBe(202);

      const row = await store.db.selectFrom('dossiers').select('content_hash').where('code', '=', code).executeTakeFirstOrThrow();
      const kept = await store.db.selectFrom('idempotency_keys').select('request_hash').where('key', '=', 'create-1').executeTakeFirstOrThrow();
      // Whoever reads the table and knows everything but the applicant's number cannot try numbers against them.
      const applicant = dossier.applicant as unknown as Record<string, unknown>;
      const guesses = ['014192004566', String(applicant.identifier), '014192004568'].map((identifier) => ({ ...dossier, applicant: { ...applicant, identifier } }));
      for (const guess of guesses) {
        expect(row.content_hash).not.toBe(sha256Hex(canonicalize(guess)));
        expect(kept.request_hash).not.toBe(sha256Hex(canonicalize({ operation: 'createDossier', params: {}, body: guess })));
      }
      // They are the keyed digests, each under its own key derived from the privacy key.
      expect(row.content_hash).toBe(createKeyedDigest(key, 'dossier-content')(canonicalize(dossier)));
      expect(kept.request_hash).toBe(createKeyedDigest(key, 'idempotency-request')(canonicalize({ operation: 'createDossier', params: {}, body: dossier })));

      // Another process over the same privacy key (a restart) replays and compares alike.
      const again = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer: createDossierSealer(Buffer.from(key)) });
      expect(await again.create(actor, dossier, 'create-1')).toEqual(first);
      const changed = { ...dossier, applicant: { ...applicant, phone: '0987654321' } } as unknown as Dossier;
      expect(await rejection(again.create(actor, changed, 'create-1'))).toBe('IDEMPOTENCY_KEY_REUSED');
      // Without a key: the same content is accepted again, other content under the same code refused.
      expect((await again.create(actor, dossier)).status).toBe(202);
      expect(await rejection(again.create(actor, changed))).toBe('CONFLICT');
      expect(await store.db.selectFrom('dossiers').select('code').execute()).toHaveLength(1);

      const accept = statusEvent(2, fixtureAt(0, '09:00')) as DossierEvent;
      const event = await service.addEvent(actor, code, accept, 'event-1');
      expect(await again.addEvent(actor, code, accept, 'event-1')).toEqual(event);
      expect(await rejection(again.addEvent(actor, code, statusEvent(4, fixtureAt(0, '09:05')) as DossierEvent, 'event-1'))).toBe('IDEMPOTENCY_KEY_REUSED');
      const eventKey = await store.db.selectFrom('idempotency_keys').select('request_hash').where('key', '=', 'event-1').executeTakeFirstOrThrow();
      expect(eventKey.request_hash).toBe(createKeyedDigest(key, 'idempotency-request')(canonicalize({ operation: 'addDossierEvent', params: { code }, body: accept })));
      expect(await store.db.selectFrom('dossier_events').select('sequence').where('dossier_code', '=', code).execute()).toHaveLength(2);
    } finally {
      await store.close();
    }
  });
});
