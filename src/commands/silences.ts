import { randomUUID } from 'node:crypto';
import type { Db } from '../platform/local/db.js';

/** The asset a silence of every asset names. */
export const ALL_ASSETS = 'all';
/** The longest silence: a forgotten mute must not hide anomalies for long. */
export const MAX_SILENCE_MS = 7 * 86_400_000;

/** A silence (`mute`), as the bot store keeps it (sql/bot/migrations/006_silences.sql). */
export interface Silence {
  id: string;
  /** A CoinGecko id, or `all`. */
  asset: string;
  /** ISO-8601 UTC. */
  starts_at: string;
  ends_at: string;
  created_by: string;
  reason: string | null;
  /** When `unmute` ended it before ends_at, and who did. */
  ended_at: string | null;
  ended_by: string | null;
}

/** Whether a silence covered this window's end: starts_at <= window_end < (ended_at or ends_at). */
export function covers(s: Silence, asset: string, windowEnd: string): boolean {
  const at = Date.parse(windowEnd);
  return (
    (s.asset === ALL_ASSETS || s.asset === asset) &&
    Date.parse(s.starts_at) <= at &&
    at < Date.parse(s.ended_at ?? s.ends_at)
  );
}

/** When a silence ended or ends: unmuted, else its ends_at. */
export const endOf = (s: Silence): string => s.ended_at ?? s.ends_at;

const COLUMNS = 'id, asset, starts_at, ends_at, created_by, reason, ended_at, ended_by';
/** Active at :now: started, not ended by unmute, not expired. */
const ACTIVE =
  'starts_at <= CAST(:now AS TIMESTAMP) AND coalesce(ended_at, ends_at) > CAST(:now AS TIMESTAMP)';

/**
 * The silences in the bot store. They end by the clock (ends_at) or by `unmute` (ended_at), so a
 * restart changes nothing about them.
 */
export function createSilences(db: Db) {
  return {
    /**
     * Starts a silence now; an asset with an active silence of its own is refused (the existing
     * one is returned instead), so each silence's end is announced as what it is.
     */
    async create(
      input: { asset: string; durationMs: number; by: string; reason?: string },
      now: Date,
    ): Promise<{ created: Silence } | { existing: Silence }> {
      return db.transaction(async (tx) => {
        const [existing] = await tx.all<Silence>(
          `SELECT ${COLUMNS} FROM silences WHERE asset = :asset AND ${ACTIVE} ORDER BY ends_at DESC LIMIT 1`,
          { asset: input.asset, now: now.toISOString() },
        );
        if (existing) return { existing };
        const silence: Silence = {
          id: randomUUID(),
          asset: input.asset,
          starts_at: now.toISOString(),
          ends_at: new Date(now.getTime() + input.durationMs).toISOString(),
          created_by: input.by,
          reason: input.reason || null,
          ended_at: null,
          ended_by: null,
        };
        await tx.run(
          `INSERT INTO silences (${COLUMNS}) VALUES (:id, :asset, CAST(:starts_at AS TIMESTAMP),
             CAST(:ends_at AS TIMESTAMP), :created_by, :reason, NULL, NULL)`,
          {
            id: silence.id,
            asset: silence.asset,
            starts_at: silence.starts_at,
            ends_at: silence.ends_at,
            created_by: silence.created_by,
            reason: silence.reason,
          },
        );
        return { created: silence };
      });
    },

    /** Ends the active silences of an asset now (`all`: every active silence); returns them ended. */
    async end(asset: string, by: string, now: Date): Promise<Silence[]> {
      return db.transaction(async (tx) => {
        const params = { asset, now: now.toISOString(), by };
        const which = asset === ALL_ASSETS ? ACTIVE : `asset = :asset AND ${ACTIVE}`;
        const ended = await tx.all<Silence>(
          `SELECT ${COLUMNS} FROM silences WHERE ${which} ORDER BY starts_at`,
          params,
        );
        if (ended.length === 0) return [];
        await tx.run(
          `UPDATE silences SET ended_at = CAST(:now AS TIMESTAMP), ended_by = :by WHERE ${which}`,
          params,
        );
        return ended.map((s) => ({ ...s, ended_at: params.now, ended_by: by }));
      });
    },

    /** The silences active at `now`, soonest to end first. */
    active: (now: Date) =>
      db.all<Silence>(`SELECT ${COLUMNS} FROM silences WHERE ${ACTIVE} ORDER BY ends_at, asset`, {
        now: now.toISOString(),
      }),

    /** A silence of the asset, or of all, that covered the instant a window ended. */
    async mutedAt(asset: string, windowEnd: string): Promise<Silence | undefined> {
      const [row] = await db.all<Silence>(
        `SELECT ${COLUMNS} FROM silences WHERE asset IN (:asset, '${ALL_ASSETS}')
           AND starts_at <= CAST(:at AS TIMESTAMP) AND coalesce(ended_at, ends_at) > CAST(:at AS TIMESTAMP)
         ORDER BY starts_at LIMIT 1`,
        { asset, at: windowEnd },
      );
      return row;
    },

    /**
     * Which of these windows a silence covered, as one read for a batch of them (the feed's rows,
     * `top`'s windows): a lookup of the silence that covered a window, if any.
     */
    async covering(
      windows: ReadonlyArray<{ asset: string; window_end: string }>,
    ): Promise<(w: { asset: string; window_end: string }) => Silence | undefined> {
      if (windows.length === 0) return () => undefined;
      const ends = windows.map((w) => Date.parse(w.window_end));
      const first = ends.reduce((a, b) => Math.min(a, b));
      const last = ends.reduce((a, b) => Math.max(a, b));
      const found = await db.all<Silence>(
        `SELECT ${COLUMNS} FROM silences
         WHERE starts_at <= CAST(:last AS TIMESTAMP) AND coalesce(ended_at, ends_at) > CAST(:first AS TIMESTAMP)`,
        { first: new Date(first).toISOString(), last: new Date(last).toISOString() },
      );
      return (w) => found.find((s) => covers(s, w.asset, w.window_end));
    },

    /** Silences not over before `since` (active ones, and those that ended since), oldest first. */
    since: (since: Date) =>
      db.all<Silence>(
        `SELECT ${COLUMNS} FROM silences WHERE coalesce(ended_at, ends_at) >= CAST(:since AS TIMESTAMP)
         ORDER BY starts_at, id`,
        { since: since.toISOString() },
      ),
  };
}

export type Silences = ReturnType<typeof createSilences>;

/** What a silence covers, as announcements and answers name it. */
export const silenceSubject = (asset: string): string => (asset === ALL_ASSETS ? 'all assets' : asset);
