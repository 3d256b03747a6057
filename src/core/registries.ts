import { GatewayError } from '../errors/gateway-error.ts';
import { parseIdNumber, parseInsuranceCode } from './identifiers/id-number.ts';
import { parseTaxCode } from './identifiers/tax-code.ts';
import type { CallContext } from './ports.ts';
import type { SocialInsuranceQuery, SocialInsuranceRecord, SocialInsuranceRegistry } from './social-insurance-port.ts';
import type { Taxpayer, TaxRegistry } from './taxpayers-port.ts';

function refuse(field: string, reason: string): never {
  throw new GatewayError('INVALID_IDENTIFIER', { detail: `${field.split('.').pop()} ${reason}`, errors: [{ field, message: reason }] });
}

/**
 * A tax code is an enterprise code (10 digits with a check digit, or a branch's 13 characters) or,
 * since 1 July 2025, an individual's 12-digit personal ID number.
 */
export function validateTaxCode(taxCode: string): void {
  const code = parseTaxCode(taxCode);
  if (!code.ok) refuse('path.taxCode', code.reason);
}

export function createTaxpayerService(deps: { tax: TaxRegistry }) {
  return {
    get(ctx: CallContext, taxCode: string): Promise<Taxpayer> {
      validateTaxCode(taxCode);
      return deps.tax.getTaxpayer(ctx, taxCode);
    },
  };
}

export function createSocialInsuranceService(deps: { socialInsurance: SocialInsuranceRegistry }) {
  return {
    lookup(ctx: CallContext, query: { insuranceCode?: string | undefined; idNumber?: string | undefined }): Promise<SocialInsuranceRecord> {
      let checked: SocialInsuranceQuery;
      if (query.insuranceCode !== undefined && query.idNumber === undefined) {
        const code = parseInsuranceCode(query.insuranceCode);
        if (!code.ok) refuse('body.insuranceCode', code.reason);
        checked = { insuranceCode: query.insuranceCode };
      } else if (query.idNumber !== undefined && query.insuranceCode === undefined) {
        const id = parseIdNumber(query.idNumber);
        if (!id.ok) refuse('body.idNumber', id.reason);
        checked = { idNumber: query.idNumber };
      } else {
        throw new GatewayError('VALIDATION_FAILED', { detail: 'give exactly one of insuranceCode and idNumber', errors: [{ field: 'body', message: 'give exactly one of insuranceCode and idNumber' }] });
      }
      return deps.socialInsurance.lookup(ctx, checked);
    },
  };
}
