import { GatewayError } from '../../errors/gateway-error.ts';
import { vietnamMonth } from '../../core/time.ts';
import { digitisationReport, monthsBetween, type DocumentFigures } from '../../store/document-figures.ts';
import type { Handlers } from '../handlers.ts';

/** The longest range one report covers: ten years of months is already more than a dashboard shows. */
const MAX_MONTHS = 120;

/** The operators' reports: the digitisation figures of plan 128/KH-UBND. */
export function reportHandlers(deps: { figures: DocumentFigures; now?: () => Date }): Handlers {
  const now = deps.now ?? (() => new Date());
  return {
    getDigitisationReport: async (req, res) => {
      const q = req.query as { from?: string; to?: string; agency?: string };
      // The current month in Vietnam time unless told; `from` alone reaches to now, `to` alone is one month.
      const to = q.to ?? vietnamMonth(now());
      const from = q.from ?? to;
      const months = monthsBetween(from, to);
      if (months < 1) throw new GatewayError('VALIDATION_FAILED', { detail: 'the range is empty', errors: [{ field: 'query.from', message: `must not be after query.to (${to})` }] });
      if (months > MAX_MONTHS) throw new GatewayError('VALIDATION_FAILED', { detail: 'the range is too long', errors: [{ field: 'query.from', message: `must be at most ${MAX_MONTHS} months before query.to (${to})` }] });
      const counts = await deps.figures.digitisation({ from, to });
      res.json(digitisationReport(counts, { from, to, agency: q.agency }));
    },
  };
}
