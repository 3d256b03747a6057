import type { CallContext, Health } from '../../src/core/ports.ts';
import type { UpstreamPolicy } from '../../src/resilience/policy.ts';
import type { UpstreamHttp } from '../../src/resilience/upstream-http.ts';
import type { UpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { mapped } from '../mapping-error.ts';
import { createSignedLookups } from '../signed-json/client.ts';
import { badResponse, interpretAnswer } from './errors.ts';
import { AGENCY_HEADER, BIRTH_PATH, HEALTH_PATH, REQUEST_ID_HEADER } from './inferred.ts';
import { toBirthRegistration } from './mapping.ts';
import type { CivilStatusRegistry } from './registry.ts';

export interface CivilStatusClient extends CivilStatusRegistry {
  health(ctx: CallContext): Promise<Health>;
}

export function createCivilStatusClient(
  deps: { http: UpstreamHttp; policy: UpstreamPolicy; signatures: UpstreamSignatures },
  options: { retryAfterSeconds: number },
): CivilStatusClient {
  const lookups = createSignedLookups(deps, { healthPath: HEALTH_PATH, headers: { agency: AGENCY_HEADER, requestId: REQUEST_ID_HEADER } });
  return {
    getBirth: (ctx, idNumber) =>
      lookups.get(ctx, BIRTH_PATH + encodeURIComponent(idNumber), (response) => {
        const wire = interpretAnswer(response, idNumber, options.retryAfterSeconds);
        return mapped(() => toBirthRegistration(wire, new Date()), badResponse);
      }),
    health: lookups.health,
  };
}
