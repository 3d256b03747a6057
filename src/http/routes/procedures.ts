import type { Response } from 'express';
import type { CacheState, ProcedureService } from '../../core/procedures.ts';
import { exchangeContext } from '../context.ts';
import type { Handlers } from '../handlers.ts';

/** RFC 7234 warn-code 110: the copy is older than the cache period (the portal could not refresh it). */
function cacheHeaders(res: Response, cache: CacheState): void {
  res.setHeader('x-cache', cache);
  if (cache === 'stale') res.setHeader('warning', '110 - "Response is stale"');
}

export function procedureHandlers(deps: { procedures: ProcedureService }): Handlers {
  return {
    listProcedures: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const q = req.query as Record<string, string | undefined>;
      const { value, cache } = await deps.procedures.search(ctx, {
        q: q.q,
        agency: q.agency,
        field: q.field,
        page: q.page ? Number(q.page) : 1,
        pageSize: q.pageSize ? Number(q.pageSize) : 20,
      });
      cacheHeaders(res, cache);
      res.json(value);
    },
    getProcedure: async (req, res) => {
      const ctx = exchangeContext(req, res);
      const { value, cache } = await deps.procedures.get(ctx, String(req.params.procedureCode));
      cacheHeaders(res, cache);
      res.json(value);
    },
    listProcedureAgencies: async (req, res) => {
      const { value, cache } = await deps.procedures.agencies(exchangeContext(req, res));
      cacheHeaders(res, cache);
      res.json({ items: value });
    },
    listProcedureFields: async (req, res) => {
      const { value, cache } = await deps.procedures.fields(exchangeContext(req, res));
      cacheHeaders(res, cache);
      res.json({ items: value });
    },
  };
}
