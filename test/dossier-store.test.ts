import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createDossierService, type Actor, type DossierScope } from '../src/core/dossiers/service.ts';
import { openStore } from '../src/store/store.ts';
import { storeBackends } from './helpers/backends.ts';
import { fixtureAt, sampleDossier, statusEvent } from './helpers/dossiers.ts';
import type { Dossier, DossierEvent, DossierPortal } from '../src/core/dossiers/port.ts';
import { createOutbox } from '../src/core/dossiers/outbox.ts';
import { createExchangeLog, exchangeRecorder } from '../src/audit/exchange-log.ts';
import { createLogger } from '../src/logging.ts';
import { createMetrics } from '../src/metrics.ts';
import type { CallContext } from '../src/core/ports.ts';
import { createDossierSealer } from '../src/store/dossier-sealer.ts';
import { createDossierStore } from '../src/store/dossiers.ts';
import { GatewayError } from '../src/errors/gateway-error.ts';
import { backoffMs, createPolicy } from '../src/resilience/policy.ts';
import { createOutboxStore } from '../src/store/outbox.ts';
import { eventually } from './helpers/dossiers.ts';
import { UNKNOWN } from '../src/sandbox/personas.ts';

const { backends, cleanup } = storeBackends('dossier store');
afterAll(cleanup);

const EVERY_DOSSIER: DossierScope = { all: true, clientId: 'operator', agencies: [] };
const actor: Actor = { clientId: 'sandbox-portal', agency: 'H52', userHash: 'u'.repeat(64), purpose: 'TIEP_NHAN_HO_SO' };
const hashIdentifier = (value: string) => `h:${value}`;
const sealer = createDossierSealer(randomBytes(32));

describe.each(backends)('dossier writes on $name', (backend) => {
  it.skipIf(backend.skip)('make one dossier, one job and one key of 12 concurrent requests with the same Idempotency-Key', async () => {
    // On PostgreSQL two stores on one database stand for two gateway processes. SQLite serves
    // one process (better-sqlite3 blocks its event loop while it waits for another connection's
    // lock), so there the requests share one store, as they do in the gateway.
    const options = await backend.options();
    const first = await openStore(options);
    const stores = backend.name === 'PostgreSQL' ? [first, await openStore(options)] : [first];
    try {
      const services = stores.map((s) => createDossierService({ store: createDossierStore(s.db), hashIdentifier, sealer }));
      const dossier = sampleDossier(1) as unknown as Dossier;
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => services[i % services.length]!.create(actor, dossier, 'same-key')));
      const texts = new Set(answers.map((a) => JSON.stringify(a)));
      expect(texts.size).toBe(1);
      expect(answers[0]!.status).toBe(202);
      const db = stores[0]!.db;
      expect(await db.selectFrom('dossiers').select('code').execute()).toHaveLength(1);
      expect(await db.selectFrom('outbox_jobs').select('id').execute()).toHaveLength(1);
      expect(await db.selectFrom('idempotency_keys').select('key').execute()).toHaveLength(1);

      // Events: twelve concurrent retries of one change give one change; twelve different
      // concurrent changes get twelve distinct, gap-free sequences.
      const code = String(dossier.code);
      const accept = statusEvent(2, fixtureAt(0, '09:00')) as DossierEvent;
      const retried = await Promise.all(Array.from({ length: 12 }, (_, i) => services[i % services.length]!.addEvent(actor, code, accept, 'event-key')));
      expect(new Set(retried.map((a) => JSON.stringify(a))).size).toBe(1);
      expect(retried[0]!.body).toMatchObject({ sequence: 2 });
      await services[0]!.addEvent(actor, code, statusEvent(4, fixtureAt(0, '09:05')) as DossierEvent);
      const steps = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          services[i % services.length]!.addEvent(actor, code, { kind: 'progress', officer: 'Lò Văn Tuấn', title: 'Chuyên viên', department: 'Phòng Kinh tế', content: `Bước ${i}`, startedAt: fixtureAt(0, '09:05'), dueAt: fixtureAt(1, '17:00'), at: fixtureAt(0, '10:00') }),
        ),
      );
      expect(steps.map((s) => (s.body as { sequence: number }).sequence).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 4));
      const jobs = await db.selectFrom('outbox_jobs').select('sequence').where('dossier_code', '=', code).orderBy('sequence').execute();
      expect(jobs.map((j) => j.sequence)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));

      // Concurrent status changes that exclude each other (4→3, 4→7, 4→8 each close the dossier): one wins, the others are refused.
      const racing = await Promise.allSettled([3, 7, 8].map((to, i) => services[i % services.length]!.addEvent(actor, code, statusEvent(to, fixtureAt(1, '09:00')) as DossierEvent)));
      expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(racing.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['INVALID_TRANSITION', 'INVALID_TRANSITION']);
    } finally {
      for (const s of new Set(stores)) await s.close();
    }
  });
});

