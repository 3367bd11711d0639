-- Step 006: silences (`/crypto mute`): while one covers an asset (or every asset, `all`), its
-- anomalous windows are still scored and listed by `top` but not posted in the feed. A silence ends
-- by the clock at ends_at, or earlier by `unmute` (ended_at, ended_by); living here, it survives a
-- restart. Its start and end are each announced once (their keys in feed_incidents).
CREATE TABLE silences (
  id          VARCHAR   PRIMARY KEY,
  asset       VARCHAR   NOT NULL,      -- a CoinGecko id, or 'all'
  starts_at   TIMESTAMP NOT NULL,
  ends_at     TIMESTAMP NOT NULL,
  created_by  VARCHAR   NOT NULL,      -- the chat user id who muted
  reason      VARCHAR,
  ended_at    TIMESTAMP,               -- set by unmute, before ends_at
  ended_by    VARCHAR
);
