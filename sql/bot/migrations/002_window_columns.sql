-- Step 002: feed_windows' columns follow the window column map (WINDOW_COLUMNS, in
-- src/platform/scored-window.ts): channel and delivery_id, then the window's fields in the map's
-- order with the map's types. Step 001 had delivery_id among the window's fields; rebuilt here so the
-- rule holds, and a field added to the map later is one `ALTER TABLE feed_windows ADD COLUMN` step
-- (DuckDB appends it, as the map does), which tests/integration/migrations.test.ts checks. The rows
-- are kept as they are.
CREATE TEMP TABLE feed_windows_before AS SELECT * FROM feed_windows;

DROP TABLE feed_windows;

CREATE TABLE feed_windows (
  channel       VARCHAR   NOT NULL,
  delivery_id   VARCHAR   NOT NULL,
  asset         VARCHAR   NOT NULL,
  window_end    TIMESTAMP NOT NULL,
  symbol        VARCHAR,
  price_avg     DOUBLE,
  ret_window    DOUBLE,
  anomaly_score DOUBLE    NOT NULL,
  is_anomaly    BOOLEAN   NOT NULL,
  model_version INTEGER   NOT NULL,
  simulated     BOOLEAN   NOT NULL,
  PRIMARY KEY (channel, asset, window_end)
);

INSERT INTO feed_windows (channel, delivery_id, asset, window_end, symbol, price_avg, ret_window,
  anomaly_score, is_anomaly, model_version, simulated)
SELECT channel, delivery_id, asset, window_end, symbol, price_avg, ret_window,
  anomaly_score, is_anomaly, model_version, simulated
FROM feed_windows_before;

DROP TABLE feed_windows_before;
