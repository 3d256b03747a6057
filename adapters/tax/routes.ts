import { parseTaxCode } from '../../src/core/identifiers/tax-code.ts';
import { exchangeContext } from '../../src/http/context.ts';
import { refuseIdentifier } from '../identifier-refusal.ts';
import type { RouteFactory } from '../module.ts';
import type { TaxRegistry } from './registry.ts';

/**
 * The taxpayer lookup, a use case the tax administration serves alone. A tax code is an
 * enterprise code (10 digits with a check digit, or a branch's 13 characters) or, since 1 July
 * 2025, an individual's 12-digit personal ID number: checked before any call.
 */
export const routes: RouteFactory<TaxRegistry> = (registry) => ({
  getTaxpayer: async (req, res) => {
    const ctx = exchangeContext(req, res);
    const taxCode = String(req.params.taxCode);
    const code = parseTaxCode(taxCode);
    if (!code.ok) refuseIdentifier('path.taxCode', code.reason);
    res.json(await registry.getTaxpayer(ctx, taxCode));
  },
});
