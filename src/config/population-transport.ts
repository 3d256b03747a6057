import { SANDBOX_TRANSPORT } from '../../adapters/population/transport.ts';
import type { Config } from './schema.ts';

const REQUIRED = 'required when NODE_ENV=production';

/**
 * What a production gateway needs to reach the population database by the configured transport:
 * the codes the database's operator assigned, the platform's credentials (the sandbox's are
 * published, so refused), and TLS for the platform's token endpoint, which receives the
 * application's keys.
 */
export function populationTransportProblems(config: Config): string[] {
  const population = config.upstreams.population;
  const { transport } = population;
  const setting = 'upstreams.population';
  const problems: string[] = [];
  if (!population.integrationCode) problems.push(`${setting}.integrationCode: ${REQUIRED} (MaTichHop, assigned by the database's operator)`);
  if (!population.serviceCode) problems.push(`${setting}.serviceCode: ${REQUIRED} (MaDVC, assigned by the database's operator)`);
  const needs = (present: boolean, name: string, why: string) => {
    if (!present) problems.push(`${setting}.transport.${name}: ${REQUIRED} with transport ${transport.mode} (${why})`);
  };
  if (transport.mode !== 'direct') {
    needs(!!transport.account, 'account', 'the database account the operator issued');
    if (transport.account?.password === SANDBOX_TRANSPORT.account.password) problems.push(`${setting}.transport.account: the sandbox account's password is refused when NODE_ENV=production`);
  }
  if (transport.mode === 'lgsp') {
    needs(!!transport.platformKeys, 'platformKeys', "the application's keys on the integration platform");
    if (transport.platformKeys?.secretKey === SANDBOX_TRANSPORT.platformKeys.secretKey) problems.push(`${setting}.transport.platformKeys: the sandbox's keys are refused when NODE_ENV=production`);
    if (transport.tokenUrl && new URL(transport.tokenUrl).protocol !== 'https:') {
      problems.push(`${setting}.transport.tokenUrl: an https:// URL is ${REQUIRED} (the platform keys would travel in clear)`);
    }
  }
  if (transport.mode === 'ndxp') {
    needs(!!transport.client, 'client', 'the X-Road-Client identifier the platform registered');
    needs(!!transport.apiKey, 'apiKey', "the platform's API key");
    if (transport.apiKey === SANDBOX_TRANSPORT.apiKey) problems.push(`${setting}.transport.apiKey: the sandbox's key is refused when NODE_ENV=production`);
  }
  return problems;
}
