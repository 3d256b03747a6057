import type { components } from '../generated/gateway.ts';
import type { CallContext } from './ports.ts';

export type Taxpayer = components['schemas']['Taxpayer'];

/** Port: the tax administration. SUBJECT_NOT_FOUND for an unknown tax code. */
export interface TaxRegistry {
  getTaxpayer(ctx: CallContext, taxCode: string): Promise<Taxpayer>;
}
