import type { components } from '../../src/generated/gateway.ts';
import type { CallContext } from '../../src/core/ports.ts';

/** A birth registration as the API returns it (BirthRegistration in openapi/gateway.yaml). */
export type BirthRegistration = components['schemas']['BirthRegistration'];

/** What the civil-status adapter offers: a birth registration by a (well-formed) personal ID number. */
export interface CivilStatusRegistry {
  getBirth(ctx: CallContext, idNumber: string): Promise<BirthRegistration>;
}
