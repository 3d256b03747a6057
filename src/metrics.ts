import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'lienthong_' });
  const registers = [registry];
  return {
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
  };
}
