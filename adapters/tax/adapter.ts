import type { AdapterFactory } from '../module.ts';
import { messageSecurityFor } from '../message-security.ts';
import type { TaxRegistry } from './registry.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createTaxClient } from './client.ts';
import { tax } from './index.ts';
import { taxMessageSecurity } from './security.ts';

export const create: AdapterFactory<TaxRegistry> = (deps, options) => {
  // Its one profile: enveloped XML signatures both ways (README.md).
  messageSecurityFor(tax, options);
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const client = createTaxClient({ http, policy: deps.policy, ...taxMessageSecurity(deps.signing) }, { retryAfterSeconds: options.retryAfterSeconds });
  return {
    id: tax.id,
    ops: { getTaxpayer: client.getTaxpayer },
    health: client.health,
    close: () => http.close(),
  };
};
