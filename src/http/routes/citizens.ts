import type { CitizenField, CitizenService } from '../../core/citizens.ts';
import { exchangeContext } from '../context.ts';
import type { Handlers } from '../handlers.ts';

export function citizenHandlers(deps: { citizens: CitizenService }): Handlers {
  return {
    verifyCitizen: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const body = req.body as { idNumber: string; fullName: string; dateOfBirth: string };
      res.json(await deps.citizens.verify(ctx, body));
    },
    lookupCitizen: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const body = req.body as { idNumber: string; fields?: CitizenField[] };
      res.json(await deps.citizens.lookup(ctx, body));
    },
  };
}