describe.each(backends)('outbox claims on $name', (backend) => {
  it.skipIf(backend.skip)('lease at most `concurrency` jobs, only the oldest undelivered change of each dossier, and release them on stop', async () => {
    const store = await openStore(await backend.options());
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer });
      for (let n = 1; n <= 20; n++) {
        const code = String(sampleDossier(n).code);
        await service.create(actor, sampleDossier(n) as unknown as Dossier);
        await service.addEvent(actor, code, statusEvent(2, fixtureAt(0, '09:00')) as DossierEvent);
        await service.addEvent(actor, code, statusEvent(4, fixtureAt(0, '09:05')) as DossierEvent);
      }
      // A portal that never answers (until the worker gives up at stop): every claimed job stays in flight.
      const calls: string[] = [];
      const hang = (ctx: CallContext) => new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      const portal: DossierPortal = {
        lookup: (ctx, code) => (calls.push(code), hang(ctx)),
        sync: (ctx) => hang(ctx),
        progress: (ctx) => hang(ctx),
      };
      const outbox = createOutbox(
        { store: createOutboxStore(store.db, store.dialect), portal, upstream: 'dvcqg', backoffMs, sealer, exchangeLog: exchangeRecorder(createExchangeLog({ db: store.db, masterKey: randomBytes(32) })), log: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) },
        { pollIntervalMs: 20, concurrency: 3, batchSize: 50, backoffBaseMs: 10, backoffMaxMs: 100, maxAgeSeconds: 3600, leaseSeconds: 60 },
      );
      outbox.start();
      await new Promise((resolve) => setTimeout(resolve, 400));
      const leased = await store.db.selectFrom('outbox_jobs').select(['dossier_code', 'sequence']).where('lease_owner', 'is not', null).execute();
      expect(leased).toHaveLength(3);
      expect(new Set(leased.map((j) => j.dossier_code)).size).toBe(3);
      expect(leased.every((j) => j.sequence === 1)).toBe(true);
      expect(calls).toHaveLength(3);
      await outbox.stop(0);
      const after = await store.db.selectFrom('outbox_jobs').select(['lease_owner', 'attempts', 'state']).execute();
      expect(after.every((j) => j.lease_owner === null && j.attempts === 0 && j.state === 'pending')).toBe(true);
    } finally {
      await store.close();
    }
  });
});

const quiet = () => ({ log: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) });
const fast = { enabled: true, pollIntervalMs: 20, concurrency: 4, batchSize: 50, backoffBaseMs: 10, backoffMaxMs: 50, maxAgeSeconds: 3600, leaseSeconds: 60 };
const jobsOf = (db: Awaited<ReturnType<typeof openStore>>['db'], code: string) =>
  db.selectFrom('outbox_jobs').select(['sequence', 'state', 'attempts', 'last_error', 'next_attempt_at']).where('dossier_code', '=', code).orderBy('sequence').execute();

