import type { Clock } from '../clock.js';
import { formatTime } from '../domain/format.js';
import type { DataIncident } from '../domain/incidents.js';
import type { Reply } from '../domain/reply.js';
import { lastResumed } from '../domain/schedules.js';
import { LANDED_AT_KEY } from '../jobs/ingest.js';
import { longestIntervalMs } from '../jobs/scheduler.js';
import type { Schedules } from '../jobs/schedules.js';
import type { Logger } from '../log.js';
import { parseReasons } from '../model/reasons.js';
import type { Platform, QuarantinedFile, ScoredWindow } from '../platform/port.js';
import { type Announcement, announceOnce } from './announce.js';
import type { DeliveryLog } from './delivery-log.js';
import type { FeedOutlet } from './port.js';

/** Incidents opened or recovered longer ago than this are not announced (a new conversation, a backfill). */
const ANNOUNCE_WITHIN_MS = 24 * 3_600_000;
const WINDOW_MS = 5 * 60_000;
/** Frozen windows whose freeze started this close together are one incident. */
const SAME_FREEZE_MS = 2 * WINDOW_MS;

export interface IncidentDeps {
  platform: Platform;
  outlet: FeedOutlet;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
}

/**
 * Data incidents: what is wrong with the data rather than the market, found by the feed and
 * announced in its conversation, each once and later its recovery.
 * - Stale ingestion: nothing landed for longer than `staleAfterMs` (three ingest intervals),
 *   counted from the newest landing (LANDED_AT_KEY) or, when the bot started after it, from the
 *   start: the bot's own downtime is not the data's fault. Recovered when data lands again.
 * - A frozen price or a gap in an asset's Gold windows: a scored window with that data issue
 *   (src/model/reasons.ts) opens one; the asset's next window without an issue recovers it. A gap
 *   that a stale incident covers is that incident, not one per asset.
 * - Quarantined landing files (the pipeline's own, embedded default): one announcement each.
 * Windows with a data issue are never announced as market anomalies (the feed leaves them out).
 */
