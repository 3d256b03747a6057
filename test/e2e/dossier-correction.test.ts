import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEntriesAbout, clearFaults, setFault, startTestGateway, type TestGateway, subjectHasherOf } from '../helpers/gateway.ts';
import { eventually, fixtureAt, progressEvent, sampleDossier, simulatorDossier, statusEvent } from '../helpers/dossiers.ts';
import { UNKNOWN, procedures } from '../../src/sandbox/personas.ts';

/*
 * Correcting a dossier the national portal refused, end to end: a real gateway, the sandbox's
 * national portal simulator, the exchange log read back as an auditor reads it.
 */

let gw: TestGateway;
let dvcqg: string;
let hash: (value: string) => string;

beforeAll(async () => {
  gw = await startTestGateway({
    'outbox.pollIntervalMs': 50,
    'outbox.backoffBaseMs': 20,
    'outbox.backoffMaxMs': 200,
    'audit.integrateIntervalMs': 50,
  });
  dvcqg = gw.gateway.sandbox!.urls.dvcqg!;
  hash = subjectHasherOf(gw);
}, 60_000);
afterAll(async () => {
  await gw?.close();
});

const DESK = { 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': 'TIEP_NHAN_HO_SO' };
/** The officer who corrects, not the one who registered the dossier. */
const CORRECTOR = { 'x-user-id': 'canbo-tohieu-0077', 'x-purpose': 'TIEP_NHAN_HO_SO' };
const MERGE_PATCH = 'application/merge-patch+json';

const create = (body: unknown) => gw.fetch('/v1/dossiers', { method: 'POST', headers: { 'content-type': 'application/json', ...DESK }, body: JSON.stringify(body) });
const addEvent = (code: string, body: unknown) => gw.fetch(`/v1/dossiers/${code}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const correct = (code: string, patch: unknown, headers: Record<string, string> = {}) =>
  gw.fetch(`/v1/dossiers/${code}`, { method: 'PATCH', headers: { 'content-type': MERGE_PATCH, ...CORRECTOR, ...headers }, body: JSON.stringify(patch) });
const view = async (code: string) => {
  const res = await gw.fetch(`/v1/dossiers/${code}`, { headers: DESK });
  expect(res.status, code).toBe(200);
  return (await res.json()) as State;
};

interface HistoryItem {
  sequence: number;
  kind: string;
  at: string;
  deliveryState: string;
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
}
interface State {
  code: string;
  procedureCode: string;
  status: number;
  deliveryState: string;
  history: HistoryItem[];
}
interface Entry {
  operation: string;
  client: string;
  agency: string;
  userHash: string;
  purpose: string | null;
  subjectHash: string | null;
  caseId: string | null;
  upstream: string | null;
  outcome: string;
  status: number;
  code: string | null;
}

const until = (code: string, what: string, done: (s: State) => boolean) =>
  eventually(async () => {
    const state = await view(code);
    return done(state) ? state : undefined;
  }, 15_000, `${code} ${what}`);

/** Exchange-log entries about a person, as an auditor searches them, once `enough` holds. */
const entriesAbout = (identifier: string, operation: string, enough: (items: Entry[]) => boolean) => auditEntriesAbout(gw, identifier, operation, enough);

async function problem(res: Response): Promise<{ code: string; detail?: string; errors?: { field: string; message: string }[] }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as never;
}

const VIETNAM_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$/;
const catalogued = procedures[0]!;

describe('correcting a dossier the national portal refused', () => {
  it('delivers the refused dossier, the changes held behind it and the correction, in order, and logs who corrected it', async () => {
    const dossier = sampleDossier(81, { procedureCode: UNKNOWN.procedureCode });
    const code = String(dossier.code);
    const applicant = (dossier.applicant as { identifier: string }).identifier;
    expect((await create(dossier)).status).toBe(202);
    // Refused as invalid: dead after one attempt, with the portal's reason.
    const dead = await until(code, 'dead', (s) => s.deliveryState === 'dead');
    expect(dead.history[0]).toMatchObject({ deliveryState: 'dead', attempts: 1, lastError: 'UPSTREAM_BAD_RESPONSE: 400 Mã thủ tục hành chính không tồn tại', nextAttemptAt: null });

    // Two processing steps wait behind it, never sent.
    expect((await addEvent(code, progressEvent(fixtureAt(0, '09:30'), 'Kiểm tra thành phần hồ sơ'))).status).toBe(202);
    expect((await addEvent(code, progressEvent(fixtureAt(0, '10:30'), 'Thẩm định hồ sơ'))).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const waiting = await view(code);
    expect(waiting.history.map((h) => h.deliveryState)).toEqual(['dead', 'pending', 'pending']);
    for (const step of waiting.history.slice(1)) expect(step.nextAttemptAt).toMatch(VIETNAM_TIME);
    expect(await simulatorDossier(dvcqg, code)).toBeUndefined();

    // The procedure code corrected to one of the national catalogue.
    const res = await correct(code, { procedureCode: catalogued.code, procedureName: catalogued.name, field: { code: catalogued.field.code, name: catalogued.field.name } });
    expect(res.status, await res.clone().text()).toBe(202);
    const accepted = (await res.json()) as State;
    expect(accepted.procedureCode).toBe(catalogued.code);
    expect(accepted.history.map((h) => [h.sequence, h.kind])).toEqual([
      [1, 'created'],
      [2, 'progress'],
      [3, 'progress'],
      [4, 'correction'],
    ]);
    // The dead change is requeued: pending again, its counter and error reset.
    expect(accepted.history[0]).toMatchObject({ deliveryState: 'pending', attempts: 0, lastError: null });
    expect(accepted.history[3]!.at).toMatch(VIETNAM_TIME);

    const state = await until(code, 'delivered', (s) => s.deliveryState === 'delivered');
    expect(state.history.map((h) => h.deliveryState)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    for (const h of state.history) {
      expect(h.deliveredAt).toMatch(VIETNAM_TIME);
      expect(h.nextAttemptAt).toBeNull();
    }
    // The portal took them in order: the dossier (now with the catalogue's code), both steps, then the correction as an update.
    const held = (await simulatorDossier(dvcqg, code))!;
    expect(held).toMatchObject({ sequences: [1, 2, 3, 4], duplicates: 0, outOfOrder: 0 });
    expect(held.held.map((h) => h.service)).toEqual(['DongBoHoSoMC', 'CapNhatTienDoHoSoMC', 'CapNhatTienDoHoSoMC', 'DongBoHoSoMC']);
    expect(held.item).toMatchObject({ MaHoSo: code, MaTTHC: catalogued.code, TenTTHC: catalogued.name });

    // The correction is an entry of the exchange log: the client, the officer who corrected, the purpose, the applicant, the dossier.
    const corrections = await entriesAbout(applicant, 'correctDossier', (items) => items.some((e) => e.caseId === code));
    expect(corrections.find((e) => e.caseId === code)).toMatchObject({
      operation: 'correctDossier',
      client: 'sandbox-portal',
      userHash: hash('user:canbo-tohieu-0077'),
      purpose: 'TIEP_NHAN_HO_SO',
      subjectHash: hash(applicant),
      caseId: code,
      // The national catalogue was asked whether it holds the corrected procedure code.
      upstream: 'dvcqg',
      outcome: 'success',
      status: 202,
    });
    // Its delivery is an attempt in the correcting officer's name; the dossier's two (refused, then
    // delivered) in the name of the officer who registered it; the steps' in the portal's own.
    const deliveries = await entriesAbout(applicant, 'deliverDossier', (items) => items.filter((e) => e.caseId === code).length >= 5);
    const byUser = deliveries.filter((e) => e.caseId === code).map((e) => e.userHash);
    expect(byUser).toHaveLength(5);
    expect(byUser.filter((u) => u === hash('user:canbo-tohieu-0077'))).toHaveLength(1);
    expect(byUser.filter((u) => u === hash('user:canbo-tohieu-0042'))).toHaveLength(2);
  }, 30_000);

  it('delivers a correction with nothing dead as an update after the changes queued before it, and queues nothing for a patch that changes nothing', async () => {
    const dossier = sampleDossier(82, { applicant: { type: 'citizen', identifier: '014192004567', name: 'Cầm Thị Hoa', email: 'camthihoa@example.com', phone: '0912345678' } });
    const code = String(dossier.code);
    expect((await create(dossier)).status).toBe(202);
    expect((await addEvent(code, statusEvent(2, fixtureAt(0, '09:00')))).status).toBe(202);
    const res = await correct(code, { applicant: { phone: '0987654321', email: null }, note: 'Sửa số điện thoại theo CCCD' });
    expect(res.status).toBe(202);
    const state = await until(code, 'delivered', (s) => s.deliveryState === 'delivered');
    expect(state.history.map((h) => h.kind)).toEqual(['created', 'status', 'correction']);
    const held = (await simulatorDossier(dvcqg, code))!;
    expect(held).toMatchObject({ sequences: [1, 2, 3], outOfOrder: 0 });
    expect(JSON.stringify(held.item)).toContain('0987654321');
    expect(JSON.stringify(held.item)).not.toContain('camthihoa@example.com');
    // The status is the dossier's: a correction does not change it.
    expect(state.status).toBe(2);
    // Logged as made by the correcting officer; no national system was asked to make it.
    const entries = await entriesAbout('014192004567', 'correctDossier', (items) => items.some((e) => e.caseId === code));
    expect(entries.find((e) => e.caseId === code)).toMatchObject({ client: 'sandbox-portal', userHash: hash('user:canbo-tohieu-0077'), subjectHash: hash('014192004567'), upstream: null, outcome: 'success', status: 202 });

    // The same correction again changes nothing: 200, nothing queued.
    const again = await correct(code, { applicant: { phone: '0987654321', email: null }, note: 'Sửa số điện thoại theo CCCD' });
    expect(again.status).toBe(200);
    expect(((await again.json()) as State).history).toHaveLength(3);

    // Handed over again as corrected, it is the same dossier (202, harmless); as it was first, it is different content (409).
    const corrected = { ...dossier, applicant: { type: 'citizen', identifier: '014192004567', name: 'Cầm Thị Hoa', phone: '0987654321' }, note: 'Sửa số điện thoại theo CCCD' };
    expect((await create(corrected)).status).toBe(202);
    expect((await create(dossier)).status).toBe(409);
  }, 30_000);

  it('answers a retry with the same Idempotency-Key as the first time, and 422 for another patch under it', async () => {
    const code = String(sampleDossier(83).code);
    expect((await create(sampleDossier(83))).status).toBe(202);
    const key = '3f2a7c1e-9b4d-4e8a-a6f0-5c2d8e1b7a93';
    const first = await correct(code, { summary: 'Đăng ký thành lập hộ kinh doanh Quán ăn Bản Mòng (sửa trích yếu)' }, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const retry = await correct(code, { summary: 'Đăng ký thành lập hộ kinh doanh Quán ăn Bản Mòng (sửa trích yếu)' }, { 'idempotency-key': key });
    expect(retry.status).toBe(202);
    expect(await retry.text()).toBe(await first.text());
    const other = await correct(code, { summary: 'Một trích yếu khác' }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect((await problem(other)).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await view(code)).history.map((h) => h.kind)).toEqual(['created', 'correction']);
  });

  it('refuses bad corrections with 4xx naming the field, and writes nothing', async () => {
    const dossier = sampleDossier(84);
    const code = String(dossier.code);
    expect((await create(dossier)).status).toBe(202);
    await until(code, 'delivered', (s) => s.deliveryState === 'delivered');
    const db = new Database(gw.dbPath, { readonly: true });
    const stored = () => db.prepare('select d.document, d.content_hash, d.procedure_code, d.last_sequence, (select count(*) from outbox_jobs j where j.dossier_code = d.code) as jobs from dossiers d where d.code = ?').get(code);
    try {
      const before = stored();
      const cases: [unknown, string][] = [
        [{ colour: 'đỏ' }, 'body.colour'],
        [{ code: 'H52.101.114-261127-0999' }, 'body.code'],
        [{ receivedAt: fixtureAt(1, '08:00') }, 'body.receivedAt'],
        [{ dueAt: fixtureAt(20, '17:00') }, 'body.dueAt'],
        [{ status: 2 }, 'body.status'],
        [{ applicant: { identifier: '014089999999' } }, 'body.applicant.identifier'],
        [{ applicant: { type: 'business' } }, 'body.applicant.type'],
        [{ procedureCode: 'thủ tục' }, 'body.procedureCode'],
        // Well-formed, but the national catalogue holds no such procedure.
        [{ procedureCode: UNKNOWN.procedureCode }, 'body.procedureCode'],
        // Required members cannot be removed.
        [{ summary: null }, 'body.summary'],
        [{ applicant: { name: null } }, 'body.applicant.name'],
        [{ channel: 'fax' }, 'body.channel'],
        [{ applicant: { phone: '09-12' } }, 'body.applicant.phone'],
        [{ submittedAt: '2026-02-30T08:00:00+07:00' }, 'body.submittedAt'],
        [{}, 'body'],
      ];
      for (const [patch, field] of cases) {
        const res = await correct(code, patch);
        expect(res.status, `${JSON.stringify(patch)}: ${await res.clone().text()}`).toBe(400);
        const body = await problem(res);
        expect(body.errors?.map((e) => e.field), JSON.stringify(patch)).toContain(field);
      }
      // Sent as plain JSON, not as a merge patch: 415 naming the content type.
      const plain = await correct(code, { summary: 'Trích yếu mới' }, { 'content-type': 'application/json' });
      expect(plain.status).toBe(415);
      expect(JSON.stringify(await problem(plain))).toContain('header.content-type');
      // Accountability is required, as for handing the dossier over.
      const anonymous = await gw.fetch(`/v1/dossiers/${code}`, { method: 'PATCH', headers: { 'content-type': MERGE_PATCH }, body: JSON.stringify({ summary: 'Trích yếu mới' }) });
      expect(anonymous.status).toBe(400);
      expect((await problem(anonymous)).code).toBe('ACCOUNTABILITY_REQUIRED');
      // No such dossier.
      const unknown = await correct('H52.101.114-261127-9999', { summary: 'Trích yếu mới' });
      expect(unknown.status).toBe(404);
      await problem(unknown);
      // Nothing half-written: the document, its hash, the sequence and the jobs are as they were.
      expect(stored()).toEqual(before);
      // A refused correction is in the exchange log too, by whom and about whom: the one refused
      // after the national catalogue was asked about its procedure code (and said no).
      const applicant = (dossier.applicant as { identifier: string }).identifier;
      const refused = await entriesAbout(applicant, 'correctDossier', (items) => items.some((e) => e.caseId === code && e.code === 'VALIDATION_FAILED'));
      expect(refused.find((e) => e.caseId === code && e.code === 'VALIDATION_FAILED')).toMatchObject({ upstream: 'dvcqg', status: 400, userHash: hash('user:canbo-tohieu-0077'), subjectHash: hash(applicant) });
      expect((await view(code)).history.map((h) => h.kind)).toEqual(['created']);
    } finally {
      db.close();
    }
    // PUT is still not a way to change a dossier.
    expect((await gw.fetch(`/v1/dossiers/${code}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...DESK }, body: JSON.stringify(dossier) })).status).toBe(405);
  }, 30_000);
});

