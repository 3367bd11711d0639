import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Silences } from '../commands/silences.js';
import type { Reply } from '../domain/reply.js';
import type { FeedResult } from '../domain/results.js';
import { storedWindow } from '../domain/windows.js';
import type { Schedules } from '../jobs/schedules.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Platform, ScoredWindow } from '../platform/port.js';
import { priceChartInput } from '../render/price-chart.js';
import { createIncidentWatch } from './data-incidents.js';
import type { DeliveredWindow, DeliveryLog, MessageKind } from './delivery-log.js';
import { digestReply, episodeReply, marketReply, plan } from './feed-plan.js';
import { withLabels } from './labels.js';
import { marketField, moves } from './market-context.js';
import { type Envelope, type FeedOutlet, NotPosted } from './port.js';
import { announceSchedules } from './schedule-announcements.js';
import { announceSilences } from './silence-announcements.js';

/** Older anomalies (e.g. in a first backfill) are not announced. */
const MAX_AGE_MS = 24 * 3_600_000;
/** Rows read per cycle. */
const BATCH = 5_000;

export interface FeedDeps {
  platform: Platform;
  /** The chat platform's side of the feed: where it posts, and how (src/slack, src/teams). */
  outlet: FeedOutlet;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
  /**
   * Ingestion is stale after this long without new data (three ingest intervals, in the clock's
   * time); unset: never (src/chat/data-incidents.ts).
   */
  staleAfterMs?: number;
  /** Silences (`mute`): the windows they cover are not posted; their starts and ends are announced. */
  silences?: Silences;
  /** Counts the messages posted, updated and recovered, by surface (`outlet.platform`). */
  metrics?: Metrics;
  /** The jobs' schedules: their changes (and the ends of timed pauses) are announced. */
  schedules?: Schedules;
}

export interface Feed {
  /** The feed's conversation, checked (see FeedOutlet.destination). */
  destination(): Promise<string>;
  runOnce(): Promise<FeedResult>;
  /**
   * Rebuilds a posted message from its windows and labels and updates it in place (after a label);
   * what it shows now, or undefined when the log has no posted message by that id or it was deleted.
   */
  refresh(deliveryId: string): Promise<Reply | undefined>;
  /** Stops background work (late charts) and waits for it (shutdown). */
  stop(): Promise<void>;
}

/**
 * The anomaly feed, written once for every chat platform: new anomalous windows go to the feed's
 * conversation, one message per episode (an asset's consecutive anomalous windows) or, in a burst,
 * a few digest messages, each with a chart. A window is announced once: a message is reserved in
 * the delivery log before it is posted and confirmed after. A post that may or may not have gone
 * out (a network error, a 5xx) is never repeated blindly: its reservation stays, and before posting
 * again the feed asks the platform whether it is there (Slack finds it by message metadata), as
 * after a crash; what is not found is released and goes out again, so nothing is lost. A re-scored
 * window updates its message in place.
 */
