import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus metrics (prom-client), served on METRICS_PORT by `run`
 * (metrics-server.ts). Names follow Prometheus' conventions
 * (prometheus.io/docs/practices/naming): the `crypto_risk_` prefix, base units (seconds), `_total`
 * on counters, one label per dimension. Label values are bounded: job, stage, reason, surface and
 * command come from fixed lists in the code, endpoints are path templates with ids replaced
 * (api-metrics.ts), codes are HTTP statuses; no user text is ever a label.
 */
export function createMetrics(
  options: {
    defaultMetrics?: boolean;
    /** The champion model version now (read at a scrape, at most once a minute). */
    champion?: () => Promise<number | null>;
  } = {},
) {
  const registry = new Registry();
  let championReadAt = Number.NEGATIVE_INFINITY;
  const registers = [registry];
  // The process's own metrics (CPU, resident memory, heap, event-loop lag, GC), as prom-client
  // names them (process_*, nodejs_*).
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    jobRuns: new Counter({
      name: 'crypto_risk_job_runs_total',
      help: 'Runs of the jobs this process schedules, by job and result (succeeded, failed).',
      labelNames: ['job', 'result'] as const,
      registers,
    }),
    jobDuration: new Histogram({
      name: 'crypto_risk_job_duration_seconds',
      help: 'How long each run of a job took.',
      labelNames: ['job'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    jobConsecutiveFailures: new Gauge({
      name: 'crypto_risk_job_consecutive_failures',
      help: 'Failed runs of a job in a row since its last success (0 when its last run succeeded); /readyz refuses past READY_MAX_FAILED_RUNS.',
      labelNames: ['job'] as const,
      registers,
    }),
    ingestedRecords: new Counter({
      name: 'crypto_risk_ingest_records_total',
      help: 'Market records landed by ingest.',
      registers,
    }),
    ingestDropped: new Counter({
      name: 'crypto_risk_ingest_records_dropped_total',
      help: 'Source records dropped before landing (malformed, not asked for, beyond a cap).',
      registers,
    }),
    pipelineRows: new Counter({
      name: 'crypto_risk_pipeline_rows_total',
      help: 'Rows into and out of each pipeline stage (bronze, silver, gold), by direction (in, out).',
      labelNames: ['stage', 'direction'] as const,
      registers,
    }),
    pipelineDropped: new Counter({
      name: 'crypto_risk_pipeline_rows_dropped_total',
      help: 'Rows a pipeline stage dropped, by stage and reason (missing, bounds, future, late, duplicate).',
      labelNames: ['stage', 'reason'] as const,
      registers,
    }),
    pipelineQuarantined: new Counter({
      name: 'crypto_risk_pipeline_files_quarantined_total',
      help: 'Landing files moved aside after failing the pipeline again and again.',
      registers,
    }),
    feedMessages: new Counter({
      name: 'crypto_risk_feed_messages_total',
      help: 'Feed messages by surface (slack, teams) and outcome: posted, updated in place, recovered after a crash.',
      labelNames: ['surface', 'outcome'] as const,
      registers,
    }),
    commandAck: new Histogram({
      name: 'crypto_risk_command_ack_seconds',
      help: 'From a request reaching the bot to its acknowledgement, by surface and command.',
      labelNames: ['surface', 'command'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
      registers,
    }),
    apiRequests: new Counter({
      name: 'crypto_risk_api_requests_total',
      help: 'HTTP calls to the platforms and chat services, by service, endpoint and code (the HTTP status, or "error" without an answer).',
      labelNames: ['service', 'endpoint', 'code'] as const,
      registers,
    }),
    apiDuration: new Histogram({
      name: 'crypto_risk_api_request_duration_seconds',
      help: 'How long each HTTP call to a platform or chat service took, by service and endpoint.',
      labelNames: ['service', 'endpoint'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    apiRateLimited: new Counter({
      name: 'crypto_risk_api_rate_limited_total',
      help: 'HTTP calls answered 429 (rate limited), by service and endpoint.',
      labelNames: ['service', 'endpoint'] as const,
      registers,
    }),
    warehouseStarts: new Counter({
      name: 'crypto_risk_warehouse_starts_total',
      help: 'Times the bot started the stopped SQL warehouse (Databricks).',
      registers,
    }),
    championVersion: new Gauge({
      name: 'crypto_risk_champion_model_version',
      help: 'The champion model version (0 before the first model).',
      registers,
      async collect() {
        const read = options.champion;
        if (!read || performance.now() - championReadAt < CHAMPION_READ_MS) return;
        championReadAt = performance.now();
        // On Databricks a training job in the workspace may promote a version: read, not remembered.
        // A read that fails leaves the last value (a scrape never fails for it).
        this.set((await read().catch(() => undefined)) ?? 0);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const CHAMPION_READ_MS = 60_000;
