import type { EnterpriseService } from '../../core/enterprises.ts';
import { exchangeContext } from '../context.ts';
import type { Handlers } from '../handlers.ts';

export function enterpriseHandlers(deps: { enterprises: EnterpriseService }): Handlers {
  return {
    getEnterprise: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const enterprise = await deps.enterprises.get(ctx, String(req.params.enterpriseCode));
      res.json(enterprise);
    },
  };
}
