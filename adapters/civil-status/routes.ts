import { parseIdNumber } from '../../src/core/identifiers/id-number.ts';
import { exchangeContext } from '../../src/http/context.ts';
import { refuseIdentifier } from '../identifier-refusal.ts';
import type { RouteFactory } from '../module.ts';
import type { CivilStatusRegistry } from './registry.ts';

/**
 * The civil-status use case and its route: a birth registration by personal ID number. The
 * number is checked before any national call: a year of birth still to come (its century digit
 * and year) names nobody who can have been registered.
 */
export const routes: RouteFactory<CivilStatusRegistry> = (registry) => ({
  getBirthRegistration: async (req, res) => {
    const ctx = exchangeContext(req, res);
    const idNumber = String(req.params.idNumber);
    const parsed = parseIdNumber(idNumber);
    const reason = !parsed.ok
      ? parsed.reason
      : parsed.value.century + parsed.value.yearOfCentury > new Date().getUTCFullYear()
        ? 'names a year of birth still to come (its century digit and year)'
        : undefined;
    if (reason) refuseIdentifier('path.idNumber', reason);
    res.json(await registry.getBirth(ctx, idNumber));
  },
});
