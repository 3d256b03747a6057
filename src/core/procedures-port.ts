import type { components } from '../generated/gateway.ts';
import type { CallContext } from './ports.ts';

export type ProcedureSummary = components['schemas']['ProcedureSummary'];
export type Procedure = components['schemas']['Procedure'];

/**
 * Port: the national procedure catalogue (on the national public-service portal).
 * - `list` is LayDanhSachTTHC: every procedure of the province (the gateway caches, filters and pages).
 * - `get` is LayThuTuc: one procedure in full; SUBJECT_NOT_FOUND for an unknown code.
 */
export interface ProcedureCatalogue {
  list(ctx: CallContext): Promise<ProcedureSummary[]>;
  get(ctx: CallContext, code: string): Promise<Procedure>;
}
