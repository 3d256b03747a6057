import { Migrator, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { startClock, tick } from '../src/core/dossiers/lifecycle.ts';
import { indicatorFigures } from '../src/core/service-index.ts';
import { createDatabase } from '../src/store/database.ts';
import { migrateToLatest, migrations } from '../src/store/migrations.ts';
import { createServiceIndexCounts, reportPeriods } from '../src/store/service-index.ts';
import { storeBackends } from './helpers/backends.ts';

/**
 * Migration 0014 on dossiers stored before it: the clock's instants and the month of receipt
 * are filled in, what only the sealed document tells stays unknown, and the index counts such
 * dossiers as `unknown` instead of guessing.
 */

const { backends, cleanup } = storeBackends('service index migration');
afterAll(cleanup);

const DAY_MS = 86_400_000;
const vn = (ms: number) => `${new Date(ms + 7 * 3_600_000).toISOString().slice(0, 19)}+07:00`;

for (const backend of backends) {
  describe.skipIf(backend.skip)(`0014_service_index (${backend.name})`, () => {
    it('fills in the clock columns of existing dossiers and leaves the rest unknown', async () => {
      const handle = createDatabase(await backend.options());
      try {
        const migrator = new Migrator({ db: handle.db, provider: { getMigrations: async () => migrations }, ...(handle.schema ? { migrationTableSchema: handle.schema } : {}) });
        const before = await migrator.migrateTo('0013_console_sessions');
        expect(before.error).toBeUndefined();
        // Two dossiers received yesterday: one accepted and finished (a clock of today's shape),
        // one in processing with a clock written before acceptance was recorded.
        // Whole seconds, as the instants are written.
        const received = Math.floor((Date.now() - DAY_MS) / 1000) * 1000;
        const finished = received + 3_600_000;
        const base = { procedure_code: '1.004616.000.00.00.H52', document: 'sealed', content_hash: 'h', on_time_state: 'on_time', deadline_at: '', supplement_since: null, last_sequence: 2, portal_known: 1, client_id: 'c', agency: 'H52', purpose: null, subject_hash: 's', created_at: vn(received), updated_at: vn(received), handling_agency: 'A', digitised_submission: 1, reused_document: 0 };
        const rows = [
          { ...base, code: 'H52-000001-0001', status: 9, received_at: vn(received), due_at: vn(received + 5 * DAY_MS), clock: JSON.stringify({ dueAt: vn(received + 5 * DAY_MS), acceptedAt: vn(received), supplementRequests: 0, supplementWaitMs: 0, supplementDays: 0, supplementSince: null, endedAt: vn(finished), endedBy: 9 }) },
          { ...base, code: 'H52-000001-0002', status: 4, on_time_state: 'pending', deadline_at: new Date(Date.parse(`${vn(received + 5 * DAY_MS).slice(0, 10)}T23:59:59.999+07:00`)).toISOString(), received_at: vn(received), due_at: vn(received + 5 * DAY_MS), clock: JSON.stringify({ dueAt: vn(received + 5 * DAY_MS), supplementRequests: 0, supplementWaitMs: 0, supplementSince: null, endedAt: null }) },
        ];
        for (const row of rows) await handle.db.insertInto('dossiers').values(row as never).execute();

        await migrateToLatest(handle);
        const stored = await sql<Record<string, unknown>>`select code, received_month, accepted_at, processing_ended_at, processing_end_status, channel, fee_due, result_listed from dossiers order by code`.execute(handle.db);
        const month = vn(received).slice(0, 7);
        expect(stored.rows).toEqual([
          { code: 'H52-000001-0001', received_month: month, accepted_at: new Date(received).toISOString(), processing_ended_at: new Date(finished).toISOString(), processing_end_status: 9, channel: null, fee_due: null, result_listed: null },
          { code: 'H52-000001-0002', received_month: month, accepted_at: new Date(received).toISOString(), processing_ended_at: null, processing_end_status: null, channel: null, fee_due: null, result_listed: null },
        ]);

        const [period] = reportPeriods('month', month, month);
        const { province } = await createServiceIndexCounts(handle.db, handle.dialect).count(period!, new Date());
        const figures = indicatorFigures(province);
        const figure = (id: string) => figures.find((f) => f.id === id)!;
        // Known from clear columns: synced, on time, reuse.
        expect(figure('1.4')).toMatchObject({ numerator: 2, denominator: 2, unknown: 0 });
        expect(figure('2.1')).toMatchObject({ numerator: 2, denominator: 2, counts: { finishedOnTime: 1, finishedLate: 0, inProgressWithinTime: 1, inProgressOverdue: 0 } });
        expect(figure('4.3')).toMatchObject({ numerator: 0, denominator: 2, unknown: 0 });
        // Not known: left out and counted as unknown, never guessed.
        expect(figure('3.3')).toMatchObject({ numerator: 0, denominator: 0, unknown: 2, rate: null });
        expect(figure('4.1')).toMatchObject({ numerator: 0, denominator: 0, unknown: 1, rate: null });
      } finally {
        await handle.db.destroy();
      }
    });
  });
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`0014_service_index backfill from the status events (${backend.name})`, () => {
    it('fills in the ending status, the second supplement request and the month of receipt of old dossiers, in batches', async () => {
      const handle = createDatabase(await backend.options());
      try {
        const migrator = new Migrator({ db: handle.db, provider: { getMigrations: async () => migrations }, ...(handle.schema ? { migrationTableSchema: handle.schema } : {}) });
        expect((await migrator.migrateTo('0013_console_sessions')).error).toBeUndefined();
        const received = Math.floor((Date.now() - 20 * DAY_MS) / 1000) * 1000;
        const at = (days: number) => vn(received + days * DAY_MS);
        const base = { procedure_code: 'P', document: 'sealed', content_hash: 'h', on_time_state: 'pending', deadline_at: '', supplement_since: null, last_sequence: 1, portal_known: 1, client_id: 'c', agency: 'H52', purpose: null, subject_hash: 's', created_at: at(0), updated_at: at(0), handling_agency: 'A', digitised_submission: 0, reused_document: 0, received_at: at(0), due_at: at(5) };
        // Clocks of the older shapes: no endedBy, no acceptedAt, no repeatedSupplementAt.
        const oldClock = (extra: Record<string, unknown>) => JSON.stringify({ dueAt: at(5), supplementRequests: 0, supplementWaitMs: 0, supplementSince: null, endedAt: null, ...extra });
        const rows = [
          // Finished, its ending told by its events.
          { ...base, code: 'H52-000002-0001', status: 9, clock: oldClock({ endedAt: at(3) }) },
          // Returned, no events: the current status tells.
          { ...base, code: 'H52-000002-0002', status: 10, clock: oldClock({ endedAt: at(4) }) },
          // Asked twice for a supplement (a resend between), the instant not kept.
          { ...base, code: 'H52-000002-0003', status: 4, clock: oldClock({ supplementRequests: 2 }) },
          // Offsets accepted before the contract asked ±hh:mm: the month still found.
          { ...base, code: 'H52-000002-0004', status: 1, clock: oldClock({}), received_at: at(0).replace(/\+07:00$/, '+07') },
          { ...base, code: 'H52-000002-0005', status: 1, clock: oldClock({}), received_at: at(0).replace(/\+07:00$/, '+0700') },
        ];
        // More than one batch of ordinary ones.
        for (let i = 0; i < 1100; i++) rows.push({ ...base, code: `H52-000003-${String(i).padStart(4, '0')}`, status: 1, clock: oldClock({}) });
        for (let i = 0; i < rows.length; i += 100) await handle.db.insertInto('dossiers').values(rows.slice(i, i + 100) as never).execute();
        const event = (code: string, sequence: number, status: number, when: string) => ({ id: `${code}-${sequence}`, dossier_code: code, sequence, kind: sequence === 1 ? 'created' : 'status', status, at: when, payload: '{}', client_id: 'c', agency: 'H52', user_hash: 'u', created_at: when });
        await handle.db
          .insertInto('dossier_events')
          .values([
            event('H52-000002-0001', 1, 2, at(0)),
            event('H52-000002-0001', 2, 9, at(3)),
            event('H52-000002-0003', 1, 2, at(0)),
            event('H52-000002-0003', 2, 5, at(1)),
            event('H52-000002-0003', 3, 5, at(2)),
            event('H52-000002-0003', 4, 4, at(3)),
            event('H52-000002-0003', 5, 5, at(4)),
            event('H52-000002-0003', 6, 4, at(5)),
          ] as never)
          .execute();

        await migrateToLatest(handle);
        const stored = await sql<Record<string, unknown>>`select code, received_month, processing_ended_at, processing_end_status, second_supplement_at from dossiers where code like 'H52-000002-%' order by code`.execute(handle.db);
        const utc = (iso: string) => new Date(iso).toISOString();
        const month = vn(received).slice(0, 7);
        expect(stored.rows).toEqual([
          { code: 'H52-000002-0001', received_month: month, processing_ended_at: utc(at(3)), processing_end_status: 9, second_supplement_at: null },
          { code: 'H52-000002-0002', received_month: month, processing_ended_at: utc(at(4)), processing_end_status: 10, second_supplement_at: null },
          { code: 'H52-000002-0003', received_month: month, processing_ended_at: null, processing_end_status: null, second_supplement_at: utc(at(4)) },
          { code: 'H52-000002-0004', received_month: month, processing_ended_at: null, processing_end_status: null, second_supplement_at: null },
          { code: 'H52-000002-0005', received_month: month, processing_ended_at: null, processing_end_status: null, second_supplement_at: null },
        ]);
        const missing = await sql<{ n: unknown }>`select count(*) as n from dossiers where received_month is null`.execute(handle.db);
        expect(Number(missing.rows[0]!.n)).toBe(0);
      } finally {
        await handle.db.destroy();
      }
    }, 60_000);
  });
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`a past period's results (${backend.name})`, () => {
    it('counts a result deposited before the period ended, destroyed since or not, and not one deposited after', async () => {
      const handle = createDatabase(await backend.options());
      try {
        await migrateToLatest(handle);
        // Three dossiers finished last month, none with a result listed by the one-stop system.
        const [period] = reportPeriods('month', vn(Date.now()).slice(0, 7), vn(Date.now()).slice(0, 7));
        const [last] = reportPeriods('month', vn(Date.parse(period!.start) - DAY_MS).slice(0, 7), vn(Date.parse(period!.start) - DAY_MS).slice(0, 7));
        const start = Date.parse(last!.start);
        const at = (ms: number) => new Date(ms).toISOString();
        const base = { procedure_code: 'P', document: 'sealed', content_hash: 'h', on_time_state: 'on_time', deadline_at: '', supplement_since: null, last_sequence: 1, portal_known: 1, client_id: 'c', agency: 'H52', purpose: null, subject_hash: 's', created_at: at(start), updated_at: at(start), handling_agency: 'A', digitised_submission: 1, reused_document: 0, received_at: at(start + DAY_MS), received_month: last!.months[0], due_at: null, status: 9, clock: '{}', channel: 'online', online_payment: 0, fee_due: 0, population_data: 0, result_listed: 0, accepted_at: at(start + DAY_MS), processing_ended_at: at(start + 2 * DAY_MS), processing_end_status: 9, second_supplement_at: null };
        const codes = ['H52-000004-0001', 'H52-000004-0002', 'H52-000004-0003'];
        await handle.db.insertInto('dossiers').values(codes.map((code) => ({ ...base, code })) as never).execute();
        const document = (code: string, dossier: string, deposited: number, destroyed: string | null) => ({
          code, kind: 'result', subject_type: 'citizen', subject_hash: 's', subject_sealed: 'x', document_type: 't', name_sealed: 'x', media_type: 'application/pdf', procedure_code: 'P', dossier_code: dossier, issuing_agency: 'A', issued_on: null, valid_until: null, sha256: 'h', size: 1, signatures: '[]', seal_cms: null, deposited_at: at(deposited), client_id: 'c', agency: 'H52', user_hash: 'u', retain_until: null, legal_hold: 0, destroyed_at: destroyed, wrapped_key: null, content_address: null,
        });
        await handle.db
          .insertInto('documents')
          .values([
            document('KQ-1', codes[0]!, start + 3 * DAY_MS, null),
            // Destroyed since: it was a digitised result when the period ended.
            document('KQ-2', codes[1]!, start + 3 * DAY_MS, at(Date.now())),
            // Deposited after the period's end: not that period's.
            document('KQ-3', codes[2]!, Date.parse(last!.end) + 1000, null),
          ] as never)
          .execute();
        const { province } = await createServiceIndexCounts(handle.db, handle.dialect).count(last!, new Date());
        expect(indicatorFigures(province).find((f) => f.id === '4.1')).toMatchObject({ numerator: 2, denominator: 3, unknown: 0 });
      } finally {
        await handle.db.destroy();
      }
    });
  });
}

