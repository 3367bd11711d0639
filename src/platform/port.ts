import type { Label, LabelCounts, LabelPrecision } from '../domain/labels.js';
import type { ScoredWindow } from '../domain/windows.js';
import type { MarketRecord, SimEvent, SourceKind } from '../market/record.js';
import type { Db } from './local/db.js';

/**
 * The Platform port: what commands, jobs and the bots need from wherever the lakehouse runs, as a
 * few capabilities. `local` is DuckDB in this process; `databricks` is a SQL warehouse plus REST
 * APIs. A capability only one platform has is optional, so no implementation answers "not here":
 * the caller says what to do instead. Values crossing the port are plain data: timestamps as
 * ISO-8601 UTC strings.
 */
export interface Platform {
  readonly kind: 'local' | 'databricks';
  /** Reads of the lakehouse for answers, charts and the feed. */
  readonly reads: LakehouseReads;
  /** Landing, job bookkeeping and the models: what the jobs of both platforms use. */
  readonly pipeline: PipelineOps;
  /**
   * The pipeline engine in this process (the embedded default only): on Databricks the pipeline
   * and inference run as jobs in the workspace, and landing files are read by Auto Loader.
   */
  readonly engine?: PipelineEngine;
  /** Reconciling a workspace with its definition (Databricks only). */
  readonly deployment?: Deployment;
  /** The bot's own store (delivery log, feed cursor): a DuckDB database, opened once. */
  botStore(): Promise<Db>;
  close(): Promise<void>;
}

export interface LakehouseReads {
  topAnomalies(query: TopQuery): Promise<TopResult>;
  status(now: Date): Promise<StatusReport>;
  /** Windows scored (or re-scored) after `cursor` (a scored_at instant), oldest first: the feed's input. */
  scoredSince(cursor: string | null, limit: number): Promise<ScoredWindow[]>;
  /** The assets that have Gold windows, in order. */
  assets(): Promise<string[]>;
  /** An asset's window prices with anomaly flags, for charts. */
  priceSeries(asset: string, since: Date, until: Date): Promise<PriceSeries>;
  /**
   * Whether reads of the lakehouse (or, given, this one read) can run now without starting
   * anything: on Databricks, the SQL warehouse runs or the serving snapshot answers the read.
   * Never starts anything.
   */
  readiness(read?: LakehouseRead): Promise<{ ready: boolean; state: string }>;
  /** Makes reads possible, starting a stopped SQL warehouse and waiting for it (a warm-up). */
  ensureReady(): Promise<void>;
  /** Runs one read-only statement; anything else is refused before it runs. */
  readOnlySql(text: string, maxRows: number): Promise<SqlResult>;
  /**
   * The labels of these windows, each person once with their latest label. Undefined when they
   * cannot be read now: on Databricks the pipeline's `labels` table is read only while the SQL
   * warehouse runs (a click never starts it).
   */
  labelCounts?(
    windows: ReadonlyArray<{ asset: string; window_end: string }>,
  ): Promise<LabelCounts | undefined>;
  /** Precision per model version on the labelled windows, newest version first (undefined: not now). */
  labelPrecision?(): Promise<LabelPrecision[] | undefined>;
}

export interface PipelineOps {
  /** Where ingest batches land (a folder here, a Unity Catalog volume on Databricks). */
  readonly landing: LandingStore;
  /** Small persistent state of the market sources. */
  readonly state: StateStore;
  /** Records the simulator's injected events (idempotent). */
  recordGroundTruth(events: readonly SimEvent[]): Promise<void>;
  /** Records labels from the channel; a person's label of a window replaces their earlier one. */
  recordLabels(labels: readonly Label[]): Promise<void>;
  recordJobRun(run: JobRun): Promise<void>;
  /** Fits a new model version on the Gold lookback ending at `now`; promotes it per policy. */
  train(request: TrainRequest): Promise<TrainResult>;
  models(): Promise<ModelsReport>;
  /**
   * Starts a training run in the background (an ops action), unless one is already queued or
   * running: then that run is returned with `started: false`.
   */
  retrain(request: { requestedBy: string }): Promise<{ run: RetrainRun; started: boolean }>;
  retrainRun(id: string): Promise<RetrainRun | undefined>;
  /** Points the champion alias at a version (manual promotion). */
  promote(version: number): Promise<ModelVersion>;
}

