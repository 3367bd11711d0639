-- The local pipeline over a group of landing files: Bronze → Silver → Gold, in one transaction
-- together with the checkpoint rows of the files.
--
-- Parameters: :files (landing-relative names, oldest first), :contents (their text, same order),
-- :first_batch_no (batch number of the first file), :load_ts.
--
-- Every file is one micro-batch in the sense of a streaming engine: a stage's watermark for a
-- file is the latest event time seen in earlier files (and earlier runs) minus the stage's delay
-- (Silver 20 min, Gold 2 min), and rows older than it are late. Running files together in one
-- group computes exactly what running them one at a time would: the per-file watermarks are
-- running maxima over the files before. Windows are [start, start + 5 min); a window is emitted
-- once, when the Gold watermark reaches its end, and a row for an emitted window is late.

-- The files' lines (split first, classified in a second step: DuckDB is much faster that way).
CREATE OR REPLACE TEMP TABLE batch_raw AS
WITH f AS (
  SELECT
    string_split(unnest(CAST(:contents AS VARCHAR[])), chr(10)) AS lines,
    generate_subscripts(CAST(:files AS VARCHAR[]), 1) AS file_seq
)
SELECT file_seq, unnest(lines) AS line, generate_subscripts(lines, 1) AS line_no FROM f;

-- The non-empty lines, and whether each is a JSON object.
CREATE OR REPLACE TEMP TABLE batch_lines AS
SELECT
  CAST(:files AS VARCHAR[])[file_seq] AS file,
  file_seq,
  line_no,
  rtrim(line, chr(13)) AS line,
  coalesce(json_type(TRY_CAST(line AS JSON)) = 'OBJECT', false) AS is_object
FROM batch_raw
WHERE line <> '' AND line <> chr(13);

-- Bronze: every line; a malformed one goes to _rescued, never lost.
INSERT INTO prices_bronze
SELECT
  CASE WHEN is_object THEN line END,
  CASE WHEN NOT is_object THEN line END,
  file,
  line_no,
  CAST(:load_ts AS TIMESTAMP)
FROM batch_lines
ORDER BY file_seq, line_no;

