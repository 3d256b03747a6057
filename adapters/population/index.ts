import type { AdapterModule } from '../module.ts';
import type { PopulationRegistry } from '../../src/core/citizens-port.ts';
import { createPopulationClient } from './client.ts';
import { populationMessageSecurity } from './security.ts';

/** MaTichHop: names this gateway's integration to the database, one per deployment (agency). */
export const integrationCode = (gatewayAgency: string) => `LIENTHONG-${gatewayAgency}`;

export const population: AdapterModule<PopulationRegistry> = {
  id: 'population',
  name: 'National population database',
  protocol: 'SOAP 1.1 (WSDL)',
  healthPath: '/CongDanService?wsdl',
  signsAnswers: true,
  create(deps, options) {
    const client = createPopulationClient(
      { policy: deps.policy },
      {
        url: options.url,
        maxResponseBytes: options.maxResponseBytes,
        retryAfterSeconds: options.retryAfterSeconds,
        integrationCode: integrationCode(options.gatewayAgency),
        ...populationMessageSecurity(deps.signing),
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
