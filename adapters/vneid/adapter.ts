import type { AdapterFactory } from '../module.ts';
import type { NationalSignOn } from '../../src/core/national-sign-on-port.ts';
import { createVneidClient } from './client.ts';
import { vneid } from './index.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from './sandbox-account.ts';

export const create: AdapterFactory<NationalSignOn> = (deps, options) => {
  // upstreams.vneid.url is the issuer; credentials are the gateway's client id and secret there.
  const client = createVneidClient(
    { policy: deps.policy },
    {
      issuer: options.url,
      clientId: options.credentials?.username ?? SANDBOX_CLIENT_ID,
      clientSecret: options.credentials?.password ?? SANDBOX_CLIENT_SECRET,
      retryAfterSeconds: options.retryAfterSeconds,
    },
  );
  return {
    id: vneid.id,
    ops: { authorizationUrl: client.authorizationUrl, complete: client.complete },
    health: client.health,
    close: async () => {},
  };
};
