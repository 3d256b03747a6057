import type { AdapterFactory } from '../module.ts';
import type { ProcedureCatalogue } from '../../src/core/procedures-port.ts';
import type { DossierPortal } from '../../src/core/dossiers/port.ts';
import { createUpstreamHttp } from '../../src/resilience/upstream-http.ts';
import { createUpstreamSignatures } from '../../src/signing/http-signatures.ts';
import { createDvcqgClient } from './client.ts';
import { dvcqg } from './index.ts';
import { SANDBOX_ACCOUNT } from './sandbox-account.ts';

export const create: AdapterFactory<ProcedureCatalogue & DossierPortal> = (deps, options) => {
  if (!options.credentials) deps.log.info('no portal account configured: using the sandbox account');
  const http = createUpstreamHttp({ baseUrl: options.url, maxResponseBytes: options.maxResponseBytes });
  const client = createDvcqgClient(
    { http, policy: deps.policy, signatures: createUpstreamSignatures(deps.signing, { upstream: 'national portal' }) },
    {
      retryAfterSeconds: options.retryAfterSeconds,
      gatewayAgency: options.gatewayAgency,
      credentials: options.credentials ?? SANDBOX_ACCOUNT,
      messageSecurity: options.messageSecurity === 'rfc9421' ? 'rfc9421' : 'none',
    },
  );
  return {
    id: dvcqg.id,
    ops: { list: client.list, get: client.get, agencies: client.agencies, fields: client.fields, lookup: client.lookup, sync: client.sync, progress: client.progress },
    health: client.health,
    close: () => http.close(),
  };
};
