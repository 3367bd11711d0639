-- Windows scored after :cursor (scored_at; '' for all), oldest first: what the anomaly feed reads.
SELECT
  a.asset,
  a.symbol,
  a.window_end,
  a.price_avg,
  a.ret_window,
  a.anomaly_score,
  a.is_anomaly = 1 AS is_anomaly,
  a.model_version,
  a.scored_at,
  coalesce(g.source, '') LIKE '%simulator%' AS simulated
FROM anomalies AS a
LEFT JOIN metrics_gold AS g ON g.asset = a.asset AND g.window_end = a.window_end
WHERE :cursor = '' OR a.scored_at > CAST(:cursor AS TIMESTAMP)
ORDER BY a.scored_at, a.asset, a.window_end
LIMIT :limit
