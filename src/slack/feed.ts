import { randomUUID } from 'node:crypto';
import type { KnownBlock, MessageMetadata } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Clock } from '../clock.js';
import type { FeedSettings } from '../config.js';
import type { FeedResult } from '../domain/results.js';
import { storedWindow } from '../domain/windows.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Platform, ScoredWindow } from '../platform/port.js';
import { renderBlocks } from '../render/blocks.js';
import { priceChartInput } from '../render/price-chart.js';
import type { SlackCharts } from './charts.js';
import { announceQuarantined } from './data-incidents.js';
import type { DeliveredWindow, DeliveryLog } from './delivery-log.js';
import { digestReply, episodeReply, plan } from './feed-plan.js';
import {
  type ChannelPacer,
  refusedBySlack,
  retryAfterSeconds,
  slackError,
  sleep,
  waitingOutRateLimits,
} from './web-calls.js';

/** The Slack message metadata type of feed messages (read back after a restart). */
export const FEED_EVENT_TYPE = 'crypto_anomaly';
/** Older anomalies (e.g. in a first backfill) are not announced. */
const MAX_AGE_MS = 24 * 3_600_000;
/** Rows read per cycle. */
const BATCH = 5_000;
/** Messages read per page when looking for pending deliveries after a restart. */
const HISTORY_PAGE = 200;
/** How long a feed message waits for its chart to be processed before it goes without it. */
const CHART_READY_MS = 3_000;
/** How long a message posted without its chart waits for it, to add it by chat.update. */
const LATE_CHART_MS = 120_000;
const CHANNEL_ID = /^[CG][A-Z0-9]{6,}$/;

export interface FeedDeps {
  platform: Platform;
  /**
   * The feed's own WebClient, apart from the one answering commands, so a burst's rate limits never
   * hold up an answer: no retries of its own, `rejectRateLimitedCalls` (429s are waited out here).
   */
  client: WebClient;
  /** Where the feed posts (channel ID or name), and how. */
  settings: FeedSettings;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
  /** Chart uploads for feed messages (on a client of their own too). */
  charts: SlackCharts;
  /** Spaces the bot's posts to each channel (shared with the retrain threads). */
  pacer: ChannelPacer;
  /** How to name the bot in `/invite @…` (known after auth.test). */
  botName(): string;
}

/** A feed message ready to send: with its chart when Slack has processed it, else without. */
interface Content {
  text: string;
  /** What goes out now: with the image when the chart is processed, else without. */
  blocks: KnownBlock[];
  /** With the image (when there is a chart file), and without it. */
  withChart: KnownBlock[];
  withoutChart: KnownBlock[];
  metadata: MessageMetadata;
  /** The chart's file, when it was uploaded. */
  fileId?: string;
  chartReady: boolean;
}

/**
 * The anomaly feed: new anomalous windows go to the channel, one message per episode (an asset's
 * consecutive anomalous windows) or, in a burst, a few digest messages. Each message carries
 * metadata (event_type crypto_anomaly: delivery id, asset, window_end, model_version, score and
 * its windows). A window is announced once: a message is reserved in the delivery log before it
 * is posted and confirmed after. A post that may or may not have reached Slack (a network error, a
 * 5xx) is never repeated blindly: its reservation stays, and before posting again the feed looks
 * it up in the channel by delivery id, as after a crash. A re-scored window updates its message.
 * Posts are paced to the channel's rate limit; a chart Slack has not processed yet follows by
 * chat.update, and a chart that cannot be made never stops a message.
 */
