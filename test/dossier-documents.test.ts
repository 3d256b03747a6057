import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { DocumentRecord } from '../src/core/documents/port.ts';
import { vietnamDay } from '../src/core/time.ts';
import { documentContentPath } from '../src/core/documents/codes.ts';
import { createOutbox } from '../src/core/dossiers/outbox.ts';
import type { Dossier, DossierPortal, DossierSnapshot } from '../src/core/dossiers/port.ts';
import { createDossierService, type Actor, type DossierScope } from '../src/core/dossiers/service.ts';
import { createLogger } from '../src/logging.ts';
import { createMetrics } from '../src/metrics.ts';
import { backoffMs } from '../src/resilience/policy.ts';
import { createDossierSealer } from '../src/store/dossier-sealer.ts';
import { createDossierStore } from '../src/store/dossiers.ts';
import { createOutboxStore } from '../src/store/outbox.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';
import { eventually, sampleDossier } from './helpers/dossiers.ts';
import { documentRecord } from './helpers/document-records.ts';

/*
 * The dossier service with the document store (a fake of its port): attachments naming stored
 * documents checked and completed on create and correct, nothing written on refusal, the clear
 * figure columns, deposits for a dossier, and the results the outbox adds to what the portal gets.
 */

const { backends, cleanup } = storeBackends('dossier documents');
afterAll(cleanup);

const DAY_MS = 86_400_000;
const hashIdentifier = (value: string) => `h:${value}`;
const sealer = createDossierSealer(randomBytes(32));
const actor: Actor = { clientId: 'sandbox-portal', agency: 'H52.101.114', userHash: 'u'.repeat(64), purpose: 'TIEP_NHAN_HO_SO' };
const portalScope: DossierScope = { all: false, clientId: 'sandbox-portal', agencies: [] };
const otherScope: DossierScope = { all: false, clientId: 'other-portal', agencies: [] };
const base = 'https://lienthong.sonla.gov.vn';
const documentUrl = (code: string) => `${base}${documentContentPath(code)}`;

const APPLICANT = '014192004567';
const OTHER = '001085012345';
const today = () => vietnamDay(new Date());

const record = (code: string, overrides: Partial<DocumentRecord> = {}): DocumentRecord => documentRecord(code, APPLICANT, hashIdentifier, overrides);

const MINE = 'H52.101.114.KQ.G15.000031.2026.000001';
const THEIRS = 'H52.101.114.KQ.G15.000031.2026.000002';
const EXPIRED = 'H52.101.114.KQ.G15.000031.2026.000003';
const SUBMITTED = 'H52.101.114.TP.CCCD.2026.000004';

/** The document store's port as dossiers use it, over a map (documents deposited for a dossier found by their dossier code). */
function fakeDocuments() {
  const documents = new Map<string, DocumentRecord>([
    [MINE, record(MINE)],
    [THEIRS, record(THEIRS, { subject: OTHER, subjectHash: hashIdentifier(OTHER) })],
    [EXPIRED, record(EXPIRED, { validUntil: vietnamDay(new Date(Date.now() - DAY_MS)) })],
    [SUBMITTED, record(SUBMITTED, { kind: 'submission', documentType: 'TP.CCCD' })],
  ]);
  return {
    documents,
    port: {
      get: async (code: string) => documents.get(code),
      forDossier: async (dossierCode: string) => [...documents.values()].filter((d) => d.dossierCode === dossierCode),
    },
  };
}

const naming = (documentCode: string) => ({ id: 'tp-2', name: 'Giay-khai-sinh.pdf', componentCode: 'TP02', documentCode });