describe.each(backends)('outbox leases on $name', (backend) => {
  it.skipIf(backend.skip)('cut a delivery short before its lease ends, so a second worker never sends the same change while the first still waits', async () => {
    const store = await openStore(await backend.options());
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer });
      const code = String(sampleDossier(1).code);
      await service.create(actor, sampleDossier(1) as unknown as Dossier);
      // A portal that takes far longer than the lease; it counts deliveries under way at once.
      let underWay = 0;
      let most = 0;
      let sent = 0;
      const slow = (ctx: CallContext) =>
        new Promise<never>((_, reject) => {
          sent++;
          most = Math.max(most, ++underWay);
          ctx.signal.addEventListener('abort', () => {
            underWay--;
            reject(new Error('aborted'));
          });
        });
      const portal: DossierPortal = { lookup: (ctx) => slow(ctx), sync: (ctx) => slow(ctx), progress: (ctx) => slow(ctx) };
      const { log, metrics } = quiet();
      const options = { ...fast, leaseSeconds: 1, backoffBaseMs: 100_000, backoffMaxMs: 100_000 };
      const workers = [0, 1].map(() => createOutbox({ store: createOutboxStore(store.db, store.dialect), portal, upstream: 'dvcqg', backoffMs, sealer, exchangeLog: exchangeRecorder(createExchangeLog({ db: store.db, masterKey: randomBytes(32) })), log, metrics }, options));
      for (const w of workers) w.start();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (const w of workers) await w.stop(0);
      expect(sent).toBe(1);
      expect(most).toBe(1);
      const [job] = await jobsOf(store.db, code);
      expect(job).toMatchObject({ state: 'pending', attempts: 1 });
      expect(job!.last_error).toMatch(/^UPSTREAM_TIMEOUT/);
    } finally {
      await store.close();
    }
  });
});

