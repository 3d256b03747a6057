import { SIGNED_ANSWER_ATTACKS, type AdapterModule } from '../module.ts';
import type { BusinessRegistry } from '../../src/core/enterprises.ts';
import { HEALTH_PATH } from './inferred.ts';

export const businessRegistry = {
  id: 'business-registry',
  name: 'National business registration system',
  protocol: 'REST/JSON',
  healthPath: HEALTH_PATH,
  messageSecurity: { supported: ['rfc9421'], default: 'rfc9421' },
  sandbox: { port: 1, certificate: 'ec', attacks: SIGNED_ANSWER_ATTACKS },
  adapter: async () => (await import('./adapter.ts')).create,
  simulator: async () => (await import('./simulator/server.ts')).createBusinessRegistrySimulator,
} as const satisfies AdapterModule<BusinessRegistry>;