async function counts(store: Store) {
  const n = async (table: 'dossiers' | 'outbox_jobs' | 'dossier_events' | 'idempotency_keys') => Number((await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { dossiers: await n('dossiers'), jobs: await n('outbox_jobs'), events: await n('dossier_events'), keys: await n('idempotency_keys') };
}

const figures = (store: Store, code: string) => store.db.selectFrom('dossiers').select(['handling_agency', 'digitised_submission', 'reused_document']).where('code', '=', code).executeTakeFirstOrThrow();

describe.each(backends)('dossiers naming stored documents on $name', (backend) => {
  it.skipIf(backend.skip)('store the attachment completed as reused and the figures in clear; refuse what is not the applicant’s, storing nothing', async () => {
    const store = await openStore(await backend.options());
    try {
      const { port } = fakeDocuments();
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer, documents: port });
      const dossier = sampleDossier(1) as unknown as Dossier;
      const reusing: Dossier = { ...dossier, attachments: [...dossier.attachments!, naming(MINE)] };
      expect((await service.create(actor, reusing, 'key-1')).status).toBe(202);
      const row = await store.db.selectFrom('dossiers').select('document').where('code', '=', dossier.code).executeTakeFirstOrThrow();
      const held = sealer.open<Dossier>({ code: dossier.code }, row.document);
      expect(held.attachments![1]).toEqual({ ...naming(MINE), digitised: true, reused: true, reusedFrom: 'earlier_result', replacesResultCode: 'KQ.G15.000031', fromNationalRepository: false });
      expect(await figures(store, dossier.code)).toEqual({ handling_agency: dossier.handlingAgency, digitised_submission: 1, reused_document: 1 });
      // The same hand-over again is the same dossier.
      expect((await service.create(actor, reusing)).status).toBe(202);

      const before = await counts(store);
      for (const [n, code] of [
        [2, THEIRS],
        [3, EXPIRED],
        [4, 'H52.101.114.KQ.G15.000031.2026.999999'],
      ] as const) {
        const other = sampleDossier(n) as unknown as Dossier;
        await expect(service.create(actor, { ...other, attachments: [naming(code)] }, `key-${n}`)).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.attachments.0.documentCode' }] });
      }
      // Another person (B) naming A's document: refused the same way.
      const forB = sampleDossier(5, { applicant: { ...(dossier.applicant as object), identifier: OTHER } }) as unknown as Dossier;
      await expect(service.create(actor, { ...forB, attachments: [naming(MINE)] })).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE' });
      await expect(service.create(actor, { ...forB, attachments: [{ ...naming(MINE), url: 'https://x.example/a.pdf' }] })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.attachments.0.documentCode' }] });
      expect(await counts(store)).toEqual(before);

      // A dossier with no documents named: figures from its own attachments.
      const plain = sampleDossier(6, { attachments: [{ id: 'x', name: 'Don.pdf', componentCode: 'TP01', url: 'https://motcua.sonla.gov.vn/x.pdf', digitised: false, reused: false }] }) as unknown as Dossier;
      await service.create(actor, plain);
      expect(await figures(store, plain.code)).toEqual({ handling_agency: plain.handlingAgency, digitised_submission: 0, reused_document: 0 });
    } finally {
      await store.close();
    }
  });

  it.skipIf(backend.skip)('check the documents a correction names, change nothing on refusal, and keep figures in step', async () => {
    const store = await openStore(await backend.options());
    try {
      const { port } = fakeDocuments();
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer, documents: port });
      const dossier = sampleDossier(7, { attachments: [{ id: 'x', name: 'Don.pdf', componentCode: 'TP01', url: 'https://motcua.sonla.gov.vn/x.pdf', digitised: false, reused: false }] }) as unknown as Dossier;
      await service.create(actor, dossier);
      const before = await counts(store);
      await expect(service.correct(actor, dossier.code, { attachments: [naming(THEIRS)] })).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.attachments.0.documentCode' }] });
      await expect(service.correct(actor, dossier.code, { attachments: [{ id: 'y', name: 'y', componentCode: 'TP01' }] })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'body.attachments.0.url' }] });
      expect(await counts(store)).toEqual(before);
      expect(await figures(store, dossier.code)).toMatchObject({ digitised_submission: 0, reused_document: 0 });

      const corrected = await service.correct(actor, dossier.code, { attachments: [naming(SUBMITTED)], handlingAgency: 'Ủy ban nhân dân phường Chiềng Lề' });
      expect(corrected.status).toBe(202);
      expect(await figures(store, dossier.code)).toEqual({ handling_agency: 'Ủy ban nhân dân phường Chiềng Lề', digitised_submission: 1, reused_document: 1 });
      const row = await store.db.selectFrom('dossiers').select('document').where('code', '=', dossier.code).executeTakeFirstOrThrow();
      expect(sealer.open<Dossier>({ code: dossier.code }, row.document).attachments).toEqual([
        { ...naming(SUBMITTED), digitised: true, reused: true, reusedFrom: 'earlier_submission', fromNationalRepository: false },
      ]);
      // The same naming again changes nothing.
      expect((await service.correct(actor, dossier.code, { attachments: [naming(SUBMITTED)] })).status).toBe(200);
    } finally {
      await store.close();
    }
  });

  it.skipIf(backend.skip)("accept a deposit for the applicant's dossier only, and send the deposited results with the update it queues", async () => {
    const store = await openStore(await backend.options());
    const { documents, port } = fakeDocuments();
    const snapshots: { snapshot: DossierSnapshot; isUpdating: boolean; sequence: number }[] = [];
    const held = new Set<string>();
    const portal: DossierPortal = {
      lookup: async (_ctx, code) => held.has(code),
      sync: async (_ctx, snapshot, options) => {
        held.add(snapshot.dossier.code);
        snapshots.push({ snapshot, isUpdating: options.isUpdating, sequence: options.mark.sequence });
        return { duplicate: false };
      },
      progress: async () => ({ duplicate: false }),
    };
    const outbox = createOutbox(
      {
        store: createOutboxStore(store.db, store.dialect),
        portal,
        upstream: 'dvcqg',
        sealer,
        exchangeLog: { record: async () => {} },
        log: createLogger({ level: 'silent' }),
        metrics: createMetrics({ defaultMetrics: false }),
        backoffMs,
        documents: port,
        documentUrl,
      },
      { pollIntervalMs: 20, concurrency: 2, batchSize: 10, backoffBaseMs: 10, backoffMaxMs: 50, maxAgeSeconds: 3600, leaseSeconds: 60 },
    );
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer, documents: port, onQueued: () => outbox.wake() });
      const dossier = sampleDossier(8) as unknown as Dossier;
      await service.create(actor, dossier);
      outbox.start();
      await eventually(async () => (snapshots.length === 1 ? true : undefined), 10_000, 'the dossier delivered');
      expect(snapshots[0]!.snapshot.dossier.results).toBeUndefined();

      const citizen = { type: 'citizen' as const, identifier: APPLICANT };
      await expect(service.checkDepositFor(portalScope, dossier.code, citizen)).resolves.toBeUndefined();
      await expect(service.checkDepositFor(otherScope, dossier.code, citizen)).rejects.toMatchObject({ code: 'DOSSIER_NOT_FOUND' });
      await expect(service.checkDepositFor(portalScope, 'H52.101.114-261127-9999', citizen)).rejects.toMatchObject({ code: 'DOSSIER_NOT_FOUND' });
      await expect(service.checkDepositFor(portalScope, dossier.code, { type: 'citizen', identifier: OTHER })).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE', errors: [{ field: 'body.dossierCode' }] });
      await expect(service.checkDepositFor(portalScope, dossier.code, { type: 'enterprise', identifier: APPLICANT })).rejects.toMatchObject({ code: 'DOCUMENT_NOT_REUSABLE' });
      await expect(service.resultDeposited({ ...actor, clientId: 'other-portal', scope: otherScope }, dossier.code, 'x')).rejects.toMatchObject({ code: 'DOSSIER_NOT_FOUND' });

      const code = 'H52.101.114.KQ.G12.000001.2026.000010';
      documents.set(code, record(code, { dossierCode: dossier.code, name: 'Giấy chứng nhận đăng ký hộ kinh doanh', documentType: 'KQ.G12.000001', validUntil: today() }));
      // A submission deposited for the dossier, and a destroyed result: not results to send.
      documents.set('s', record('s', { dossierCode: dossier.code, kind: 'submission' }));
      documents.set('d', record('d', { dossierCode: dossier.code, destroyedAt: new Date().toISOString() }));
      await service.resultDeposited(actor, dossier.code, code);
      const update = await eventually(async () => snapshots[1], 10_000, 'the update carrying the result');
      expect(update).toMatchObject({ isUpdating: true, sequence: 2 });
      expect(update.snapshot.dossier.results).toEqual([{ id: code, name: 'Giấy chứng nhận đăng ký hộ kinh doanh', url: `${base}/v1/documents/${code}/content`, resultCode: 'KQ.G12.000001' }]);
      const state = await service.get(portalScope, dossier.code);
      expect(state.history.map((h) => h.kind)).toEqual(['created', 'result']);
    } finally {
      await outbox.stop();
      await store.close();
    }
  });

  it.skipIf(backend.skip)('queue one update for results deposited while one waits: it reads them all as it is delivered', async () => {
    const store = await openStore(await backend.options());
    try {
      const { port } = fakeDocuments();
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer, documents: port });
      const dossier = sampleDossier(9) as unknown as Dossier;
      await service.create(actor, dossier);
      await service.resultDeposited(actor, dossier.code, 'H52.101.114.KQ.G12.000001.2026.000011');
      await service.resultDeposited(actor, dossier.code, 'H52.101.114.KQ.G12.000001.2026.000012');
      expect((await service.get(portalScope, dossier.code)).history.map((h) => h.kind)).toEqual(['created', 'result']);
    } finally {
      await store.close();
    }
  });
});
