import { messageSecurityFor, type AdapterModule } from '../module.ts';
import type { BusinessRegistry } from '../../src/core/enterprises.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createUpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { createBusinessRegistryClient } from './client.ts';
import { HEALTH_PATH } from './inferred.ts';

export const businessRegistry: AdapterModule<BusinessRegistry> = {
  id: 'business-registry',
  name: 'National business registration system',
  protocol: 'REST/JSON',
  healthPath: HEALTH_PATH,
  messageSecurity: { supported: ['rfc9421'], default: 'rfc9421' },
  create(deps, options) {
    // Its one profile: HTTP message signatures both ways (README.md, "Signatures").
    messageSecurityFor(businessRegistry, options);
    const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
    const signatures = createUpstreamSignatures(deps.signing, { upstream: 'business registry' });
    const client = createBusinessRegistryClient({ http, policy: deps.policy, signatures }, { retryAfterSeconds: options.retryAfterSeconds });
    return {
      id: 'business-registry',
      ops: { getEnterprise: client.getEnterprise },
      health: client.health,
      close: () => http.close(),
    };
  },
  simulator: async () => (await import('./simulator/server.ts')).createBusinessRegistrySimulator,
};
