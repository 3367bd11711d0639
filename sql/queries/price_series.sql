-- An asset's Gold window prices in (:since, :until] with the anomaly flags and scores, for charts.
-- :since/:until are TIMESTAMP parameter markers on Databricks (the CAST is a no-op) and ISO-8601
-- strings on DuckDB; never empty, so the CAST is valid under ANSI mode.
SELECT
  g.window_end,
  g.price_avg,
  g.symbol,
  g.source,
  coalesce(a.is_anomaly, 0) = 1 AS is_anomaly,
  a.anomaly_score,
  a.reasons
FROM metrics_gold AS g
LEFT JOIN anomalies AS a ON a.asset = g.asset AND a.window_end = g.window_end
WHERE g.asset = :asset
  AND g.window_end > CAST(:since AS TIMESTAMP)
  AND g.window_end <= CAST(:until AS TIMESTAMP)
ORDER BY g.window_end
