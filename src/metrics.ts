import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { vietnamMonth } from './core/time.ts';
import { addMonths, type AgencyMonthCounts } from './store/document-figures.ts';
import type { ServiceIndexGaugeRow } from './store/service-index.ts';

/** Every metric the gateway exports, on one registry per process (no global default registry). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'operation' | 'method' | 'status'>;
  httpDuration: Histogram<'operation' | 'method' | 'status'>;
  upstreamCalls: Counter<'upstream' | 'outcome'>;
  upstreamDuration: Histogram<'upstream' | 'outcome'>;
  breakerState: Gauge<'upstream'>;
  breakerTransitions: Counter<'upstream' | 'to'>;
  certificateExpiry: Gauge<'role' | 'name'>;
  crlNextUpdate: Gauge<'issuer'>;
  upstreamInFlight: Gauge<'upstream'>;
  upstreamQueued: Gauge<'upstream'>;
  upstreamRetries: Counter<'upstream' | 'code'>;
  logTimestampLag: Gauge;
  logTreeSize: Gauge;
  witnessCosignatures: Counter<'witness' | 'outcome'>;
  witnessLag: Gauge<'witness'>;
  outboxDepth: Gauge;
  outboxOldestPendingAge: Gauge;
  outboxDeadJobs: Gauge;
  outboxDeliveries: Counter<'service'>;
  outboxFailures: Counter<'service' | 'code'>;
  outboxDead: Counter<'service'>;
  documentsDue: Gauge;
  documentsStored: Gauge<'kind'>;
  dossiersReceived: Gauge<'agency' | 'month'>;
  digitisedShare: Gauge<'agency' | 'month' | 'measure'>;
  /**
   * Where the document gauges are read from on each scrape, once the store is open: what is due,
   * what is stored and the digitisation figures of the current and previous month (Vietnam time),
   * each at most once per `cacheMs` (default 60 s).
   */
  watchDocuments(source: DocumentGaugeSource, options?: { cacheMs?: number; now?: () => Date }): void;
  serviceIndexRate: Gauge<'indicator' | 'scope' | 'agency' | 'period'>;
  serviceIndexPoints: Gauge<'indicator' | 'scope' | 'agency' | 'period'>;
  /**
   * Where the service index gauges are read from on each scrape: the computed indicators of the
   * current month and quarter (src/store/service-index.ts), at most once per `cacheMs` (default 60 s).
   */
  watchServiceIndex(read: (now: Date) => Promise<ServiceIndexGaugeRow[]>, options?: { cacheMs?: number; now?: () => Date }): void;
}


/**
 * The service index rows the gauges show: the province, and the METRIC_AGENCIES agencies that
 * received the most dossiers in the rows' periods (ties by code). A rate cannot be summed, so
 * the other agencies are left out (the report gives every agency).
 */
function indexGaugeRows(rows: ServiceIndexGaugeRow[]): ServiceIndexGaugeRow[] {
  const totals = new Map<string, number>();
  for (const r of rows) if (r.scope === 'agency' && r.indicator === rows[0]?.indicator) totals.set(r.agency, (totals.get(r.agency) ?? 0) + r.received);
  const named = new Set(
    [...totals]
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, METRIC_AGENCIES)
      .map(([agency]) => agency),
  );
  return rows.filter((r) => r.scope === 'province' || named.has(r.agency));
}

/** What the document gauges read (src/store/document-figures.ts). */
export interface DocumentGaugeSource {
  dueForDestruction(now: Date): Promise<number>;
  storedByKind(): Promise<Record<string, number>>;
  digitisation(range: { from: string; to: string }): Promise<DigitisationCounts[]>;
}

/** One agency's dossiers received in one month, and how many of them have each measure. */
export type DigitisationCounts = AgencyMonthCounts;

const MEASURES = ['digitisedSubmission', 'digitisedResult', 'reusedDocument'] as const;

/**
 * The handling agency is text a client sends: the digitisation gauges name at most this many
 * agencies (those with the most dossiers over the two months shown) and sum the rest as
 * agency="other", so that no client can grow the series without bound. The JSON report
 * (/v1/reports/digitisation) keeps every agency.
 */