describe.each(backends)('outbox failures on $name', (backend) => {
  it.skipIf(backend.skip)('give a permanently refused delivery up at once, keep retrying a transient failure, and deliver the refused one once fixed and redelivered', async () => {
    const store = await openStore(await backend.options());
    const { log, metrics } = quiet();
    const refused = String(sampleDossier(1).code);
    const failing = String(sampleDossier(2).code);
    let fixed = false;
    const sent: string[] = [];
    // The portal refuses dossier 1 as invalid (until fixed), and is unavailable for dossier 2.
    const portal: DossierPortal = {
      lookup: async () => false,
      sync: async (_ctx, snapshot, { mark }) => {
        sent.push(`${snapshot.dossier.code}#${mark.sequence}`);
        if (snapshot.dossier.code === refused && !fixed) {
          throw new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: 'refused as invalid', permanent: true, upstreamReason: '400 Mã thủ tục hành chính không tồn tại' });
        }
        if (snapshot.dossier.code === failing) throw new GatewayError('UPSTREAM_UNAVAILABLE', { upstreamFailure: true, retryAfter: 1 });
        return { duplicate: false };
      },
      progress: async () => ({ duplicate: false }),
    };
    const outbox = createOutbox({ store: createOutboxStore(store.db, store.dialect), portal, upstream: 'dvcqg', backoffMs, sealer, exchangeLog: exchangeRecorder(createExchangeLog({ db: store.db, masterKey: randomBytes(32) })), log, metrics }, fast);
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer });
      for (const n of [1, 2]) {
        await service.create(actor, sampleDossier(n) as unknown as Dossier);
        await service.addEvent(actor, String(sampleDossier(n).code), statusEvent(2, fixtureAt(0, '09:00')) as DossierEvent);
      }
      outbox.start();
      await eventually(async () => ((await jobsOf(store.db, failing))[0]!.attempts >= 4 ? true : undefined), 10_000, 'transient failures retried');
      // Dead after one attempt, with what the portal said; the change after it waits, unsent.
      expect(await jobsOf(store.db, refused)).toMatchObject([
        { sequence: 1, state: 'dead', attempts: 1, last_error: 'UPSTREAM_BAD_RESPONSE: 400 Mã thủ tục hành chính không tồn tại' },
        { sequence: 2, state: 'pending', attempts: 0, last_error: null },
      ]);
      expect(sent.filter((s) => s.startsWith(refused))).toEqual([`${refused}#1`]);
      expect((await jobsOf(store.db, failing))[0]).toMatchObject({ state: 'pending', last_error: expect.stringMatching(/^UPSTREAM_UNAVAILABLE: /) });
      expect((await metrics.registry.getSingleMetric('lienthong_outbox_dead_total')!.get()).values.find((v) => v.labels.service === 'DongBoHoSoMC')?.value).toBe(1);
      expect((await service.get(EVERY_DOSSIER, refused)).deliveryState).toBe('dead');

      // Fixed at the portal: the operator's redelivery sends it again, then the change behind it.
      fixed = true;
      expect(await service.redeliver(EVERY_DOSSIER, refused)).toBe(1);
      outbox.wake();
      await eventually(async () => ((await service.get(EVERY_DOSSIER, refused)).deliveryState === 'delivered' ? true : undefined), 10_000, 'the refused dossier delivered');
      expect(sent.filter((s) => s.startsWith(refused))).toEqual([`${refused}#1`, `${refused}#1`, `${refused}#2`]);
    } finally {
      await outbox.stop(0);
      await store.close();
    }
  });

  it.skipIf(backend.skip)('count a call the open breaker refused as no attempt, and put it off until the breaker may let one through', async () => {
    const store = await openStore(await backend.options());
    const { log, metrics } = quiet();
    // A real policy whose breaker opens on the first failure and stays open for a minute.
    const policy = createPolicy({ log, metrics }, 'dvcqg', {
      timeoutMs: 1000,
      retryAfterSeconds: 5,
      breaker: { errorThresholdPercentage: 1, volumeThreshold: 1, resetTimeoutMs: 60_000, rollingCountTimeoutMs: 10_000 },
    });
    let sent = 0;
    const portal: DossierPortal = {
      lookup: (ctx) => policy.execute(ctx, async () => false, { idempotent: true }),
      sync: (ctx) =>
        policy.execute(ctx, async () => {
          sent += 1;
          throw new GatewayError('UPSTREAM_UNAVAILABLE', { upstreamFailure: true });
        }),
      progress: async () => ({ duplicate: false }),
    };
    const outbox = createOutbox({ store: createOutboxStore(store.db, store.dialect), portal, upstream: 'dvcqg', backoffMs, sealer, exchangeLog: exchangeRecorder(createExchangeLog({ db: store.db, masterKey: randomBytes(32) })), log, metrics }, fast);
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer });
      const code = String(sampleDossier(1).code);
      await service.create(actor, sampleDossier(1) as unknown as Dossier);
      outbox.start();
      // The first attempt reaches the portal and fails; the breaker opens; the next try is refused by it.
      const [job] = await eventually(async () => {
        const jobs = await jobsOf(store.db, code);
        return jobs[0]!.last_error?.startsWith('UPSTREAM_CIRCUIT_OPEN') ? jobs : undefined;
      }, 10_000, 'a try refused by the open breaker');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sent).toBe(1);
      // Its last error names the breaker's refusal and the kind of failure behind it (which may have been another dossier's).
      expect(await jobsOf(store.db, code)).toMatchObject([{ state: 'pending', attempts: 1, last_error: 'UPSTREAM_CIRCUIT_OPEN: calls to dvcqg are suspended after repeated failures; last failure: UPSTREAM_UNAVAILABLE' }]);
      // Put off by the breaker's Retry-After (about a minute), not by the 50 ms backoff.
      expect(new Date(job!.next_attempt_at).getTime() - Date.now()).toBeGreaterThan(30_000);
      // Only the attempt that reached the portal is in the exchange log.
      expect(await store.db.selectFrom('exchange_queue').select('exchange_id').execute()).toHaveLength(1);
    } finally {
      await outbox.stop(0);
      await store.close();
    }
  });
});

