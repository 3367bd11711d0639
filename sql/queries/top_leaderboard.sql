-- Leaderboard: anomalies per asset in [:since, :until], optionally one asset (:asset NULL for all).
-- Shared by both platforms (DuckDB and Databricks SQL) and valid under ANSI mode
-- (https://docs.databricks.com/sql/language-manual/parameters/ansi_mode.html): Databricks binds
-- :since/:until as TIMESTAMP parameter markers (the CAST is then a no-op), DuckDB as ISO-8601
-- strings; "all assets" is a NULL :asset, not a string sentinel.
SELECT
  a.asset,
  max_by(a.symbol, a.window_end) AS symbol,
  count(*) FILTER (WHERE a.is_anomaly = 1) AS anomalies,
  count(*) AS windows_scored,
  avg(a.anomaly_score) FILTER (WHERE a.is_anomaly = 1) AS mean_score,
  max(a.window_end) FILTER (WHERE a.is_anomaly = 1) AS last_event,
  bool_or(coalesce(g.source, '') LIKE '%simulator%') AS simulated
FROM anomalies AS a
LEFT JOIN metrics_gold AS g ON g.asset = a.asset AND g.window_end = a.window_end
WHERE a.window_end >= CAST(:since AS TIMESTAMP)
  AND a.window_end <= CAST(:until AS TIMESTAMP)
  AND (:asset IS NULL OR a.asset = :asset)
GROUP BY a.asset
ORDER BY anomalies DESC, mean_score ASC NULLS LAST, a.asset
