import { SIGNED_ANSWER_ATTACKS, type AdapterModule } from '../module.ts';
import { HEALTH_PATH } from './inferred.ts';
import type { CivilStatusRegistry } from './registry.ts';

export const civilStatus = {
  id: 'civil-status',
  name: 'National electronic civil-status database (hộ tịch)',
  protocol: 'REST/JSON (inferred)',
  healthPath: HEALTH_PATH,
  messageSecurity: { supported: ['rfc9421'], default: 'rfc9421' },
  // After the first six systems (1–6), the TSA (7), the sandbox witness (8) and a standalone witness's default (9).
  sandbox: { port: 10, certificate: 'ec', attacks: SIGNED_ANSWER_ATTACKS },
  // Its use case is its own (routes.ts): a province may run without it until connected.
  optional: true,
  adapter: async () => (await import('./adapter.ts')).create,
  routes: async () => (await import('./routes.ts')).routes,
  simulator: async () => (await import('./simulator/server.ts')).createCivilStatusSimulator,
} as const satisfies AdapterModule<CivilStatusRegistry>;
