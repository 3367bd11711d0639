import type { Db } from '../platform/local/db.js';

/** A Teams conversation the bot was installed in, and where to send to it. */
export interface InstalledConversation {
  conversationId: string;
  serviceUrl: string;
  tenantId?: string;
  teamName?: string;
  channelName?: string;
  /** ISO-8601 UTC. */
  installedAt: string;
}

/**
 * The conversations the bot was installed in (the bot store's `teams_conversations`,
 * sql/bot/migrations/003): recorded from the install activities, kept across restarts; the feed
 * posts to the latest one still installed.
 */
export function createConversationStore(db: Db) {
  return {
    async installed(c: InstalledConversation): Promise<void> {
      await db.run(
        `INSERT OR REPLACE INTO teams_conversations
           (conversation_id, service_url, tenant_id, team_name, channel_name, installed_at, removed_at)
         VALUES (:id, :serviceUrl, :tenant, :team, :channel, CAST(:at AS TIMESTAMP), NULL)`,
        {
          id: c.conversationId,
          serviceUrl: c.serviceUrl,
          tenant: c.tenantId ?? null,
          team: c.teamName ?? null,
          channel: c.channelName ?? null,
          at: c.installedAt,
        },
      );
    },
    async removed(conversationId: string, at: Date): Promise<void> {
      await db.run(
        'UPDATE teams_conversations SET removed_at = CAST(:at AS TIMESTAMP) WHERE conversation_id = :id',
        { id: conversationId, at: at.toISOString() },
      );
    },
    /** The conversation installed last and not removed since. */
    async latest(): Promise<InstalledConversation | undefined> {
      const rows = await db.all<{
        conversation_id: string;
        service_url: string;
        tenant_id: string | null;
        team_name: string | null;
        channel_name: string | null;
        installed_at: string;
      }>(
        `SELECT conversation_id, service_url, tenant_id, team_name, channel_name, installed_at
         FROM teams_conversations WHERE removed_at IS NULL ORDER BY installed_at DESC LIMIT 1`,
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        conversationId: row.conversation_id,
        serviceUrl: row.service_url,
        ...(row.tenant_id ? { tenantId: row.tenant_id } : {}),
        ...(row.team_name ? { teamName: row.team_name } : {}),
        ...(row.channel_name ? { channelName: row.channel_name } : {}),
        installedAt: row.installed_at,
      };
    },
    /** The service URL a conversation was last seen with. */
    async serviceUrlOf(conversationId: string): Promise<string | undefined> {
      const rows = await db.all<{ service_url: string }>(
        'SELECT service_url FROM teams_conversations WHERE conversation_id = :id',
        { id: conversationId },
      );
      return rows[0]?.service_url;
    },
  };
}

export type ConversationStore = ReturnType<typeof createConversationStore>;
