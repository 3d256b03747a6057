import type { components } from '../generated/gateway.ts';
import type { CallContext } from './ports.ts';

export type SocialInsuranceRecord = components['schemas']['SocialInsuranceRecord'];
export type SocialInsuranceQuery = { insuranceCode: string } | { idNumber: string };

/** Port: Vietnam Social Security. SUBJECT_NOT_FOUND when nobody has this code or ID number. */
export interface SocialInsuranceRegistry {
  lookup(ctx: CallContext, query: SocialInsuranceQuery): Promise<SocialInsuranceRecord>;
}
