import type { components } from '../../src/generated/gateway.ts';
import type { CallContext } from '../../src/core/ports.ts';

export type SocialInsuranceRecord = components['schemas']['SocialInsuranceRecord'];
export type SocialInsuranceQuery = { insuranceCode: string } | { idNumber: string };

/** What the social-insurance adapter offers: SUBJECT_NOT_FOUND when nobody has this code or ID number. */
export interface SocialInsuranceRegistry {
  lookup(ctx: CallContext, query: SocialInsuranceQuery): Promise<SocialInsuranceRecord>;
}