export const METRIC_AGENCIES = 20;
/** How the digitisation gauges label agencies (the help text of each). */
const AGENCY_LABELS = `the ${METRIC_AGENCIES} agencies with the most dossiers over the two months, agency="other" for the rest together, agency="province" for all together (/v1/reports/digitisation gives every agency)`;

/** The labels the gauges give themselves: an agency sent with one of these names is counted in "other". */
const RESERVED_AGENCIES = new Set(['province', 'other']);

/**
 * Runs a gauge's read from the store; a failure leaves its last values. A scrape must not fail
 * because the store does (every other metric would be lost with it); /readyz reports the store.
 */
async function quietly(read: () => Promise<void>): Promise<void> {
  try {
    await read();
  } catch {
    // Kept as last read.
  }
}

/** The month (yyyy-MM) of an instant in Vietnam time, and the month before it. */
function currentAndPreviousMonth(now: Date): { from: string; to: string } {
  const to = vietnamMonth(now);
  return { from: addMonths(to, -1), to };
}

/** Adds `row` into the sum kept under `key` (created with `agency` as its label). */
function addTo(sums: Map<string, DigitisationCounts>, key: string, agency: string, row: DigitisationCounts): void {
  const sum = sums.get(key) ?? { agency, month: row.month, dossiers: 0, digitisedSubmission: 0, digitisedResult: 0, reusedDocument: 0 };
  sum.dossiers += row.dossiers;
  for (const m of MEASURES) sum[m] += row[m];
  sums.set(key, sum);
}

/**
 * The rows the gauges show: the METRIC_AGENCIES agencies with the most dossiers over all the rows
 * (ties by code) as they are, every other agency summed as `other` per month, and `province` for
 * all agencies together per month.
 */
