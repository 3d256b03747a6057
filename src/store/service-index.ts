import { sql, type Kysely, type RawBuilder } from 'kysely';
import { ZERO_COUNTS, indicatorFigures, type PeriodCounts, type PeriodKind, type ReportPeriod } from '../core/service-index.ts';
import { addDays, vietnamDay, vietnamMonth } from '../core/time.ts';
import type { Dialect } from './database.ts';
import { addMonths, monthsBetween } from './document-figures.ts';
import type { Database } from './schema.ts';

/**
 * The counts behind the national service index (src/core/service-index.ts), per handling agency
 * (the dossier's, or the agency of the client that handed it over) and for the province, per
 * month or quarter in Vietnam time. Read from the clear columns of dossiers (migration 0014) and
 * the documents deposited for them: the dossier document itself is sealed.
 */

/** A period of a report and what selects its dossiers: its months, and its first and next-after-last instants (UTC ISO). */
export interface CountedPeriod extends ReportPeriod {
  months: string[];
  start: string;
  end: string;
}

/** The periods covering months `from`..`to` (both included): the months, or the quarters they fall in. */
export function reportPeriods(kind: PeriodKind, from: string, to: string): CountedPeriod[] {
  const periods: CountedPeriod[] = [];
  const quarterOf = (month: string) => Math.floor((Number(month.slice(5, 7)) - 1) / 3);
  // A quarter starts at its first month, whatever month of it `from` names.
  let first = kind === 'month' ? from : `${from.slice(0, 4)}-${String(quarterOf(from) * 3 + 1).padStart(2, '0')}`;
  const step = kind === 'month' ? 1 : 3;
  while (monthsBetween(first, to) >= 1) {
    const months = Array.from({ length: step }, (_, i) => addMonths(first, i));
    const next = addMonths(first, step);
    const firstDay = `${first}-01`;
    const lastDay = addDays(`${next}-01`, -1);
    periods.push({
      period: kind === 'month' ? first : `${first.slice(0, 4)}-Q${quarterOf(first) + 1}`,
      firstDay,
      lastDay,
      months,
      start: new Date(`${firstDay}T00:00:00+07:00`).toISOString(),
      end: new Date(`${next}-01T00:00:00+07:00`).toISOString(),
    });
    first = next;
  }
  return periods;
}

export interface ServiceIndexCounts {
  /** The counts of one period: per handling agency (by its name) and the province's (the distinct procedures counted once). */
  count(period: CountedPeriod, now: Date): Promise<{ province: PeriodCounts; agencies: { agency: string; counts: PeriodCounts }[] }>;
}

type Row = Record<string, unknown> & { agency_code: string };
const n = (value: unknown) => Number(value ?? 0);
const DAY_MS = 86_400_000;
/** A day number (days since 1970-01-01) of the Vietnam calendar day an instant falls on. */
const vietnamDayNumber = (iso: string) => Math.floor((Date.parse(iso) + 7 * 3_600_000) / DAY_MS);
/** How many dossiers' events one statement reads at most (bound parameters stay well under SQLite's limit). */
const CHUNK = 500;

const zero = (): PeriodCounts => ({ ...ZERO_COUNTS, onTime: { ...ZERO_COUNTS.onTime } });

/**
 * Whether a dossier still in progress at a period's end was overdue then, from its status events
 * before that end (the clock's columns tell today's state, and a wait that ended, or began, after
 * the period would move a past period's figure): asked for a supplement twice, or past its due
 * day moved on by the supplement days so far, on the judged day or, while waiting, on the day the
 * wait began (the clock stands still). The same rule as the dossier's clock (src/core/dossiers/lifecycle.ts).
 */
