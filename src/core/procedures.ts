import { GatewayError, isGatewayError } from '../errors/gateway-error.ts';
import { searchKey } from './names.ts';
import type { CallContext } from './ports.ts';
import type { CodeName, Procedure, ProcedureCatalogue, ProcedureSummary } from './procedures-port.ts';

export type CacheState = 'hit' | 'miss' | 'stale';

export interface ProcedureQuery {
  q?: string | undefined;
  agency?: string | undefined;
  field?: string | undefined;
  page: number;
  pageSize: number;
}

export interface ProcedurePage {
  items: ProcedureSummary[];
  page: number;
  pageSize: number;
  total: number;
}

export interface ProcedureService {
  search(ctx: CallContext, query: ProcedureQuery): Promise<{ value: ProcedurePage; cache: CacheState }>;
  get(ctx: CallContext, code: string): Promise<{ value: Procedure; cache: CacheState }>;
  /** The national catalogue of agencies (LayDanhMucCoQuan), cached like the procedures. */
  agencies(ctx: CallContext): Promise<{ value: CodeName[]; cache: CacheState }>;
  /** The national catalogue of fields of procedures (LayDanhMucLinhVuc), cached like the procedures. */
  fields(ctx: CallContext): Promise<{ value: CodeName[]; cache: CacheState }>;
}

export interface CatalogueCacheOptions {
  /** How long a copy is served without asking the national portal again. */
  ttlMs: number;
  /** How old a copy may be and still be served (stale) while the national portal fails. */
  maxStaleMs: number;
}

interface Entry<T> {
  value: T;
  fetchedAt: number;
}

/** Faults of the national portal during which an older copy is better than an error. */
const SERVE_STALE_ON = new Set(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_CIRCUIT_OPEN', 'UPSTREAM_BAD_RESPONSE', 'UPSTREAM_AUTH']);

/**
 * The procedure catalogue, cached per process. A fresh copy is served from memory; an expired one
 * is refreshed (one refresh per key at a time); if the refresh fails with an upstream fault, the
 * expired copy is served and marked stale rather than failing the portal.
 */
/**
 * Whether the catalogue holds a procedure code (through the cached service: a cached copy answers
 * at once). Any failure other than "no such procedure" is the caller's to handle.
 */
export async function procedureExists(procedures: { get(ctx: CallContext, code: string): Promise<unknown> }, ctx: CallContext, code: string): Promise<boolean> {
  try {
    await procedures.get(ctx, code);
    return true;
  } catch (err) {
    if (isGatewayError(err) && err.code === 'SUBJECT_NOT_FOUND') return false;
    throw err;
  }
}

export function createProcedureService(deps: { catalogue: ProcedureCatalogue; now?: () => number }, options: CatalogueCacheOptions): ProcedureService {
  const now = deps.now ?? Date.now;
  const entries = new Map<string, Entry<unknown>>();
  const inFlight = new Map<string, Promise<unknown>>();

  async function cached<T>(key: string, load: () => Promise<T>): Promise<{ value: T; cache: CacheState }> {
    const entry = entries.get(key) as Entry<T> | undefined;
    if (entry && now() - entry.fetchedAt < options.ttlMs) return { value: entry.value, cache: 'hit' };
    let pending = inFlight.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = load().then(
        (value) => {
          entries.set(key, { value, fetchedAt: now() });
          return value;
        },
      );
      const settled = pending.finally(() => inFlight.delete(key));
      settled.catch(() => undefined);
      inFlight.set(key, pending);
    }
    try {
      return { value: await pending, cache: 'miss' };
    } catch (err) {
      if (isGatewayError(err) && err.code === 'SUBJECT_NOT_FOUND') entries.delete(key);
      else if (entry && isGatewayError(err) && SERVE_STALE_ON.has(err.code) && now() - entry.fetchedAt < options.maxStaleMs) {
        return { value: entry.value, cache: 'stale' };
      }
      throw err;
    }
  }

  return {
    async search(ctx, query) {
      const { value: all, cache } = await cached('list', () => deps.catalogue.list(ctx));
      const q = query.q ? searchKey(query.q.trim()) : '';
      const matches = all.filter(
        (p) =>
          (!q || searchKey(p.name).includes(q) || p.code.toLowerCase().includes(q)) &&
          (!query.agency || p.agencies.includes(query.agency)) &&
          (!query.field || p.field.code === query.field),
      );
      const start = (query.page - 1) * query.pageSize;
      return { value: { items: matches.slice(start, start + query.pageSize), page: query.page, pageSize: query.pageSize, total: matches.length }, cache };
    },
    async get(ctx, code) {
      if (!/^[0-9A-Za-z.]{1,64}$/.test(code)) {
        throw new GatewayError('VALIDATION_FAILED', { errors: [{ field: 'path.procedureCode', message: 'must be letters, digits and dots' }] });
      }
      return cached(`procedure:${code}`, () => deps.catalogue.get(ctx, code));
    },
    agencies: (ctx) => cached('agencies', () => deps.catalogue.agencies(ctx)),
    fields: (ctx) => cached('fields', () => deps.catalogue.fields(ctx)),
  };
}
