import type { BusinessRegistry } from '../../src/core/enterprises.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import { probeHealth, type UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import type { UpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { mapped } from '../mapping-error.ts';
import { badResponse, interpretAnswer } from './errors.ts';
import { AGENCY_HEADER, ENTERPRISE_PATH, HEALTH_PATH, REQUEST_ID_HEADER } from './inferred.ts';
import { toEnterprise } from './mapping.ts';

export { ENTERPRISE_PATH, HEALTH_PATH } from './inferred.ts';

export interface BusinessRegistryClient extends BusinessRegistry {
  health(ctx: CallContext): Promise<Health>;
}

export function createBusinessRegistryClient(
  deps: { http: UpstreamHttp; policy: UpstreamPolicy; signatures: UpstreamSignatures },
  options: { retryAfterSeconds: number },
): BusinessRegistryClient {
  const { http, policy, signatures } = deps;

  const headers = (ctx: CallContext) => ({
    accept: 'application/json',
    [AGENCY_HEADER]: ctx.agency,
    [REQUEST_ID_HEADER]: ctx.exchangeId,
    'x-request-id': ctx.requestId,
  });

  return {
    getEnterprise: (ctx, code) =>
      policy.execute(ctx, async (signal) => {
        // Signed, and given back only once the registry's signature over it verified.
        const response = await signatures.send(http, { method: 'GET', path: ENTERPRISE_PATH + encodeURIComponent(code.code), headers: headers(ctx), signal });
        const wire = interpretAnswer(response, code.code, options.retryAfterSeconds);
        return mapped(() => toEnterprise(wire, new Date()), badResponse);
      }, { idempotent: true }),

    // The probe is signed too; its answer carries nothing the gateway uses, so only its status counts.
    health: (ctx) => probeHealth(http, ctx, HEALTH_PATH, signatures.headers(http, { method: 'GET', path: HEALTH_PATH, headers: headers(ctx) })),
  };
}
