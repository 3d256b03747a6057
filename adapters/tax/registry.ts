import type { components } from '../../src/generated/gateway.ts';
import type { CallContext } from '../../src/core/ports.ts';

export type Taxpayer = components['schemas']['Taxpayer'];

/** What the tax adapter offers: a taxpayer by a (well-formed) tax code; SUBJECT_NOT_FOUND for an unknown one. */
export interface TaxRegistry {
  getTaxpayer(ctx: CallContext, taxCode: string): Promise<Taxpayer>;
}
