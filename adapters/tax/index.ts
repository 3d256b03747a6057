import { SIGNED_ANSWER_ATTACKS, type AdapterModule } from '../module.ts';
import type { TaxRegistry } from './registry.ts';

export const tax = {
  id: 'tax',
  name: 'Tax administration (taxpayer lookup)',
  protocol: 'XML over HTTP POST',
  healthPath: '/trang-thai',
  messageSecurity: { supported: ['xml-dsig'], default: 'xml-dsig' },
  sandbox: { port: 3, certificate: 'rsa', attacks: [...SIGNED_ANSWER_ATTACKS, 'xxe', 'entity-expansion', 'signature-wrapping'] },
  adapter: async () => (await import('./adapter.ts')).create,
  routes: async () => (await import('./routes.ts')).routes,
  simulator: async () => {
    const { createTaxSimulator } = await import('./simulator/server.ts');
    return (deps) => createTaxSimulator(deps);
  },
} as const satisfies AdapterModule<TaxRegistry>;