export interface PipelineEngine {
  /** Bronze → Silver → Gold over the landing files not processed yet. */
  runPipeline(): Promise<PipelineRun>;
  /** Scores the Gold windows not scored yet with the champion and MERGEs them into anomalies. */
  infer(request: InferRequest): Promise<InferResult>;
  /** Landing files moved aside after failing the pipeline again and again, newest first. */
  quarantined(): Promise<QuarantinedFile[]>;
  /** Moves a quarantined file back to landing and clears its failures: the next run tries it again. */
  retryQuarantined(file: string): Promise<QuarantinedFile>;
  /** Sets a stage's watermark back to `to` (see local/watermarks.ts). */
  rewindWatermark(stage: WatermarkStage, to: string, now: Date): Promise<WatermarkRewind>;
}

export interface Deployment {
  /** Reconciles the deployment with its definition; `apply: false` only plans. */
  provision(apply: boolean): Promise<ProvisionResult>;
  /** The published AI/BI dashboard's address; undefined until `provision --apply` published it. */
  dashboardUrl(): Promise<string | undefined>;
  /** A job's schedule as the Jobs API has it now; null when the job does not exist yet. */
  scheduleOf(job: 'score' | 'train'): Promise<DatabricksJobSchedule | null>;
  /**
   * Gives a job this schedule (jobs/update), unless it has it already; false when the job does not
   * exist yet (`provision --apply` creates it with the stored schedule).
   */
  applySchedule(job: 'score' | 'train', schedule: DatabricksJobSchedule): Promise<boolean>;
}

/** A Databricks job's schedule (Jobs API `schedule`, always in UTC here). */
export interface DatabricksJobSchedule {
  quartz_cron_expression: string;
  pause_status: 'PAUSED' | 'UNPAUSED';
}

export type WatermarkStage = 'silver' | 'gold';

/** A watermark set back: the stage, and its watermark before and after (ISO-8601 UTC). */
export interface WatermarkRewind {
  stage: WatermarkStage;
  from: string;
  to: string;
}

/** A read a chat command is about to make (so the platform can tell whether it needs a warm-up). */
export type LakehouseRead =
  | { kind: 'top'; sinceMs: number; limit: number; asset?: string }
  | { kind: 'chart'; sinceMs: number; asset: string };

export interface LandingBatch {
  records: readonly MarketRecord[];
  source: SourceKind;
  ingestTs: Date;
  /** Orders the batches of one ingest run (e.g. the backfill before the snapshot). */
  seq: number;
}

export interface LandingWrite {
  file: string;
  records: number;
  bytes: number;
}

export interface LandingStore {
  write(batch: LandingBatch): Promise<LandingWrite>;
}

export interface StateStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

export interface StageCounts {
  rows_in: number;
  rows_out: number;
  rescued: number;
  dropped_missing: number;
  /** Silver: price or volume out of bounds (not finite, price <= 0 or >= 1e9, volume < 0 or >= 1e13). */
  dropped_bounds: number;
  dropped_future: number;
  dropped_late: number;
  dropped_duplicate: number;
  windows_emitted: number;
}

export interface PipelineRun {
  /** Landing files processed by this run (each one micro-batch). */
  files: number;
  bronze: StageCounts;
  silver: StageCounts;
  gold: StageCounts;
  /** Set when landing files failed in this run: how many (retried later), and how many of them were quarantined. */
  failed?: number;
  quarantined?: number;
}

