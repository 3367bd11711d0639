-- Step 003: feedback from the channel on the feed's messages (src/chat/labels.ts): one label per
-- person per window, replaced when they change their mind; who labelled it, when, and the model
-- version that scored the window then (precision per model version: `status`).
CREATE TABLE IF NOT EXISTS labels (
  asset         VARCHAR   NOT NULL,
  window_end    TIMESTAMP NOT NULL,
  "user"        VARCHAR   NOT NULL,
  label         VARCHAR   NOT NULL CHECK (label IN ('real', 'noise')),
  model_version INTEGER   NOT NULL,
  labelled_at   TIMESTAMP NOT NULL,
  PRIMARY KEY (asset, window_end, "user")
);
