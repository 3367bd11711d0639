-- The Slack bot's own state: the anomaly feed's delivery log and cursor.
-- Step 001: the schema as it was before it was versioned. It stays idempotent and is never changed:
-- a store made before has these tables and no schema_version, and running this step on it changes
-- nothing and records it as version 1. Later changes are new numbered steps.

-- One row per feed message: reserved ('pending') before it is posted, 'posted' with its ts after.
CREATE TABLE IF NOT EXISTS feed_messages (
  delivery_id VARCHAR   PRIMARY KEY,   -- also in the message's metadata, to find it after a crash
  channel     VARCHAR   NOT NULL,
  kind        VARCHAR   NOT NULL,      -- episode | digest
  state       VARCHAR   NOT NULL,      -- pending | posted
  message_ts  VARCHAR,
  created_at  TIMESTAMP NOT NULL,
  posted_at   TIMESTAMP
);

-- Every anomalous window the feed delivered, and the message that carries it.
CREATE TABLE IF NOT EXISTS feed_windows (
  channel       VARCHAR   NOT NULL,
  asset         VARCHAR   NOT NULL,
  window_end    TIMESTAMP NOT NULL,
  delivery_id   VARCHAR   NOT NULL,
  symbol        VARCHAR,
  price_avg     DOUBLE,
  ret_window    DOUBLE,
  anomaly_score DOUBLE    NOT NULL,
  is_anomaly    BOOLEAN   NOT NULL,
  model_version INTEGER   NOT NULL,
  simulated     BOOLEAN   NOT NULL,
  PRIMARY KEY (channel, asset, window_end)
);

CREATE TABLE IF NOT EXISTS bot_state (
  key   VARCHAR PRIMARY KEY,
  value VARCHAR NOT NULL
);

-- Data incidents announced in the feed channel (a landing file moved to the quarantine), one row
-- each: reserved ('pending') before the post and 'posted' after, so each is announced once, also
-- across a restart.
CREATE TABLE IF NOT EXISTS feed_incidents (
  channel     VARCHAR   NOT NULL,
  incident    VARCHAR   NOT NULL,      -- file|quarantined_at; also in the message's metadata
  file        VARCHAR   NOT NULL,
  state       VARCHAR   NOT NULL,      -- pending | posted
  message_ts  VARCHAR,
  created_at  TIMESTAMP NOT NULL,
  posted_at   TIMESTAMP,
  PRIMARY KEY (channel, incident)
);
