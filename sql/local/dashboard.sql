-- Dashboard queries of crypto-risk-monitor on the local DuckDB: the five of sql/dashboard.sql
-- (Databricks SQL) by the same `-- name:` and with the same columns (the price panel's also has the
-- markers' reasons, for their tooltips), for the console's Dashboard view (src/domain/dashboard.ts
-- describes the panels). Queries are separated by a semicolon at the
-- end of a line, each preceded by a `-- name:` line, and no other semicolon appears in this file.
--
-- Parameters, always bound: :asset (a CoinGecko id), :hours (a whole number of hours, try_cast
-- makes anything else NULL, which selects no windows) and :now (an ISO-8601 UTC instant from the
-- product's clock, not DuckDB's current_timestamp: the simulator's accelerated clock and the tests'
-- fixed clocks run apart from the wall clock). Every query is given all three and uses those it names.
--
-- Time zones: TIMESTAMP columns hold UTC instants and the connection's TimeZone is UTC
-- (src/platform/local/db.ts), so date_trunc and strftime give UTC hours, and times as text say UTC.
-- Rates divide by nullif(count, 0): an asset or hour without scored windows gives NULL, not an error.
-- A window counts in the hour it starts (window_end - 5 minutes), as on Databricks.

-- name: recent_anomalies
-- The latest anomalous windows (7 days), newest first, with the model that flagged them and why
-- (reasons: the JSON list of src/model/reasons.ts, NULL for windows scored before it was kept).
SELECT
  a.asset,
  a.symbol,
  a.window_end,
  strftime(a.window_end, '%Y-%m-%d %H:%M') || ' UTC' AS window_end_utc,
  a.price_avg,
  a.ret_prev,
  a.ret_window,
  a.vol_sum,
  a.anomaly_score,
  a.reasons,
  a.data_issue,
  a.model_version,
  a.scored_at
FROM anomalies AS a
WHERE a.is_anomaly = 1
  AND a.window_end > CAST(:now AS TIMESTAMP) - INTERVAL 7 DAYS
ORDER BY a.window_end DESC, a.anomaly_score ASC, a.asset
LIMIT 200;

-- name: price_with_anomaly_markers
-- One asset's price over the last :hours hours from Gold (every window, scored or not), with the
-- anomalous windows as a second series for markers and their reasons for the markers' tooltips.
SELECT
  g.window_end,
  g.price_avg,
  g.price_min,
  g.price_max,
  g.ticks,
  coalesce(a.is_anomaly, 0) AS is_anomaly,
  CASE WHEN a.is_anomaly = 1 THEN g.price_avg END AS anomaly_marker,
  CASE WHEN a.is_anomaly = 1 THEN a.reasons END AS reasons,
  a.anomaly_score,
  a.model_version
FROM metrics_gold AS g
LEFT JOIN anomalies AS a ON a.asset = g.asset AND a.window_end = g.window_end
WHERE g.asset = :asset
  AND g.window_end > CAST(:now AS TIMESTAMP) - to_hours(try_cast(:hours AS INTEGER))
ORDER BY g.window_end;

-- name: leaderboard_24h
-- Anomalies per asset over the last 24 hours, ranked by the share of scored windows flagged.
SELECT
  a.asset,
  max_by(a.symbol, a.window_end) AS symbol,
  count_if(a.is_anomaly = 1) AS anomalies,
  count(*) AS windows_scored,
  count_if(a.is_anomaly = 1) / nullif(count(*), 0) AS anomaly_rate,
  min(a.anomaly_score) AS worst_score,
  min_by(a.window_end, a.anomaly_score) AS worst_window_end,
  max(CASE WHEN a.is_anomaly = 1 THEN a.window_end END) AS last_anomaly
FROM anomalies AS a
WHERE a.window_end > CAST(:now AS TIMESTAMP) - INTERVAL 24 HOURS
GROUP BY a.asset
ORDER BY anomaly_rate DESC NULLS LAST, anomalies DESC, a.asset;

-- name: anomaly_rate
-- Share of windows flagged per asset and UTC hour over the last :hours hours. `complete` is false
-- for hours with fewer than their 12 windows (the current hour, a feed gap).
SELECT
  a.asset,
  date_trunc('hour', a.window_end - INTERVAL 5 MINUTES) AS hour_start,
  strftime(date_trunc('hour', a.window_end - INTERVAL 5 MINUTES), '%Y-%m-%d %H:00') || ' UTC' AS hour_start_utc,
  count(*) AS windows_scored,
  count_if(a.is_anomaly = 1) AS anomalies,
  count_if(a.is_anomaly = 1) / nullif(count(*), 0) AS anomaly_rate,
  count(*) = 12 AS complete
FROM anomalies AS a
WHERE a.window_end > CAST(:now AS TIMESTAMP) - to_hours(try_cast(:hours AS INTEGER))
GROUP BY ALL
ORDER BY hour_start, a.asset;

-- name: score_distribution
-- Histogram of anomaly scores over the last :hours hours per model version: bins of 0.02 with an
-- edge at 0, so the forest's flags (score < 0) never share a bin with the rest.
SELECT
  a.model_version,
  round(floor(a.anomaly_score / 0.02) * 0.02, 2) AS score_bin,
  count(*) AS windows,
  count_if(a.is_anomaly = 1) AS flagged
FROM anomalies AS a
WHERE a.window_end > CAST(:now AS TIMESTAMP) - to_hours(try_cast(:hours AS INTEGER))
GROUP BY ALL
ORDER BY a.model_version, score_bin;
