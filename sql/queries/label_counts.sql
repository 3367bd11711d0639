-- The channel's labels (👍 Real / 👎 Noise) of windows of these assets that ended in
-- [:since, :until]: one row per person and window (the `labels` table keeps a person's latest
-- label of a window). :assets is the assets joined by commas (asset ids have none). The caller
-- keeps the message's own windows and counts each person once, with their latest label
-- (src/platform/labels.ts). Runs on DuckDB and on Databricks SQL in ANSI mode.
SELECT l.asset, l.window_end, l.user AS labeller, l.label, l.labelled_at
FROM labels AS l
WHERE position(concat(',', l.asset, ',') IN concat(',', :assets, ',')) > 0
  AND l.window_end >= CAST(:since AS TIMESTAMP)
  AND l.window_end <= CAST(:until AS TIMESTAMP)
ORDER BY l.asset, l.window_end, labeller
