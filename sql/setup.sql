-- Unity Catalog objects of crypto-risk-monitor on Databricks: the schema, the landing volume the
-- ingest writes JSONL batches into, and the anomalies table inference MERGEs into. Idempotent: every
-- statement is CREATE ... IF NOT EXISTS, so running it again changes nothing.
--
-- Parameters: :catalog, :schema, :volume (default workspace, crypto, landing: DATABRICKS_CATALOG,
-- DATABRICKS_SCHEMA, DATABRICKS_VOLUME). They are named parameter markers, bound as string values
-- and turned into names by the IDENTIFIER clause (Databricks SQL, Runtime 13.3 LTS and above), so the
-- values never become part of the SQL text. The provisioner also checks each against the strict
-- pattern ^[a-z_][a-z0-9_]{0,63}$ before running this file, and runs it statement by statement: a
-- statement ends with a semicolon at the end of a line, and no other semicolon appears in this file.
--
-- The catalog is not created: the default catalog `workspace` exists, and Free Edition may forbid
-- CREATE CATALOG. With another catalog, create it first (CREATE CATALOG IF NOT EXISTS with a managed
-- location, as the workspace allows).
--
-- The pipeline's tables (prices_bronze, prices_silver, metrics_gold) are created and owned by the
-- Lakeflow Declarative Pipeline (databricks/notebooks/02_dlt_pipeline.py) in the same schema.

CREATE SCHEMA IF NOT EXISTS IDENTIFIER(:catalog || '.' || :schema)
  COMMENT 'crypto-risk-monitor: CoinGecko prices, Bronze/Silver/Gold, anomaly scores and the IsolationForest model';

CREATE VOLUME IF NOT EXISTS IDENTIFIER(:catalog || '.' || :schema || '.' || :volume)
  COMMENT 'Landing JSONL batches: landing/date=YYYY-MM-DD/hour=HH/<batch>.jsonl, one file per ingest batch';

-- The DESIGN.md contract of anomalies (the same columns as sql/local/schema.sql and ANOMALIES_COLUMNS
-- in databricks/lib/crypto_risk/scoring.py, from which 04_infer_iforest creates it when missing).
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
  is_anomaly INT NOT NULL COMMENT '1 when anomaly_score < 0, else 0',
  model_version INT NOT NULL COMMENT 'Unity Catalog model version that scored the window',
  scored_at TIMESTAMP NOT NULL COMMENT 'when inference scored the window',
  CONSTRAINT anomalies_pk PRIMARY KEY (asset, window_end)
)
USING DELTA
COMMENT 'IsolationForest scores of Gold windows, MERGEd on (asset, window_end) by 04_infer_iforest';
