-- Unity Catalog objects of crypto-risk-monitor on Databricks: the schema, the landing volume the
-- ingest writes JSONL batches into, and the anomalies table inference MERGEs into. Idempotent: every
-- object is made by CREATE ... IF NOT EXISTS, so running it again changes nothing.
--
-- Parameters: :catalog, :schema, :volume (default workspace, crypto, landing: DATABRICKS_CATALOG,
-- DATABRICKS_SCHEMA, DATABRICKS_VOLUME), named parameter markers bound as STRING values
-- (https://docs.databricks.com/sql/language-manual/sql-ref-parameter-marker.html). Whoever runs this
-- file checks each against the strict pattern ^[a-z_][a-z0-9_]{0,63}$ first, and runs it statement by
-- statement: a statement ends with a semicolon at the end of a line, and no other semicolon appears
-- in this file.
--
-- Names from parameters. The IDENTIFIER clause (Databricks SQL, Runtime 13.3 LTS and above) keeps
-- the values out of the SQL text, but its reference limits it to "the table, view, or function subject
-- name of a CREATE, ALTER, DROP, or UNDROP statement", MERGE/UPDATE/DELETE/INSERT/COPY INTO targets,
-- SHOW/DESCRIBE targets, USE of a schema or catalog, function invocations and names in queries
-- (https://docs.databricks.com/sql/language-manual/sql-ref-names-identifier-clause.html, where only Runtime
-- 18.0 and above allow it for any object name, which a SQL warehouse does not promise). Neither
-- CREATE SCHEMA (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-create-schema.html)
-- nor CREATE VOLUME (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-create-volume.html)
-- is covered: their subject is a plain schema_name / volume_name. So those two statements are built in
-- a session variable and run with EXECUTE IMMEDIATE, which that page names for "where the IDENTIFIER
-- clause is not supported" (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-aux-execute-immediate.html,
-- a literal or a variable as the statement, and DECLARE VARIABLE / SET VARIABLE, Databricks SQL and
-- Runtime 14.1 and above:
-- https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-declare-variable.html). The
-- variable lives in the session, so the statements run in one session (as the SQL editor and the
-- bot's warehouse client do). Each name is a delimited identifier (backticks, any backtick doubled),
-- so a value cannot become SQL even without the pattern check, and chr(39) supplies the quotes of the COMMENT
-- literal so no quote is nested inside another literal. The anomalies table keeps IDENTIFIER: a table
-- subject name of CREATE is covered.
--
-- The catalog is not created: the default catalog `workspace` exists, and Free Edition may forbid
-- CREATE CATALOG. With another catalog, create it first (CREATE CATALOG IF NOT EXISTS with a managed
-- location, as the workspace allows).
--
-- The pipeline's tables (prices_bronze, prices_silver, metrics_gold) are created and owned by the
-- Lakeflow Declarative Pipeline (databricks/notebooks/02_dlt_pipeline.py) in the same schema.

DECLARE OR REPLACE VARIABLE crm_setup_ddl STRING;

SET VARIABLE crm_setup_ddl = 'CREATE SCHEMA IF NOT EXISTS '
  || '`' || replace(:catalog, '`', '``') || '`.`' || replace(:schema, '`', '``') || '`'
  || ' COMMENT ' || chr(39)
  || 'crypto-risk-monitor: CoinGecko prices, Bronze/Silver/Gold, anomaly scores and the IsolationForest model'
  || chr(39);

EXECUTE IMMEDIATE crm_setup_ddl;

SET VARIABLE crm_setup_ddl = 'CREATE VOLUME IF NOT EXISTS '
  || '`' || replace(:catalog, '`', '``') || '`.`' || replace(:schema, '`', '``') || '`.`'
  || replace(:volume, '`', '``') || '`'
  || ' COMMENT ' || chr(39)
  || 'Landing JSONL batches: landing/date=YYYY-MM-DD/hour=HH/<batch>.jsonl, one file per ingest batch'
  || chr(39);

EXECUTE IMMEDIATE crm_setup_ddl;

-- The DESIGN.md contract of anomalies (the same columns as the local lakehouse's sql/local/migrations
-- and ANOMALIES_COLUMNS in databricks/lib/crypto_risk/scoring.py, from which step 1 of
-- databricks/lib/crypto_risk/migrations.py creates it when missing).
-- One row per (asset, window_end): inference MERGEs on that key, from a deduplicated source.
CREATE TABLE IF NOT EXISTS IDENTIFIER(:catalog || '.' || :schema || '.anomalies') (
  asset STRING NOT NULL COMMENT 'CoinGecko id, lower case',
  symbol STRING COMMENT 'ticker symbol',
  window_end TIMESTAMP NOT NULL COMMENT 'end of the 5-minute Gold window (exclusive), UTC',
  price_avg DOUBLE COMMENT 'mean price in the window (USD)',
  price_vol DOUBLE COMMENT 'sample standard deviation of the price in the window',
  ret_window DOUBLE COMMENT 'price_max / price_min - 1 in the window',
  vol_sum DOUBLE COMMENT 'summed volume of the window (USD)',
  ret_prev DOUBLE COMMENT 'price_avg / previous window price_avg - 1',
  anomaly_score DOUBLE NOT NULL COMMENT 'IsolationForest decision_function: below 0 is anomalous',
  is_anomaly INT NOT NULL COMMENT '1 when the window alerts: anomaly_score < 0, or a return or range at 12x usual or more',
  model_version INT NOT NULL COMMENT 'Unity Catalog model version that scored the window',
  scored_at TIMESTAMP NOT NULL COMMENT 'when inference scored the window',
  reasons STRING COMMENT 'why the window is unusual: JSON array of reasons, most telling first',
  data_issue STRING COMMENT 'gap or frozen: a data problem next to the window, not a market anomaly',
  CONSTRAINT anomalies_pk PRIMARY KEY (asset, window_end)
)
USING DELTA
COMMENT 'IsolationForest scores of Gold windows, MERGEd on (asset, window_end) by 04_infer_iforest';
