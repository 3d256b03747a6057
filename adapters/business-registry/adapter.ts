import type { AdapterFactory } from '../module.ts';
import { messageSecurityFor } from '../message-security.ts';
import type { BusinessRegistry } from '../../src/core/enterprises.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createUpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { createBusinessRegistryClient } from './client.ts';
import { businessRegistry } from './index.ts';

export const create: AdapterFactory<BusinessRegistry> = (deps, options) => {
  // Its one profile: HTTP message signatures both ways (README.md, "Signatures").
  messageSecurityFor(businessRegistry, options);
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const signatures = createUpstreamSignatures(deps.signing, { upstream: 'business registry' });
  const client = createBusinessRegistryClient({ http, policy: deps.policy, signatures }, { retryAfterSeconds: options.retryAfterSeconds });
  return {
    id: businessRegistry.id,
    ops: { getEnterprise: client.getEnterprise },
    health: client.health,
    close: () => http.close(),
  };
};