export function overdueAtEnd(dueAt: string, events: readonly { status: number; at: string }[], initialStatus: number, end: string, judgedDay: string): boolean {
  let previous = initialStatus;
  let requests = 0;
  let days = 0;
  let since: string | null = null;
  const endMs = Date.parse(end);
  for (const e of events) {
    if (Date.parse(e.at) >= endMs) break;
    if (previous === 5 && e.status === 5) continue;
    if (previous === 5 && since !== null) {
      days += Math.max(0, vietnamDayNumber(e.at) - vietnamDayNumber(since));
      since = null;
    }
    if (e.status === 5) {
      requests += 1;
      since = e.at;
    }
    previous = e.status;
  }
  if (requests >= 2) return true;
  const deadline = vietnamDayNumber(dueAt) + days;
  const judged = since !== null ? vietnamDayNumber(since) : Math.floor(Date.parse(`${judgedDay}T00:00:00Z`) / DAY_MS);
  return judged > deadline;
}

export function createServiceIndexCounts(db: Kysely<Database>, dialect: Dialect): ServiceIndexCounts {
  // Whole milliseconds per dossier, summed as integers and divided in JS: floating days summed in
  // the database round differently on each (SQLite's julianday gave 34.87499… for 34.875).
  const elapsedMs =
    dialect === 'postgres'
      ? sql`round(extract(epoch from (d.processing_ended_at::timestamptz - d.accepted_at::timestamptz)) * 1000)::bigint`
      : sql`cast(round((julianday(d.processing_ended_at) - julianday(d.accepted_at)) * 86400000) as integer)`;
  // A document counts for the periods ending after it was deposited, destroyed since or not: it
  // was a digitised submission or result then, and a past period's figure must not move.
  const deposited = (kind: 'submission' | 'result', end: string) =>
    sql`exists (select 1 from documents x where x.dossier_code = d.code and x.kind = ${kind} and x.deposited_at < ${end})`;
  const when = (condition: RawBuilder<unknown>) => sql`sum(case when ${condition} then 1 else 0 end)`;
  const agency = sql`coalesce(d.handling_agency, d.agency)`;

  /** `select <columns> from dossiers d where <where>` per handling agency. */
  async function select(columns: RawBuilder<unknown>, where: RawBuilder<unknown>): Promise<Row[]> {
    return (await sql<Row>`select ${agency} as agency_code, ${columns} from dossiers d where ${where} group by ${agency}`.execute(db)).rows;
  }

  /** The status events of these dossiers, in order, per dossier. */
  async function statusEvents(codes: string[]): Promise<Map<string, { status: number; at: string }[]>> {
    const events = new Map<string, { status: number; at: string }[]>();
    for (let i = 0; i < codes.length; i += CHUNK) {
      const rows = await db
        .selectFrom('dossier_events')
        .select(['dossier_code', 'status', 'at'])
        .where('dossier_code', 'in', codes.slice(i, i + CHUNK))
        .where('status', 'is not', null)
        .orderBy('dossier_code')
        .orderBy('sequence')
        .execute();
      for (const r of rows) {
        const list = events.get(r.dossier_code) ?? [];
        list.push({ status: r.status!, at: r.at });
        events.set(r.dossier_code, list);
      }
    }
    return events;
  }

  // The queries of a period run one after the other: a PostgreSQL pool has few connections, and
  // the gauges and several reports may count at once.
  async function countAgencies(p: CountedPeriod, now: Date): Promise<{ agencies: Map<string, PeriodCounts>; province: PeriodCounts }> {
    const { start, end } = p;
    // A dossier still open is judged on the period's last day (S5), or today while the period
    // runs: the start of that day (Vietnam time) is what its deadline must not be before.
    const today = vietnamDay(now);
    const judgedDay = today < p.lastDay ? today : p.lastDay;
    const judgedStart = new Date(`${judgedDay}T00:00:00+07:00`).toISOString();
    const scopes = new Map<string, PeriodCounts>();
    const of = (name: string) => {
      let counts = scopes.get(name);
      if (!counts) scopes.set(name, (counts = zero()));
      return counts;
    };
    const inMonths = sql`d.received_month in (${sql.join(p.months)})`;

    for (const r of await select(
      sql`count(*) as received,
        ${when(sql`d.channel is not null`)} as known,
        ${when(sql`d.portal_known = 1`)} as synced,
        ${when(sql`d.channel = 'online'`)} as online,
        ${when(sql`d.fee_due = 1`)} as fee_due,
        ${when(sql`d.fee_due = 1 and d.online_payment = 1`)} as paid_online,
        count(distinct case when d.fee_due = 1 then d.procedure_code end) as fee_procedures,
        count(distinct case when d.fee_due = 1 and d.online_payment = 1 then d.procedure_code end) as paid_procedures,
        ${when(sql`d.reused_document = 1`)} as reused,
        ${when(sql`d.population_data = 1`)} as population_data`,
      inMonths,
    )) {
      if (n(r.received) === 0) continue;
      Object.assign(of(r.agency_code), {
        received: n(r.received),
        receivedKnown: n(r.known),
        synced: n(r.synced),
        online: n(r.online),
        feeDue: n(r.fee_due),
        paidOnline: n(r.paid_online),
        feeProcedures: n(r.fee_procedures),
        paidProcedures: n(r.paid_procedures),
        reused: n(r.reused),
        populationData: n(r.population_data),
      });
    }

    // An electronic result: one the one-stop system listed, or one deposited for the dossier (sealed by the gateway) before the period's end.
    const electronicResult = sql`(d.result_listed = 1 or ${deposited('result', end)})`;
    const digitisedSubmission = sql`(d.digitised_submission = 1 or ${deposited('submission', end)})`;
    for (const r of await select(
      sql`count(*) as finished,
        ${when(sql`d.result_listed is not null`)} as known,
        ${when(sql`d.result_listed is not null and ${electronicResult}`)} as electronic_result,
        ${when(sql`d.result_listed is not null and ${electronicResult} and ${digitisedSubmission}`)} as digitised`,
      sql`d.processing_end_status in (9, 10) and d.processing_ended_at >= ${start} and d.processing_ended_at < ${end}`,
    )) {
      if (n(r.finished) === 0) continue;
      Object.assign(of(r.agency_code), { finished: n(r.finished), finishedKnown: n(r.known), electronicResult: n(r.electronic_result), digitised: n(r.digitised) });
    }

    // 2.1: rated dossiers received or processed in the period: accepted before its end,
    // processing not ended before its start, not withdrawn in it. Read in two selections an index
    // serves each: those whose processing ended from the period's start on, and those still open.
    // Those that ended in the period are as the rule decided; the others are judged on its last
    // day. Without a supplement request the deadline column is the due day; with one, its events
    // before the period's end tell (overdueAtEnd).
    const rated = sql`d.due_at is not null and d.accepted_at is not null and d.accepted_at < ${end}`;
    const noSupplement = sql`not exists (select 1 from dossier_events e where e.dossier_code = d.code and e.status = 5)`;
    const onTime = (counts: PeriodCounts) => counts.onTime;
    for (const where of [sql`d.processing_ended_at >= ${start} and ${rated}`, sql`d.processing_ended_at is null and ${rated}`]) {
      for (const r of await select(
        sql`${when(sql`d.processing_ended_at < ${end} and coalesce(d.processing_end_status, 0) <> 7 and d.on_time_state = 'on_time'`)} as finished_on_time,
          ${when(sql`d.processing_ended_at < ${end} and coalesce(d.processing_end_status, 0) <> 7 and d.on_time_state = 'late'`)} as finished_late,
          ${when(sql`(d.processing_ended_at is null or d.processing_ended_at >= ${end}) and ${noSupplement}`)} as in_progress,
          ${when(sql`(d.processing_ended_at is null or d.processing_ended_at >= ${end}) and ${noSupplement} and d.deadline_at < ${judgedStart}`)} as in_progress_overdue`,
        where,
      )) {
        const t = onTime(of(r.agency_code));
        t.finishedOnTime += n(r.finished_on_time);
        t.finishedLate += n(r.finished_late);
        t.inProgressWithinTime += n(r.in_progress) - n(r.in_progress_overdue);
        t.inProgressOverdue += n(r.in_progress_overdue);
      }
      const waited = (
        await sql<{ code: string; agency_code: string; due_at: string }>`select d.code, ${agency} as agency_code, d.due_at
          from dossiers d where ${where} and (d.processing_ended_at is null or d.processing_ended_at >= ${end}) and not ${noSupplement}`.execute(db)
      ).rows;
      const events = await statusEvents(waited.map((w) => w.code));
      for (const w of waited) {
        // A dossier starts in 1 or 2 (INITIAL_STATUSES): neither is a supplement request, which is all the walk asks of it.
        const overdue = overdueAtEnd(w.due_at, events.get(w.code) ?? [], 1, end, judgedDay);
        onTime(of(w.agency_code))[overdue ? 'inProgressOverdue' : 'inProgressWithinTime'] += 1;
      }
    }

    for (const r of await select(sql`count(*) as timed, sum(${elapsedMs}) as timed_ms`, sql`d.processing_end_status in (9, 10) and d.accepted_at >= ${start} and d.accepted_at < ${end}`)) {
      if (n(r.timed) === 0) continue;
      // Kept in milliseconds to the division: the average is taken from the exact total.
      Object.assign(of(r.agency_code), { timed: n(r.timed), timedDays: n(r.timed_ms) / DAY_MS });
    }

    // The province is the sum of its agencies, but for the procedures: one counted by two agencies is one procedure.
    const province = zero();
    for (const c of scopes.values()) {
      for (const key of Object.keys(province) as (keyof PeriodCounts)[]) {
        if (key === 'onTime') for (const k of Object.keys(province.onTime) as (keyof PeriodCounts['onTime'])[]) province.onTime[k] += c.onTime[k];
        else province[key] += c[key];
      }
    }
    const [procedures] = (
      await sql<Record<string, unknown>>`select count(distinct case when d.fee_due = 1 then d.procedure_code end) as fee_procedures,
          count(distinct case when d.fee_due = 1 and d.online_payment = 1 then d.procedure_code end) as paid_procedures
        from dossiers d where ${inMonths}`.execute(db)
    ).rows;
    province.feeProcedures = n(procedures?.fee_procedures);
    province.paidProcedures = n(procedures?.paid_procedures);
    // An agency with nothing counted in the period is not listed.
    for (const [name, c] of scopes) {
      const t = c.onTime;
      if (c.received + c.finished + c.timed + t.finishedOnTime + t.finishedLate + t.inProgressWithinTime + t.inProgressOverdue === 0) scopes.delete(name);
    }
    return { agencies: scopes, province };
  }

  return {
    async count(p, now) {
      const { agencies, province } = await countAgencies(p, now);
      return {
        province,
        agencies: [...agencies].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([agency, counts]) => ({ agency, counts })),
      };
    },
  };
}

