import type { components } from '../generated/gateway.ts';
import type { CallContext } from './ports.ts';

/** A citizen as the population database holds it (every field; the API reduces it per client and purpose). */
export type CitizenRecord = Omit<components['schemas']['CitizenRecord'], 'redactedFields'> & {
  fullName: string;
  dateOfBirth: string;
  /** Set when the person has died (the API never shows it; verification reports such a person as not found). */
  deceased?: boolean;
};

export interface IdentityQuery {
  idNumber: string;
  fullName?: string;
  dateOfBirth?: string;
}

/**
 * Port: the national population database.
 * - `exists` is XacThucThongTinCongDan: whether a living person matches every given field.
 * - `lookup` is TraCuuThongTinCongDan: the whole record; SUBJECT_NOT_FOUND when there is none.
 * Every call carries the agency (ctx.agency), the officer (ctx.userId) and the purpose (ctx.purpose).
 */
export interface PopulationRegistry {
  exists(ctx: CallContext, query: IdentityQuery): Promise<boolean>;
  lookup(ctx: CallContext, idNumber: string): Promise<CitizenRecord>;
}