export function createFeed(deps: FeedDeps): Feed {
  const { outlet, log, logger } = deps;
  let recovered = false;
  const count = (outcome: 'posted' | 'updated' | 'recovered', n = 1) => {
    if (n > 0) deps.metrics?.feedMessages.inc({ surface: outlet.platform, outcome }, n);
  };
  const incidents = createIncidentWatch(deps);

  /**
   * Pending reservations: posted before a crash or a lost answer (found by the platform) or not
   * (released, so their windows go out again this cycle).
   */
  async function recover(conversation: string): Promise<number> {
    const pending = await log.pending(conversation);
    if (pending.length === 0) return 0;
    const wanted = new Set(pending.map((p) => p.delivery_id));
    const found = await outlet.findPosted(
      conversation,
      'anomaly',
      wanted,
      await log.lastPostedTs(conversation),
    );
    for (const id of wanted) {
      const messageId = found.get(id);
      if (messageId) await log.posted(id, messageId, deps.clock.now());
      else await log.release(id);
    }
    logger.info(
      { pending: pending.length, found: found.size },
      'feed: checked pending deliveries against the channel',
    );
    return found.size;
  }

  /**
   * What a message shows: the market move, episode or digest, with the price chart of its worst
   * window's asset; an episode says whether the market moved with it. Every message shows its label
   * counts and the label buttons (labels.ts).
   */
  async function content(
    kind: MessageKind,
    deliveryId: string,
    windows: DeliveredWindow[],
  ): Promise<{ reply: Reply; envelope: Envelope }> {
    const reply = withLabels(await describe(kind, windows), deliveryId, await labelCounts(windows));
    const worst = windows.reduce((a, b) => (b.anomaly_score < a.anomaly_score ? b : a));
    const now = deps.clock.now();
    const chart = await deps.platform.reads
      .priceSeries(worst.asset, new Date(now.getTime() - MAX_AGE_MS), now)
      .then((series) => priceChartInput(series, MAX_AGE_MS))
      .catch((err: unknown) => {
        logger.warn(
          { asset: worst.asset, err: String(err) },
          'feed: could not read the chart data; sent without it',
        );
        return undefined;
      });
    return {
      reply: chart ? { ...reply, chart } : reply,
      envelope: {
        kind: 'anomaly',
        key: deliveryId,
        payload: {
          delivery_id: deliveryId,
          asset: worst.asset,
          window_end: worst.window_end,
          model_version: worst.model_version,
          score: worst.anomaly_score,
          windows: windows.map((w) => ({ asset: w.asset, window_end: w.window_end, score: w.anomaly_score })),
        },
      },
    };
  }

  /** The labels of a message's windows, where the platform reads them back (best effort). */
  async function labelCounts(windows: DeliveredWindow[]) {
    return deps.platform.reads.labelCounts?.(windows).catch((err: unknown) => {
      logger.warn({ err: String(err) }, 'feed: could not read the label counts; sent without them');
      return undefined;
    });
  }

  /** The reply for a message's windows; market context read from the price series (best effort). */
  async function describe(kind: MessageKind, windows: DeliveredWindow[]): Promise<Reply> {
    if (kind === 'digest') return digestReply(windows);
    let context: { assets: string[]; moves: Map<string, number | null> } | undefined;
    try {
      const assets = await deps.platform.reads.assets();
      const ends = windows.map((w) => w.window_end).sort();
      context = {
        assets,
        moves: await moves(deps.platform.reads, assets, ends[0] as string, ends.at(-1) as string),
      };
    } catch (err) {
      logger.warn({ err: String(err) }, 'feed: could not read the market context; sent without it');
    }
    if (kind === 'market')
      return marketReply(windows, context?.moves ?? new Map(), context?.assets.length ?? 0);
    const first = windows[0] as DeliveredWindow;
    return episodeReply(windows, context ? marketField(first.asset, context.moves) : undefined);
  }

  /** Posts a reserved message and confirms it; a refused post is released, a lost answer kept. */
  async function post(conversation: string, deliveryId: string, reply: Reply, envelope: Envelope) {
    let messageId: string;
    try {
      messageId = await outlet.post(conversation, reply, envelope);
    } catch (err) {
      if (err instanceof NotPosted) {
        await log.release(deliveryId);
        throw err;
      }
      // Maybe posted: the reservation stays and the next cycle looks for it first.
      recovered = false;
      throw new Error(
        `feed: the answer to a post was lost (${err instanceof Error ? err.message : String(err)}); ` +
          'the next cycle looks for it in the channel before posting again',
        { cause: err },
      );
    }
    await log.posted(deliveryId, messageId, deps.clock.now());
  }

  return {
    destination: () => outlet.destination(),

    async runOnce(): Promise<FeedResult> {
      const conversation = await outlet.destination();
      const result: FeedResult = { posted: 0, windows: 0, updated: 0, recovered: 0 };
      if (!recovered) {
        result.recovered = await recover(conversation);
        count('recovered', result.recovered);
        recovered = true;
      }
      // Silences started or ended since the last cycle: each announced once, before any anomaly.
      if (deps.silences)
        await announceSilences(
          { outlet, log, clock: deps.clock, logger, silences: deps.silences },
          conversation,
        ).catch((err: unknown) =>
          logger.warn({ err: String(err) }, 'feed: could not announce silences; next cycle tries again'),
        );
      // Schedule changes and ended pauses: each announced once, as the silences are.
      if (deps.schedules)
        await announceSchedules(
          { outlet, log, clock: deps.clock, logger, schedules: deps.schedules },
          conversation,
        ).catch((err: unknown) =>
          logger.warn(
            { err: String(err) },
            'feed: could not announce schedule changes; next cycle tries again',
          ),
        );
      const rows = await deps.platform.reads.scoredSince(await log.cursor(conversation), BATCH);
      // Data incidents (stale ingestion, frozen prices, gaps, quarantined files): each announced once.
      const announced = await incidents.run(conversation, rows).catch((err: unknown) => {
        logger.warn(
          { err: String(err) },
          'feed: could not check or announce data incidents; next cycle tries again',
        );
        return 0;
      });
      if (announced > 0) result.incidents = announced;
      if (rows.length === 0) return result;
      const delivered = await log.delivered(conversation, rows);
      const now = deps.clock.now().getTime();
      const key = (w: { asset: string; window_end: string }) => `${w.asset}|${w.window_end}`;
      // A muted window (a silence covered its end) is scored and listed by top, never posted.
      const muted = deps.silences
        ? await deps.silences.covering(rows.filter((r) => r.is_anomaly))
        : () => undefined;
      // A window next to broken data belongs to a data incident, not to the market.
      const ofIncident = await incidents.ofIncidents(rows);
      const fresh = rows.filter(
        (r) =>
          r.is_anomaly &&
          !ofIncident(r) &&
          !delivered.has(key(r)) &&
          !muted(r) &&
          now - Date.parse(r.window_end) <= MAX_AGE_MS,
      );

      // How many assets there are decides what is a move of the market (feed-plan.ts).
      const assetCount = fresh.length > 0 ? (await deps.platform.reads.assets()).length : 0;
      for (const { kind, windows } of plan(fresh.map(toDelivered), assetCount)) {
        const deliveryId = randomUUID();
        const { reply, envelope } = await content(kind, deliveryId, windows);
        await log.reserve(
          { delivery_id: deliveryId, channel: conversation, kind },
          windows,
          deps.clock.now(),
        );
        await post(conversation, deliveryId, reply, envelope);
        result.posted++;
        count('posted');
        result.windows += windows.length;
      }

      // Windows re-scored after they were announced: their messages are updated in place.
      const changed = rows.filter((r) => {
        const before = delivered.get(key(r));
        return (
          before !== undefined &&
          (before.model_version !== r.model_version ||
            before.anomaly_score !== r.anomaly_score ||
            before.is_anomaly !== r.is_anomaly)
        );
      });
      for (const deliveryId of new Set(changed.map((r) => delivered.get(key(r))?.delivery_id as string))) {
        const target = await log.message(deliveryId);
        if (!target?.message_ts) continue;
        await log.rescored(
          conversation,
          changed.filter((r) => delivered.get(key(r))?.delivery_id === deliveryId).map(toDelivered),
        );
        const { reply, envelope } = await content(target.kind, deliveryId, await log.windowsOf(deliveryId));
        const ref = { conversation, id: target.message_ts };
        if (await outlet.update(ref, reply, envelope)) {
          result.updated++;
          count('updated');
        } else {
          // Someone deleted the message in the conversation: it is not posted again.
          logger.warn(
            { delivery_id: deliveryId, ts: target.message_ts },
            'feed: a re-scored message was deleted from the channel; not updated',
          );
        }
      }

      await log.setCursor(conversation, rows.at(-1)?.scored_at as string);
      return result;
    },

    async refresh(deliveryId: string): Promise<Reply | undefined> {
      const target = await log.message(deliveryId);
      if (target?.state !== 'posted' || !target.message_ts) return undefined;
      const { reply, envelope } = await content(target.kind, deliveryId, await log.windowsOf(deliveryId));
      const ref = { conversation: target.channel, id: target.message_ts };
      if (!(await outlet.update(ref, reply, envelope))) return undefined;
      count('updated');
      return reply;
    },

    stop: () => outlet.stop(),
  };
}

/** The fields of a scored window the delivery log keeps (WINDOW_COLUMNS). */
const toDelivered = (r: ScoredWindow): DeliveredWindow => storedWindow(r);
