-- The staged scores (sql/local/stage_scores.sql) into anomalies: MERGE on (asset, window_end).
-- A window already scored with the same model and score is left alone, so re-running changes
-- nothing; a re-score by another model updates the row in place.
MERGE INTO anomalies AS t
USING staged_scores AS src
ON t.asset = src.asset AND t.window_end = src.window_end
WHEN MATCHED AND (t.model_version <> src.model_version OR t.anomaly_score <> src.anomaly_score
  OR t.is_anomaly <> src.is_anomaly OR t.reasons IS DISTINCT FROM src.reasons
  OR t.data_issue IS DISTINCT FROM src.data_issue) THEN UPDATE SET
    symbol = src.symbol, price_avg = src.price_avg, price_vol = src.price_vol, ret_window = src.ret_window,
    vol_sum = src.vol_sum, ret_prev = src.ret_prev, anomaly_score = src.anomaly_score,
    is_anomaly = src.is_anomaly, model_version = src.model_version, scored_at = src.scored_at,
    reasons = src.reasons, data_issue = src.data_issue
WHEN NOT MATCHED THEN INSERT VALUES (
  src.asset, src.symbol, src.window_end, src.price_avg, src.price_vol, src.ret_window, src.vol_sum,
  src.ret_prev, src.anomaly_score, src.is_anomaly, src.model_version, src.scored_at, src.reasons,
  src.data_issue
)
