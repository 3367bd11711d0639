import type { DataIncident } from '../domain/incidents.js';
import { baseType, type StoredWindow, WINDOW_COLUMNS, WINDOW_FIELDS } from '../domain/windows.js';
import type { Db } from '../platform/local/db.js';
import { migrate } from '../platform/local/migrations.js';

/** A window as the feed delivered it (what its message shows): a scored window's stored fields. */
export type DeliveredWindow = StoredWindow;

/** The window fields as feed_windows' columns, and as the type `from_json` reads a list of them with. */
const WINDOW_LIST = WINDOW_FIELDS.join(', ');
const WINDOWS_JSON_TYPE = JSON.stringify([
  Object.fromEntries(Object.entries(WINDOW_COLUMNS).map(([field, type]) => [field, baseType(type)])),
]);

const INCIDENT_COLUMNS = `id, kind, asset, strftime(since, '%Y-%m-%dT%H:%M:%S.%gZ') AS since, detail,
  strftime(opened_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS opened_at,
  strftime(recovered_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS recovered_at, recovery`;

/** What a feed message is: a move of the market, an asset's episode, or a digest of a burst. */
export type MessageKind = 'market' | 'episode' | 'digest';

export interface FeedMessage {
  delivery_id: string;
  channel: string;
  kind: MessageKind;
  state: 'pending' | 'posted';
  message_ts: string | null;
}

/**
 * The feed's delivery log (the bot store's tables, sql/bot/migrations): which window went out in which message. A message
 * is reserved before it is posted and marked posted after, so that after a crash in between the
 * feed can look the message up by its delivery id (in the message metadata) instead of posting it
 * twice.
 */