export function createIncidentWatch(
  deps: IncidentDeps & {
    staleAfterMs?: number;
    /** The jobs' schedules: a paused ingest is not stale (its pause was announced). */
    schedules?: Schedules;
  },
) {
  const { log, clock } = deps;
  const startedAt = clock.now().getTime();

  async function checkStale(now: Date): Promise<void> {
    if (deps.staleAfterMs === undefined) return;
    const landedAt = await deps.platform.pipeline.state.get<string>(LANDED_AT_KEY);
    if (landedAt === undefined) return; // nothing landed yet: nothing to be stale
    const open = (await log.openIncidents()).find((i) => i.kind === 'stale');
    const landed = Date.parse(landedAt);
    if (open) {
      if (landed > Date.parse(open.since)) {
        await log.recoverIncident(
          open.id,
          `Market data lands again (at ${formatTime(landedAt)}, after ${minutesBetween(open.since, landedAt)} without).`,
          now,
        );
      }
      return;
    }
    // Ingest paused from chat lands nothing on purpose; once it runs again it has its intervals,
    // and on a cron set from chat its intervals are that cron's.
    let resumedAt = 0;
    let staleAfterMs = deps.staleAfterMs;
    if (deps.schedules) {
      const state = await deps.schedules.state();
      const ingest = (await deps.schedules.effective(state)).find((s) => s.job === 'ingest');
      if (ingest?.paused) return;
      resumedAt = lastResumed(state, 'ingest', now) ?? 0;
      if (ingest && ingest.cron !== ingest.default_cron)
        staleAfterMs *= longestIntervalMs(ingest.cron) / longestIntervalMs(ingest.default_cron);
    }
    if (now.getTime() - Math.max(landed, startedAt, resumedAt) <= staleAfterMs) return;
    await log.openIncident(
      {
        id: `stale|${landedAt}`,
        kind: 'stale',
        asset: null,
        since: landedAt,
        detail:
          `No new market data since ${formatTime(landedAt)} (more than three ingest intervals): the source or ` +
          'ingestion is stuck. The windows next to the gap it leaves are not announced as anomalies.',
      },
      now,
    );
  }

  /** Frozen prices and gaps in the scored windows: opened, and recovered by the next clean window. */
  async function checkWindows(rows: readonly ScoredWindow[], now: Date): Promise<void> {
    if (rows.length === 0) return;
    const recent = rows
      .filter((r) => now.getTime() - Date.parse(r.window_end) <= ANNOUNCE_WITHIN_MS)
      .sort((a, b) => a.window_end.localeCompare(b.window_end));
    if (recent.length === 0) return;
    const known = await log.incidentsSince(new Date(now.getTime() - 2 * ANNOUNCE_WITHIN_MS));
    for (const w of recent) {
      const mine = known.filter((i) => i.asset === w.asset && i.kind !== 'stale');
      if (w.data_issue === 'frozen' || w.data_issue === 'gap') {
        const incident = issueOf(w, w.data_issue);
        if (!incident) continue;
        const same = known.find(
          (i) =>
            i.id === incident.id ||
            (incident.kind === 'frozen' &&
              i.kind === 'frozen' &&
              i.asset === w.asset &&
              Math.abs(Date.parse(i.since) - Date.parse(incident.since)) <= SAME_FREEZE_MS),
        );
        if (same || (incident.kind === 'gap' && coveredByStale(known, incident.since, w.window_end)))
          continue;
        await log.openIncident(incident, now);
        known.push({ ...incident, opened_at: now.toISOString(), recovered_at: null, recovery: null });
        continue;
      }
      for (const open of mine.filter((i) => i.recovered_at === null && w.window_end > i.since)) {
        const recovery =
          open.kind === 'frozen'
            ? `${w.asset}'s price moves again (window ending ${formatTime(w.window_end)}).`
            : `${w.asset}'s windows are complete again (window ending ${formatTime(w.window_end)}).`;
        await log.recoverIncident(open.id, recovery, now);
        open.recovered_at = now.toISOString();
        open.recovery = recovery;
      }
    }
  }

  /** Everything to announce, in the order it happened; announceOnce skips what went out already. */
  async function announcements(now: Date): Promise<Announcement[]> {
    const since = new Date(now.getTime() - ANNOUNCE_WITHIN_MS);
    const timed: Array<{ at: string; a: Announcement }> = [];
    for (const i of await log.incidentsSince(since)) {
      if (Date.parse(i.opened_at) >= since.getTime()) timed.push({ at: i.opened_at, a: opened(i) });
      if (i.recovered_at !== null) timed.push({ at: i.recovered_at, a: recovered(i) });
    }
    // Only the embedded pipeline quarantines landing files (platform/capabilities.ts).
    const files = deps.platform.engine ? await deps.platform.engine.quarantined() : [];
    for (const f of files) timed.push({ at: f.quarantined_at ?? '', a: quarantinedFile(f) });
    return timed.sort((x, y) => x.at.localeCompare(y.at)).map((t) => t.a);
  }

  return {
    /**
     * Which of `rows` belong to a data incident rather than to the market: windows with a data
     * issue, the part-filled window a gap begins after (only the ticks before the source stopped),
     * and windows that end while ingestion was stale (after the last landing, up to the recovery).
     * They are scored as they are; the feed does not announce them.
     */
    async ofIncidents(rows: readonly ScoredWindow[]): Promise<(w: ScoredWindow) => boolean> {
      const now = clock.now();
      const beforeGap = new Set<string>();
      for (const w of rows) {
        const gap = w.data_issue === 'gap' ? issueOf(w, 'gap') : undefined;
        if (gap) beforeGap.add(`${w.asset}|${gap.since}`);
      }
      const stale = (await log.incidentsSince(new Date(now.getTime() - ANNOUNCE_WITHIN_MS)))
        .filter((i) => i.kind === 'stale')
        .map(
          (i) => [Date.parse(i.since), i.recovered_at ? Date.parse(i.recovered_at) : now.getTime()] as const,
        );
      return (w) => {
        const end = Date.parse(w.window_end);
        return (
          Boolean(w.data_issue) ||
          beforeGap.has(`${w.asset}|${w.window_end}`) ||
          stale.some(([from, to]) => end > from && end <= to)
        );
      };
    },

    /**
     * One cycle: looks for stale ingestion and for issues in `rows` (the scored windows the feed
     * read), then announces what is new. Returns the announcements posted.
     */
    async run(conversation: string, rows: readonly ScoredWindow[]): Promise<number> {
      const now = clock.now();
      await checkStale(now);
      await checkWindows(rows, now);
      return announceOnce(deps, conversation, await announcements(now));
    },
  };
}

