import { parseIdNumber, parseInsuranceCode } from '../../src/core/identifiers/id-number.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { exchangeContext } from '../../src/http/context.ts';
import { refuseIdentifier } from '../identifier-refusal.ts';
import type { RouteFactory } from '../module.ts';
import type { SocialInsuranceQuery, SocialInsuranceRegistry } from './registry.ts';

/** Exactly one of the social insurance code and the ID number, well-formed, or the reason why not. */
function queryOf(body: { insuranceCode?: string | undefined; idNumber?: string | undefined }): SocialInsuranceQuery {
  if (body.insuranceCode !== undefined && body.idNumber === undefined) {
    const code = parseInsuranceCode(body.insuranceCode);
    if (!code.ok) refuseIdentifier('body.insuranceCode', code.reason);
    return { insuranceCode: body.insuranceCode };
  }
  if (body.idNumber !== undefined && body.insuranceCode === undefined) {
    const id = parseIdNumber(body.idNumber);
    if (!id.ok) refuseIdentifier('body.idNumber', id.reason);
    return { idNumber: body.idNumber };
  }
  const message = 'give exactly one of insuranceCode and idNumber';
  throw new GatewayError('VALIDATION_FAILED', { detail: message, errors: [{ field: 'body', message }] });
}

/** The insurance record lookup, a use case Vietnam Social Security serves alone. */
export const routes: RouteFactory<SocialInsuranceRegistry> = (registry) => ({
  lookupSocialInsurance: async (req, res) => {
    const ctx = exchangeContext(req, res);
    res.json(await registry.lookup(ctx, queryOf(req.body as { insuranceCode?: string; idNumber?: string })));
  },
});
