import { GatewayError } from '../../src/errors/gateway-error.ts';
import type { SocialInsuranceQuery, SocialInsuranceRegistry } from './registry.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { probeHealth, type UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { mapped } from '../mapping-error.ts';
import { badResponse, interpretAnswer } from './errors.ts';
import type { AnswerVerifier } from './jws-answer.ts';
import type { JwsSigner } from './jws.ts';
import { HEALTH_PATH, LOOKUP_PATH, type WireRequest } from './inferred.ts';
import { toSocialInsuranceRecord } from './mapping.ts';

export { HEALTH_PATH, LOOKUP_PATH } from './inferred.ts';

export interface SocialInsuranceClient extends SocialInsuranceRegistry {
  health(ctx: CallContext): Promise<Health>;
}

export interface SocialInsuranceClientDeps {
  http: UpstreamHttp;
  policy: UpstreamPolicy;
  /** Signs each request body (the JSON text) as a compact JWS with the gateway's certificate. */
  sign: JwsSigner;
  /** Verifies each answer's signature and signer before anything in it is read. */
  verify: AnswerVerifier;
  /** The clock that dates `retrievedAt` and decides whether a card is valid today. */
  now?: () => Date;
}

/** Refused before any call goes out: a malformed identifier is the caller's mistake, not the system's. */
function toWireRequest(ctx: CallContext, query: SocialInsuranceQuery): WireRequest {
  const base = { maYeuCau: ctx.exchangeId, maDonVi: ctx.agency };
  if ('insuranceCode' in query) {
    if (!/^\d{10}$/.test(query.insuranceCode)) {
      throw new GatewayError('INVALID_IDENTIFIER', { detail: 'a social-insurance code has 10 digits', errors: [{ field: 'body.insuranceCode', message: 'must be 10 digits' }] });
    }
    return { ...base, maSoBhxh: query.insuranceCode };
  }
  if (!/^\d{12}$/.test(query.idNumber)) {
    throw new GatewayError('INVALID_IDENTIFIER', { detail: 'a personal ID number has 12 digits', errors: [{ field: 'body.idNumber', message: 'must be 12 digits' }] });
  }
  return { ...base, soDinhDanh: query.idNumber };
}

export function createSocialInsuranceClient(deps: SocialInsuranceClientDeps, options: { retryAfterSeconds: number }): SocialInsuranceClient {
  const { http, policy, sign, verify } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    async lookup(ctx, query) {
      const request = toWireRequest(ctx, query);
      // Signed before the call: signing is the gateway's work and never counts against the system.
      const body = await sign(JSON.stringify(request));
      return policy.execute(ctx, async (signal) => {
        const response = await http.send({
          method: 'POST',
          path: LOOKUP_PATH,
          headers: { 'content-type': 'application/jose', accept: 'application/jose', 'x-request-id': ctx.requestId },
          body,
          signal,
        });
        const wire = await interpretAnswer(response, request, { retryAfterSeconds: options.retryAfterSeconds, verify });
        return mapped(() => toSocialInsuranceRecord(wire, now()), badResponse);
      }, { idempotent: true });
    },

    health: (ctx) => probeHealth(http, ctx, HEALTH_PATH, { accept: 'application/json', 'x-request-id': ctx.requestId }),
  };
}