export type IncidentWatch = ReturnType<typeof createIncidentWatch>;

/** The incident a window with a data issue opens: its id names what happened, so it is the same from any feed. */
function issueOf(
  w: ScoredWindow,
  kind: 'frozen' | 'gap',
): Pick<DataIncident, 'id' | 'kind' | 'asset' | 'since' | 'detail'> | undefined {
  const reason = parseReasons(w.reasons).find((r) => r.feature === kind);
  if (!reason) return undefined;
  const minutes = Math.round(reason.value);
  if (kind === 'frozen') {
    const since = new Date(Date.parse(w.window_end) - minutes * 60_000).toISOString();
    return {
      id: `frozen|${w.asset}|${since}`,
      kind,
      asset: w.asset,
      since,
      detail:
        `${w.asset}'s price has not moved since ${formatTime(since)} (${minutes} minutes by the window ending ` +
        `${formatTime(w.window_end)}): its source may be stuck. Its windows are not announced as anomalies meanwhile.`,
    };
  }
  // The window after the gap ends at window_end; the missing windows end before it.
  const until = new Date(Date.parse(w.window_end) - WINDOW_MS).toISOString();
  const since = new Date(Date.parse(until) - minutes * 60_000).toISOString();
  return {
    id: `gap|${w.asset}|${w.window_end}`,
    kind,
    asset: w.asset,
    since,
    detail:
      `No ${w.asset} prices from ${formatTime(since)} to ${formatTime(until)} (${minutes} minutes of Gold windows ` +
      'missing). The windows next to the gap are not announced as anomalies.',
  };
}

/** A stale incident spanned the gap: the gap is that incident's, not an asset's own. */
function coveredByStale(known: readonly DataIncident[], gapSince: string, gapEnd: string): boolean {
  return known.some(
    (i) =>
      i.kind === 'stale' &&
      Date.parse(i.since) <= Date.parse(gapEnd) &&
      (i.recovered_at === null || Date.parse(i.recovered_at) >= Date.parse(gapSince)),
  );
}

function minutesBetween(from: string, to: string): string {
  const minutes = Math.round((Date.parse(to) - Date.parse(from)) / 60_000);
  return minutes >= 120 ? `${Math.round(minutes / 6) / 10} hours` : `${minutes} minutes`;
}

const TITLES: Record<DataIncident['kind'], string> = {
  stale: 'no new market data',
  frozen: 'a frozen price',
  gap: 'a gap in the windows',
};

function opened(i: DataIncident): Announcement {
  return {
    key: `${i.id}|open`,
    subject: i.asset ?? 'all assets',
    reply: {
      title: `⚠️ Data incident: ${TITLES[i.kind]}${i.asset ? ` (${i.asset})` : ''}`,
      summary: i.detail,
      notes: ['`/crypto status` lists open data incidents.'],
      data: i,
    },
    payload: { kind: i.kind, asset: i.asset, since: i.since, state: 'open' },
  };
}

function recovered(i: DataIncident): Announcement {
  return {
    key: `${i.id}|recovered`,
    subject: i.asset ?? 'all assets',
    reply: {
      title: `✅ Data incident over: ${TITLES[i.kind]}${i.asset ? ` (${i.asset})` : ''}`,
      summary: i.recovery ?? 'The data is back to normal.',
      data: i,
    },
    payload: { kind: i.kind, asset: i.asset, since: i.since, state: 'recovered' },
  };
}

/**
 * A quarantined landing file. A file retried and quarantined again is a new incident (its key
 * carries the quarantine time).
 */
function quarantinedFile(file: QuarantinedFile): Announcement {
  return {
    key: `${file.file}|${file.quarantined_at ?? ''}`,
    subject: file.file,
    reply: incidentReply(file),
    payload: { file: file.file, attempts: file.attempts, reason: file.reason },
  };
}

/** The incident as a reply: what happened, that the pipeline carries on, and what ops can do. */
export function incidentReply(file: QuarantinedFile): Reply {
  return {
    title: '⚠️ Data incident: a landing file was quarantined',
    summary: `Landing file ${file.file} was quarantined after ${file.attempts} failed pipeline run(s): ${file.reason}. The pipeline carries on with the next files.`,
    notes: [`Ops: fix the file, then \`crypto-risk quarantine retry ${file.file}\`.`],
    data: file,
  };
}
