-- Dashboard queries of crypto-risk-monitor on Databricks SQL: the original project's five
-- (recent anomalies, price with anomaly markers, 24-hour leaderboard, anomaly rate, score
-- distribution), each a dataset of an AI/BI dashboard or a query of the SQL editor.
--
-- Parameters: :catalog and :schema (default workspace, crypto) are named parameter markers bound as
-- string values and turned into table names by the IDENTIFIER clause, never pasted into the text, and
-- whoever runs the file checks them against ^[a-z_][a-z0-9_]{0,63}$ first. Some queries take
-- :asset (a CoinGecko id) or :hours (a whole number of hours, e.g. 24 or 168). Queries are separated
-- by a semicolon at the end of a line, each preceded by a `-- name:` line, and no other semicolon
-- appears in this file.
--
-- What is corrected compared with a straightforward version of these queries (the original's weak
-- points listed in DESIGN.md, and the usual dashboard traps):
-- * time zones: TIMESTAMP values are instants, but date_trunc, date_format and CAST to a date use
--   the session time zone of the warehouse (or of whoever opens the dashboard). Periods here are
--   intervals back from current_timestamp(), hour buckets are computed from unix_seconds (UTC
--   boundaries whatever the session), and times are also given as text with an explicit UTC.
-- * ANSI mode: Databricks SQL runs with ANSI_MODE true
--   (https://docs.databricks.com/sql/language-manual/parameters/ansi_mode.html), where a cast of a
--   malformed string raises CAST_INVALID_INPUT (https://docs.databricks.com/sql/language-manual/functions/cast.html)
--   and Spark folds constant casts while planning, so even an unused one fails the query. :hours comes
--   from a dashboard widget and may be text that is not a number: it goes through try_cast
--   (https://docs.databricks.com/sql/language-manual/functions/try_cast.html), a no-op when the widget
--   is typed as a number, and NULL otherwise, which selects no windows: an empty panel, not an error.
-- * division by zero: rates use try_divide, so an asset or hour without scored windows gives NULL
--   instead of an error.
-- * windows of different lengths: a bucket or a day can hold fewer 5-minute windows (a stalled
--   feed, the current hour, an asset added later), so counts of anomalies are shown with the number of
--   windows they come from, and leaderboards rank by the rate, not by the raw count. A window counts
--   in the hour it starts (window_end - 5 minutes), not the hour it ends.
-- * scores of different model versions: each version has its own offset (decision_function =
--   score_samples - offset), so their scores are not on one scale: the distribution is per version.

-- name: recent_anomalies
-- The latest anomalous windows (7 days), newest first, with the model that flagged them and why
-- (reasons: the JSON list of src/model/reasons.ts, NULL for windows scored before it was kept).
SELECT
  a.asset,
  a.symbol,
  a.window_end,
  concat(date_format(to_utc_timestamp(a.window_end, current_timezone()), 'yyyy-MM-dd HH:mm'), ' UTC') AS window_end_utc,
  a.price_avg,
  a.ret_prev,
  a.ret_window,
  a.vol_sum,
  a.anomaly_score,
  a.reasons,
  a.data_issue,
  a.model_version,
  a.scored_at
FROM IDENTIFIER(:catalog || '.' || :schema || '.anomalies') AS a
WHERE a.is_anomaly = 1
  AND a.window_end > current_timestamp() - INTERVAL 7 DAYS
ORDER BY a.window_end DESC, a.anomaly_score ASC, a.asset
LIMIT 200;

-- name: price_with_anomaly_markers
-- One asset's price over the last :hours hours from Gold (every window, scored or not), with the
-- anomalous windows as a second series for markers and their reasons (the markers' tooltips, NULL
-- for windows scored before reasons were kept). Driving from Gold keeps the line continuous
-- where inference has not run yet. ticks shows thin windows (a feed that slowed down).
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
FROM IDENTIFIER(:catalog || '.' || :schema || '.metrics_gold') AS g
LEFT JOIN IDENTIFIER(:catalog || '.' || :schema || '.anomalies') AS a
  ON a.asset = g.asset AND a.window_end = g.window_end
WHERE g.asset = :asset
  AND g.window_end > current_timestamp() - make_interval(0, 0, 0, 0, try_cast(:hours AS INT), 0, 0)
ORDER BY g.window_end;

-- name: leaderboard_24h
-- Anomalies per asset over the last 24 hours (an interval back from now, not since midnight in some
-- time zone), ranked by the share of scored windows flagged: assets with fewer windows (a stalled
-- feed, a new asset) are not ranked low just for having fewer.
SELECT
  a.asset,
  max_by(a.symbol, a.window_end) AS symbol,
  count_if(a.is_anomaly = 1) AS anomalies,
  count(*) AS windows_scored,
  try_divide(count_if(a.is_anomaly = 1), count(*)) AS anomaly_rate,
  min(a.anomaly_score) AS worst_score,
  min_by(a.window_end, a.anomaly_score) AS worst_window_end,
  max(CASE WHEN a.is_anomaly = 1 THEN a.window_end END) AS last_anomaly
FROM IDENTIFIER(:catalog || '.' || :schema || '.anomalies') AS a
WHERE a.window_end > current_timestamp() - INTERVAL 24 HOURS
GROUP BY a.asset
ORDER BY anomaly_rate DESC NULLS LAST, anomalies DESC, a.asset;

-- name: anomaly_rate
-- Share of windows flagged per asset and UTC hour over the last :hours hours. An hour holds 12
-- windows of an asset, and `complete` is false for the current hour and for hours with a feed gap, whose
-- rate rests on fewer windows.
SELECT
  a.asset,
  timestamp_seconds(floor(unix_seconds(a.window_end - INTERVAL 5 MINUTES) / 3600) * 3600) AS hour_start,
  concat(date_format(to_utc_timestamp(
    timestamp_seconds(floor(unix_seconds(a.window_end - INTERVAL 5 MINUTES) / 3600) * 3600), current_timezone()),
    'yyyy-MM-dd HH:00'), ' UTC') AS hour_start_utc,
  count(*) AS windows_scored,
  count_if(a.is_anomaly = 1) AS anomalies,
  try_divide(count_if(a.is_anomaly = 1), count(*)) AS anomaly_rate,
  count(*) = 12 AS complete
FROM IDENTIFIER(:catalog || '.' || :schema || '.anomalies') AS a
WHERE a.window_end > current_timestamp() - make_interval(0, 0, 0, 0, try_cast(:hours AS INT), 0, 0)
GROUP BY ALL
ORDER BY hour_start, a.asset;

-- name: score_distribution
-- Histogram of anomaly scores (decision_function) over the last :hours hours, per model version:
-- bins of 0.02 with an edge at 0, so the forest's flags (score < 0) never share a bin with the rest.
-- `flagged` at scores from 0 up counts the windows that alerted on a price move (src/model/reasons.ts).
SELECT
  a.model_version,
  floor(a.anomaly_score / 0.02) * 0.02 AS score_bin,
  count(*) AS windows,
  count_if(a.is_anomaly = 1) AS flagged
FROM IDENTIFIER(:catalog || '.' || :schema || '.anomalies') AS a
WHERE a.window_end > current_timestamp() - make_interval(0, 0, 0, 0, try_cast(:hours AS INT), 0, 0)
GROUP BY ALL
ORDER BY a.model_version, score_bin;