export function createDeliveryLog(db: Db) {
  const key = (w: { asset: string; window_end: string }) => `${w.asset}|${w.window_end}`;

  return {
    /** Brings the store's tables to the latest schema version (the versions applied). */
    init: () => migrate(db, 'bot'),

    async reserve(message: Omit<FeedMessage, 'state' | 'message_ts'>, windows: DeliveredWindow[], at: Date) {
      await db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO feed_messages (delivery_id, channel, kind, state, message_ts, created_at, posted_at)
           VALUES (:id, :channel, :kind, 'pending', NULL, CAST(:at AS TIMESTAMP), NULL)`,
          { id: message.delivery_id, channel: message.channel, kind: message.kind, at: at.toISOString() },
        );
        await tx.run(
          `INSERT OR REPLACE INTO feed_windows (channel, delivery_id, ${WINDOW_LIST})
           SELECT :channel, :id, ${WINDOW_LIST}
           FROM (SELECT unnest(from_json(:windows, '${WINDOWS_JSON_TYPE}'), recursive := true))`,
          { channel: message.channel, id: message.delivery_id, windows: JSON.stringify(windows) },
        );
      });
    },

    async posted(deliveryId: string, ts: string, at: Date) {
      await db.run(
        `UPDATE feed_messages SET state = 'posted', message_ts = :ts, posted_at = CAST(:at AS TIMESTAMP)
         WHERE delivery_id = :id`,
        { id: deliveryId, ts, at: at.toISOString() },
      );
    },

    /** Forgets a reservation whose message never went out, so its windows can go out again. */
    async release(deliveryId: string) {
      await db.transaction(async (tx) => {
        await tx.run('DELETE FROM feed_windows WHERE delivery_id = :id', { id: deliveryId });
        await tx.run(`DELETE FROM feed_messages WHERE delivery_id = :id AND state = 'pending'`, {
          id: deliveryId,
        });
      });
    },

    pending: (channel: string) =>
      db.all<FeedMessage>(
        `SELECT * EXCLUDE (created_at, posted_at) FROM feed_messages WHERE channel = :channel AND state = 'pending'`,
        {
          channel,
        },
      ),

    /** The ts of the newest message posted to the channel (Slack ts strings sort as numbers do). */
    async lastPostedTs(channel: string): Promise<string | undefined> {
      const [row] = await db.all<{ ts: string | null }>(
        `SELECT max(message_ts) AS ts FROM feed_messages WHERE channel = :channel AND state = 'posted'`,
        { channel },
      );
      return row?.ts ?? undefined;
    },

    message: async (deliveryId: string) =>
      (
        await db.all<FeedMessage>(
          'SELECT * EXCLUDE (created_at, posted_at) FROM feed_messages WHERE delivery_id = :id',
          { id: deliveryId },
        )
      )[0],

    /** The delivered windows among these keys, by `asset|window_end`, with their message. */
    async delivered(channel: string, windows: Array<{ asset: string; window_end: string }>) {
      if (windows.length === 0) return new Map<string, DeliveredWindow & { delivery_id: string }>();
      const rows = await db.all<DeliveredWindow & { delivery_id: string }>(
        `SELECT w.delivery_id, ${WINDOW_LIST} FROM feed_windows AS w
         WHERE w.channel = :channel AND (w.asset || '|' || strftime(w.window_end, '%Y-%m-%dT%H:%M:%S.%gZ')) IN (
           SELECT unnest(CAST(:keys AS VARCHAR[])))`,
        { channel, keys: windows.map(key) },
      );
      return new Map(rows.map((r) => [key(r), r]));
    },

    windowsOf: (deliveryId: string) =>
      db.all<DeliveredWindow>(
        `SELECT ${WINDOW_LIST} FROM feed_windows WHERE delivery_id = :id ORDER BY anomaly_score, window_end, asset`,
        { id: deliveryId },
      ),

    async rescored(channel: string, windows: DeliveredWindow[]) {
      for (const w of windows) {
        await db.run(
          `UPDATE feed_windows SET anomaly_score = :score, is_anomaly = :is_anomaly, model_version = :version
           WHERE channel = :channel AND asset = :asset AND window_end = CAST(:window_end AS TIMESTAMP)`,
          {
            channel,
            asset: w.asset,
            window_end: w.window_end,
            score: w.anomaly_score,
            is_anomaly: w.is_anomaly,
            version: w.model_version,
          },
        );
      }
    },

    /** The data incidents of the channel already reserved or posted, by incident key. */
    async incidents(channel: string): Promise<Map<string, 'pending' | 'posted'>> {
      const rows = await db.all<{ incident: string; state: 'pending' | 'posted' }>(
        'SELECT incident, state FROM feed_incidents WHERE channel = :channel',
        { channel },
      );
      return new Map(rows.map((r) => [r.incident, r.state]));
    },

    async reserveIncident(channel: string, incident: string, file: string, at: Date) {
      await db.run(
        `INSERT INTO feed_incidents (channel, incident, file, state, message_ts, created_at, posted_at)
         VALUES (:channel, :incident, :file, 'pending', NULL, CAST(:at AS TIMESTAMP), NULL)`,
        { channel, incident, file, at: at.toISOString() },
      );
    },

    async incidentPosted(channel: string, incident: string, ts: string, at: Date) {
      await db.run(
        `UPDATE feed_incidents SET state = 'posted', message_ts = :ts, posted_at = CAST(:at AS TIMESTAMP)
         WHERE channel = :channel AND incident = :incident`,
        { channel, incident, ts, at: at.toISOString() },
      );
    },

    /** Forgets a reservation whose announcement never went out, so it goes out on the next cycle. */
    async releaseIncident(channel: string, incident: string) {
      await db.run(
        `DELETE FROM feed_incidents WHERE channel = :channel AND incident = :incident AND state = 'pending'`,
        {
          channel,
          incident,
        },
      );
    },

    /** Opens a data incident unless one with its id exists (another feed, or a re-scored window). */
    async openIncident(
      incident: Pick<DataIncident, 'id' | 'kind' | 'asset' | 'since' | 'detail'>,
      at: Date,
    ): Promise<void> {
      await db.run(
        `INSERT OR IGNORE INTO data_incidents (id, kind, asset, since, detail, opened_at, recovered_at, recovery)
         VALUES (:id, :kind, :asset, CAST(:since AS TIMESTAMP), :detail, CAST(:at AS TIMESTAMP), NULL, NULL)`,
        { ...incident, at: at.toISOString() },
      );
    },

    async recoverIncident(id: string, recovery: string, at: Date): Promise<void> {
      await db.run(
        `UPDATE data_incidents SET recovered_at = CAST(:at AS TIMESTAMP), recovery = :recovery
         WHERE id = :id AND recovered_at IS NULL`,
        { id, recovery, at: at.toISOString() },
      );
    },

    /** Data incidents not recovered yet, oldest first. */
    openIncidents: () =>
      db.all<DataIncident>(
        `SELECT ${INCIDENT_COLUMNS} FROM data_incidents WHERE recovered_at IS NULL ORDER BY opened_at, id`,
      ),

    /** Data incidents opened or recovered since an instant, and those still open, oldest first. */
    incidentsSince: (since: Date) =>
      db.all<DataIncident>(
        `SELECT ${INCIDENT_COLUMNS} FROM data_incidents
         WHERE opened_at >= CAST(:since AS TIMESTAMP) OR recovered_at >= CAST(:since AS TIMESTAMP)
            OR recovered_at IS NULL
         ORDER BY opened_at, id`,
        { since: since.toISOString() },
      ),

    async cursor(channel: string): Promise<string | null> {
      const [row] = await db.all<{ value: string }>('SELECT value FROM bot_state WHERE key = :key', {
        key: `feed.cursor.${channel}`,
      });
      return row?.value ?? null;
    },

    async setCursor(channel: string, value: string) {
      await db.run('INSERT OR REPLACE INTO bot_state (key, value) VALUES (:key, :value)', {
        key: `feed.cursor.${channel}`,
        value,
      });
    },
  };
}

export type DeliveryLog = ReturnType<typeof createDeliveryLog>;
