import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, clearFaults, metric, setFault, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { QUICK_OUTBOX, eventually, fixtureAt, fixtureCodeDay, progressEvent, sampleDossier, simulatorDossier, statusEvent } from '../helpers/dossiers.ts';
import { UNKNOWN } from '../../src/sandbox/personas.ts';

let gw: TestGateway;
let dvcqg: string;
beforeAll(async () => {
  gw = await startTestGateway(QUICK_OUTBOX);
  dvcqg = gw.gateway.sandbox!.urls.dvcqg!;
});
afterAll(async () => {
  await gw?.close();
});

const accountable = { 'content-type': 'application/json', 'x-user-id': 'canbo-tohieu-0042', 'x-purpose': 'TIEP_NHAN_HO_SO' };
const json = { 'content-type': 'application/json' };

const create = (body: unknown, headers: Record<string, string> = {}) =>
  gw.fetch('/v1/dossiers', { method: 'POST', headers: { ...accountable, ...headers }, body: JSON.stringify(body) });
const addEvent = (code: string, body: unknown, headers: Record<string, string> = {}) =>
  gw.fetch(`/v1/dossiers/${code}/events`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
const get = (code: string) => gw.fetch(`/v1/dossiers/${code}`, { headers: accountable });

interface State {
  code: string;
  status: number;
  statusName: string;
  deliveryState: string;
  history: { sequence: number; kind: string; status?: number; deliveryState: string; attempts: number; lastError: string | null; deliveredAt: string | null; nextAttemptAt: string | null }[];
  onTime: { state: string; supplementRequests: number; supplementWaitSeconds: number; reason: string | null; processingEndedAt: string | null };
}

async function delivered(code: string): Promise<State> {
  return eventually(async () => {
    const state = (await (await get(code)).json()) as State;
    return state.deliveryState === 'delivered' ? state : undefined;
  }, 15_000, `${code} delivered`);
}

describe('dossier synchronisation through the gateway', () => {
  it('accepts a dossier with 202, delivers it, and shows the delivery', async () => {
    const dossier = sampleDossier(1);
    const res = await create(dossier);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/dossiers/${String(dossier.code)}`);
    const accepted = (await res.json()) as State;
    expect(accepted).toMatchObject({ code: dossier.code, status: 1, statusName: 'registered', onTime: { state: 'pending' } });
    expect(accepted.history).toEqual([expect.objectContaining({ sequence: 1, kind: 'created', status: 1 })]);

    const state = await delivered(String(dossier.code));
    expect(state.history[0]).toMatchObject({ deliveryState: 'delivered', attempts: 1, lastError: null });
    expect(state.history[0]!.deliveredAt).toMatch(/\+07:00$/);
    const held = await simulatorDossier(dvcqg, String(dossier.code));
    expect(held).toMatchObject({ sequences: [1], duplicates: 0, outOfOrder: 0, status: '1' });
    expect(held!.held[0]!.service).toBe('DongBoHoSoMC');
  });

  it('answers every time of a dossier in +07:00, whatever offset it was sent in', async () => {
    const utc = (at: string) => new Date(at).toISOString();
    const dossier = sampleDossier(31, { receivedAt: utc(fixtureAt(0, '08:42:10')), dueAt: utc(fixtureAt(15, '17:00')) });
    const code = String(dossier.code);
    expect((await create(dossier)).status).toBe(202);
    expect((await addEvent(code, statusEvent(2, utc(fixtureAt(0, '09:00'))), accountable)).status).toBe(202);
    const state = (await (await get(code)).json()) as Omit<State, 'history'> & { receivedAt: string; dueAt: string; history: { at: string }[] };
    expect(state.receivedAt).toBe(fixtureAt(0, '08:42:10'));
    expect(state.dueAt).toBe(fixtureAt(15, '17:00'));
    expect(state.history.map((h) => h.at)).toEqual([fixtureAt(0, '08:42:10'), fixtureAt(0, '09:00')]);
    const listed = (await (await gw.fetch('/v1/dossiers?status=2', { key: KEYS.operator })).json()) as { items: { code: string; receivedAt: string; dueAt: string }[] };
    expect(listed.items.find((d) => d.code === code)).toMatchObject({ receivedAt: fixtureAt(0, '08:42:10'), dueAt: fixtureAt(15, '17:00') });
  });

  it('delivers status changes and progress steps in order, with the on-time computation', async () => {
    // Due on day 5: finished on day 6, after one day waiting for a supplement.
    const dossier = sampleDossier(2, { dueAt: fixtureAt(5, '17:00') });
    const code = String(dossier.code);
    expect((await create(dossier)).status).toBe(202);
    const steps = [
      statusEvent(2, fixtureAt(0, '09:00')),
      statusEvent(4, fixtureAt(0, '09:05')),
      progressEvent(fixtureAt(0, '10:30')),
      statusEvent(5, fixtureAt(1, '08:00')),
      statusEvent(4, fixtureAt(2, '08:00')),
      statusEvent(9, fixtureAt(6, '13:00')),
      statusEvent(10, fixtureAt(7, '09:00')),
    ];
    for (const [i, step] of steps.entries()) {
      const res = await addEvent(code, step);
      expect(res.status, JSON.stringify(step)).toBe(202);
      expect(await res.json()).toMatchObject({ sequence: i + 2, deliveryState: 'pending', eventId: expect.any(String) });
    }
    const state = await delivered(code);
    expect(state.history.map((h) => h.kind)).toEqual(['created', 'status', 'status', 'progress', 'status', 'status', 'status', 'status']);
    expect(state).toMatchObject({ status: 10, statusName: 'returned' });
    // One day waiting for the supplement does not count: finished 20 hours after the due date is on time.
    expect(state.onTime).toMatchObject({ state: 'on_time', rated: true, processingEndedAt: fixtureAt(6, '13:00'), processingEndedOn: fixtureAt(6, '13:00').slice(0, 10), supplementDays: 1, supplementWaitSeconds: 86_400, supplementRequests: 1, reason: null });

    const held = await simulatorDossier(dvcqg, code);
    expect(held).toMatchObject({ sequences: [1, 2, 3, 4, 5, 6, 7, 8], duplicates: 0, outOfOrder: 0, status: '10' });
    expect(held!.held.map((h) => h.service)).toEqual(['DongBoHoSoMC', 'DongBoHoSoMC', 'DongBoHoSoMC', 'CapNhatTienDoHoSoMC', 'DongBoHoSoMC', 'DongBoHoSoMC', 'DongBoHoSoMC', 'DongBoHoSoMC']);
    expect(await metric(gw.url, 'lienthong_outbox_deliveries_total', { service: 'CapNhatTienDoHoSoMC' })).toBeGreaterThanOrEqual(1);
    expect(await metric(gw.url, 'lienthong_outbox_deliveries_total', { service: 'TraCuuHoSo' })).toBeGreaterThanOrEqual(1);

    // Every attempt is an exchange-log entry of the submitting client, with its upstream calls.
    const entries = await eventually(async () => {
      const res = await gw.fetch('/v1/audit/entries?operation=deliverDossier&limit=100', { key: KEYS.auditor });
      const body = (await res.json()) as { items: { operation: string; client: string; upstream: string; outcome: string }[] };
      return body.items.length >= 8 ? body.items : undefined;
    }, 15_000, 'delivery entries in the exchange log');
    expect(entries[0]).toMatchObject({ operation: 'deliverDossier', client: 'sandbox-portal', upstream: 'dvcqg', outcome: 'success' });
  });

  it('refuses a transition the lifecycle does not allow with 409 and the allowed statuses, storing nothing', async () => {
    const code = String(sampleDossier(3).code);
    await create(sampleDossier(3));
    expect((await addEvent(code, statusEvent(2, fixtureAt(0, '09:00')))).status).toBe(202);
    // Going back to 1 cannot be.
    const res = await addEvent(code, statusEvent(1, fixtureAt(0, '10:00')));
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ code: 'INVALID_TRANSITION', allowed: [2, 3, 4, 5, 6, 7, 8, 9, 10] });
    const state = (await (await get(code)).json()) as State;
    expect(state.history).toHaveLength(2);
    expect(state.status).toBe(2);

    // Closed dossiers take no further change.
    expect((await addEvent(code, statusEvent(7, fixtureAt(0, '11:00')))).status).toBe(202);
    const after = await addEvent(code, statusEvent(4, fixtureAt(0, '12:00')));
    expect(await after.json()).toMatchObject({ code: 'INVALID_TRANSITION', allowed: [] });
    expect(await (await addEvent(code, progressEvent(fixtureAt(0, '12:00')))).json()).toMatchObject({ code: 'CONFLICT' });
  });

  it('answers a retried write with the same key exactly as the first time, and 422 for another body', async () => {
    const key = 'c0b9d6a4-2f4e-4d61-9c0e-6a1e2b7d9f10';
    const first = await create(sampleDossier(4), { 'idempotency-key': key });
    const again = await create(sampleDossier(4), { 'idempotency-key': key });
    expect(again.status).toBe(first.status);
    expect(await again.text()).toBe(await first.text());
    const other = await create(sampleDossier(5), { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await get(String(sampleDossier(5).code))).status).toBe(404);

    const code = String(sampleDossier(4).code);
    const eventKey = 'f6f0e2d1-7c55-4a43-8f1b-2d0c9e8a7b61';
    const e1 = await addEvent(code, statusEvent(2, fixtureAt(0, '09:00')), { 'idempotency-key': eventKey });
    const e2 = await addEvent(code, statusEvent(2, fixtureAt(0, '09:00')), { 'idempotency-key': eventKey });
    expect(e1.status).toBe(202);
    expect(await e2.json()).toEqual(await e1.json());
    expect((await addEvent(code, statusEvent(3, fixtureAt(0, '09:00')), { 'idempotency-key': eventKey })).status).toBe(422);
    // The retry queued nothing: one change after the dossier.
    expect(((await (await get(code)).json()) as State).history).toHaveLength(2);
    // Without a key, the same dossier again is harmless; different content under its code is 409.
    expect((await create(sampleDossier(4))).status).toBe(202);
    const changed = await create(sampleDossier(4, { summary: 'Một trích yếu khác' }));
    expect(changed.status).toBe(409);
    expect(await changed.json()).toMatchObject({ code: 'CONFLICT' });
  });

  it('refuses bad input with 400 naming the field, and stores nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [sampleDossier(10, { dueAt: fixtureAt(-1, '17:00') }), 'body.dueAt'],
      [sampleDossier(11, { attachments: Array.from({ length: 201 }, (_, i) => ({ id: `a${i}`, name: 'x.pdf', componentCode: 'TP01', url: 'https://motcua.sonla.gov.vn/x.pdf', digitised: false, reused: false })) }), 'body.attachments'],
      [sampleDossier(12, { channel: 'fax' }), 'body.channel'],
      [sampleDossier(13, { code: 'H52.101.114-261327-0013' }), 'body.code'],
      [sampleDossier(16, { applicant: { type: 'citizen', identifier: '5500123457', name: 'Lò Văn Tuấn' } }), 'body.applicant.identifier'],
      [sampleDossier(17, { applicant: { type: 'business', identifier: '5500123458', name: 'Công ty TNHH Chè Mộc Châu' } }), 'body.applicant.identifier'],
      [(() => { const d = sampleDossier(14); delete d.summary; return d; })(), 'body.summary'],
    ];
    for (const [body, field] of cases) {
      const res = await create(body);
      expect(res.status, field).toBe(400);
      const problem = (await res.json()) as { errors?: { field: string }[] };
      expect(problem.errors?.map((e) => e.field), field).toContain(field);
      expect((await get(String(body.code).replace(/[^A-Z0-9.-]/g, ''))).status).not.toBe(200);
    }
    const code = String(sampleDossier(15).code);
    await create(sampleDossier(15));
    for (const [event, field] of [
      [statusEvent(11, fixtureAt(0, '09:00')), 'body.status'],
      [statusEvent(2, fixtureAt(-1, '09:00')), 'body.at'],
      [{ ...progressEvent(fixtureAt(0, '10:00')), dueAt: fixtureAt(-1, '17:00') }, 'body.dueAt'],
      [{ kind: 'status', at: fixtureAt(0, '09:00') }, 'body.status'],
    ] as const) {
      const res = await addEvent(code, event);
      expect(res.status, field).toBe(400);
      expect(JSON.stringify(await res.json()), field).toContain(field);
    }
    expect(((await (await get(code)).json()) as State).history).toHaveLength(1);
    expect((await addEvent('H52-261127-9999', statusEvent(2, fixtureAt(0, '09:00')))).status).toBe(404);
  });

  it('lists dossiers by delivery state, status and overdue', async () => {
    const late = String(sampleDossier(20, { receivedAt: fixtureAt(-30, '08:00'), dueAt: fixtureAt(-25, '17:00') }, fixtureCodeDay(-30)).code);
    await create(sampleDossier(20, { receivedAt: fixtureAt(-30, '08:00'), dueAt: fixtureAt(-25, '17:00') }, fixtureCodeDay(-30)));
    await addEvent(late, statusEvent(2, fixtureAt(-30, '09:00')));
    await delivered(late);
    const list = async (query: string) => {
      const res = await gw.fetch(`/v1/dossiers?${query}`, { key: KEYS.operator });
      expect(res.status, query).toBe(200);
      return (await res.json()) as { items: { code: string; status: number; deliveryState: string; onTime: { state: string } }[]; total: number };
    };
    expect((await list('overdue=true')).items.map((i) => i.code)).toContain(late);
    expect((await list('overdue=false')).items.map((i) => i.code)).not.toContain(late);
    const accepted = await list('status=2&pageSize=100');
    expect(accepted.items.every((i) => i.status === 2)).toBe(true);
    expect(accepted.items.map((i) => i.code)).toContain(late);
    const all = await list('deliveryState=delivered&pageSize=100');
    expect(all.items.every((i) => i.deliveryState === 'delivered')).toBe(true);
    expect(all.total).toBeGreaterThanOrEqual(3);
    const page = await list('pageSize=1&page=2');
    expect(page.items).toHaveLength(1);
    expect((await gw.fetch('/v1/dossiers?deliveryState=lost', { key: KEYS.operator })).status).toBe(400);
  });

  it('lists one dossier by its code, within the caller\'s scope, and refuses a malformed code naming query.code', async () => {
    const own = String(sampleDossier(24).code);
    const desks = String(sampleDossier(25).code);
    expect((await create(sampleDossier(24))).status).toBe(202);
    // Handed over by the one-stop desk: the portal, acting for no one, does not see it.
    expect((await create(sampleDossier(25), { authorization: `Bearer ${KEYS.agency}` })).status).toBe(202);
    const codes = async (code: string, key: string = KEYS.portal) => {
      const res = await gw.fetch(`/v1/dossiers?code=${encodeURIComponent(code)}&pageSize=1`, { key });
      expect(res.status, code).toBe(200);
      const page = (await res.json()) as { items: { code: string; deliveryState: string }[]; total: number };
      expect(page.total, code).toBe(page.items.length);
      return page.items.map((d) => d.code);
    };
    expect(await codes(own)).toEqual([own]);
    expect(await codes(own, KEYS.operator)).toEqual([own]);
    expect(await codes(desks, KEYS.operator)).toEqual([desks]);
    expect(await codes(desks)).toEqual([]);
    expect(await codes('H52-261127-9999', KEYS.operator)).toEqual([]);
    const bad = await gw.fetch('/v1/dossiers?code=not-a-code', { key: KEYS.operator });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(await bad.json())).toContain('query.code');
  });

  it('gives a delivery up after the maximum age, shows it dead, and redelivers it on request', async () => {
    await setFault(gw.controlUrl, { system: 'dvcqg', mode: 'error' });
    const code = String(sampleDossier(30).code);
    try {
      await create(sampleDossier(30));
      await addEvent(code, statusEvent(2, fixtureAt(0, '09:00')));
      const dead = await eventually(async () => {
        const state = (await (await get(code)).json()) as State;
        return state.deliveryState === 'dead' ? state : undefined;
      }, 15_000, 'a dead delivery');
      // The cause, not only the code: what the portal answered (its HTTP status), never its text.
      expect(dead.history[0]).toMatchObject({ deliveryState: 'dead', lastError: expect.stringMatching(/^UPSTREAM_UNAVAILABLE: the national public-service portal is failing \(HTTP 5\d\d\)$/), nextAttemptAt: null });
      // The change behind it waits, due at a time answered in Vietnam time like every other.
      expect(dead.history[1]!.nextAttemptAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$/);
      expect(dead.history[0]!.attempts).toBeGreaterThanOrEqual(1);
      // The next change waits behind it, never overtaking.
      expect(dead.history[1]!.deliveryState).not.toBe('delivered');
      const listed = (await (await gw.fetch('/v1/dossiers?deliveryState=dead', { key: KEYS.operator })).json()) as { items: { code: string; deliveryError: string | null }[] };
      // Listed with the failure an operator must fix before redelivering: the dead change's.
      expect(listed.items.find((i) => i.code === code)?.deliveryError).toBe(dead.history[0]!.lastError);
      expect(await metric(gw.url, 'lienthong_outbox_dead_total', { service: 'DongBoHoSoMC' })).toBeGreaterThanOrEqual(1);
      // The gauges follow the outbox (refreshed about once a second): one dead job, one waiting behind it.
      await eventually(async () => ((await metric(gw.url, 'lienthong_outbox_dead_jobs', {})) >= 1 ? true : undefined), 5000, 'the dead-jobs gauge');
      await eventually(async () => ((await metric(gw.url, 'lienthong_outbox_depth', {})) >= 1 ? true : undefined), 5000, 'the depth gauge');
      expect(await metric(gw.url, 'lienthong_outbox_oldest_pending_age_seconds', {})).toBeGreaterThan(0);
      expect(await simulatorDossier(dvcqg, code)).toBeUndefined();
    } finally {
      await clearFaults(gw.controlUrl);
    }
    const res = await gw.fetch(`/v1/dossiers/${code}/redeliver`, { method: 'POST', key: KEYS.operator });
    expect(res.status).toBe(202);
    const { requeued } = (await res.json()) as { requeued: number };
    expect(requeued).toBeGreaterThanOrEqual(1);
    const state = await delivered(code);
    expect(state.history.map((h) => h.deliveryState)).toEqual(['delivered', 'delivered']);
    expect(await simulatorDossier(dvcqg, code)).toMatchObject({ sequences: [1, 2], duplicates: 0, outOfOrder: 0 });
    // Nothing dead any more: a second redelivery requeues nothing.
    expect(await (await gw.fetch(`/v1/dossiers/${code}/redeliver`, { method: 'POST', key: KEYS.operator })).json()).toEqual({ requeued: 0 });
    expect((await gw.fetch('/v1/dossiers/H52-261127-9999/redeliver', { method: 'POST', key: KEYS.operator })).status).toBe(404);
  });

  it('gives a dossier the portal refuses as invalid up after one attempt, naming the refusal, while other dossiers flow', async () => {
    // The sandbox portal refuses a dossier of the unknown procedure (error_code 400): sent again, it would be refused again.
    const refused = sampleDossier(50, { procedureCode: UNKNOWN.procedureCode });
    const code = String(refused.code);
    const deadBefore = await metric(gw.url, 'lienthong_outbox_dead_total', { service: 'DongBoHoSoMC' });
    expect((await create(refused)).status).toBe(202);
    expect((await addEvent(code, statusEvent(2, fixtureAt(0, '09:00')))).status).toBe(202);
    expect((await create(sampleDossier(51))).status).toBe(202);
    const dead = await eventually(async () => {
      const state = (await (await get(code)).json()) as State;
      return state.deliveryState === 'dead' ? state : undefined;
    }, 15_000, 'the refused dossier dead');
    expect(dead.history[0]).toMatchObject({ deliveryState: 'dead', attempts: 1, lastError: 'UPSTREAM_BAD_RESPONSE: 400 Mã thủ tục hành chính không tồn tại' });
    expect(dead.history[1]).toMatchObject({ deliveryState: 'pending', attempts: 0, lastError: null });
    await delivered(String(sampleDossier(51).code));
    expect(await simulatorDossier(dvcqg, code)).toBeUndefined();
    expect(await metric(gw.url, 'lienthong_outbox_dead_total', { service: 'DongBoHoSoMC' })).toBe(deadBefore + 1);
    const listed = (await (await gw.fetch('/v1/dossiers?deliveryState=dead&pageSize=100', { key: KEYS.operator })).json()) as { items: { code: string; deliveryError: string | null }[] };
    expect(listed.items.find((i) => i.code === code)?.deliveryError).toBe('UPSTREAM_BAD_RESPONSE: 400 Mã thủ tục hành chính không tồn tại');
    const line = gw.logs.filter((l) => l.includes(code)).map((l) => JSON.parse(l) as { level: number; msg: string; lastError?: string }).find((l) => l.level >= 50);
    expect(line).toMatchObject({ lastError: 'UPSTREAM_BAD_RESPONSE: 400 Mã thủ tục hành chính không tồn tại', msg: expect.stringContaining('refused as invalid') });

    // An operator's redelivery sends it once more; refused again, it is dead again after one attempt.
    const res = await gw.fetch(`/v1/dossiers/${code}/redeliver`, { method: 'POST', key: KEYS.operator });
    expect(await res.json()).toEqual({ requeued: 1 });
    const again = await eventually(async () => {
      const state = (await (await get(code)).json()) as State;
      return state.deliveryState === 'dead' ? state : undefined;
    }, 15_000, 'dead again');
    expect(again.history[0]).toMatchObject({ deliveryState: 'dead', attempts: 1 });
  });

  it('keeps the personal data of dossiers encrypted at rest, and still delivers and answers them', async () => {
    const dossier = sampleDossier(60, { applicant: { type: 'citizen', identifier: '014192004567', name: 'Cầm Thị Hoa', email: 'camthihoa@example.com', phone: '0912345678' } });
    const code = String(dossier.code);
    expect((await create(dossier, { 'idempotency-key': '6c1d3a8e-55b0-4f3e-9a7d-0b2c4e6f8a10' })).status).toBe(202);
    await addEvent(code, statusEvent(2, fixtureAt(0, '09:00'), 'Bà Cầm Thị Hoa nộp đủ giấy tờ'));
    await addEvent(code, statusEvent(4, fixtureAt(0, '09:05')));
    await addEvent(code, progressEvent(fixtureAt(0, '10:30')));
    // Delivered: the outbox read the dossier and its changes back.
    const state = await delivered(code);
    expect(state).toMatchObject({ code, status: 4, procedureCode: dossier.procedureCode });
    expect(await simulatorDossier(dvcqg, code)).toMatchObject({ sequences: [1, 2, 3, 4] });

    const db = new Database(gw.dbPath, { readonly: true });
    try {
      const raw = JSON.stringify([
        db.prepare('select * from dossiers where code = ?').all(code),
        db.prepare('select * from dossier_events where dossier_code = ?').all(code),
        db.prepare('select * from outbox_jobs where dossier_code = ?').all(code),
        db.prepare('select * from idempotency_keys').all(),
      ]);
      expect(raw).toContain(code);
      for (const secret of ['Cầm Thị Hoa', '014192004567', '0912345678', 'camthihoa@example.com', 'Quàng Văn Minh']) expect(raw).not.toContain(secret);
      // The columns the lists filter on stay in clear.
      expect(db.prepare('select status, on_time_state from dossiers where code = ?').get(code)).toEqual({ status: 4, on_time_state: 'pending' });
    } finally {
      db.close();
    }
    const listed = (await (await gw.fetch('/v1/dossiers?status=4&deliveryState=delivered&overdue=false&pageSize=100', { key: KEYS.operator })).json()) as { items: { code: string }[] };
    expect(listed.items.map((i) => i.code)).toContain(code);
  });
});

describe('stopping a gateway while a delivery is under way', () => {
  it('abandons the attempt without counting it and releases its lease, so another worker takes it at once', async () => {
    const stopping = await startTestGateway({ 'outbox.pollIntervalMs': 50, 'upstreams.dvcqg.timeoutMs': 20_000, 'outbox.leaseSeconds': 120 });
    let closed = false;
    try {
      // Every portal call now takes 10 s: the delivery is still under way when the gateway stops.
      await setFault(stopping.controlUrl, { system: 'dvcqg', mode: 'latency', ms: 10_000 });
      const res = await stopping.fetch('/v1/dossiers', { method: 'POST', headers: accountable, body: JSON.stringify(sampleDossier(40)) });
      expect(res.status).toBe(202);
      const db = new Database(stopping.dbPath, { readonly: true });
      try {
        await eventually(async () => (db.prepare('select lease_owner from outbox_jobs').get() as { lease_owner: string | null }).lease_owner ?? undefined, 5000, 'the job leased');
        const began = Date.now();
        await stopping.close();
        closed = true;
        // The grace period (500 ms here), not the 10 s call, bounds the stop.
        expect(Date.now() - began).toBeLessThan(5000);
        expect(db.prepare('select state, attempts, lease_owner, lease_expires_at, last_error from outbox_jobs').all()).toEqual([
          { state: 'pending', attempts: 0, lease_owner: null, lease_expires_at: null, last_error: null },
        ]);
      } finally {
        db.close();
      }
    } finally {
      if (!closed) await stopping.close();
    }
  });
});

describe('outbox settings', () => {
  it('refuses a lease shorter than a delivery can take', async () => {
    await expect(startTestGateway({ 'outbox.leaseSeconds': 2, 'upstreams.dvcqg.timeoutMs': 1000 })).rejects.toThrow(/outbox\.leaseSeconds: must be at least 3 times upstreams\.dvcqg\.timeoutMs plus its concurrency\.queueTimeoutMs/);
  });
});

describe('identifiers, lifecycle and on-time as real one-stop systems have them', () => {
  const view = async (code: string) => {
    const res = await get(code);
    expect(res.status, code).toBe(200);
    return (await res.json()) as State & { dueAt: string | null; onTime: Record<string, unknown> };
  };
  const send = async (code: string, ...events: unknown[]) => {
    for (const event of events) {
      const res = await addEvent(code, event);
      expect(res.status, `${code} ${JSON.stringify(event)}: ${res.status === 202 ? '' : await res.clone().text()}`).toBe(202);
    }
  };
  const qcvn = (n: number, overrides: Record<string, unknown> = {}): Record<string, unknown> & { code: string } => {
    const dossier = sampleDossier(n, overrides);
    return { ...dossier, code: String(dossier.code).replace('H52.101.114-', '000.00.01.H52-') };
  };

  it('takes a QCVN 102 agency code beginning with digits, takes it 1→2→9→10, and delivers it', async () => {
    const dossier = qcvn(60);
    const code = dossier.code;
    expect(code).toBe(`000.00.01.H52-${fixtureCodeDay()}-0060`);
    expect((await create(dossier)).status).toBe(202);
    await send(code, statusEvent(2, fixtureAt(0, '09:00')), statusEvent(9, fixtureAt(3, '15:00')), statusEvent(10, fixtureAt(4, '09:00')));
    const state = await delivered(code);
    expect(state).toMatchObject({ status: 10, onTime: { state: 'on_time', rated: true, processingEndedOn: fixtureAt(3, '15:00').slice(0, 10) } });
    expect(await simulatorDossier(dvcqg, code)).toMatchObject({ sequences: [1, 2, 3, 4], status: '10' });
    // Sequences of 4 or 5 digits; others are refused naming the code.
    expect((await create(qcvn(61, { code: `000.00.01.H52-${fixtureCodeDay()}-00061` }))).status).toBe(202);
    const short = await create(qcvn(62, { code: `000.00.01.H52-${fixtureCodeDay()}-062` }));
    expect(short.status).toBe(400);
    expect(JSON.stringify(await short.json())).toContain('body.code');
  });

  it('counts processing that ended at 18:00 on the due day as on time', async () => {
    const dossier = qcvn(63, { dueAt: fixtureAt(3, '17:00') });
    expect((await create(dossier)).status).toBe(202);
    await send(dossier.code, statusEvent(2, fixtureAt(0, '09:00')), statusEvent(4, fixtureAt(0, '09:30')), statusEvent(9, fixtureAt(3, '18:00')));
    expect((await view(dossier.code)).onTime).toEqual({
      state: 'on_time',
      rated: true,
      dueDate: fixtureAt(3, '17:00').slice(0, 10),
      deadlineDate: fixtureAt(3, '17:00').slice(0, 10),
      processingEndedAt: fixtureAt(3, '18:00'),
      processingEndedOn: fixtureAt(3, '18:00').slice(0, 10),
      supplementDays: 0,
      supplementWaitSeconds: 0,
      supplementRequests: 0,
      reason: null,
    });
    // The next morning is late.
    const late = qcvn(64, { dueAt: fixtureAt(3, '17:00') });
    await create(late);
    await send(late.code, statusEvent(2, fixtureAt(0, '09:00')), statusEvent(9, fixtureAt(4, '07:30')));
    expect((await view(late.code)).onTime).toMatchObject({ state: 'late', reason: 'processing ended after the due date' });
  });

  it('does not rate a dossier that was never accepted, nor one without a due date', async () => {
    const refused = qcvn(65);
    await create(refused);
    await send(refused.code, statusEvent(3, fixtureAt(0, '10:00')));
    expect((await view(refused.code)).onTime).toMatchObject({ state: 'not_rated', rated: false, reason: 'never accepted' });

    const { dueAt: _dueAt, ...open } = qcvn(66, { receivedAt: fixtureAt(-30, '08:00') });
    expect((await create(open)).status).toBe(202);
    await send(open.code, statusEvent(2, fixtureAt(-30, '09:00')), statusEvent(4, fixtureAt(-30, '10:00')));
    const state = await view(open.code);
    expect(state.dueAt).toBeNull();
    expect(state.onTime).toMatchObject({ state: 'not_rated', rated: false, dueDate: null, reason: 'no due date' });
    // Open for thirty days with no deadline: never overdue.
    const overdue = (await (await gw.fetch('/v1/dossiers?overdue=true&pageSize=100', { key: KEYS.operator })).json()) as { items: { code: string; dueAt: string | null }[] };
    expect(overdue.items.map((i) => i.code)).not.toContain(open.code);
    // And the portal takes it without a due date.
    expect((await delivered(open.code)).history.map((h) => h.deliveryState)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('makes a second supplement request late, and subtracts one supplement wait in calendar days', async () => {
    const twice = qcvn(67, { dueAt: fixtureAt(6, '17:00') });
    await create(twice);
    await send(twice.code, statusEvent(2, fixtureAt(0, '09:00')), statusEvent(4, fixtureAt(0, '09:30')), statusEvent(5, fixtureAt(1, '09:00')), statusEvent(4, fixtureAt(2, '09:00')), statusEvent(5, fixtureAt(2, '15:00')), statusEvent(4, fixtureAt(3, '09:00')), statusEvent(9, fixtureAt(4, '09:00')));
    expect((await view(twice.code)).onTime).toMatchObject({ state: 'late', rated: true, supplementRequests: 2, supplementDays: 2, reason: 'supplement requested more than once' });

    const once = qcvn(68, { dueAt: fixtureAt(3, '17:00') });
    await create(once);
    await send(once.code, statusEvent(2, fixtureAt(0, '09:00')), statusEvent(5, fixtureAt(1, '16:00')), statusEvent(4, fixtureAt(3, '08:00')), statusEvent(9, fixtureAt(5, '16:00')));
    expect((await view(once.code)).onTime).toMatchObject({ state: 'on_time', supplementDays: 2, deadlineDate: fixtureAt(5, '00:00').slice(0, 10), processingEndedOn: fixtureAt(5, '16:00').slice(0, 10) });
  });

  it('takes a dossier handed over already accepted, 2→10 directly, and a refusal after acceptance (4→3)', async () => {
    const accepted = qcvn(69, { status: 2 });
    const res = await create(accepted);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: 2, statusName: 'accepted', history: [{ sequence: 1, kind: 'created', status: 2 }], onTime: { state: 'pending', rated: true } });
    await send(accepted.code, statusEvent(10, fixtureAt(2, '10:00')));
    expect(await view(accepted.code)).toMatchObject({ status: 10, onTime: { state: 'on_time', processingEndedAt: fixtureAt(2, '10:00') } });
    expect((await delivered(accepted.code)).history.map((h) => h.status)).toEqual([2, 10]);
    expect(await simulatorDossier(dvcqg, accepted.code)).toMatchObject({ sequences: [1, 2], status: '10' });

    const refusedLater = qcvn(70);
    await create(refusedLater);
    await send(refusedLater.code, statusEvent(2, fixtureAt(0, '09:00')), statusEvent(4, fixtureAt(0, '10:00')), statusEvent(3, fixtureAt(1, '10:00')));
    expect(await view(refusedLater.code)).toMatchObject({ status: 3, onTime: { state: 'on_time', rated: true, processingEndedAt: fixtureAt(1, '10:00') } });
    // Closed: it does not leave 3.
    const after = await addEvent(refusedLater.code, statusEvent(4, fixtureAt(2, '10:00')));
    expect(after.status).toBe(409);
    expect(await after.json()).toMatchObject({ code: 'INVALID_TRANSITION', allowed: [] });

    // Only 1 or 2 to start with.
    const started = await create(qcvn(71, { status: 4 }));
    expect(started.status).toBe(400);
    expect(JSON.stringify(await started.json())).toContain('body.status');
  });
});

describe('the DongBoHoSoMC item as the national portal reads it', () => {
  /** `fraction` of the way from today's Vietnam midnight to now: an instant of today, in the past. */
  const today = (fraction: number) => {
    const midnight = Math.floor((Date.now() + 7 * 3_600_000) / 86_400_000) * 86_400_000 - 7 * 3_600_000;
    const at = new Date(midnight + Math.floor((Date.now() - midnight) * fraction));
    return `${new Date(at.getTime() + 7 * 3_600_000).toISOString().slice(0, 19)}+07:00`;
  };

  it(`delivers 000.00.01.H52-<today>-0001 through 1→2→9→10 with DinhDanhCHS, the national account, fees and results`, async () => {
    const day = today(0).slice(2, 10).replaceAll('-', '');
    const code = `000.00.01.H52-${day}-0001`;
    const dossier = sampleDossier(1, {
      code,
      receiptNumber: code,
      receivedAt: today(0.2),
      applicant: { type: 'citizen', identifier: '014192004567', name: 'Cầm Thị Hoa', nationalAccountId: 'b2f7c0de-4b1e-4d8a-9c51-0d3f5e6a7b80', phone: '0912345678' },
      onlinePayment: true,
      paymentPlatform: 'national',
      resultByPost: true,
      submissionPlace: 'Cổng Dịch vụ công quốc gia',
      nationalDatabases: ['population'],
      fees: [{ name: 'Lệ phí đăng ký hộ kinh doanh', code: 'LP01', kind: 'charge', amount: 100000, paid: true }],
      results: [{ id: 'kq-0001', name: 'Giấy chứng nhận đăng ký hộ kinh doanh', url: 'https://motcua.sonla.gov.vn/ket-qua/kq-0001.pdf', resultCode: 'KQ01' }],
    });
    expect((await create(dossier)).status).toBe(202);
    for (const [status, at] of [[2, today(0.4)], [9, today(0.6)], [10, today(0.8)]] as const) {
      expect((await addEvent(code, statusEvent(status, at))).status).toBe(202);
    }
    expect((await delivered(code)).history.map((h) => [h.status, h.deliveryState])).toEqual([
      [1, 'delivered'],
      [2, 'delivered'],
      [9, 'delivered'],
      [10, 'delivered'],
    ]);
    const held = (await (await fetch(`${dvcqg}/sandbox/dossiers/${code}`)).json()) as { status: string; sequences: number[]; item: Record<string, unknown> };
    expect(held).toMatchObject({ status: '10', sequences: [1, 2, 3, 4] });
    expect(held.item).toMatchObject({
      MaHoSo: code,
      TrangThaiHoSo: '10',
      LoaiDoiTuong: '1',
      MaDoiTuong: 'b2f7c0de-4b1e-4d8a-9c51-0d3f5e6a7b80',
      DinhDanhCHS: [{ LoaiDinhDanh: '1', SoDinhDanh: '014192004567' }],
      SoGiayToChuHoSo: '014192004567',
      HinhThuc: '1',
      DuocThanhToanTrucTuyen: '1',
      NoiNopHoSo: 'Cổng Dịch vụ công quốc gia',
      DanhSachLePhi: [{ TenPhiLePhi: 'Lệ phí đăng ký hộ kinh doanh', MaPhiLePhi: 'LP01', Gia: '100000', HinhThucThu: expect.any(String), LoaiPhiLePhi: expect.any(String) }],
      DanhSachGiayToKetQua: [{ TenGiayTo: 'Giấy chứng nhận đăng ký hộ kinh doanh', GiayToId: 'kq-0001', MaThanhPhanHoSo: '', DuongDanTepTinKetQua: 'https://motcua.sonla.gov.vn/ket-qua/kq-0001.pdf', MaGiayToKetQua: 'KQ01' }],
      DSKetNoiCSDL: [{ MaCSDL: expect.any(String) }],
      NgayTuChoi: '',
    });
    // The end of processing and the return are dated.
    expect(held.item.NgayKetThucXuLy).toMatch(/^\d{14}$/);
    expect(held.item.NgayTra).toMatch(/^\d{14}$/);
  });
});
