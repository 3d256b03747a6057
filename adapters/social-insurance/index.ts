import { messageSecurityFor, type AdapterDeps, type AdapterModule, type AdapterOptions } from '../module.ts';
import type { SocialInsuranceRegistry } from '../../src/core/social-insurance-port.ts';
import type { Adapter } from '../../src/core/ports.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createSocialInsuranceClient } from './client.ts';
import { createAnswerVerifier } from './jws-answer.ts';
import { createJwsSigner } from './jws.ts';

/** Requests are signed with the gateway's certificate; answers are verified against `deps.signing` (README.md, "Signatures"). */
export function createSocialInsuranceAdapter(deps: AdapterDeps, options: AdapterOptions): Adapter<SocialInsuranceRegistry> {
  // Its one profile: compact JWS bodies both ways.
  messageSecurityFor(socialInsurance, options);
  const sign = createJwsSigner(deps.signing.credentials);
  const verify = createAnswerVerifier(deps.signing);
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const client = createSocialInsuranceClient({ http, policy: deps.policy, sign, verify }, { retryAfterSeconds: options.retryAfterSeconds });
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
  protocol: 'REST, requests and answers as compact JWS (x5c)',
  healthPath: '/api/v1/trang-thai',
  messageSecurity: { supported: ['jws'], default: 'jws' },
  create: (deps, options) => createSocialInsuranceAdapter(deps, options),
  simulator: async () => {
    const { createSocialInsuranceSimulator } = await import('./simulator/server.ts');
    return (deps) => createSocialInsuranceSimulator(deps).handler;
  },
};