function gaugeRows(rows: DigitisationCounts[]): DigitisationCounts[] {
  const totals = new Map<string, number>();
  for (const r of rows) if (!RESERVED_AGENCIES.has(r.agency)) totals.set(r.agency, (totals.get(r.agency) ?? 0) + r.dossiers);
  const named = new Set(
    [...totals]
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, METRIC_AGENCIES)
      .map(([agency]) => agency),
  );
  const shown: DigitisationCounts[] = [];
  const other = new Map<string, DigitisationCounts>();
  const province = new Map<string, DigitisationCounts>();
  for (const r of rows) {
    if (named.has(r.agency)) shown.push(r);
    else addTo(other, r.month, 'other', r);
    addTo(province, r.month, 'province', r);
  }
  return [...shown, ...other.values(), ...province.values()];
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'lienthong_' });
  const registers = [registry];
  let documents: { source: DocumentGaugeSource; cacheMs: number; now: () => Date } | undefined;
  let serviceIndex: { read: (now: Date) => Promise<ServiceIndexGaugeRow[]>; cacheMs: number; now: () => Date } | undefined;
  // What the gauges last read (or are reading: concurrent scrapes share one query), each kept for its watcher's cacheMs.
  let cache = new Map<string, { at: number; value: Promise<unknown> }>();
  const cached = <T>(name: string, watched: { cacheMs: number; now: () => Date }, read: (now: Date) => Promise<T>): Promise<T> => {
    const at = watched.now().getTime();
    const kept = cache.get(name);
    if (kept && at - kept.at < watched.cacheMs) return kept.value as Promise<T>;
    const value = read(new Date(at));
    // A failed read is not kept: the next scrape asks again.
    value.catch(() => cache.get(name)?.value === value && cache.delete(name));
    cache.set(name, { at, value });
    return value;
  };
  const readServiceIndex = () => cached('service-index', serviceIndex!, async (now) => indexGaugeRows(await serviceIndex!.read(now)));
  /** A gauge of the service index: every row set again on each scrape. */
  // The province has its own `scope` (and agency=""): an agency may be named anything, "province" too.
  function indexGauge(name: string, help: string, value: (row: ServiceIndexGaugeRow) => number | null): Gauge<'indicator' | 'scope' | 'agency' | 'period'> {
    return new Gauge({
      name,
      help,
      labelNames: ['indicator', 'scope', 'agency', 'period'],
      registers,
      async collect() {
        if (!serviceIndex) return;
        await quietly(async () => {
          const rows = await readServiceIndex();
          this.reset();
          for (const r of rows) {
            const v = value(r);
            if (v !== null) this.set({ indicator: r.indicator, scope: r.scope, agency: r.scope === 'province' ? '' : r.agency, period: r.period }, v);
          }
        });
      },
    });
  }
  const readFigures = () => cached('digitisation', documents!, async (now) => gaugeRows(await documents!.source.digitisation(currentAndPreviousMonth(now))));
  /** A gauge of the digitisation figures: every row set again on each scrape (the rows read at most once per cacheMs). */
  function figureGauge<L extends string>(name: string, help: string, labelNames: L[], set: (gauge: Gauge<L>, row: DigitisationCounts) => void): Gauge<L> {
    return new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        if (!documents) return;
        await quietly(async () => {
          const rows = await readFigures();
          this.reset();
          for (const r of rows) set(this, r);
        });
      },
    });
  }
  const metrics = {
    registry,
    httpRequests: new Counter({
      name: 'lienthong_http_requests_total',
      help: 'Requests answered, by operation, method and status',
      labelNames: ['operation', 'method', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'lienthong_http_request_duration_seconds',
      help: 'Time to answer a request, by operation, method and status',
      labelNames: ['operation', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    upstreamCalls: new Counter({
      name: 'lienthong_upstream_calls_total',
      help: 'Calls to national systems, by upstream and outcome',
      labelNames: ['upstream', 'outcome'],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'lienthong_upstream_call_duration_seconds',
      help: 'Duration of calls to national systems',
      labelNames: ['upstream', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    breakerState: new Gauge({
      name: 'lienthong_upstream_breaker_state',
      help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open',
      labelNames: ['upstream'],
      registers,
    }),
    certificateExpiry: new Gauge({
      name: 'lienthong_certificate_expiry_timestamp_seconds',
      help: 'When a certificate in use expires (Unix time): the gateway own (role="gateway") and each national system last seen (role="upstream")',
      labelNames: ['role', 'name'],
      registers,
    }),
    crlNextUpdate: new Gauge({
      name: 'lienthong_crl_next_update_timestamp_seconds',
      help: 'When each CA\'s CRL in use must be replaced (Unix time); past it, that CA\'s certificates are refused',
      labelNames: ['issuer'],
      registers,
    }),
    logTimestampLag: new Gauge({
      name: 'lienthong_exchange_log_timestamp_lag_seconds',
      help: 'How long the newest checkpoint has waited for an RFC 3161 timestamp (0: up to date)',
      registers,
    }),
    outboxDepth: new Gauge({
      name: 'lienthong_outbox_depth',
      help: 'Dossier changes waiting for delivery to the national portal (pending jobs)',
      registers,
    }),
    outboxOldestPendingAge: new Gauge({
      name: 'lienthong_outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest pending delivery (0: none pending)',
      registers,
    }),
    outboxDeadJobs: new Gauge({
      name: 'lienthong_outbox_dead_jobs',
      help: 'Deliveries given up after the maximum age, waiting for an operator to redeliver them',
      registers,
    }),
    outboxDeliveries: new Counter({
      name: 'lienthong_outbox_deliveries_total',
      help: 'Successful calls of the outbox to the national portal, by service',
      labelNames: ['service'],
      registers,
    }),
    outboxFailures: new Counter({
      name: 'lienthong_outbox_failures_total',
      help: 'Failed calls of the outbox to the national portal, by service and error code (each is retried)',
      labelNames: ['service', 'code'],
      registers,
    }),
    outboxDead: new Counter({
      name: 'lienthong_outbox_dead_total',
      help: 'Deliveries given up after the maximum age, by the service of the job',
      labelNames: ['service'],
      registers,
    }),
    logTreeSize: new Gauge({
      name: 'lienthong_exchange_log_tree_size',
      help: 'Entries in the exchange log (size of the latest checkpoint)',
      registers,
    }),
    witnessCosignatures: new Counter({
      name: 'lienthong_witness_cosignatures_total',
      help: 'Checkpoint submissions to each witness by outcome: cosigned, conflict (another root or a larger size seen: investigate), rejected, invalid (a cosignature that does not verify), unreachable',
      labelNames: ['witness', 'outcome'],
      registers,
    }),
    witnessLag: new Gauge({
      name: 'lienthong_witness_lag_entries',
      help: 'Entries of the latest checkpoint beyond the newest one each witness cosigned',
      labelNames: ['witness'],
      registers,
    }),
    upstreamInFlight: new Gauge({
      name: 'lienthong_upstream_in_flight',
      help: 'Calls to each national system under way',
      labelNames: ['upstream'],
      registers,
    }),
    upstreamQueued: new Gauge({
      name: 'lienthong_upstream_queued',
      help: 'Calls to each national system waiting for a free slot (bulkhead queue)',
      labelNames: ['upstream'],
      registers,
    }),
    upstreamRetries: new Counter({
      name: 'lienthong_upstream_retries_total',
      help: 'Idempotent reads attempted again after a transport failure, by upstream and the failure retried',
      labelNames: ['upstream', 'code'],
      registers,
    }),
    breakerTransitions: new Counter({
      name: 'lienthong_upstream_breaker_transitions_total',
      help: 'Circuit breaker state changes per upstream',
      labelNames: ['upstream', 'to'],
      registers,
    }),
    documentsDue: new Gauge({
      name: 'lienthong_documents_due_for_destruction',
      help: 'Documents whose retention ended and whose content is not destroyed yet, not on legal hold (lienthong documents purge destroys it)',
      registers,
      async collect() {
        const watched = documents;
        // A count over the documents past retention: read at most once per cacheMs, as the others are.
        if (watched) await quietly(async () => this.set(await cached('due', watched, (now) => watched.source.dueForDestruction(now))));
      },
    }),
    documentsStored: new Gauge({
      name: 'lienthong_documents_stored',
      help: 'Documents whose content is kept (not destroyed), by kind: submission or result',
      labelNames: ['kind'],
      registers,
      async collect() {
        const watched = documents;
        // A count over every document: read at most once per cacheMs, as the figures are.
        if (watched) await quietly(async () => Object.entries(await cached('stored', watched, () => watched.source.storedByKind())).forEach(([kind, count]) => this.set({ kind }, count)));
      },
    }),
    dossiersReceived: figureGauge(
      'lienthong_dossiers_received',
      `Dossiers received in the current and previous month (Vietnam time), by handling agency: ${AGENCY_LABELS}`,
      ['agency', 'month'],
      (gauge, r) => gauge.set({ agency: r.agency, month: r.month }, r.dossiers),
    ),
    digitisedShare: figureGauge(
      'lienthong_dossiers_digitised_share',
      `Share (0 to 1) of the dossiers received in the current and previous month (Vietnam time) with each measure: digitisedSubmission, digitisedResult, reusedDocument (plan 128/KH-UBND targets 0.8 for reusedDocument), by handling agency: ${AGENCY_LABELS}`,
      ['agency', 'month', 'measure'],
      (gauge, r) => {
        for (const measure of MEASURES) gauge.set({ agency: r.agency, month: r.month, measure }, r.dossiers === 0 ? 0 : r[measure] / r.dossiers);
      },
    ),
  };
  return {
    ...metrics,
    serviceIndexRate: indexGauge(
      'lienthong_service_index_rate',
      'National service index (Decision 766): each computed indicator\'s rate (0 to 1; 2.2 in days) for the current month (period="yyyy-MM") and quarter (period="yyyy-Qn"), Vietnam time, scope="agency" by handling agency (the 20 with the most dossiers) and scope="province" (agency="") for all together; absent when no dossier counts (/v1/reports/service-index)',
      (r) => r.rate,
    ),
    serviceIndexPoints: indexGauge(
      'lienthong_service_index_points',
      'National service index (Decision 766): each computed indicator\'s points for the current month and quarter, scope="agency" by handling agency and scope="province" (agency="") (/v1/reports/service-index)',
      (r) => r.points,
    ),
    watchServiceIndex(read, options = {}) {
      serviceIndex = { read, cacheMs: options.cacheMs ?? 60_000, now: options.now ?? (() => new Date()) };
      cache.delete('service-index');
    },
    watchDocuments(source, options = {}) {
      documents = { source, cacheMs: options.cacheMs ?? 60_000, now: options.now ?? (() => new Date()) };
      cache = new Map();
    },
  };
}
