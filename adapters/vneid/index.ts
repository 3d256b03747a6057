import type { AdapterModule } from '../module.ts';
import type { NationalSignOn } from '../../src/core/national-sign-on-port.ts';
import { HEALTH_PATH, createVneidClient } from './client.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from './sandbox-account.ts';

export const vneid: AdapterModule<NationalSignOn> = {
  id: 'vneid',
  name: 'National single sign-on (VNeID)',
  protocol: 'OpenID Connect',
  healthPath: HEALTH_PATH,
  // No messageSecurity: its ID tokens are checked against the issuer's published keys, not a certificate.
  sandboxAccount: { username: SANDBOX_CLIENT_ID, password: SANDBOX_CLIENT_SECRET },
  create(deps, options) {
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
      id: 'vneid',
      ops: { authorizationUrl: client.authorizationUrl, complete: client.complete },
      health: client.health,
      close: async () => {},
    };
  },
  // The OpenID provider library is heavy: loaded with the simulator, only by the sandbox.
  simulator: async () => (await import('./simulator/server.ts')).createVneidSimulator,
};
