-- Step 005: data incidents the feed found in the data itself (src/chat/data-incidents.ts): ingestion
-- stale (nothing landed for more than three ingest intervals), an asset's price frozen, or a gap in
-- an asset's Gold windows. One row per incident, opened once and recovered once; the id is made from
-- what happened, so two feeds (Slack and Teams on one store) open the same incident, not two. Their
-- announcements in each conversation are kept in feed_incidents, as those of quarantined files.
CREATE TABLE data_incidents (
  id           VARCHAR   PRIMARY KEY,   -- stale|<last landing> | frozen|<asset>|<window_end> | gap|<asset>|<window_end>
  kind         VARCHAR   NOT NULL,      -- stale | frozen | gap
  asset        VARCHAR,                 -- NULL for stale (every asset)
  since        TIMESTAMP NOT NULL,      -- when the data stopped, froze, or went missing
  detail       VARCHAR   NOT NULL,      -- the sentence the announcement and status show
  opened_at    TIMESTAMP NOT NULL,
  recovered_at TIMESTAMP,
  recovery     VARCHAR                  -- what recovery looked like (the sentence)
);
