import type { AdapterModule } from '../module.ts';
import type { NationalSignOn } from '../../src/core/national-sign-on-port.ts';
import { HEALTH_PATH, createVneidClient } from './client.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from './sandbox-account.ts';

export const vneid: AdapterModule<NationalSignOn> = {
  id: 'vneid',
  name: 'National single sign-on (VNeID)',
  protocol: 'OpenID Connect',
  healthPath: HEALTH_PATH,
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
  // Loaded on first use: a gateway without the sandbox never loads the OpenID provider library.
  simulator(deps) {
    const ready = import('./simulator/server.ts').then((m) => m.createVneidSimulator(deps));
    return (req, res) => {
      ready.then(
        (handle) => handle(req, res),
        (err: unknown) => {
          deps.log.error({ err }, 'the sign-on simulator could not start');
          res.statusCode = 500;
          res.end();
        },
      );
    };
  },
};