describe('what a delivery that cannot get through shows', () => {
  it('gives the failure behind an open breaker and when the change is tried next, in Vietnam time', async () => {
    const tripping = await startTestGateway({
      'outbox.pollIntervalMs': 50,
      'outbox.backoffBaseMs': 20,
      'outbox.backoffMaxMs': 100,
      // Opens on the first failure and stays open for a minute.
      'upstreams.dvcqg.breaker.volumeThreshold': 1,
      'upstreams.dvcqg.breaker.errorThresholdPercentage': 1,
      'upstreams.dvcqg.breaker.resetTimeoutMs': 60_000,
    });
    try {
      // The portal drops every connection unanswered.
      await setFault(tripping.controlUrl, { system: 'dvcqg', mode: 'down' });
      const dossier = sampleDossier(85);
      const code = String(dossier.code);
      const res = await tripping.fetch('/v1/dossiers', { method: 'POST', headers: { 'content-type': 'application/json', ...DESK }, body: JSON.stringify(dossier) });
      expect(res.status).toBe(202);
      const item = await eventually(async () => {
        const state = (await (await tripping.fetch(`/v1/dossiers/${code}`, { headers: DESK })).json()) as State;
        return state.history[0]!.lastError?.startsWith('UPSTREAM_CIRCUIT_OPEN') ? state.history[0] : undefined;
      }, 15_000, 'a try refused by the open breaker');
      expect(item).toMatchObject({ deliveryState: 'pending', attempts: 1 });
      expect(item!.lastError).toMatch(/^UPSTREAM_CIRCUIT_OPEN: calls to dvcqg are suspended after repeated failures; last failure: UPSTREAM_UNAVAILABLE \((E[A-Z]+|UND_ERR_[A-Z_]+)\)$/);
      expect(item!.lastError!.length).toBeLessThanOrEqual(300);
      // Put off until the breaker lets a call through again (about a minute), answered as +07:00.
      expect(item!.nextAttemptAt).toMatch(VIETNAM_TIME);
      expect(new Date(item!.nextAttemptAt!).getTime() - Date.now()).toBeGreaterThan(30_000);
    } finally {
      await clearFaults(tripping.controlUrl);
      await tripping.close();
    }
  }, 30_000);
});
