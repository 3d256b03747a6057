import type { createSocialInsuranceService, createTaxpayerService } from '../../core/registries.ts';
import { exchangeContext } from '../context.ts';
import type { Handlers } from '../handlers.ts';

export function registryHandlers(deps: {
  taxpayers: ReturnType<typeof createTaxpayerService>;
  socialInsurance: ReturnType<typeof createSocialInsuranceService>;
}): Handlers {
  return {
    getTaxpayer: async (req, res) => {
      const ctx = exchangeContext(req, res);
      res.json(await deps.taxpayers.get(ctx, String(req.params.taxCode)));
    },
    lookupSocialInsurance: async (req, res) => {
      const ctx = exchangeContext(req, res);
      res.json(await deps.socialInsurance.lookup(ctx, req.body as { insuranceCode?: string; idNumber?: string }));
    },
  };
}
