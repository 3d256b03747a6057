import type { z } from 'zod';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import type { CodeName, ProcedureCatalogue } from '../../src/core/procedures-port.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { probeHealth, type UpstreamHttp, type UpstreamRequest } from '../../src/resilience/upstream-http.ts';
import type { UpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { mapped } from '../mapping-error.ts';
import { badResponse, interpretLoginAnswer, interpretServiceAnswer, type ServiceOutcome } from './errors.ts';
import {
  toAgencyEntry,
  toFieldEntry,
  toProcedure,
  toProcedureSummary,
  toWireDossier,
  toWireProgress,
  wireAgencyList,
  wireDossierLookup,
  wireFieldList,
  wireProcedure,
  wireSummaryList,
} from './mapping.ts';
import { PORTAL_SERVICES, type DeliveryAnswer, type DossierPortal } from '../../src/core/dossiers/port.ts';
import { createSessionCache } from './session-cache.ts';

export const LOGIN_PATH = '/api/login';
export const SERVICE_PATH = '/api/service';
export const HEALTH_PATH = '/api/health';

/** Service names on the portal: the catalogue, and dossier synchronisation. */
export const SERVICES = {
  list: 'LayDanhSachTTHC',
  get: 'LayThuTuc',
  agencies: 'LayDanhMucCoQuan',
  fields: 'LayDanhMucLinhVuc',
  ...PORTAL_SERVICES,
} as const;

export interface DvcqgClient extends ProcedureCatalogue, DossierPortal {
  health(ctx: CallContext): Promise<Health>;
}

export interface DvcqgClientOptions {
  retryAfterSeconds: number;
  /**
   * `none` (the real portal: TLS and the session login, nothing signed) or `rfc9421` (every
   * request signed, every answer's signature checked before it is read).
   */
  messageSecurity?: 'none' | 'rfc9421';
  /** Sent as `madonvi` on every service call: the agency the gateway acts for (Sơn La: H52). */
  gatewayAgency: string;
  credentials: { username: string; password: string };
}

/**
 * The answer to a dossier delivery: DongBoHoSoMC and CapNhatTienDoHoSoMC answer a code and a
 * message only, so nothing in it says whether the portal already held the change.
 */
function deliveryAnswer(service: string, outcome: ServiceOutcome, code: string): DeliveryAnswer {
  if (outcome.kind === 'not-found') throw badResponse(`${service} does not know dossier ${code}`);
  if (outcome.kind !== 'ok') throw badResponse(`${service} refused dossier ${code} as already held`);
  return { duplicate: null };
}

/** The `result` array of a catalogue or look-up answer: a success without one is not what the portal sends. */
function resultOf(service: string, outcome: ServiceOutcome & { kind: 'ok' }): unknown[] {
  if (!Array.isArray(outcome.result)) throw badResponse(`${service} answered without a result`);
  return outcome.result;
}

export function createDvcqgClient(deps: { http: UpstreamHttp; policy: UpstreamPolicy; signatures: UpstreamSignatures }, options: DvcqgClientOptions): DvcqgClient {
  const { http, policy, signatures } = deps;
  const { retryAfterSeconds } = options;
  // The province's agency code: procedure codes end with it, and LayDanhSachTTHC filters on it.
  const province = options.gatewayAgency.split('.')[0]!;

  const headers = (requestId?: string): Record<string, string> => ({
    accept: 'application/json',
    'content-type': 'application/json; charset=utf-8',
    ...(requestId ? { 'x-request-id': requestId } : {}),
  });

  // Under `rfc9421` an answer arrives here only once its signature verified; under `none` TLS and the session stand for it.
  const signed = options.messageSecurity === 'rfc9421';
  const send = (request: UpstreamRequest) => (signed ? signatures.send(http, request) : http.send(request));

  const sessions = createSessionCache(async (signal) => {
    // The portal also wants the caller's agency in a `dstcode` header on login (its value is inferred, README.md).
    const loginHeaders = { ...headers(), dstcode: options.gatewayAgency };
    const response = await send({ method: 'POST', path: LOGIN_PATH, headers: loginHeaders, body: JSON.stringify(options.credentials), signal });
    return interpretLoginAnswer(response, retryAfterSeconds);
  });

  /**
   * One service call with the shared session. An expired session is replaced once (by this call's
   * login, or by one another call already started) and the call repeated once; the whole exchange
   * runs inside the caller's policy.execute, so its timeout covers the logins too.
   */
  async function callService(ctx: CallContext, signal: AbortSignal, service: string, params: Record<string, unknown>, interpret: { itemRefusals?: boolean } = {}) {
    const attempt = async (session: string) => {
      const body = JSON.stringify({ session, madonvi: options.gatewayAgency, service, ...params });
      const response = await send({ method: 'POST', path: SERVICE_PATH, headers: headers(ctx.requestId), body, signal });
      return interpretServiceAnswer(response, retryAfterSeconds, interpret);
    };
    const first = await sessions.get(signal);
    const outcome = await attempt(first);
    if (outcome.kind !== 'session-expired') return outcome;
    sessions.invalidate(first);
    const second = await sessions.get(signal);
    const retried = await attempt(second);
    if (retried.kind !== 'session-expired') return retried;
    sessions.invalidate(second);
    throw new GatewayError('UPSTREAM_AUTH', {
      detail: 'the national public-service portal rejected a session it had just issued',
      upstreamFailure: true,
    });
  }

  /** A whole catalogue (agencies, fields): a `result` array of entries, each read by `toEntry` once its shape checked. */
  function catalogue<T>(service: string, shape: z.ZodType<T[]>, toEntry: (wire: T) => CodeName) {
    return (ctx: CallContext) =>
      policy.execute(ctx, async (signal) => {
        const outcome = await callService(ctx, signal, service, {});
        if (outcome.kind !== 'ok') throw badResponse(`${service} answered "not found"`);
        const parsed = shape.safeParse(resultOf(service, outcome));
        if (!parsed.success) throw badResponse(`${service} result does not have the documented shape`, parsed.error);
        const entries = parsed.data.map(toEntry);
        // Two entries under one code would make a filter by that code ambiguous.
        const codes = new Set(entries.map((e) => e.code));
        if (codes.size !== entries.length) throw badResponse(`${service} answered one code twice`);
        return entries;
      }, { idempotent: true });
  }

  return {
    list: (ctx) =>
      policy.execute(ctx, async (signal) => {
        const outcome = await callService(ctx, signal, SERVICES.list, { MaTinh: province });
        if (outcome.kind !== 'ok') throw badResponse(`${SERVICES.list} answered "not found"`);
        const parsed = wireSummaryList.safeParse(resultOf(SERVICES.list, outcome));
        if (!parsed.success) throw badResponse(`${SERVICES.list} result does not have the documented shape`, parsed.error);
        return mapped(() => parsed.data.map(toProcedureSummary), badResponse);
      }, { idempotent: true }),

    get: (ctx, code) =>
      policy.execute(ctx, async (signal) => {
        const outcome = await callService(ctx, signal, SERVICES.get, { maTTHC: code });
        const result = outcome.kind === 'ok' ? resultOf(SERVICES.get, outcome) : [];
        if (outcome.kind === 'not-found' || result.length === 0) {
          throw new GatewayError('SUBJECT_NOT_FOUND', { detail: 'the national procedure catalogue has no procedure with this code' });
        }
        if (result.length !== 1) throw badResponse(`${SERVICES.get} answered ${result.length} procedures for one code`);
        const parsed = wireProcedure.safeParse(result[0]);
        if (!parsed.success) throw badResponse(`${SERVICES.get} result does not have the documented shape`, parsed.error);
        if (parsed.data.MATTHC !== code) throw badResponse('answered about another procedure than the one asked for');
        return mapped(() => toProcedure(parsed.data, new Date()), badResponse);
      }, { idempotent: true }),

    agencies: catalogue(SERVICES.agencies, wireAgencyList, toAgencyEntry),
    fields: catalogue(SERVICES.fields, wireFieldList, toFieldEntry),

    // An empty result is the portal saying it does not hold the dossier.
    lookup: (ctx, code) =>
      policy.execute(
        ctx,
        async (signal) => {
          const outcome = await callService(ctx, signal, SERVICES.lookup, { mahoso: code });
          if (outcome.kind === 'not-found') return false;
          if (outcome.kind !== 'ok') throw badResponse(`${SERVICES.lookup} answered without a result`);
          const parsed = wireDossierLookup.safeParse(resultOf(SERVICES.lookup, outcome));
          if (!parsed.success) throw badResponse(`${SERVICES.lookup} result does not have the documented shape`, parsed.error);
          if (parsed.data.some((d) => d.MaHoSo !== undefined && d.MaHoSo !== code)) throw badResponse('answered about another dossier than the one asked for');
          return parsed.data.length > 0;
        },
        { idempotent: true },
      ),

    // Writes are not retried here: the outbox retries them; an item the portal refuses as invalid
    // is a permanent refusal, which the outbox does not retry. A creation the portal answers with
    // "đã tồn tại" (it holds the dossier already) is sent again at once as an update.
    sync: (ctx, snapshot, { isUpdating, mark }) =>
      policy.execute(ctx, async (signal) => {
        const item = mapped(() => toWireDossier(snapshot, mark), badResponse);
        const deliver = (updating: boolean) => callService(ctx, signal, SERVICES.sync, { isUpdating: updating ? 'True' : 'False', data: [item] }, { itemRefusals: true });
        let outcome = await deliver(isUpdating);
        if (outcome.kind === 'already-held' && !isUpdating) outcome = await deliver(true);
        return deliveryAnswer(SERVICES.sync, outcome, snapshot.dossier.code);
      }),

    progress: (ctx, step, mark) =>
      policy.execute(ctx, async (signal) => {
        const item = mapped(() => toWireProgress(step, mark), badResponse);
        const outcome = await callService(ctx, signal, SERVICES.progress, { data: [item] }, { itemRefusals: true });
        return deliveryAnswer(SERVICES.progress, outcome, step.code);
      }),

    // The probe's answer carries nothing the gateway uses, so only its status counts.
    health: (ctx) =>
      probeHealth(http, ctx, HEALTH_PATH, signed ? signatures.headers(http, { method: 'GET', path: HEALTH_PATH, headers: { accept: 'application/json' } }) : { accept: 'application/json' }),
  };
}
