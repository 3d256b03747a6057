import type { AdapterModule } from '../module.ts';
import { messageSecurityFor } from '../module.ts';
import { ConfigError } from '../../src/config/load.ts';
import type { PopulationRegistry } from '../../src/core/citizens-port.ts';
import { createPopulationClient } from './client.ts';
import { plainMessages, populationMessageSecurity } from './security.ts';
import { SANDBOX_TRANSPORT, type TransportOptions } from './transport.ts';

/**
 * MaTichHop and MaDVC as the sandbox's database knows them (the value seen in provinces' code);
 * a real deployment sets the codes its operator assigned (`upstreams.population.integrationCode`,
 * `serviceCode`), and production refuses to start without them.
 */
export const SANDBOX_CODES = { integrationCode: '037', serviceCode: '037' } as const;

export const population: AdapterModule<PopulationRegistry> = {
  id: 'population',
  name: 'National population database',
  protocol: 'SOAP 1.1 (WSDL), directly or through LGSP/NDXP',
  healthPath: '/CongDanService?wsdl',
  // Provinces reach the database through a platform over TLS with its tokens, without WS-Security;
  // the direct transport requires ws-security (checked when the configuration loads).
  messageSecurity: { supported: ['none', 'ws-security'], default: 'none' },
  create(deps, options) {
    const settings = options.population;
    const configured = settings?.transport;
    const mode = configured?.mode ?? 'direct';
    const profile = messageSecurityFor(population, { messageSecurity: options.messageSecurity ?? (mode === 'direct' ? 'ws-security' : 'none') });
    if (mode === 'direct' && profile !== 'ws-security') {
      throw new ConfigError(['upstreams.population.messageSecurity: the direct transport needs ws-security']);
    }
    const transport: TransportOptions = {
      mode,
      servicePath: configured?.servicePath,
      tokenUrl: configured?.tokenUrl,
      platformKeys: configured?.platformKeys ?? SANDBOX_TRANSPORT.platformKeys,
      account: configured?.account ?? SANDBOX_TRANSPORT.account,
      client: configured?.client ?? SANDBOX_TRANSPORT.client,
      apiKey: configured?.apiKey ?? SANDBOX_TRANSPORT.apiKey,
    };
    const client = createPopulationClient(
      { policy: deps.policy },
      {
        url: options.url,
        maxResponseBytes: options.maxResponseBytes,
        retryAfterSeconds: options.retryAfterSeconds,
        integrationCode: settings?.integrationCode ?? SANDBOX_CODES.integrationCode,
        serviceCode: settings?.serviceCode ?? SANDBOX_CODES.serviceCode,
        transport,
        ...(profile === 'ws-security' ? populationMessageSecurity(deps.signing) : plainMessages()),
      },
    );
    return {
      id: 'population',
      ops: { exists: client.exists, lookup: client.lookup },
      health: client.health,
      close: client.close,
    };
  },
  simulator: async () => {
    const { createPopulationSimulator } = await import('./simulator/server.ts');
    return (deps) => createPopulationSimulator(deps);
  },
};
