import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import type { ProcedureCatalogue } from '../../src/core/procedures-port.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { probeHealth, type UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import type { UpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { mapped } from '../mapping-error.ts';
import { badResponse, interpretLoginAnswer, interpretServiceAnswer, type ServiceOutcome } from './errors.ts';
import { toProcedure, toProcedureSummary, toWireDossier, toWireProgress, wireDeliveryAnswer, wireDossierLookup, wireProcedure, wireSummaryList } from './mapping.ts';
import { PORTAL_SERVICES, type DeliveryAnswer, type DeliveryMark, type DossierPortal } from '../../src/core/dossiers/port.ts';
import { createSessionCache } from './session-cache.ts';

export const LOGIN_PATH = '/api/login';
export const SERVICE_PATH = '/api/service';
export const HEALTH_PATH = '/api/health';

/** Service names on the portal: the catalogue, and dossier synchronisation. */
export const SERVICES = {
  list: 'LayDanhSachTTHC',
  get: 'LayThuTuc',
  ...PORTAL_SERVICES,
} as const;

export interface DvcqgClient extends ProcedureCatalogue, DossierPortal {
  health(ctx: CallContext): Promise<Health>;
}

export interface DvcqgClientOptions {
  retryAfterSeconds: number;
  /** Sent as `madonvi` on every service call: the agency the gateway acts for (Sơn La: H52). */
  gatewayAgency: string;
  credentials: { username: string; password: string };
}

/** A dossier delivery's answer: the portal must confirm the very change it was sent. */
function deliveryAnswer(service: string, outcome: ServiceOutcome, code: string, mark: DeliveryMark): DeliveryAnswer {
  if (outcome.kind === 'not-found') throw badResponse(`${service} does not know dossier ${code}`);
  if (outcome.kind !== 'ok') throw badResponse(`${service} answered without data`);
  const parsed = wireDeliveryAnswer.safeParse(outcome.data);
  if (!parsed.success) throw badResponse(`${service} data does not have the documented shape`, parsed.error);
  if (parsed.data.MaHoSo !== code || parsed.data.SoThuTuDongBo !== mark.sequence) throw badResponse(`${service} confirmed another change than the one sent`);
  return { duplicate: parsed.data.TrungLap };
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

  const sessions = createSessionCache(async (signal) => {
    // Every exchange is signed both ways (README.md): the answer arrives here only once its signature verified.
    const response = await signatures.send(http, { method: 'POST', path: LOGIN_PATH, headers: headers(), body: JSON.stringify(options.credentials), signal });
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
      const response = await signatures.send(http, { method: 'POST', path: SERVICE_PATH, headers: headers(ctx.requestId), body, signal });
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

  return {
    list: (ctx) =>
      policy.execute(ctx, async (signal) => {
        const outcome = await callService(ctx, signal, SERVICES.list, { MaTinh: province });
        if (outcome.kind !== 'ok') throw badResponse(`${SERVICES.list} answered "not found"`);
        const parsed = wireSummaryList.safeParse(outcome.data);
        if (!parsed.success) throw badResponse(`${SERVICES.list} data does not have the documented shape`, parsed.error);
        return mapped(() => parsed.data.map(toProcedureSummary), badResponse);
      }, { idempotent: true }),

    get: (ctx, code) =>
      policy.execute(ctx, async (signal) => {
        const outcome = await callService(ctx, signal, SERVICES.get, { MaTTHC: code });
        if (outcome.kind === 'not-found') {
          throw new GatewayError('SUBJECT_NOT_FOUND', { detail: 'the national procedure catalogue has no procedure with this code' });
        }
        const parsed = wireProcedure.safeParse(outcome.data);
        if (!parsed.success) throw badResponse(`${SERVICES.get} data does not have the documented shape`, parsed.error);
        if (parsed.data.MATTHC !== code) throw badResponse('answered about another procedure than the one asked for');
        return mapped(() => toProcedure(parsed.data, new Date()), badResponse);
      }, { idempotent: true }),

    lookup: (ctx, code) =>
      policy.execute(
        ctx,
        async (signal) => {
          const outcome = await callService(ctx, signal, SERVICES.lookup, { MaHoSo: code });
          if (outcome.kind === 'not-found') return false;
          if (outcome.kind !== 'ok') throw badResponse(`${SERVICES.lookup} answered without data`);
          const parsed = wireDossierLookup.safeParse(outcome.data);
          if (!parsed.success) throw badResponse(`${SERVICES.lookup} data does not have the documented shape`, parsed.error);
          if (parsed.data.MaHoSo !== code) throw badResponse('answered about another dossier than the one asked for');
          return true;
        },
        { idempotent: true },
      ),

    // Writes are not retried here: the outbox retries them, marked so the portal can tell a repeat;
    // an item the portal refuses as invalid is a permanent refusal, which the outbox does not retry.
    sync: (ctx, snapshot, { isUpdating, mark }) =>
      policy.execute(ctx, async (signal) => {
        const item = mapped(() => toWireDossier(snapshot, mark), badResponse);
        const outcome = await callService(ctx, signal, SERVICES.sync, { isUpdating: isUpdating ? 'True' : 'False', data: [item] }, { itemRefusals: true });
        return deliveryAnswer(SERVICES.sync, outcome, snapshot.dossier.code, mark);
      }),

    progress: (ctx, step, mark) =>
      policy.execute(ctx, async (signal) => {
        const item = mapped(() => toWireProgress(step, mark), badResponse);
        const outcome = await callService(ctx, signal, SERVICES.progress, { data: [item] }, { itemRefusals: true });
        return deliveryAnswer(SERVICES.progress, outcome, step.code, mark);
      }),

    // The probe is signed too; its answer carries nothing the gateway uses, so only its status counts.
    health: (ctx) => probeHealth(http, ctx, HEALTH_PATH, signatures.headers(http, { method: 'GET', path: HEALTH_PATH, headers: { accept: 'application/json' } })),
  };
}
