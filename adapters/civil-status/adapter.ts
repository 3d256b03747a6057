import type { AdapterFactory } from '../module.ts';
import { messageSecurityFor } from '../message-security.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createUpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { createCivilStatusClient } from './client.ts';
import { civilStatus } from './index.ts';
import type { CivilStatusRegistry } from './registry.ts';

export const create: AdapterFactory<CivilStatusRegistry> = (deps, options) => {
  // Its one profile: HTTP message signatures both ways (README.md, "Inferred").
  messageSecurityFor(civilStatus, options);
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const signatures = createUpstreamSignatures(deps.signing, { upstream: 'civil-status database' });
  const client = createCivilStatusClient({ http, policy: deps.policy, signatures }, { retryAfterSeconds: options.retryAfterSeconds });
  return {
    id: civilStatus.id,
    ops: { getBirth: client.getBirth },
    health: client.health,
    close: () => http.close(),
  };
};
