import { messageSecurityFor, type AdapterModule } from '../module.ts';
import type { TaxRegistry } from '../../src/core/taxpayers-port.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createTaxClient } from './client.ts';
import { taxMessageSecurity } from './security.ts';

export const tax: AdapterModule<TaxRegistry> = {
  id: 'tax',
  name: 'Tax administration (taxpayer lookup)',
  protocol: 'XML over HTTP POST',
  healthPath: '/trang-thai',
  messageSecurity: { supported: ['xml-dsig'], default: 'xml-dsig' },
  create(deps, options) {
    // Its one profile: enveloped XML signatures both ways (README.md).
    messageSecurityFor(tax, options);
    const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
    const client = createTaxClient({ http, policy: deps.policy, ...taxMessageSecurity(deps.signing) }, { retryAfterSeconds: options.retryAfterSeconds });
    return {
      id: 'tax',
      ops: { getTaxpayer: client.getTaxpayer },
      health: client.health,
      close: () => http.close(),
    };
  },
  simulator: async () => {
    const { createTaxSimulator } = await import('./simulator/server.ts');
    return (deps) => createTaxSimulator(deps);
  },
};