export interface JobRun {
  job: string;
  startedAt: Date;
  finishedAt: Date;
  result: 'succeeded' | 'failed';
  summary: string;
  detail?: unknown;
}

export interface TopQuery {
  limit: number;
  since: Date;
  until: Date;
  asset?: string;
}

export interface LeaderboardRow {
  asset: string;
  symbol: string | null;
  anomalies: number;
  windows_scored: number;
  mean_score: number | null;
  last_event: string | null;
  simulated: boolean;
}

export interface AnomalyRow {
  asset: string;
  symbol: string | null;
  window_end: string;
  price_avg: number | null;
  ret_window: number | null;
  anomaly_score: number;
  model_version: number;
  simulated: boolean;
  /** Why it is unusual (JSON text, src/model/reasons.ts); null or absent where not recorded. */
  reasons?: string | null;
  data_issue?: string | null;
}

export interface TopResult {
  leaderboard: LeaderboardRow[];
  windows: AnomalyRow[];
  /** Windows scored in the period at all: tells "no anomalies" apart from "nothing scored yet". */
  scored_windows: number;
  /**
   * Set when the answer comes from a published snapshot (Databricks' serving snapshot) rather than
   * a query: the instant it was made, which the period ends at.
   */
  as_of?: string;
}

export interface StageStatus {
  stage: 'landing' | 'bronze' | 'silver' | 'gold' | 'anomalies';
  rows: number;
  /** Freshness: the newest timestamp the stage holds (load time, event time or window end). */
  latest: string | null;
  age_seconds: number | null;
  /** Stage-specific counters, e.g. dropped rows by reason. */
  counters: Record<string, number>;
}

export interface JobStatus {
  job: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  result: 'succeeded' | 'failed';
  summary: string;
}

export interface StatusReport {
  platform: 'local' | 'databricks';
  generated_at: string;
  /** Which source fed each asset; simulated data is labelled as such. */
  assets: Array<{ asset: string; sources: string[]; simulated: boolean }>;
  stages: StageStatus[];
  watermarks: { silver: string | null; gold: string | null };
  jobs: JobStatus[];
  anomalies_24h: number;
  /** Landing files the pipeline could not process: moved to quarantine, or failing and retried. */
  quarantine?: {
    quarantined: number;
    failing: number;
    /** The newest failure or quarantine, with its reason. */
    newest: { file: string; reason: string; at: string | null; quarantined: boolean } | null;
  };
  model: {
    champion: ModelVersion | null;
    versions: number;
    /** With no model version yet (Databricks): the newest training run, active first; null if none. */
    training_run?: RetrainRun | null;
  };
  /** On Databricks: what the REST APIs say, also while the SQL warehouse is stopped. */
  databricks?: {
    warehouse: string;
    pipeline: { state: string; last_update: string | null; last_update_at: string | null } | null;
    /** Set when lakehouse freshness could not be read without starting the warehouse. */
    freshness_note?: string;
  };
}

/** A landing file that failed at least one pipeline run and is retried on the next ones. */
export interface FailingFile {
  file: string;
  attempts: number;
  last_error: string;
  first_failed_at: string;
  last_failed_at: string;
}

/** A landing file moved to the quarantine, as its reason file records it. */
export interface QuarantinedFile {
  /** Its path relative to the landing root, which is also its path inside the quarantine. */
  file: string;
  reason: string;
  attempts: number;
  first_failed_at: string | null;
  last_failed_at: string | null;
  quarantined_at: string | null;
}

export interface SqlResult {
  columns: string[];
  rows: Array<Record<string, unknown>>;
  truncated: boolean;
}

export interface ModelMetrics {
  /** decision_function over the training part (the earlier 80 % of the period). */
  train_mean: number;
  train_std: number;
  /** decision_function over the holdout (the latest 20 % of the period). */
  holdout_mean: number | null;
  holdout_std: number | null;
  train_flagged_share: number;
  holdout_flagged_share: number | null;
  /** The threshold: windows with score_samples below it are anomalies. */
  offset: number;
}

