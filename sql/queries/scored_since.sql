-- Windows scored after :cursor (a scored_at; NULL for all), oldest first: what the anomaly feed reads.
-- Valid under ANSI mode, which Databricks SQL warehouses run with (ANSI_MODE, default TRUE:
-- https://docs.databricks.com/sql/language-manual/parameters/ansi_mode.html). "No cursor" is a NULL
-- parameter, never a string sentinel: CAST('' AS TIMESTAMP) raises CAST_INVALID_INPUT under ANSI
-- (https://docs.databricks.com/sql/language-manual/functions/cast.html), and Spark folds the constant
-- cast while planning, so `:cursor = '' OR ... CAST(:cursor AS TIMESTAMP)` fails even though the first
-- operand is true. Databricks binds :cursor as a TIMESTAMP parameter marker or NULL
-- (https://docs.databricks.com/sql/language-manual/sql-ref-parameter-marker.html), where the CAST is a
-- no-op; DuckDB (the local platform) gets an ISO-8601 string or NULL, which the CAST types.
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
  coalesce(g.source, '') LIKE '%simulator%' AS simulated,
  a.reasons,
  a.data_issue
FROM anomalies AS a
LEFT JOIN metrics_gold AS g ON g.asset = a.asset AND g.window_end = a.window_end
WHERE :cursor IS NULL OR a.scored_at > CAST(:cursor AS TIMESTAMP)
ORDER BY a.scored_at, a.asset, a.window_end
LIMIT :limit