-- Silver: typed strictly (a field of the wrong JSON type counts as missing, as a typed schema
-- reads it), then one verdict per row, in order: missing core field, value out of bounds, event
-- from the future, late, duplicate. A JSON number beyond DOUBLE's range types as ±inf and NaN as
-- NaN (both then out of bounds), a time that is ±infinity or outside ISO-8601's four-digit years
-- as missing (at the very start of the engine's range, minus a watermark delay would overflow):
-- typing never fails.
CREATE OR REPLACE TEMP MACRO finite_ts(text) AS
  CASE WHEN TRY_CAST(TRY_CAST(text AS TIMESTAMPTZ) AS TIMESTAMP)
      BETWEEN TIMESTAMP '0001-01-01 00:00:00' AND TIMESTAMP '9999-12-31 23:59:59.999999'
    THEN TRY_CAST(TRY_CAST(text AS TIMESTAMPTZ) AS TIMESTAMP) END;

CREATE OR REPLACE TEMP TABLE batch_typed AS
WITH j AS (
  -- one parse per line: the fields as JSON values, in this order
  SELECT file_seq, line_no, json_extract(line, [
    '$.id', '$.symbol', '$.name', '$.current_price', '$.total_volume', '$.last_updated', '$.ingest_ts',
    '$.ingest_source']) AS v
  FROM batch_lines WHERE is_object
)
SELECT
  file_seq,
  line_no,
  CASE WHEN json_type(v[1]) = 'VARCHAR' THEN nullif(lower(trim(v[1] ->> '$')), '') END AS asset,
  CASE WHEN json_type(v[2]) = 'VARCHAR' THEN v[2] ->> '$' END AS symbol,
  CASE WHEN json_type(v[3]) = 'VARCHAR' THEN v[3] ->> '$' END AS name,
  CASE WHEN json_type(v[4]) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST(v[4] AS DOUBLE) END AS price,
  CASE WHEN json_type(v[5]) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST(v[5] AS DOUBLE) END AS volume,
  CASE WHEN json_type(v[6]) = 'VARCHAR' THEN finite_ts(v[6] ->> '$') END AS event_ts,
  finite_ts(v[7] ->> '$') AS ingest_ts,
  v[8] ->> '$' AS source
FROM j;

CREATE OR REPLACE TEMP TABLE batch_silver AS
WITH checked AS (
  SELECT
    *,
    asset || '|' || strftime(event_ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS event_key,
    CASE
      WHEN asset IS NULL OR price IS NULL OR event_ts IS NULL THEN 'missing'
      -- Bounds. No coin trades at a billion USD (the largest ever is below 1e6) and no coin's daily
      -- volume reaches 1e13 USD (about a hundred times the whole market's): a value past these is a
      -- broken feed, and kept it would overflow the Gold aggregates (one 1e308 makes STDDEV_SAMP
      -- fail for its window, so every later run). NaN fails every comparison, so the NOT catches it.
      WHEN NOT (isfinite(price) AND price > 0 AND price < 1e9)
        OR (volume IS NOT NULL AND NOT (isfinite(volume) AND volume >= 0 AND volume < 1e13)) THEN 'bounds'
      -- Future: later than 10 minutes after the time it is loaded, or after the ingest time it
      -- claims: a record cannot push the watermark ahead of the loading clock, whatever it claims.
      WHEN event_ts > least(coalesce(ingest_ts, CAST(:load_ts AS TIMESTAMP)), CAST(:load_ts AS TIMESTAMP))
        + INTERVAL 10 MINUTE THEN 'future'
    END AS invalid
  FROM batch_typed
),
file_max AS (
  SELECT file_seq, max(event_ts) FILTER (WHERE invalid IS NULL) AS max_ts FROM checked GROUP BY file_seq
),
file_wm AS (
  SELECT
    file_seq,
    greatest(
      (SELECT max_event_ts FROM pipeline_watermarks WHERE stage = 'silver'),
      max(max_ts) OVER (ORDER BY file_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ) - INTERVAL 20 MINUTE AS silver_wm
  FROM file_max
),
ranked AS (
  SELECT
    c.*,
    w.silver_wm,
    row_number() OVER (PARTITION BY c.event_key, c.invalid IS NULL ORDER BY c.file_seq, c.line_no) AS rn
  FROM checked AS c JOIN file_wm AS w USING (file_seq)
),
seen AS (
  SELECT event_key FROM prices_silver
  WHERE event_ts BETWEEN (SELECT min(event_ts) FROM checked) AND (SELECT max(event_ts) FROM checked)
)
SELECT
  * EXCLUDE (invalid, rn),
  CASE
    WHEN invalid IS NOT NULL THEN invalid
    WHEN event_ts < silver_wm THEN 'late'
    WHEN rn > 1 OR event_key IN (SELECT event_key FROM seen) THEN 'duplicate'
    ELSE 'ok'
  END AS verdict
FROM ranked;

INSERT INTO prices_silver
SELECT asset, symbol, name, price, volume, event_ts, ingest_ts, CAST(:load_ts AS TIMESTAMP), event_key, source
FROM batch_silver
WHERE verdict = 'ok'
ORDER BY event_ts, asset;

-- Gold watermarks per file: before it (decides what is late) and after it (decides what closes).
CREATE OR REPLACE TEMP TABLE batch_gold_wm AS
WITH files AS (
  SELECT DISTINCT file_seq FROM batch_lines
),
ok_max AS (
  SELECT f.file_seq, max(s.event_ts) AS max_ts
  FROM files AS f LEFT JOIN batch_silver AS s ON s.file_seq = f.file_seq AND s.verdict = 'ok'
  GROUP BY f.file_seq
),
prior AS (
  SELECT max_event_ts FROM pipeline_watermarks WHERE stage = 'gold'
)
SELECT
  file_seq,
  greatest((SELECT max_event_ts FROM prior),
    max(max_ts) OVER (ORDER BY file_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) - INTERVAL 2 MINUTE AS wm_before,
  greatest((SELECT max_event_ts FROM prior),
    max(max_ts) OVER (ORDER BY file_seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) - INTERVAL 2 MINUTE AS wm_after
FROM ok_max;

-- Silver's rows for Gold, and which are late: older than the Gold watermark, or for a window
-- already emitted. Gold is append-only (its windows have been scored and posted), so an emitted
-- window is never emitted again. Only after the Gold watermark was rewound
-- (src/platform/local/watermarks.ts) can the second test find a row the first did not.
CREATE OR REPLACE TEMP TABLE batch_gold_in AS
SELECT
  s.file_seq, s.asset, s.symbol, time_bucket(INTERVAL 5 MINUTE, s.event_ts) AS window_start, s.event_ts,
  s.price, s.volume, s.source,
  coalesce(s.event_ts < w.wm_before, false) OR EXISTS (
    SELECT 1 FROM metrics_gold AS m
    WHERE m.asset = s.asset AND m.window_start = time_bucket(INTERVAL 5 MINUTE, s.event_ts)
  ) AS late
FROM batch_silver AS s JOIN batch_gold_wm AS w USING (file_seq)
WHERE s.verdict = 'ok';

INSERT INTO gold_state
SELECT asset, symbol, window_start, event_ts, price, volume, source FROM batch_gold_in WHERE NOT late;

-- The windows that close in this group, each with the file whose watermark closed it.
CREATE OR REPLACE TEMP TABLE batch_closed AS
SELECT
  k.asset,
  k.window_start,
  (SELECT min(w.file_seq) FROM batch_gold_wm AS w WHERE w.wm_after >= k.window_start + INTERVAL 5 MINUTE) AS file_seq
FROM (SELECT DISTINCT asset, window_start FROM gold_state) AS k
WHERE k.window_start + INTERVAL 5 MINUTE <= (SELECT max(wm_after) FROM batch_gold_wm);

-- Aggregates run over each window's values in event-time order, so the result does not depend on
-- the order rows reached the state (floating-point sums would otherwise differ in the last bits).
INSERT INTO metrics_gold
WITH closed AS (
  SELECT
    g.asset,
    g.window_start,
    arg_max(g.symbol, g.event_ts) AS symbol,
    list(g.price ORDER BY g.event_ts) AS prices,
    list(g.volume ORDER BY g.event_ts) AS volumes,
    count(*) AS ticks,
    string_agg(DISTINCT g.source, ',' ORDER BY g.source) AS source
  FROM gold_state AS g SEMI JOIN batch_closed AS c USING (asset, window_start)
  GROUP BY g.asset, g.window_start
)
SELECT
  asset,
  symbol,
  window_start,
  window_start + INTERVAL 5 MINUTE,
  list_avg(prices),
  list_stddev_samp(prices),
  list_min(prices),
  list_max(prices),
  list_sum(volumes),
  CASE WHEN list_min(prices) > 0 THEN list_max(prices) / list_min(prices) - 1 END,
  ticks,
  source,
  CAST(:load_ts AS TIMESTAMP)
FROM closed
ORDER BY window_start, asset;

DELETE FROM gold_state AS g USING batch_closed AS c
WHERE g.asset = c.asset AND g.window_start = c.window_start;

-- Per-file metrics of the three stages.
INSERT INTO pipeline_metrics
  (batch_no, file, stage, rows_in, rows_out, rescued, dropped_missing, dropped_bounds, dropped_future,
   dropped_late, dropped_duplicate, price_warnings, windows_emitted, processed_at)
WITH files AS (
  SELECT unnest(CAST(:files AS VARCHAR[])) AS file, generate_subscripts(CAST(:files AS VARCHAR[]), 1) AS file_seq
),
bronze AS (
  SELECT file_seq, count(*) AS lines, count(*) FILTER (WHERE is_object) AS objects,
    count(*) FILTER (WHERE NOT is_object) AS rescued
  FROM batch_lines GROUP BY file_seq
),
silver AS (
  SELECT s.file_seq,
    count(*) AS rows_in,
    count(*) FILTER (WHERE verdict = 'ok') AS ok,
    count(*) FILTER (WHERE verdict = 'missing') AS missing,
    count(*) FILTER (WHERE verdict = 'bounds') AS bounds,
    count(*) FILTER (WHERE verdict = 'future') AS future,
    count(*) FILTER (WHERE verdict = 'late') AS late,
    count(*) FILTER (WHERE verdict = 'duplicate') AS duplicate,
    (SELECT count(*) FROM batch_gold_in AS g WHERE g.file_seq = s.file_seq AND g.late) AS gold_late
  FROM batch_silver AS s
  GROUP BY s.file_seq
),
closed AS (
  SELECT file_seq, count(*) AS windows FROM batch_closed GROUP BY file_seq
),
m AS (
  SELECT f.file_seq, f.file,
    coalesce(b.lines, 0) AS lines, coalesce(b.objects, 0) AS objects, coalesce(b.rescued, 0) AS rescued,
    coalesce(s.rows_in, 0) AS rows_in, coalesce(s.ok, 0) AS ok, coalesce(s.missing, 0) AS missing,
    coalesce(s.bounds, 0) AS bounds,
    coalesce(s.future, 0) AS future, coalesce(s.late, 0) AS late, coalesce(s.duplicate, 0) AS duplicate,
    coalesce(s.gold_late, 0) AS gold_late, coalesce(c.windows, 0) AS windows
  FROM files AS f
  LEFT JOIN bronze AS b USING (file_seq)
  LEFT JOIN silver AS s USING (file_seq)
  LEFT JOIN closed AS c USING (file_seq)
)
SELECT :first_batch_no + file_seq - 1, file, stage, rows_in, rows_out, rescued, dropped_missing, dropped_bounds,
  dropped_future, dropped_late, dropped_duplicate, price_warnings, windows_emitted, CAST(:load_ts AS TIMESTAMP)
FROM (
  SELECT file_seq, file, 'bronze' AS stage, lines AS rows_in, objects AS rows_out, rescued,
    0 AS dropped_missing, 0 AS dropped_bounds, 0 AS dropped_future, 0 AS dropped_late, 0 AS dropped_duplicate,
    0 AS price_warnings, 0 AS windows_emitted FROM m
  UNION ALL
  -- price_warnings stays 0: a price <= 0, once a warning, is out of bounds now (the column is kept
  -- for the rows of older runs)
  SELECT file_seq, file, 'silver', rows_in, ok, 0, missing, bounds, future, late, duplicate, 0, 0 FROM m
  UNION ALL
  SELECT file_seq, file, 'gold', ok, ok - gold_late, 0, 0, 0, 0, gold_late, 0, 0, windows FROM m
)
ORDER BY file_seq, stage;

-- Watermarks advance: Silver from every well-formed row, Gold from the rows Silver kept.
INSERT OR REPLACE INTO pipeline_watermarks
SELECT stage, max_ts FROM (
  SELECT 'silver' AS stage, greatest(
    (SELECT max_event_ts FROM pipeline_watermarks WHERE stage = 'silver'),
    (SELECT max(event_ts) FROM batch_silver WHERE verdict IN ('ok', 'late', 'duplicate'))) AS max_ts
  UNION ALL
  SELECT 'gold', (SELECT max(wm_after) FROM batch_gold_wm) + INTERVAL 2 MINUTE
)
WHERE max_ts IS NOT NULL;

-- Checkpoint: these files are done.
INSERT INTO pipeline_files
SELECT file, :first_batch_no + file_seq - 1, CAST(:load_ts AS TIMESTAMP)
FROM (SELECT unnest(CAST(:files AS VARCHAR[])) AS file, generate_subscripts(CAST(:files AS VARCHAR[]), 1) AS file_seq);

-- The batch's temporary tables go with the transaction: kept, they would hold the files' text and
-- every stage's rows in memory until the next run replaces them (tens of MB after a backfill).
DROP TABLE IF EXISTS batch_raw;
DROP TABLE IF EXISTS batch_lines;
DROP TABLE IF EXISTS batch_typed;
DROP TABLE IF EXISTS batch_silver;
DROP TABLE IF EXISTS batch_gold_wm;
DROP TABLE IF EXISTS batch_gold_in;
DROP TABLE IF EXISTS batch_closed;
