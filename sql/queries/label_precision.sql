-- Precision per model version on the windows the channel labelled that are scored (joined to
-- anomalies): windows with a label, and the real and noise labels (one per person per window),
-- newest version first. Runs on DuckDB and on Databricks SQL in ANSI mode.
SELECT w.model_version, count(*) AS windows, sum(w.real_labels) AS real_labels,
  sum(w.noise_labels) AS noise_labels
FROM (
  SELECT l.model_version, l.asset, l.window_end,
    sum(CASE WHEN l.label = 'real' THEN 1 ELSE 0 END) AS real_labels,
    sum(CASE WHEN l.label = 'noise' THEN 1 ELSE 0 END) AS noise_labels
  FROM labels AS l
  JOIN anomalies AS a ON a.asset = l.asset AND a.window_end = l.window_end
  GROUP BY l.model_version, l.asset, l.window_end
) AS w
GROUP BY w.model_version
ORDER BY w.model_version DESC
