import { SIGNED_ANSWER_ATTACKS, type AdapterModule } from '../module.ts';
import type { ProcedureCatalogue } from '../../src/core/procedures-port.ts';
import type { DossierPortal } from '../../src/core/dossiers/port.ts';
import { SANDBOX_ACCOUNT } from './sandbox-account.ts';

export { SANDBOX_ACCOUNT } from './sandbox-account.ts';

export const dvcqg = {
  id: 'dvcqg',
  name: 'National Public Service Portal (Cổng Dịch vụ công quốc gia)',
  protocol: 'session login, then JSON POST',
  healthPath: '/api/health',
  messageSecurity: { supported: ['none', 'rfc9421'], default: 'none' },
  sandboxAccount: SANDBOX_ACCOUNT,
  sandbox: { port: 5, certificate: 'rsa', attacks: SIGNED_ANSWER_ATTACKS },
  // A delivery is a lookup and a sync, plus a login when the session has expired.
  deliversDossiers: { calls: 3 },
  adapter: async () => (await import('./adapter.ts')).create,
  simulator: async () => {
    const { createDvcqgSimulator } = await import('./simulator/server.ts');
    return (deps) => createDvcqgSimulator(deps);
  },
} as const satisfies AdapterModule<ProcedureCatalogue & DossierPortal>;
