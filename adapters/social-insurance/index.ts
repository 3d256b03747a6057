import type { AdapterDeps, AdapterModule, AdapterOptions } from '../module.ts';
import type { SocialInsuranceRegistry } from '../../src/core/social-insurance-port.ts';
import type { Adapter } from '../../src/core/ports.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createSocialInsuranceClient } from './client.ts';
import type { AnswerVerifier } from './jws-answer.ts';
import { createSocialInsuranceSimulator } from './simulator/server.ts';

/** How the adapter checks the system's signatures; without a verifier answers are only decoded. */
export interface SocialInsuranceSecurity {
  verify?: AnswerVerifier | undefined;
}

export function createSocialInsuranceAdapter(deps: AdapterDeps, options: AdapterOptions, security: SocialInsuranceSecurity = {}): Adapter<SocialInsuranceRegistry> {
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const client = createSocialInsuranceClient({ http, policy: deps.policy, verify: security.verify }, { retryAfterSeconds: options.retryAfterSeconds });
  return {
    id: 'social-insurance',
    ops: { lookup: client.lookup },
    health: client.health,
    close: () => http.close(),
  };
}

export const socialInsurance: AdapterModule<SocialInsuranceRegistry> = {
  id: 'social-insurance',
  name: 'Vietnam Social Security (BHXH Việt Nam)',
  protocol: 'REST/JSON, answers as compact JWS',
  healthPath: '/api/v1/trang-thai',
  create: (deps, options) => createSocialInsuranceAdapter(deps, options),
  simulator: (deps) => createSocialInsuranceSimulator(deps).handler,
};
