-- Rows and the newest timestamp of each lakehouse table (status on Databricks, when the warehouse runs).
SELECT 'silver' AS stage, count(*) AS rows, max(event_ts) AS latest FROM prices_silver
UNION ALL
SELECT 'gold', count(*), max(window_end) FROM metrics_gold
UNION ALL
SELECT 'anomalies', count(*), max(window_end) FROM anomalies
