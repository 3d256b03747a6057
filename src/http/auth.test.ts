import { describe, expect, it } from 'vitest';
import type { Request, Response } from 'express';
import { loadConfig } from '../config/load.ts';
import { createProcedureService } from '../core/procedures.ts';
import type { ProcedureCatalogue } from '../core/procedures-port.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import { createLogger } from '../logging.ts';
import { requireAccountability, type AuthenticatedClient } from './auth.ts';
import type { Operation } from './contract.ts';

/** X-Purpose against the national procedure catalogue, with a catalogue that counts what it is asked. */

const config = loadConfig({}, { file: 'config/sandbox.yaml' });
const KNOWN = '1.003541.000.00.00.H52';
const client: AuthenticatedClient = { id: 'sandbox-agency', agency: 'H52.101.114', roles: ['agency'], operations: ['*'], rateLimit: { points: 10, durationSeconds: 1 } };
const operation = { personalData: true, personalDataParameters: [] } as unknown as Operation;

function setup(state: { down?: boolean } = {}) {
  let clock = 1_000_000;
  const asked: string[] = [];
  const catalogue = {
    async get(_ctx, code) {
      asked.push(code);
      if (state.down) throw new GatewayError('UPSTREAM_UNAVAILABLE');
      if (code !== KNOWN) throw new GatewayError('SUBJECT_NOT_FOUND');
      return { code } as never;
    },
  } as Pick<ProcedureCatalogue, 'get'> as ProcedureCatalogue;
  const procedures = createProcedureService({ catalogue, now: () => clock }, { ttlMs: 300_000, maxStaleMs: 86_400_000 });
  const check = requireAccountability({ config, procedures, now: () => clock });
  const call = (purpose: string, userId = 'canbo-0042') =>
    new Promise<{ error?: GatewayError; locals: Record<string, unknown> }>((resolve) => {
      const headers: Record<string, string> = { 'x-user-id': userId, 'x-purpose': purpose };
      const req = { query: {}, get: (name: string) => headers[name], log: createLogger({ level: 'silent' }) } as unknown as Request;
      const res = { locals: { operation, client } } as unknown as Response;
      void check(req, res, (err?: unknown) => resolve({ ...(err ? { error: err as GatewayError } : {}), locals: res.locals }));
    });
  return { call, asked, advance: (ms: number) => (clock += ms) };
}

describe('the purpose check against the national catalogue', () => {
  it('asks the catalogue once for a procedure, then answers from the cache', async () => {
    const { call, asked } = setup();
    for (let i = 0; i < 5; i++) expect((await call(KNOWN)).locals).toMatchObject({ purpose: KNOWN, userId: 'canbo-0042', caseId: null });
    expect(asked).toEqual([KNOWN]);
  });

  it('refuses an unknown code, and asks about it again only after a minute', async () => {
    const { call, asked, advance } = setup();
    for (let i = 0; i < 5; i++) {
      const { error } = await call('1.000001.000.00.00.H52');
      expect(error?.code).toBe('PURPOSE_NOT_ALLOWED');
      expect(error?.message).toBe('no procedure 1.000001.000.00.00.H52 in the national catalogue');
    }
    expect(asked).toEqual(['1.000001.000.00.00.H52']);
    advance(61_000);
    expect((await call('1.000001.000.00.00.H52')).error?.code).toBe('PURPOSE_NOT_ALLOWED');
    expect(asked).toHaveLength(2);
  });

  it('refuses an officer identifier too long to seal to the inspectorate key', async () => {
    const { call } = setup();
    expect((await call('XAC_MINH_DANH_TINH', 'é'.repeat(95))).error).toBeUndefined();
    const { error } = await call('XAC_MINH_DANH_TINH', 'é'.repeat(96));
    expect(error).toMatchObject({ code: 'ACCOUNTABILITY_REQUIRED', errors: [{ field: 'header.x-user-id', message: 'must be at most 190 bytes in UTF-8' }] });
  });

  it('fails closed with 503 naming the header when the catalogue is down and holds no copy, and serves a stale copy', async () => {
    const state = { down: false };
    const { call, advance } = setup(state);
    expect((await call(KNOWN)).error).toBeUndefined();
    state.down = true;
    const { error } = await call('1.009999.000.00.00.H52');
    expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 503, errors: [{ field: 'header.x-purpose' }] });
    // Expired but within maxStale: the older copy still vouches for the procedure.
    advance(600_000);
    expect((await call(KNOWN)).error).toBeUndefined();
  });
});