export interface ModelVersion {
  version: number;
  created_at: string;
  feature_set: string;
  params: { trees: number; max_samples: number; contamination: 'auto' | number; seed: number };
  training: {
    since: string;
    until: string;
    rows: number;
    train_rows: number;
    holdout_rows: number;
    assets: string[];
  };
  metrics: ModelMetrics;
  aliases: string[];
}

export interface TrainRequest {
  now: Date;
  /** Overrides the configured feature set for this run. */
  featureSet?: 'seed' | 'default';
}

export interface TrainResult {
  version: ModelVersion;
  promoted: boolean;
  /** The champion after this run (the new version when promoted), and the one before it. */
  champion: ModelVersion | null;
  previous_champion: ModelVersion | null;
  /**
   * The new version and the champion before it on the channel's labelled windows
   * (src/model/label-comparison.ts). Absent where the run did not compare them (a Databricks
   * workspace without the pipeline's `labels` table).
   */
  labels?: LabelComparison;
  /** Why automatic promotion kept the champion (the labels' rule), when it did. */
  refused?: string;
}

/** A model's alerts on labelled windows, each window's truth the majority of its labels. */
export interface LabelScore {
  /** Labelled windows it alerts on. */
  alerted: number;
  /** Real windows among the alerted ones; null when it alerts on none. */
  precision: number | null;
  /** Alerted windows among the real ones; null without real windows. */
  recall: number | null;
  /** Harmonic mean of precision and recall (0 when no real window alerts); null without real windows. */
  f1: number | null;
}

export interface LabelComparison {
  /** Labelled windows that still have their Gold window, and how many of them are real / noise. */
  windows: number;
  real: number;
  noise: number;
  candidate: LabelScore;
  /** The champion before the run on the same windows; null when there was none. */
  champion: (LabelScore & { version: number }) | null;
  /** Whether there were enough labels for the promotion rule to apply. */
  rule_applies: boolean;
  /** The promotion rule in words. */
  rule: string;
}

export interface InferRequest {
  now: Date;
  /** Score again every window after this instant, not only the new ones (after a retrain). */
  rescoreSince?: Date;
}

export interface InferResult {
  model_version: number;
  /** Windows scored in this run. */
  scored: number;
  /** Rows the MERGE inserted and updated (re-scored by another model). */
  inserted: number;
  updated: number;
  /** Windows that became anomalous in this run (new rows, or re-scored into an anomaly). */
  new_anomalies: AnomalyRow[];
}

export interface ModelsReport {
  champion: number | null;
  versions: ModelVersion[];
}

export interface PricePoint {
  window_end: string;
  price_avg: number;
  is_anomaly: boolean;
  anomaly_score: number | null;
  /** An anomalous window's reasons (JSON text, src/model/reasons.ts), where recorded. */
  reasons?: string | null;
}

export interface PriceSeries {
  asset: string;
  symbol: string | null;
  simulated: boolean;
  points: PricePoint[];
  /** As in TopResult: the instant of the published series this comes from, when it does. */
  as_of?: string;
}

export interface RetrainRun {
  id: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  requested_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: TrainResult | null;
  error: string | null;
}

/** A window scored (or re-scored): its stored fields (domain/windows.ts) and `scored_at`. */
export type { ScoredWindow };

/** One line of a provisioning plan: an asset of the deployment and what apply does to it. */
export interface PlanItem {
  kind: 'schema' | 'volume' | 'folder' | 'notebook' | 'file' | 'pipeline' | 'job' | 'dashboard' | 'schedule';
  name: string;
  action: 'create' | 'update' | 'unchanged';
  /** What differs, for an update. */
  detail?: string;
}

export interface ProvisionResult {
  applied: boolean;
  items: PlanItem[];
}
