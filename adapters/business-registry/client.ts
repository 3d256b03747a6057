import type { BusinessRegistry } from '../../src/core/enterprises.ts';
import type { CallContext, Health } from '../../src/core/ports.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import type { UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import type { UpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { mapped } from '../mapping-error.ts';
import { createSignedLookups } from '../signed-json/client.ts';
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
  const lookups = createSignedLookups(deps, { healthPath: HEALTH_PATH, headers: { agency: AGENCY_HEADER, requestId: REQUEST_ID_HEADER } });
  return {
    getEnterprise: (ctx, code) =>
      lookups.get(ctx, ENTERPRISE_PATH + encodeURIComponent(code.code), (response) => {
        const wire = interpretAnswer(response, code.code, options.retryAfterSeconds);
        return mapped(() => toEnterprise(wire, new Date()), badResponse);
      }),
    health: lookups.health,
  };
}
