-- Leaderboard: anomalies per asset in [:since, :until], optionally one asset (:asset = '' for all).
-- Shared by both platforms (DuckDB and Databricks SQL); timestamps are bound as ISO strings.
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
  AND (:asset = '' OR a.asset = :asset)
GROUP BY a.asset
ORDER BY anomalies DESC, mean_score ASC NULLS LAST, a.asset
