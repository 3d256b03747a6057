import type { AdapterModule } from '../module.ts';
import type { NationalSignOn } from '../../src/core/national-sign-on-port.ts';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from './sandbox-account.ts';

/** OpenID Connect discovery: the issuer's metadata, which answers while the service is up. */
export const HEALTH_PATH = '/.well-known/openid-configuration';

export const vneid = {
  id: 'vneid',
  name: 'National single sign-on (VNeID)',
  protocol: 'OpenID Connect',
  healthPath: HEALTH_PATH,
  // No messageSecurity: its ID tokens are checked against the issuer's published keys, not a certificate.
  sandboxAccount: { username: SANDBOX_CLIENT_ID, password: SANDBOX_CLIENT_SECRET },
  // No sample certificate, and none of the attacks on signed answers.
  sandbox: { port: 6, attacks: [] },
  // The national account of level 2 (identity checked in person; Decree 69/2024), under the
  // sandbox's names (README.md): the national service's own names are not public.
  signOn: { acrValues: ['urn:vneid:loa:2'] },
  adapter: async () => (await import('./adapter.ts')).create,
  // The OpenID provider library is heavy: loaded with the simulator, only by the sandbox.
  simulator: async () => (await import('./simulator/server.ts')).createVneidSimulator,
} as const satisfies AdapterModule<NationalSignOn>;
