import { randomUUID } from 'node:crypto';
import { isGatewayError } from '../../src/errors/gateway-error.ts';
import type { TaxRegistry } from './registry.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { probeHealth, type UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { mapped } from '../mapping-error.ts';
import { badResponse, interpretAnswer, readAnswer } from './errors.ts';
import { HEALTH_PATH, LOOKUP_PATH, lookupRequestXml } from './inferred.ts';
import { toTaxpayer } from './mapping.ts';

export { HEALTH_PATH, LOOKUP_PATH } from './inferred.ts';

/**
 * Checks the enveloped XML signature of an answer. It receives the raw document text (decoded
 * UTF-8, already free of any DTD) before anything is parsed, and returns the content the signature
 * covers, which is then parsed instead of the text received: what is read is what was signed. Throw
 * to refuse the answer: a GatewayError passes through, anything else becomes UPSTREAM_BAD_RESPONSE.
 */
export type AnswerVerifier = (xml: string, ctx: CallContext) => string | Promise<string>;

/** Signs a request document before it is sent (see `taxMessageSecurity`). */
export type RequestSigner = (xml: string) => string;

export interface TaxClient extends TaxRegistry {
  health(ctx: CallContext): Promise<Health>;
}

export function createTaxClient(
  deps: { http: UpstreamHttp; policy: UpstreamPolicy; signRequest: RequestSigner; verifyAnswer: AnswerVerifier },
  options: { retryAfterSeconds: number },
): TaxClient {
  const { http, policy, signRequest, verifyAnswer } = deps;

  async function verified(xml: string, ctx: CallContext): Promise<string> {
    try {
      return await verifyAnswer(xml, ctx);
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw badResponse('the answer does not carry a valid signature', err);
    }
  }

  return {
    getTaxpayer: (ctx, taxCode) =>
      policy.execute(ctx, async (signal) => {
        // Fresh per attempt, so the tax administration never sees one request id twice.
        const maYeuCau = randomUUID();
        ctx.log.debug({ upstream: 'tax', exchangeId: ctx.exchangeId, maYeuCau }, 'tax lookup');
        const response = await http.send({
          method: 'POST',
          path: LOOKUP_PATH,
          headers: { 'content-type': 'application/xml; charset=utf-8', accept: 'application/xml', 'x-request-id': ctx.requestId },
          body: signRequest(lookupRequestXml({ MaYeuCau: maYeuCau, MaDonVi: ctx.agency, MaSoThue: taxCode })),
          signal,
        });
        const signed = await verified(readAnswer(response, options.retryAfterSeconds), ctx);
        const wire = interpretAnswer(response.status, signed, { maSoThue: taxCode, maYeuCau });
        return mapped(() => toTaxpayer(wire, new Date()), badResponse);
      }, { idempotent: true }),

    health: (ctx) => probeHealth(http, ctx, HEALTH_PATH, { accept: 'application/xml', 'x-request-id': ctx.requestId }),
  };
}
