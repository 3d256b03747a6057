import type { Request } from 'express';
import { GatewayError } from '../../errors/gateway-error.ts';
import { serviceIndexCsv, serviceIndexReport, type PeriodKind } from '../../core/service-index.ts';
import { vietnamMonth } from '../../core/time.ts';
import { digitisationReport, monthsBetween, type DocumentFigures } from '../../store/document-figures.ts';
import { reportPeriods, type ServiceIndexCounts } from '../../store/service-index.ts';
import type { Handlers } from '../handlers.ts';

/** The longest range one report covers: ten years of months is already more than a dashboard shows. */
const MAX_MONTHS = 120;

/** The months `from`..`to` of a report query: the current month in Vietnam time unless told; `from` alone reaches to now, `to` alone is one month. */
function monthRange(q: { from?: string; to?: string }, now: Date): { from: string; to: string } {
  const to = q.to ?? vietnamMonth(now);
  const from = q.from ?? to;
  const months = monthsBetween(from, to);
  if (months < 1) throw new GatewayError('VALIDATION_FAILED', { detail: 'the range is empty', errors: [{ field: 'query.from', message: `must not be after query.to (${to})` }] });
  if (months > MAX_MONTHS) throw new GatewayError('VALIDATION_FAILED', { detail: 'the range is too long', errors: [{ field: 'query.from', message: `must be at most ${MAX_MONTHS} months before query.to (${to})` }] });
  return { from, to };
}

/** CSV when `format` says so, or, without it, when the caller's Accept prefers text/csv to JSON. */
function wantsCsv(req: Request, format: string | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

/** The operators' reports: the digitisation figures of plan 128/KH-UBND, the national service index of Decision 766. */
export function reportHandlers(deps: { figures?: DocumentFigures | undefined; serviceIndex?: ServiceIndexCounts | undefined; now?: () => Date }): Handlers {
  const now = deps.now ?? (() => new Date());
  const { figures, serviceIndex } = deps;
  return {
    ...(figures
      ? {
          getDigitisationReport: async (req, res) => {
            const q = req.query as { from?: string; to?: string; agency?: string };
            const { from, to } = monthRange(q, now());
            const counts = await figures.digitisation({ from, to });
            res.json(digitisationReport(counts, { from, to, agency: q.agency }));
          },
        }
      : {}),
    ...(serviceIndex
      ? {
          getServiceIndex: async (req, res) => {
            const q = req.query as { from?: string; to?: string; period?: PeriodKind; agency?: string; format?: 'json' | 'csv' };
            const at = now();
            const { from, to } = monthRange(q, at);
            const period = q.period ?? 'month';
            // One period after the other: each is a few indexed counts, and a long range must not hold every connection.
            const counted = [];
            for (const p of reportPeriods(period, from, to)) counted.push({ period: p.period, firstDay: p.firstDay, lastDay: p.lastDay, ...(await serviceIndex.count(p, at)) });
            const report = serviceIndexReport(counted, { period, from, to, agency: q.agency });
            res.vary('accept');
            if (wantsCsv(req, q.format)) res.type('text/csv; charset=utf-8').send(serviceIndexCsv(report));
            else res.json(report);
          },
        }
      : {}),
  };
}
