-- The :limit most anomalous windows (lowest decision_function first) in [:since, :until], optionally
-- one asset (:asset NULL for all). Typed parameters as in top_leaderboard.sql (valid under ANSI mode).
SELECT
  a.asset,
  a.symbol,
  a.window_end,
  a.price_avg,
  a.ret_window,
  a.anomaly_score,
  a.model_version,
  coalesce(g.source, '') LIKE '%simulator%' AS simulated,
  a.reasons,
  a.data_issue
FROM anomalies AS a
LEFT JOIN metrics_gold AS g ON g.asset = a.asset AND g.window_end = a.window_end
WHERE a.is_anomaly = 1
  AND a.window_end >= CAST(:since AS TIMESTAMP)
  AND a.window_end <= CAST(:until AS TIMESTAMP)
  AND (:asset IS NULL OR a.asset = :asset)
ORDER BY a.anomaly_score ASC, a.window_end DESC, a.asset
LIMIT :limit
