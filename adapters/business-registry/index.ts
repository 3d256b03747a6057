import type { AdapterModule } from '../module.ts';
import type { BusinessRegistry } from '../../src/core/enterprises.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createUpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { HEALTH_PATH, createBusinessRegistryClient } from './client.ts';

export const businessRegistry: AdapterModule<BusinessRegistry> = {
  id: 'business-registry',
  name: 'National business registration system',
  protocol: 'REST/JSON',
  healthPath: HEALTH_PATH,
  signsAnswers: true,
  create(deps, options) {
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