describe('the clock of a dossier stored before the second request was kept', () => {
  it('keeps a later request as the repeated one', () => {
    const stored = { ...startClock(null, 2, '2026-11-02T08:00:00+07:00'), supplementRequests: 2 };
    const next = tick(stored, 4, 5, '2026-11-09T08:00:00+07:00');
    expect(next.repeatedSupplementAt).toBe('2026-11-09T08:00:00+07:00');
    // A later one does not move it.
    expect(tick({ ...next, supplementSince: null }, 4, 5, '2026-11-12T08:00:00+07:00').repeatedSupplementAt).toBe('2026-11-09T08:00:00+07:00');
  });
});

describe('reportPeriods', () => {
  it('gives the months, or the whole quarters the months fall in, with their bounds in Vietnam time', () => {
    expect(reportPeriods('month', '2026-11', '2027-01').map((p) => [p.period, p.firstDay, p.lastDay, p.start, p.end])).toEqual([
      ['2026-11', '2026-11-01', '2026-11-30', '2026-10-31T17:00:00.000Z', '2026-11-30T17:00:00.000Z'],
      ['2026-12', '2026-12-01', '2026-12-31', '2026-11-30T17:00:00.000Z', '2026-12-31T17:00:00.000Z'],
      ['2027-01', '2027-01-01', '2027-01-31', '2026-12-31T17:00:00.000Z', '2027-01-31T17:00:00.000Z'],
    ]);
    const quarters = reportPeriods('quarter', '2026-11', '2027-01');
    expect(quarters.map((p) => [p.period, p.firstDay, p.lastDay, p.months])).toEqual([
      ['2026-Q4', '2026-10-01', '2026-12-31', ['2026-10', '2026-11', '2026-12']],
      ['2027-Q1', '2027-01-01', '2027-03-31', ['2027-01', '2027-02', '2027-03']],
    ]);
    expect(reportPeriods('quarter', '2027-02', '2027-02').map((p) => p.period)).toEqual(['2027-Q1']);
  });
});
