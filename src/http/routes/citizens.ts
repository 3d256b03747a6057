import type { CitizenField, CitizenService } from '../../core/citizens.ts';
import { exchangeContext } from '../context.ts';
import type { Handlers } from '../handlers.ts';

export function citizenHandlers(deps: { citizens: CitizenService }): Handlers {
  return {
    verifyCitizen: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const body = req.body as { idNumber: string; fullName: string; dateOfBirth: string };
      const verification = await deps.citizens.verify(ctx, body);
      // The business result, for the exchange log.
      res.locals.result = verification.result;
      res.json(verification);
    },
    lookupCitizen: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const body = req.body as { idNumber: string; fields?: CitizenField[] };
      res.json(await deps.citizens.lookup(ctx, body));
    },
  };
}
