import type { components } from '../generated/gateway.ts';
import type { CallContext } from './ports.ts';

export type ProcedureSummary = components['schemas']['ProcedureSummary'];
export type Procedure = components['schemas']['Procedure'];
/** An agency or a field of the national catalogue. */
export type CodeName = components['schemas']['CodeName'];

/**
 * Port: the national procedure catalogue (on the national public-service portal).
 * - `list` is LayDanhSachTTHC: every procedure of the province (the gateway caches, filters and pages).
 * - `get` is LayThuTuc: one procedure in full; SUBJECT_NOT_FOUND for an unknown code.
 * - `agencies` is LayDanhMucCoQuan, `fields` LayDanhMucLinhVuc: the catalogues procedures are filtered by.
 */
export interface ProcedureCatalogue {
  list(ctx: CallContext): Promise<ProcedureSummary[]>;
  get(ctx: CallContext, code: string): Promise<Procedure>;
  agencies(ctx: CallContext): Promise<CodeName[]>;
  fields(ctx: CallContext): Promise<CodeName[]>;
}
