-- Anomalous windows that ended after :since (status shows the last 24 h).
SELECT count(*) AS n FROM anomalies WHERE is_anomaly = 1 AND window_end > CAST(:since AS TIMESTAMP)
