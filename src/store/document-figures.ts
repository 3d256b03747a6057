import { sql, type Kysely } from 'kysely';
import type { DocumentKind } from '../core/documents/port.ts';
import { addDays } from '../core/time.ts';
import type { Dialect } from './database.ts';
import type { Database } from './schema.ts';

/**
 * The figures plan 128/KH-UBND asks for (sections II.5 and IV), read from dossiers and documents:
 * per handling agency and month of receipt, how many dossiers came with digitised submissions,
 * got a digitised signed result, and reused a document the state already held. Also the two
 * counts the document metrics read on every scrape (both from the documents table alone).
 */

/** The plan's target: 80% of dossiers reuse a document the state holds (from 30% when it was made). */
export const REUSE_TARGET = { measure: 'reusedDocument', share: 0.8, baseline: 0.3, source: 'Kế hoạch 128/KH-UBND (Sơn La)' } as const;

/** The raw counts of one agency's dossiers received in one month (Vietnam time). */
export interface AgencyMonthCounts {
  agency: string;
  /** yyyy-MM, the month of receipt in +07:00. */
  month: string;
  dossiers: number;
  digitisedSubmission: number;
  digitisedResult: number;
  reusedDocument: number;
}

export interface DocumentFigures {
  /** Counts per agency and month for months `from`..`to` (yyyy-MM, both included), by month then agency. */
  digitisation(range: { from: string; to: string }): Promise<AgencyMonthCounts[]>;
  /** Documents whose retention ended by `now`, not on legal hold and not destroyed yet. */
  dueForDestruction(now: Date): Promise<number>;
  /** Documents whose content is kept (not destroyed), by kind. */
  storedByKind(): Promise<Record<DocumentKind, number>>;
}


/** `month` moved by `delta` months (yyyy-MM). */
export function addMonths(month: string, delta: number): string {
  const [year, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(year, m - 1 + delta, 1)).toISOString().slice(0, 7);
}

/** How many months `from`..`to` covers (both included); 0 or less when `to` is before `from`. */
export function monthsBetween(from: string, to: string): number {
  const [fy, fm] = from.split('-').map(Number) as [number, number];
  const [ty, tm] = to.split('-').map(Number) as [number, number];
  return (ty - fy) * 12 + (tm - fm) + 1;
}

/** yyyy-MM-dd of the day `days` after the first of `month`. */
const dayOf = (month: string, days: number) => addDays(`${month}-01`, days);

const count = (value: unknown) => Number(value ?? 0);

export function createDocumentFigures(db: Kysely<Database>, dialect: Dialect): DocumentFigures {
  // received_at is kept as the portal sent it (ISO 8601 with any offset): the month is that instant's in +07:00.
  const month =
    dialect === 'postgres'
      ? sql<string>`to_char((d.received_at::timestamptz at time zone 'UTC') + interval '7 hours', 'YYYY-MM')`
      : sql<string>`strftime('%Y-%m', d.received_at, '+7 hours')`;
  // A dossier's flags, set by the dossier service from its attachments, or a document deposited for it.
  const flags = db
    .selectFrom('dossiers as d')
    .select([
      sql<string>`coalesce(d.handling_agency, d.agency)`.as('agency_code'),
      month.as('month'),
      sql<number>`case when d.digitised_submission = 1 or exists (select 1 from documents s where s.dossier_code = d.code and s.kind = 'submission') then 1 else 0 end`.as('submission'),
      sql<number>`case when exists (select 1 from documents r where r.dossier_code = d.code and r.kind = 'result') then 1 else 0 end`.as('result'),
      sql<number>`case when d.reused_document = 1 then 1 else 0 end`.as('reused'),
    ]);

  return {
    async digitisation({ from, to }) {
      const rows = await db
        .selectFrom(
          flags
            // A cheap bound on the text first (no offset moves an instant by more than a day), then the exact month.
            .where('d.received_at', '>=', dayOf(from, -1))
            .where('d.received_at', '<', dayOf(addMonths(to, 1), 1))
            .where(month, '>=', from)
            .where(month, '<=', to)
            .as('f'),
        )
        .select((eb) => [
          'f.agency_code',
          'f.month',
          eb.fn.countAll().as('dossiers'),
          eb.fn.sum('f.submission').as('submission'),
          eb.fn.sum('f.result').as('result'),
          eb.fn.sum('f.reused').as('reused'),
        ])
        .groupBy(['f.month', 'f.agency_code'])
        .orderBy('f.month')
        .orderBy('f.agency_code')
        .execute();
      return rows.map((r) => ({
        agency: r.agency_code,
        month: r.month,
        dossiers: count(r.dossiers),
        digitisedSubmission: count(r.submission),
        digitisedResult: count(r.result),
        reusedDocument: count(r.reused),
      }));
    },

    async dueForDestruction(now) {
      const row = await db
        .selectFrom('documents')
        .select((eb) => eb.fn.countAll().as('due'))
        .where('destroyed_at', 'is', null)
        .where('legal_hold', '=', 0)
        .where('retain_until', 'is not', null)
        .where('retain_until', '<=', now.toISOString())
        .executeTakeFirst();
      return count(row?.due);
    },

    async storedByKind() {
      const rows = await db
        .selectFrom('documents')
        .select((eb) => ['kind', eb.fn.countAll().as('stored')])
        .where('destroyed_at', 'is', null)
        .groupBy('kind')
        .execute();
      const stored: Record<DocumentKind, number> = { submission: 0, result: 0 };
      for (const r of rows) if (r.kind === 'submission' || r.kind === 'result') stored[r.kind] = count(r.stored);
      return stored;
    },
  };
}