describe.each(backends)('dossier corrections on $name', (backend) => {
  it.skipIf(backend.skip)('requeue the dead change in one transaction with the correction, so the refused change, those behind it and the correction are delivered in order', async () => {
    const store = await openStore(await backend.options());
    const { log, metrics } = quiet();
    const sent: string[] = [];
    // The portal refuses a dossier of the unknown procedure as invalid, as the national portal does.
    const portal: DossierPortal = {
      lookup: async () => sent.some((s) => s.startsWith('sync#1')),
      sync: async (_ctx, snapshot, { mark, isUpdating }) => {
        if (snapshot.dossier.procedureCode === UNKNOWN.procedureCode) {
          sent.push(`refused#${mark.sequence}`);
          throw new GatewayError('UPSTREAM_BAD_RESPONSE', { detail: 'refused as invalid', permanent: true, upstreamReason: '400 Mã thủ tục hành chính không tồn tại' });
        }
        sent.push(`sync#${mark.sequence}${isUpdating ? ' update' : ''} ${snapshot.dossier.procedureCode}`);
        return { duplicate: false };
      },
      progress: async (_ctx, _step, mark) => (sent.push(`progress#${mark.sequence}`), { duplicate: false }),
    };
    const outbox = createOutbox({ store: createOutboxStore(store.db, store.dialect), portal, upstream: 'dvcqg', backoffMs, sealer, exchangeLog: exchangeRecorder(createExchangeLog({ db: store.db, masterKey: randomBytes(32) })), log, metrics }, fast);
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer });
      const dossier = sampleDossier(1, { procedureCode: UNKNOWN.procedureCode }) as unknown as Dossier;
      const code = String(dossier.code);
      await service.create(actor, dossier);
      outbox.start();
      await eventually(async () => ((await jobsOf(store.db, code))[0]!.state === 'dead' ? true : undefined), 10_000, 'the refused dossier dead');
      for (const at of ['09:30', '10:30']) {
        await service.addEvent(actor, code, { kind: 'progress', officer: 'Lò Văn Tuấn', title: 'Chuyên viên', department: 'Phòng Kinh tế', content: `Bước ${at}`, startedAt: fixtureAt(0, '09:05'), dueAt: fixtureAt(1, '17:00'), at: fixtureAt(0, at) });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(sent).toEqual(['refused#1']);
      expect((await jobsOf(store.db, code)).map((j) => j.state)).toEqual(['dead', 'pending', 'pending']);

      const corrector: Actor = { ...actor, userHash: 'c'.repeat(64) };
      let subject: string | undefined;
      const answer = await service.correct(corrector, code, { procedureCode: '1.001808.000.00.00.H52' }, { onSubject: (identifier) => (subject = identifier) });
      expect(answer.status).toBe(202);
      expect(subject).toBe((dossier.applicant as { identifier: string }).identifier);
      outbox.wake();
      await eventually(async () => ((await service.get(EVERY_DOSSIER, code)).deliveryState === 'delivered' ? true : undefined), 10_000, 'everything delivered');
      expect(sent).toEqual(['refused#1', 'sync#1 1.001808.000.00.00.H52', 'progress#2', 'progress#3', 'sync#4 update 1.001808.000.00.00.H52']);
      const events = await store.db.selectFrom('dossier_events').select(['sequence', 'kind', 'status', 'user_hash']).where('dossier_code', '=', code).orderBy('sequence').execute();
      expect(events.map((e) => [e.sequence, e.kind, e.status])).toEqual([
        [1, 'created', 1],
        [2, 'progress', null],
        [3, 'progress', null],
        [4, 'correction', null],
      ]);
      expect(events[3]!.user_hash).toBe('c'.repeat(64));
      // The corrected document is kept sealed, and the list column follows it.
      const row = await store.db.selectFrom('dossiers').select(['procedure_code', 'document', 'last_sequence']).where('code', '=', code).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ procedure_code: '1.001808.000.00.00.H52', last_sequence: 4 });
      expect(row.document).not.toContain('1.001808');
      expect(sealer.open<Dossier>({ code }, row.document)).toEqual({ ...dossier, procedureCode: '1.001808.000.00.00.H52' });
    } finally {
      await outbox.stop(0);
      await store.close();
    }
  });

  it.skipIf(backend.skip)('apply concurrent corrections and events one after the other, none lost, sequences gap-free (two processes on PostgreSQL)', async () => {
    const options = await backend.options();
    const first = await openStore(options);
    const stores = backend.name === 'PostgreSQL' ? [first, await openStore(options)] : [first];
    try {
      const services = stores.map((s) => createDossierService({ store: createDossierStore(s.db), hashIdentifier, sealer }));
      const dossier = sampleDossier(2) as unknown as Dossier;
      const code = String(dossier.code);
      await services[0]!.create(actor, dossier);
      // Each correction changes a member of its own: applied to a stale document, one would undo another.
      const patches = [{ summary: 'Trích yếu đã sửa' }, { note: 'Ghi chú đã sửa' }, { otherInfo: 'Thông tin khác' }, { returnInfo: 'Trả kết quả qua bưu điện' }, { receiptNumber: '0002a/BN-TH' }, { applicant: { phone: '0987654321' } }];
      const results = await Promise.all([
        ...patches.map((patch, i) => services[i % services.length]!.correct(actor, code, patch).then((r) => r.status)),
        ...[0, 1, 2].map((i) => services[i % services.length]!.addEvent(actor, code, { kind: 'progress', officer: 'Lò Văn Tuấn', title: 'Chuyên viên', department: 'Phòng Kinh tế', content: `Bước ${i}`, startedAt: fixtureAt(0, '09:05'), dueAt: fixtureAt(1, '17:00'), at: fixtureAt(0, '10:00') }).then((r) => r.status)),
      ]);
      expect(results).toEqual(Array.from({ length: 9 }, () => 202));
      const db = stores[0]!.db;
      const jobs = await db.selectFrom('outbox_jobs').select('sequence').where('dossier_code', '=', code).orderBy('sequence').execute();
      expect(jobs.map((j) => j.sequence)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      const kinds = await db.selectFrom('dossier_events').select('kind').where('dossier_code', '=', code).where('kind', '=', 'correction').execute();
      expect(kinds).toHaveLength(6);
      const row = await db.selectFrom('dossiers').select(['document', 'content_hash', 'last_sequence']).where('code', '=', code).executeTakeFirstOrThrow();
      const corrected = sealer.open<Dossier & Record<string, unknown>>({ code }, row.document);
      expect(corrected).toMatchObject({ summary: 'Trích yếu đã sửa', note: 'Ghi chú đã sửa', otherInfo: 'Thông tin khác', returnInfo: 'Trả kết quả qua bưu điện', receiptNumber: '0002a/BN-TH', applicant: { phone: '0987654321' } });
      expect(row.content_hash).toBe(sealer.contentDigest(corrected));
      expect(row.last_sequence).toBe(10);
    } finally {
      for (const s of new Set(stores)) await s.close();
    }
  });

  it.skipIf(backend.skip)('leave a change refused while a correction committed pending, not dead behind it', async () => {
    const store = await openStore(await backend.options());
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer });
      const outboxStore = createOutboxStore(store.db, store.dialect);
      const refusal = { state: 'dead' as const, attempts: 1, lastError: 'UPSTREAM_BAD_RESPONSE: 400 Mã thủ tục hành chính không tồn tại', nextAttemptAt: new Date().toISOString(), at: new Date().toISOString() };
      const lease = () => outboxStore.claim(10, new Date(), 'worker:1', new Date(Date.now() + 60_000));

      // Refused with the dossier as it still is: dead.
      const kept = sampleDossier(3, { procedureCode: UNKNOWN.procedureCode }) as unknown as Dossier;
      await service.create(actor, kept);
      const [job] = (await lease()).filter((j) => j.dossierCode === kept.code);
      const sentHash = (await outboxStore.load(job!)).dossier.contentHash;
      expect(await outboxStore.failed(job!, 'worker:1', { ...refusal, sentContentHash: sentHash })).toBe('dead');

      // Refused with a version a correction replaced while the attempt was under way (the
      // correction found nothing dead to requeue): pending, so the corrected version goes next.
      const racing = sampleDossier(4, { procedureCode: UNKNOWN.procedureCode }) as unknown as Dossier;
      await service.create(actor, racing);
      const [inFlight] = (await lease()).filter((j) => j.dossierCode === racing.code);
      const stale = (await outboxStore.load(inFlight!)).dossier.contentHash;
      await service.correct(actor, racing.code, { procedureCode: '1.001808.000.00.00.H52' });
      expect(await outboxStore.failed(inFlight!, 'worker:1', { ...refusal, sentContentHash: stale })).toBe('pending');
      expect((await jobsOf(store.db, racing.code)).map((j) => j.state)).toEqual(['pending', 'pending']);
      // The corrected version starts afresh: no attempts yet, its age counted from the refusal.
      const restarted = await store.db.selectFrom('outbox_jobs').select(['attempts', 'enqueued_at', 'next_attempt_at']).where('id', '=', inFlight!.id).executeTakeFirstOrThrow();
      expect(restarted).toEqual({ attempts: 0, enqueued_at: refusal.at, next_attempt_at: refusal.at });
      expect((await jobsOf(store.db, kept.code)).map((j) => j.state)).toEqual(['dead']);
    } finally {
      await store.close();
    }
  });
  it.skipIf(backend.skip)('count the age of the changes that waited behind a requeued dead one from the requeue, so a late correction does not give them up at once', async () => {
    const store = await openStore(await backend.options());
    try {
      const dossiers = createDossierStore(store.db);
      const service = createDossierService({ store: dossiers, hashIdentifier, sealer });
      const dossier = sampleDossier(5, { procedureCode: UNKNOWN.procedureCode }) as unknown as Dossier;
      await service.create(actor, dossier);
      await service.addEvent(actor, dossier.code, { kind: 'progress', officer: 'Lò Văn Tuấn', title: 'Chuyên viên', department: 'Phòng Kinh tế', content: 'Bước 1', startedAt: fixtureAt(0, '09:05'), dueAt: fixtureAt(1, '17:00'), at: fixtureAt(0, '10:00') });
      // Refused three days ago; the step behind it has waited as long.
      const long = new Date(Date.now() - 3 * 86_400_000).toISOString();
      await store.db.updateTable('outbox_jobs').set({ enqueued_at: long }).where('dossier_code', '=', dossier.code).execute();
      await store.db.updateTable('outbox_jobs').set({ state: 'dead' }).where('dossier_code', '=', dossier.code).where('sequence', '=', 1).execute();
      const at = new Date().toISOString();
      expect(await dossiers.redeliver(dossier.code, at)).toBe(1);
      const jobs = await store.db.selectFrom('outbox_jobs').select(['sequence', 'state', 'enqueued_at']).where('dossier_code', '=', dossier.code).orderBy('sequence').execute();
      expect(jobs).toEqual([
        { sequence: 1, state: 'pending', enqueued_at: at },
        { sequence: 2, state: 'pending', enqueued_at: at },
      ]);
    } finally {
      await store.close();
    }
  });
  it.skipIf(backend.skip)('answer a retried correction with its first answer, even when the catalogue would now refuse its procedure code', async () => {
    const store = await openStore(await backend.options());
    try {
      const service = createDossierService({ store: createDossierStore(store.db), hashIdentifier, sealer });
      const dossier = sampleDossier(6, { procedureCode: UNKNOWN.procedureCode }) as unknown as Dossier;
      await service.create(actor, dossier);
      const patch = { procedureCode: '1.001808.000.00.00.H52' };
      const first = await service.correct(actor, dossier.code, patch, { idempotencyKey: 'sua-ho-so-6', procedureKnown: async () => true });
      expect(first.status).toBe(202);
      let asked = 0;
      const refusing = async () => {
        asked++;
        return false;
      };
      const again = await service.correct(actor, dossier.code, patch, { idempotencyKey: 'sua-ho-so-6', procedureKnown: refusing });
      expect(again).toEqual(first);
      expect(asked).toBe(0);
      // A new request is checked against the catalogue as it is now.
      await expect(service.correct(actor, dossier.code, { procedureCode: '1.000001.000.00.00.H52' }, { idempotencyKey: 'sua-ho-so-6b', procedureKnown: refusing })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(asked).toBe(1);
    } finally {
      await store.close();
    }
  });
});
