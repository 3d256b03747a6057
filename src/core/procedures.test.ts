import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.ts';
import { createLogger } from '../logging.ts';
import { createProcedureService } from './procedures.ts';
import type { CallContext } from './ports.ts';
import type { Procedure, ProcedureCatalogue, ProcedureSummary } from './procedures-port.ts';

const ctx: CallContext = { requestId: 'r', exchangeId: randomUUID(), signal: new AbortController().signal, log: createLogger({ level: 'silent' }), clientId: 'c', agency: 'H52' };

const summaries: ProcedureSummary[] = [
  { code: '1.000001.000.00.00.H52', name: 'Đăng ký khai sinh', field: { code: 'HT', name: 'Hộ tịch' }, agencies: ['H52.101.114'], level: 'Toàn trình' },
  { code: '1.000002.000.00.00.H52', name: 'Đăng ký kết hôn', field: { code: 'HT', name: 'Hộ tịch' }, agencies: ['H52.101.114', 'H52.20'], level: 'Một phần' },
  { code: '1.000003.000.00.00.H52', name: 'Cấp giấy phép xây dựng', field: { code: 'XD', name: 'Hoạt động xây dựng' }, agencies: ['H52.19'], level: null },
];

/** A catalogue that counts calls and can be made to fail, standing in for the portal port. */
function fakeCatalogue() {
  const state = { calls: 0, failWith: undefined as GatewayError | undefined };
  const catalogue: ProcedureCatalogue = {
    list: async () => {
      state.calls++;
      if (state.failWith) throw state.failWith;
      return summaries;
    },
    get: async (_ctx, code) => {
      state.calls++;
      if (state.failWith) throw state.failWith;
      const s = summaries.find((p) => p.code === code);
      if (!s) throw new GatewayError('SUBJECT_NOT_FOUND');
      return {
        ...s,
        fields: [s.field],
        steps: '',
        stepsByCase: [],
        channels: '',
        channelOptions: [],
        dossierComponents: [],
        legalBasis: [],
        legalDocuments: [],
        implementingAgencies: [],
        implementingAgencyDetails: [],
        results: [],
        resultDocuments: [],
        fees: null,
        processingTime: null,
        retrievedAt: '2026-11-28T06:00:00+07:00',
      } satisfies Procedure;
    },
    agencies: async () => {
      state.calls++;
      if (state.failWith) throw state.failWith;
      return [{ code: 'H52.20', name: 'Sở Tư pháp' }];
    },
    fields: async () => {
      state.calls++;
      if (state.failWith) throw state.failWith;
      return [{ code: 'HT', name: 'Hộ tịch' }];
    },
  };
  return { catalogue, state };
}

describe('procedure catalogue', () => {
  it('searches without diacritics, filters by agency and field, and pages', async () => {
    const { catalogue } = fakeCatalogue();
    const service = createProcedureService({ catalogue }, { ttlMs: 1000, maxStaleMs: 10_000 });
    expect((await service.search(ctx, { q: 'dang ky', page: 1, pageSize: 20 })).value.total).toBe(2);
    expect((await service.search(ctx, { agency: 'H52.20', page: 1, pageSize: 20 })).value.items.map((p) => p.code)).toEqual(['1.000002.000.00.00.H52']);
    expect((await service.search(ctx, { field: 'XD', page: 1, pageSize: 20 })).value.total).toBe(1);
    const page2 = (await service.search(ctx, { page: 2, pageSize: 2 })).value;
    expect(page2).toMatchObject({ page: 2, pageSize: 2, total: 3 });
    expect(page2.items).toHaveLength(1);
  });

  it('serves from cache within the TTL, refreshes after it, and serves stale while the portal fails', async () => {
    let now = 0;
    const { catalogue, state } = fakeCatalogue();
    const service = createProcedureService({ catalogue, now: () => now }, { ttlMs: 1000, maxStaleMs: 10_000 });
    expect((await service.search(ctx, { page: 1, pageSize: 5 })).cache).toBe('miss');
    expect((await service.search(ctx, { page: 1, pageSize: 5 })).cache).toBe('hit');
    expect(state.calls).toBe(1);
    now = 1500;
    state.failWith = new GatewayError('UPSTREAM_CIRCUIT_OPEN', { retryAfter: 5 });
    const stale = await service.search(ctx, { page: 1, pageSize: 5 });
    expect(stale.cache).toBe('stale');
    expect(stale.value.total).toBe(3);
    now = 20_000; // older than maxStale: the failure goes through
    await expect(service.search(ctx, { page: 1, pageSize: 5 })).rejects.toMatchObject({ code: 'UPSTREAM_CIRCUIT_OPEN' });
    state.failWith = undefined;
    expect((await service.search(ctx, { page: 1, pageSize: 5 })).cache).toBe('miss');
  });

  it('fails when nothing is cached, and never caches "not found"', async () => {
    const { catalogue, state } = fakeCatalogue();
    const service = createProcedureService({ catalogue }, { ttlMs: 1000, maxStaleMs: 10_000 });
    state.failWith = new GatewayError('UPSTREAM_UNAVAILABLE');
    await expect(service.get(ctx, summaries[0]!.code)).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    state.failWith = undefined;
    await expect(service.get(ctx, '1.999999.000.00.00.H52')).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
    await expect(service.get(ctx, '1.999999.000.00.00.H52')).rejects.toMatchObject({ code: 'SUBJECT_NOT_FOUND' });
    expect(state.calls).toBe(3);
  });

  it('asks the portal once for concurrent misses', async () => {
    const { catalogue, state } = fakeCatalogue();
    const service = createProcedureService({ catalogue }, { ttlMs: 1000, maxStaleMs: 10_000 });
    await Promise.all(Array.from({ length: 10 }, () => service.search(ctx, { page: 1, pageSize: 5 })));
    expect(state.calls).toBe(1);
  });

  it('caches the agency and field catalogues apart from the procedures, and serves them stale while the portal fails', async () => {
    let now = 0;
    const { catalogue, state } = fakeCatalogue();
    const service = createProcedureService({ catalogue, now: () => now }, { ttlMs: 1000, maxStaleMs: 10_000 });
    expect(await service.agencies(ctx)).toEqual({ value: [{ code: 'H52.20', name: 'Sở Tư pháp' }], cache: 'miss' });
    expect(await service.fields(ctx)).toEqual({ value: [{ code: 'HT', name: 'Hộ tịch' }], cache: 'miss' });
    expect((await service.agencies(ctx)).cache).toBe('hit');
    expect((await service.fields(ctx)).cache).toBe('hit');
    expect(state.calls).toBe(2);
    now = 1500;
    state.failWith = new GatewayError('UPSTREAM_UNAVAILABLE');
    expect(await service.agencies(ctx)).toEqual({ value: [{ code: 'H52.20', name: 'Sở Tư pháp' }], cache: 'stale' });
    expect((await service.fields(ctx)).cache).toBe('stale');
    // Nothing cached under the procedure list: it fails rather than borrowing another catalogue's copy.
    await expect(service.search(ctx, { page: 1, pageSize: 5 })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });
});
