-- Scored windows (:rows, a JSON array) into a temporary table, one row per (asset, window_end):
-- the source of the MERGE into anomalies is deduplicated, as Delta requires (DuckDB would update
-- a target row twice where Delta fails).
CREATE OR REPLACE TEMP TABLE staged_scores AS
SELECT
  s.asset, s.symbol, CAST(s.window_end AS TIMESTAMP) AS window_end, s.price_avg, s.price_vol,
  s.ret_window, s.vol_sum, s.ret_prev, s.anomaly_score, s.is_anomaly, s.model_version,
  CAST(s.scored_at AS TIMESTAMP) AS scored_at, s.reasons, s.data_issue
FROM (
  SELECT unnest(from_json(:rows, '[{"asset":"VARCHAR","symbol":"VARCHAR","window_end":"VARCHAR",
    "price_avg":"DOUBLE","price_vol":"DOUBLE","ret_window":"DOUBLE","vol_sum":"DOUBLE","ret_prev":"DOUBLE",
    "anomaly_score":"DOUBLE","is_anomaly":"INTEGER","model_version":"INTEGER","scored_at":"VARCHAR",
    "reasons":"VARCHAR","data_issue":"VARCHAR"}]'),
    recursive := true)
) AS s
QUALIFY row_number() OVER (PARTITION BY s.asset, s.window_end ORDER BY s.scored_at DESC) = 1