export function createFeed(deps: FeedDeps) {
  const { client, log, logger, charts } = deps;
  const { pacer } = deps;
  const stopping = new AbortController();
  const lateCharts = new Set<Promise<void>>();
  let channelId: string | undefined;
  let recovered = false;

  /** Finds the feed channel (public or private, by name or id) and checks the bot is in it. */
  async function resolveChannel(): Promise<string> {
    if (channelId) return channelId;
    const invite = `invite the bot there (\`/invite @${deps.botName()}\`)`;
    const id = CHANNEL_ID.test(deps.settings.channel)
      ? deps.settings.channel
      : await findByName(deps.settings.channel);
    if (!id) {
      throw new UserError(
        `The feed channel #${deps.settings.channel} was not found: check SLACK_FEED_CHANNEL, or, if it is private, ${invite}.`,
      );
    }
    const info = await waitingOutRateLimits(() => client.conversations.info({ channel: id })).catch(
      (err: unknown) => {
        if (slackError(err) !== 'channel_not_found') throw err;
        return undefined;
      },
    );
    if (!info?.channel) {
      throw new UserError(
        `The feed channel ${deps.settings.channel} was not found: check SLACK_FEED_CHANNEL, or, if it is private, ${invite}.`,
      );
    }
    if (!info.channel.is_member) {
      throw new UserError(
        `The bot is not in the feed channel #${info.channel.name ?? deps.settings.channel}, so it cannot post there: ${invite}.`,
      );
    }
    channelId = id;
    return id;
  }

  /** conversations.list over public and private channels (the bot sees the private ones it is in). */
  async function findByName(name: string): Promise<string | undefined> {
    const wanted = name.replace(/^#/, '');
    let cursor: string | undefined;
    do {
      const page = await waitingOutRateLimits(() =>
        client.conversations.list({
          types: 'public_channel,private_channel',
          exclude_archived: true,
          limit: 200,
          ...(cursor ? { cursor } : {}),
        }),
      );
      const found = page.channels?.find((c) => c.name === wanted);
      if (found?.id) return found.id;
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return undefined;
  }

  /**
   * Pending reservations: posted before a crash or a lost answer (found by metadata) or never
   * (released). A pending message, if it went out, is newer than every message the log knows was
   * posted, so the scan starts there (Slack's own clock) and follows every page.
   */
  async function recover(channel: string): Promise<number> {
    const pending = await log.pending(channel);
    if (pending.length === 0) return 0;
    const wanted = new Set(pending.map((p) => p.delivery_id));
    const oldest = await log.lastPostedTs(channel);
    const found = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await waitingOutRateLimits(() =>
        client.conversations.history({
          channel,
          limit: HISTORY_PAGE,
          include_all_metadata: true,
          ...(oldest ? { oldest } : {}),
          ...(cursor ? { cursor } : {}),
        }),
      );
      for (const m of page.messages ?? []) {
        const id = (m.metadata?.event_payload as { delivery_id?: unknown } | undefined)?.delivery_id;
        if (m.metadata?.event_type === FEED_EVENT_TYPE && typeof id === 'string' && wanted.has(id) && m.ts) {
          found.set(id, m.ts);
        }
      }
      cursor = page.has_more ? page.response_metadata?.next_cursor || undefined : undefined;
    } while (cursor && found.size < wanted.size);
    for (const id of wanted) {
      const ts = found.get(id);
      if (ts) await log.posted(id, ts, deps.clock.now());
      else await log.release(id);
    }
    logger.info(
      { pending: pending.length, found: found.size },
      'feed: checked pending deliveries against the channel',
    );
    return found.size;
  }

  async function content(
    kind: 'episode' | 'digest',
    deliveryId: string,
    windows: DeliveredWindow[],
  ): Promise<Content> {
    const reply = kind === 'episode' ? episodeReply(windows) : digestReply(windows);
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
    const fileId = chart ? await charts.upload(chart) : undefined;
    const chartReady = fileId ? await charts.ready(fileId, CHART_READY_MS, stopping.signal) : false;
    const withChart = renderBlocks({ ...reply, chart }, fileId ? { chartFileId: fileId } : {});
    const withoutChart = renderBlocks(reply).blocks;
    return {
      text: withChart.text,
      blocks: chartReady ? withChart.blocks : withoutChart,
      withChart: withChart.blocks,
      withoutChart,
      ...(fileId ? { fileId } : {}),
      chartReady,
      metadata: {
        event_type: FEED_EVENT_TYPE,
        event_payload: {
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

  /** Posts a reserved message, paced and waiting out 429s; returns its ts. */
  async function post(channel: string, deliveryId: string, c: Content): Promise<string> {
    let blocks = c.blocks;
    for (;;) {
      await pacer.turn(channel);
      try {
        const posted = await waitingOutRateLimits(() =>
          client.chat.postMessage({ channel, text: c.text, blocks, metadata: c.metadata }),
        );
        await log.posted(deliveryId, posted.ts as string, deps.clock.now());
        if (blocks !== c.withChart) addChartLater(channel, posted.ts as string, c);
        return posted.ts as string;
      } catch (err) {
        // The image's file is not processed yet after all: the message goes without it.
        if (slackError(err) === 'invalid_blocks' && blocks !== c.withoutChart) {
          blocks = c.withoutChart;
          continue;
        }
        if (refusedBySlack(err) || retryAfterSeconds(err) !== undefined) {
          await log.release(deliveryId);
          throw err;
        }
        // Maybe posted: the reservation stays and the next cycle looks for it in the channel first.
        recovered = false;
        throw new Error(
          `feed: Slack's answer to a post was lost (${err instanceof Error ? err.message : String(err)}); ` +
            'the next cycle looks for it in the channel before posting again',
          { cause: err },
        );
      }
    }
  }

  /** Updates a posted message with its chart once Slack has processed the file (in the background). */
  function addChartLater(channel: string, ts: string, c: Content): void {
    const fileId = c.fileId;
    if (!fileId) return;
    const work = (async () => {
      if (!(await charts.ready(fileId, LATE_CHART_MS, stopping.signal))) {
        logger.warn(
          { ts, file: fileId },
          'feed: the chart was not processed in time; the message stays without it',
        );
        return;
      }
      for (let attempt = 0; attempt < 4 && !stopping.signal.aborted; attempt++) {
        try {
          await waitingOutRateLimits(() =>
            client.chat.update({ channel, ts, text: c.text, blocks: c.withChart, metadata: c.metadata }),
          );
          return;
        } catch (err) {
          if (slackError(err) !== 'invalid_blocks') throw err;
          await sleep(500 * 2 ** attempt);
        }
      }
    })()
      .catch((err: unknown) =>
        logger.warn({ ts, err: String(err) }, 'feed: could not add the chart to a message'),
      )
      .finally(() => lateCharts.delete(work));
    lateCharts.add(work);
  }

  return {
    /** The feed channel's id, checked: found (public or private) and the bot a member. */
    channel: resolveChannel,

    async runOnce(): Promise<FeedResult> {
      const channel = await resolveChannel();
      const result: FeedResult = { posted: 0, windows: 0, updated: 0, recovered: 0 };
      if (!recovered) {
        result.recovered = await recover(channel);
        recovered = true;
      }
      // Landing files the pipeline quarantined: each announced once as a data incident.
      const incidents = await announceQuarantined(
        { platform: deps.platform, client, log, pacer, clock: deps.clock, logger },
        channel,
      ).catch((err: unknown) => {
        logger.warn(
          { err: String(err) },
          'feed: could not announce quarantined landing files; next cycle tries again',
        );
        return 0;
      });
      if (incidents > 0) result.incidents = incidents;
      const rows = await deps.platform.reads.scoredSince(await log.cursor(channel), BATCH);
      if (rows.length === 0) return result;
      const delivered = await log.delivered(channel, rows);
      const now = deps.clock.now().getTime();
      const key = (w: { asset: string; window_end: string }) => `${w.asset}|${w.window_end}`;
      const fresh = rows.filter(
        (r) => r.is_anomaly && !delivered.has(key(r)) && now - Date.parse(r.window_end) <= MAX_AGE_MS,
      );

      for (const { kind, windows } of plan(fresh.map(toDelivered))) {
        const deliveryId = randomUUID();
        const c = await content(kind, deliveryId, windows);
        await log.reserve({ delivery_id: deliveryId, channel, kind }, windows, deps.clock.now());
        await post(channel, deliveryId, c);
        result.posted++;
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
          channel,
          changed.filter((r) => delivered.get(key(r))?.delivery_id === deliveryId).map(toDelivered),
        );
        const c = await content(target.kind, deliveryId, await log.windowsOf(deliveryId));
        try {
          // chat.update replaces the blocks: they are always sent, with the image only when it is ready.
          await waitingOutRateLimits(() =>
            client.chat.update({
              channel,
              ts: target.message_ts as string,
              text: c.text,
              blocks: c.blocks,
              metadata: c.metadata,
            }),
          );
          if (!c.chartReady) addChartLater(channel, target.message_ts, c);
          result.updated++;
        } catch (err) {
          // Someone deleted the message in the channel: it is not posted again.
          if (slackError(err) !== 'message_not_found') throw err;
          logger.warn(
            { delivery_id: deliveryId, ts: target.message_ts },
            'feed: a re-scored message was deleted from the channel; not updated',
          );
        }
      }

      await log.setCursor(channel, rows.at(-1)?.scored_at as string);
      return result;
    },

    /** Stops waiting for late charts (shutdown). */
    async stop(): Promise<void> {
      stopping.abort();
      await Promise.all(lateCharts);
    },
  };
}

/** The fields of a scored window the delivery log keeps (WINDOW_COLUMNS). */
const toDelivered = (r: ScoredWindow): DeliveredWindow => storedWindow(r);