/** One measure of a row: how many dossiers have it, and their share of the row's dossiers (4 decimals; null with none). */
export interface Measure {
  count: number;
  share: number | null;
}

export interface DigitisationRow {
  dossiers: number;
  digitisedSubmission: Measure;
  digitisedResult: Measure;
  reusedDocument: Measure;
}

export interface DigitisationReport {
  from: string;
  to: string;
  agency: string | null;
  items: (DigitisationRow & { agency: string; month: string })[];
  /** Every agency together, per month: the province's figures, whatever `agency` filters. */
  province: (DigitisationRow & { month: string })[];
  /** Every agency together over the whole range. */
  total: DigitisationRow;
  target: typeof REUSE_TARGET;
}

const share = (part: number, whole: number): number | null => (whole === 0 ? null : Math.round((part / whole) * 10_000) / 10_000);

function row(counts: Omit<AgencyMonthCounts, 'agency' | 'month'>): DigitisationRow {
  return {
    dossiers: counts.dossiers,
    digitisedSubmission: { count: counts.digitisedSubmission, share: share(counts.digitisedSubmission, counts.dossiers) },
    digitisedResult: { count: counts.digitisedResult, share: share(counts.digitisedResult, counts.dossiers) },
    reusedDocument: { count: counts.reusedDocument, share: share(counts.reusedDocument, counts.dossiers) },
  };
}

function add(a: Omit<AgencyMonthCounts, 'agency' | 'month'>, b: AgencyMonthCounts): Omit<AgencyMonthCounts, 'agency' | 'month'> {
  return {
    dossiers: a.dossiers + b.dossiers,
    digitisedSubmission: a.digitisedSubmission + b.digitisedSubmission,
    digitisedResult: a.digitisedResult + b.digitisedResult,
    reusedDocument: a.reusedDocument + b.reusedDocument,
  };
}

const ZERO = { dossiers: 0, digitisedSubmission: 0, digitisedResult: 0, reusedDocument: 0 };

/** The report from the counts: shares per agency and month, the province per month and in total, the plan's target. */
export function digitisationReport(counts: AgencyMonthCounts[], query: { from: string; to: string; agency?: string | undefined }): DigitisationReport {
  const byMonth = new Map<string, Omit<AgencyMonthCounts, 'agency' | 'month'>>();
  let total = ZERO;
  for (const c of counts) {
    byMonth.set(c.month, add(byMonth.get(c.month) ?? ZERO, c));
    total = add(total, c);
  }
  return {
    from: query.from,
    to: query.to,
    agency: query.agency ?? null,
    items: counts.filter((c) => query.agency === undefined || c.agency === query.agency).map((c) => ({ agency: c.agency, month: c.month, ...row(c) })),
    province: [...byMonth].sort(([a], [b]) => a.localeCompare(b)).map(([month, c]) => ({ month, ...row(c) })),
    total: row(total),
    target: REUSE_TARGET,
  };
}