/** One figure as the gauges show it: an indicator of one agency, or of the province, in the current month or quarter. */
export interface ServiceIndexGaugeRow {
  /** yyyy-MM or yyyy-Qn. */
  period: string;
  scope: 'province' | 'agency';
  /** The handling agency; empty for the province. */
  agency: string;
  /** Dossiers the agency received in the period: which agencies the gauges name. */
  received: number;
  indicator: string;
  rate: number | null;
  points: number | null;
}

/** The computed indicators of the current month and quarter (Vietnam time), per agency and for the province. */
export async function currentServiceIndex(counts: ServiceIndexCounts, now: Date): Promise<ServiceIndexGaugeRow[]> {
  const month = vietnamMonth(now);
  const rows: ServiceIndexGaugeRow[] = [];
  for (const p of [...reportPeriods('month', month, month), ...reportPeriods('quarter', month, month)]) {
    const { province, agencies } = await counts.count(p, now);
    for (const { scope, agency, counts: c } of [{ scope: 'province' as const, agency: '', counts: province }, ...agencies.map((a) => ({ scope: 'agency' as const, ...a }))]) {
      for (const f of indicatorFigures(c)) rows.push({ period: p.period, scope, agency, received: c.received, indicator: f.id, rate: f.rate, points: f.points });
    }
  }
  return rows;
}
