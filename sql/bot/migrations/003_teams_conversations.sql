-- Step 003: the Teams conversations the bot was installed in (a team's channel, a group chat), as
-- the conversationUpdate (membersAdded with the bot) or installationUpdate (action add) activity
-- named them. The Teams feed posts to the latest one when TEAMS_FEED_CONVERSATION is not set; the
-- service URL is where proactive messages to it go.
CREATE TABLE teams_conversations (
  conversation_id VARCHAR   PRIMARY KEY,
  service_url     VARCHAR   NOT NULL,
  tenant_id       VARCHAR,
  team_name       VARCHAR,
  channel_name    VARCHAR,
  installed_at    TIMESTAMP NOT NULL,
  removed_at      TIMESTAMP
);
