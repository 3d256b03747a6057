import type { AdapterDeps, AdapterOptions } from '../module.ts';
import { messageSecurityFor } from '../message-security.ts';
import type { SocialInsuranceRegistry } from './registry.ts';
import type { Adapter } from '../../src/core/ports.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createSocialInsuranceClient } from './client.ts';
import { socialInsurance } from './index.ts';
import { createAnswerVerifier } from './jws-answer.ts';
import { createJwsSigner } from './jws.ts';

/** Requests are signed with the gateway's certificate; answers are verified against `deps.signing` (README.md, "Signatures"). */
export function create(deps: AdapterDeps, options: AdapterOptions): Adapter<SocialInsuranceRegistry> {
  // Its one profile: compact JWS bodies both ways.
  messageSecurityFor(socialInsurance, options);
  const sign = createJwsSigner(deps.signing.credentials);
  const verify = createAnswerVerifier(deps.signing);
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const client = createSocialInsuranceClient({ http, policy: deps.policy, sign, verify }, { retryAfterSeconds: options.retryAfterSeconds });
  return {
    id: socialInsurance.id,
    ops: { lookup: client.lookup },
    health: client.health,
    close: () => http.close(),
  };
}
