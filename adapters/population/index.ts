import { SIGNED_ANSWER_ATTACKS, type AdapterModule } from '../module.ts';
import type { PopulationRegistry } from '../../src/core/citizens-port.ts';
import { populationConfig } from './config.ts';

/**
 * MaTichHop and MaDVC as the sandbox's database knows them (the value seen in provinces' code);
 * a real deployment sets the codes its operator assigned (`upstreams.population.integrationCode`,
 * `serviceCode`), and production refuses to start without them.
 */
export const SANDBOX_CODES = { integrationCode: '037', serviceCode: '037' } as const;

export const population = {
  id: 'population',
  name: 'National population database',
  protocol: 'SOAP 1.1 (WSDL), directly or through LGSP/NDXP',
  healthPath: '/CongDanService?wsdl',
  // Provinces reach the database through a platform over TLS with its tokens, without WS-Security;
  // the direct transport requires ws-security (checked when the configuration loads).
  messageSecurity: { supported: ['none', 'ws-security'], default: 'none' },
  config: populationConfig,
  sandbox: { port: 2, certificate: 'rsa', attacks: [...SIGNED_ANSWER_ATTACKS, 'xxe', 'entity-expansion', 'signature-wrapping'] },
  adapter: async () => (await import('./adapter.ts')).create,
  simulator: async () => {
    const { createPopulationSimulator } = await import('./simulator/server.ts');
    return (deps) => createPopulationSimulator(deps);
  },
} as const satisfies AdapterModule<PopulationRegistry>;
