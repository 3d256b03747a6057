import { SIGNED_ANSWER_ATTACKS, type AdapterModule } from '../module.ts';
import type { SocialInsuranceRegistry } from './registry.ts';

export const socialInsurance = {
  id: 'social-insurance',
  name: 'Vietnam Social Security (BHXH Việt Nam)',
  protocol: 'REST, requests and answers as compact JWS (x5c)',
  healthPath: '/api/v1/trang-thai',
  messageSecurity: { supported: ['jws'], default: 'jws' },
  sandbox: { port: 4, certificate: 'ec', attacks: [...SIGNED_ANSWER_ATTACKS, 'alg-none'] },
  adapter: async () => (await import('./adapter.ts')).create,
  routes: async () => (await import('./routes.ts')).routes,
  simulator: async () => {
    const { createSocialInsuranceSimulator } = await import('./simulator/server.ts');
    return (deps) => createSocialInsuranceSimulator(deps).handler;
  },
} as const satisfies AdapterModule<SocialInsuranceRegistry>;
