-- Step 002: why a scored window is unusual, kept with its score (the same columns as the Delta table:
-- ANOMALIES_COLUMNS in databricks/lib/crypto_risk/scoring.py).
-- reasons:    a JSON array of the window's main reasons, most telling first (src/model/reasons.ts);
--             NULL for windows scored before this step.
-- data_issue: `gap` (windows missing just before it) or `frozen` (its price did not move, or it
--             follows such windows): a data problem, not announced as a market anomaly; else NULL.
ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS reasons VARCHAR;
ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS data_issue VARCHAR;
