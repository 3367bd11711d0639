-- The local lakehouse on DuckDB: the same tables and columns as the Databricks pipeline
-- (DESIGN.md, table contracts), plus the pipeline's own bookkeeping.
-- Step 001: the schema as it was before it was versioned. It stays idempotent and is never changed:
-- a data folder made before has these tables and no schema_version, and running this step on it
-- changes nothing and records it as version 1. Later changes are new numbered steps.
-- All timestamps are UTC (TIMESTAMP without zone; the connection's TimeZone is UTC).

-- Bronze: every landed line, as it came. A line that is not a JSON object is kept in _rescued.
CREATE TABLE IF NOT EXISTS prices_bronze (
  record      VARCHAR,            -- the JSON object as landed (NULL when the line is malformed)
  _rescued    VARCHAR,            -- the raw line when it is not a JSON object (else NULL)
  source_file VARCHAR NOT NULL,   -- landing path relative to the landing root
  line_no     BIGINT  NOT NULL,   -- 1-based line in that file
  load_ts     TIMESTAMP NOT NULL  -- when the pipeline loaded it
);

-- Silver: typed, validated, deduplicated on event_key within the 20-minute watermark.
CREATE TABLE IF NOT EXISTS prices_silver (
  asset     VARCHAR   NOT NULL,   -- lower(id)
  symbol    VARCHAR,
  name      VARCHAR,
  price     DOUBLE    NOT NULL,   -- current_price (USD)
  volume    DOUBLE,               -- total_volume (USD; see README on its meaning per source)
  event_ts  TIMESTAMP NOT NULL,   -- last_updated
  ingest_ts TIMESTAMP,            -- stamped by the ingest job
  load_ts   TIMESTAMP NOT NULL,   -- Bronze load time
  event_key VARCHAR   NOT NULL,   -- asset|event_ts (ISO-8601 UTC, milliseconds)
  source    VARCHAR               -- coingecko | simulator | replay
);

-- Gold: 5-minute tumbling windows per asset, emitted once after the 2-minute watermark. Append-only.
CREATE TABLE IF NOT EXISTS metrics_gold (
  asset        VARCHAR   NOT NULL,
  symbol       VARCHAR,
  window_start TIMESTAMP NOT NULL,
  window_end   TIMESTAMP NOT NULL,
  price_avg    DOUBLE    NOT NULL,
  price_vol    DOUBLE,              -- sample standard deviation; NULL for a single tick
  price_min    DOUBLE    NOT NULL,
  price_max    DOUBLE    NOT NULL,
  vol_sum      DOUBLE,
  ret_window   DOUBLE,              -- price_max / price_min - 1 (NULL when price_min <= 0)
  ticks        BIGINT    NOT NULL,
  source       VARCHAR,
  emitted_at   TIMESTAMP NOT NULL,
  PRIMARY KEY (asset, window_start)
);

-- Scores written by inference (MERGE on asset, window_end). Filled by the model's jobs.
CREATE TABLE IF NOT EXISTS anomalies (
  asset         VARCHAR   NOT NULL,
  symbol        VARCHAR,
  window_end    TIMESTAMP NOT NULL,
  price_avg     DOUBLE,
  price_vol     DOUBLE,
  ret_window    DOUBLE,
  vol_sum       DOUBLE,
  ret_prev      DOUBLE,
  anomaly_score DOUBLE    NOT NULL,   -- decision_function: below 0 is anomalous
  is_anomaly    INTEGER   NOT NULL,   -- 0 or 1
  model_version INTEGER   NOT NULL,
  scored_at     TIMESTAMP NOT NULL,
  PRIMARY KEY (asset, window_end)
);

-- Streaming state of the Gold aggregation: Silver rows whose window has not closed yet.
CREATE TABLE IF NOT EXISTS gold_state (
  asset        VARCHAR   NOT NULL,
  symbol       VARCHAR,
  window_start TIMESTAMP NOT NULL,
  event_ts     TIMESTAMP NOT NULL,
  price        DOUBLE    NOT NULL,
  volume       DOUBLE,
  source       VARCHAR
);

-- Checkpoint: every landing file the pipeline has processed, one micro-batch each.
CREATE TABLE IF NOT EXISTS pipeline_files (
  file         VARCHAR   PRIMARY KEY,
  batch_no     BIGINT    NOT NULL,
  processed_at TIMESTAMP NOT NULL
);

-- Watermarks: the latest event time each stage has seen (its watermark is this minus its delay).
CREATE TABLE IF NOT EXISTS pipeline_watermarks (
  stage        VARCHAR PRIMARY KEY,   -- silver | gold
  max_event_ts TIMESTAMP NOT NULL
);

-- Per-stage metrics of every micro-batch.
CREATE TABLE IF NOT EXISTS pipeline_metrics (
  batch_no          BIGINT    NOT NULL,
  file              VARCHAR   NOT NULL,
  stage             VARCHAR   NOT NULL,   -- bronze | silver | gold
  rows_in           BIGINT    NOT NULL,
  rows_out          BIGINT    NOT NULL,
  rescued           BIGINT    NOT NULL DEFAULT 0,  -- bronze: malformed lines kept in _rescued
  dropped_missing   BIGINT    NOT NULL DEFAULT 0,  -- silver: a core field missing or not of its type
  dropped_future    BIGINT    NOT NULL DEFAULT 0,  -- silver: event time more than 10 minutes after ingest
  dropped_late      BIGINT    NOT NULL DEFAULT 0,  -- silver/gold: older than the stage's watermark
  dropped_duplicate BIGINT    NOT NULL DEFAULT 0,  -- silver: event_key seen before
  price_warnings    BIGINT    NOT NULL DEFAULT 0,  -- silver, older runs: price <= 0 (now dropped as bounds)
  windows_emitted   BIGINT    NOT NULL DEFAULT 0,  -- gold
  processed_at      TIMESTAMP NOT NULL
);
-- Added after the first release: a data folder made before gets the column (0 for its old rows;
-- DuckDB adds no NOT NULL column, so the inserts always write it).
-- silver: price not finite, <= 0 or >= 1e9 USD, or volume not finite, < 0 or >= 1e13 USD
-- (the ceilings: sql/local/pipeline_batch.sql).
ALTER TABLE pipeline_metrics ADD COLUMN IF NOT EXISTS dropped_bounds BIGINT DEFAULT 0;

-- Runs of the scheduled jobs (ingest, pipeline, ...), for status.
CREATE TABLE IF NOT EXISTS job_runs (
  job         VARCHAR   NOT NULL,
  started_at  TIMESTAMP NOT NULL,
  finished_at TIMESTAMP NOT NULL,
  result      VARCHAR   NOT NULL,   -- succeeded | failed
  summary     VARCHAR   NOT NULL,   -- one line for people
  detail      JSON
);

-- Small state of the market sources (simulator position, replay progress, resolved auto source).
CREATE TABLE IF NOT EXISTS kv_state (
  key        VARCHAR PRIMARY KEY,
  value      JSON      NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

-- Ground truth of the simulator: the events it injected, to score detection against.
CREATE TABLE IF NOT EXISTS sim_events (
  asset     VARCHAR   NOT NULL,
  kind      VARCHAR   NOT NULL,
  start_ts  TIMESTAMP NOT NULL,
  end_ts    TIMESTAMP NOT NULL,
  magnitude DOUBLE    NOT NULL,
  PRIMARY KEY (asset, start_ts, kind)
);

-- Model registry: every trained version, and aliases (champion) pointing at versions.
CREATE TABLE IF NOT EXISTS model_versions (
  version     INTEGER   PRIMARY KEY,
  created_at  TIMESTAMP NOT NULL,
  feature_set VARCHAR   NOT NULL,   -- seed | default
  params      JSON      NOT NULL,   -- trees, max_samples, contamination, seed
  training    JSON      NOT NULL,   -- period, rows, holdout rows, assets
  metrics     JSON      NOT NULL,   -- train and holdout score mean/std, flagged shares
  model       JSON      NOT NULL    -- the serialised forest
);

CREATE TABLE IF NOT EXISTS model_aliases (
  alias      VARCHAR   PRIMARY KEY,
  version    INTEGER   NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

-- Landing files that failed to process (unreadable, or their micro-batch failed in the engine),
-- one row each, written outside the failed transaction. A file is retried on the next runs; after
-- a bounded number of failed runs it moves to the landing folder's _quarantine/ (its reason file
-- then holds this record) and the row goes.
CREATE TABLE IF NOT EXISTS landing_failures (
  file            VARCHAR   PRIMARY KEY,   -- landing path relative to the landing root
  attempts        INTEGER   NOT NULL,      -- runs that failed on it
  last_error      VARCHAR   NOT NULL,
  first_failed_at TIMESTAMP NOT NULL,
  last_failed_at  TIMESTAMP NOT NULL
);
