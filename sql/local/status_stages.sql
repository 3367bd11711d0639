-- Row counts, freshness and counters of every stage of the local lakehouse.
WITH m AS (
  SELECT
    stage,
    sum(rows_in) AS rows_in, sum(rows_out) AS rows_out, sum(rescued) AS rescued,
    sum(dropped_missing) AS dropped_missing, sum(dropped_bounds) AS dropped_bounds, sum(dropped_future) AS dropped_future,
    sum(dropped_late) AS dropped_late, sum(dropped_duplicate) AS dropped_duplicate,
    sum(price_warnings) AS price_warnings, sum(windows_emitted) AS windows_emitted
  FROM pipeline_metrics GROUP BY stage
)
SELECT 'bronze' AS stage, (SELECT count(*) FROM prices_bronze) AS rows,
  (SELECT max(load_ts) FROM prices_bronze) AS latest,
  (SELECT rescued FROM m WHERE stage = 'bronze') AS rescued,
  NULL AS dropped_missing, NULL AS dropped_bounds, NULL AS dropped_future, NULL AS dropped_late, NULL AS dropped_duplicate,
  NULL AS price_warnings, NULL AS open_windows
UNION ALL
SELECT 'silver', (SELECT count(*) FROM prices_silver), (SELECT max(event_ts) FROM prices_silver),
  NULL, (SELECT dropped_missing FROM m WHERE stage = 'silver'), (SELECT dropped_bounds FROM m WHERE stage = 'silver'),
  (SELECT dropped_future FROM m WHERE stage = 'silver'),
  (SELECT dropped_late FROM m WHERE stage = 'silver'), (SELECT dropped_duplicate FROM m WHERE stage = 'silver'),
  (SELECT price_warnings FROM m WHERE stage = 'silver'), NULL
UNION ALL
SELECT 'gold', (SELECT count(*) FROM metrics_gold), (SELECT max(window_end) FROM metrics_gold),
  NULL, NULL, NULL, NULL, (SELECT dropped_late FROM m WHERE stage = 'gold'), NULL, NULL,
  (SELECT count(DISTINCT (asset, window_start)) FROM gold_state)
UNION ALL
SELECT 'anomalies', (SELECT count(*) FROM anomalies), (SELECT max(window_end) FROM anomalies),
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
