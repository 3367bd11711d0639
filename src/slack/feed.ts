import { randomUUID } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type { Clock } from '../clock.js';
import { priceChart } from '../commands/chart.js';
import type { Logger } from '../log.js';
import type { Platform, ScoredWindow } from '../platform/port.js';
import { renderBlocks } from '../render/blocks.js';
import type { ChartInput } from '../render/chart.js';
import { formatPercent, formatPrice, formatScore, formatTime } from '../render/format.js';
import type { Reply } from '../render/reply.js';
import type { DeliveredWindow, DeliveryLog } from './delivery-log.js';

/** The Slack message metadata type of feed messages (read back after a restart). */
export const FEED_EVENT_TYPE = 'crypto_anomaly';
/** More episodes than this in one cycle are posted as digests instead (a burst, not a flood). */
const MAX_EPISODE_MESSAGES = 3;
/** Windows per digest message. */
const DIGEST_WINDOWS = 40;
/** Windows further apart than this belong to different episodes of an asset. */
const EPISODE_GAP_MS = 15 * 60_000;
/** Older anomalies (e.g. in a first backfill) are not announced. */
const MAX_AGE_MS = 24 * 3_600_000;
/** Rows read per cycle. */
const BATCH = 5_000;
/** Messages looked at for pending deliveries after a restart. */
const HISTORY_LIMIT = 200;

export interface FeedDeps {
  platform: Platform;
  client: WebClient;
  /** Channel ID or name. */
  channel: string;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
  /** Renders and uploads a chart privately, returning the Slack file id for an image block. */
  uploadChart(input: ChartInput): Promise<string>;
}

export interface FeedResult {
  /** Messages posted, windows they announced, messages updated after a re-score. */
  posted: number;
  windows: number;
  updated: number;
  /** Pending deliveries found in the channel after a restart (posted before a crash). */
  recovered: number;
}

/**
 * The anomaly feed: new anomalous windows go to the channel, one message per episode (an asset's
 * consecutive anomalous windows) or, in a burst, a few digest messages. Each message carries
 * metadata (event_type crypto_anomaly: delivery id, asset, window_end, model_version, score and
 * its windows). A window is announced once: a message is reserved in the delivery log before it
 * is posted and confirmed after; on the first cycle after a start, reservations left by a crash
 * are looked up in the channel's history by delivery id. A re-scored window updates its message.
 */
export function createFeed(deps: FeedDeps) {
  const { client, log, logger } = deps;
  let channelId: string | undefined;
  let recovered = false;

  async function resolveChannel(): Promise<string> {
    if (channelId) return channelId;
    if (/^[CG][A-Z0-9]{6,}$/.test(deps.channel)) {
      channelId = deps.channel;
      return channelId;
    }
    let cursor: string | undefined;
    do {
      const page = await client.conversations.list({ limit: 200, cursor, exclude_archived: true });
      const found = page.channels?.find((c) => c.name === deps.channel);
      if (found?.id) {
        channelId = found.id;
        return channelId;
      }
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    throw new Error(
      `the feed channel #${deps.channel} does not exist or the bot cannot see it; set SLACK_FEED_CHANNEL`,
    );
  }

  /** Pending reservations: posted before a crash (found by metadata) or never (released). */
  async function recover(channel: string): Promise<number> {
    const pending = await log.pending(channel);
    if (pending.length === 0) return 0;
    const history = await client.conversations.history({
      channel,
      limit: HISTORY_LIMIT,
      include_all_metadata: true,
    });
    let found = 0;
    for (const reservation of pending) {
      const message = history.messages?.find(
        (m) =>
          m.metadata?.event_type === FEED_EVENT_TYPE &&
          (m.metadata.event_payload as { delivery_id?: string } | undefined)?.delivery_id ===
            reservation.delivery_id,
      );
      if (message?.ts) {
        await log.posted(reservation.delivery_id, message.ts, deps.clock.now());
        found++;
      } else {
        await log.release(reservation.delivery_id);
      }
    }
    logger.info({ pending: pending.length, found }, 'feed: checked pending deliveries against the channel');
    return found;
  }

  async function message(kind: 'episode' | 'digest', deliveryId: string, windows: DeliveredWindow[]) {
    const reply = kind === 'episode' ? episodeReply(windows) : digestReply(windows);
    const worst = windows.reduce((a, b) => (b.anomaly_score < a.anomaly_score ? b : a));
    const chart = await priceChart(
      { asset: worst.asset, sinceMs: MAX_AGE_MS },
      { platform: deps.platform, now: deps.clock.now() },
    );
    const chartFileId = await deps.uploadChart(chart);
    const { text, blocks } = renderBlocks({ ...reply, chart }, { chartFileId });
    const metadata = {
      event_type: FEED_EVENT_TYPE,
      event_payload: {
        delivery_id: deliveryId,
        asset: worst.asset,
        window_end: worst.window_end,
        model_version: worst.model_version,
        score: worst.anomaly_score,
        windows: windows.map((w) => ({ asset: w.asset, window_end: w.window_end, score: w.anomaly_score })),
      },
    };
    return { text, blocks, metadata };
  }

  return {
    async runOnce(): Promise<FeedResult> {
      const channel = await resolveChannel();
      const result: FeedResult = { posted: 0, windows: 0, updated: 0, recovered: 0 };
      if (!recovered) {
        result.recovered = await recover(channel);
        recovered = true;
      }
      const rows = await deps.platform.scoredSince(await log.cursor(channel), BATCH);
      if (rows.length === 0) return result;
      const delivered = await log.delivered(channel, rows);
      const now = deps.clock.now().getTime();
      const key = (w: { asset: string; window_end: string }) => `${w.asset}|${w.window_end}`;
      const fresh = rows.filter(
        (r) => r.is_anomaly && !delivered.has(key(r)) && now - Date.parse(r.window_end) <= MAX_AGE_MS,
      );

      for (const { kind, windows } of plan(fresh.map(toDelivered))) {
        const deliveryId = randomUUID();
        const content = await message(kind, deliveryId, windows);
        await log.reserve({ delivery_id: deliveryId, channel, kind }, windows, deps.clock.now());
        try {
          const posted = await client.chat.postMessage({ channel, ...content });
          await log.posted(deliveryId, posted.ts as string, deps.clock.now());
        } catch (err) {
          await log.release(deliveryId);
          throw err;
        }
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
        const content = await message(target.kind, deliveryId, await log.windowsOf(deliveryId));
        try {
          await client.chat.update({ channel, ts: target.message_ts, ...content });
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
  };
}

/** The error code of a Slack Web API failure (`message_not_found`, …). */
function slackError(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

function toDelivered(r: ScoredWindow): DeliveredWindow {
  return {
    asset: r.asset,
    window_end: r.window_end,
    symbol: r.symbol,
    price_avg: r.price_avg,
    ret_window: r.ret_window,
    anomaly_score: r.anomaly_score,
    is_anomaly: r.is_anomaly,
    model_version: r.model_version,
    simulated: r.simulated,
  };
}

/** Episodes per asset; in a burst (many episodes), digests of at most DIGEST_WINDOWS windows. */
export function plan(
  windows: DeliveredWindow[],
): Array<{ kind: 'episode' | 'digest'; windows: DeliveredWindow[] }> {
  const episodes: DeliveredWindow[][] = [];
  const byAsset = new Map<string, DeliveredWindow[]>();
  for (const w of windows) byAsset.set(w.asset, [...(byAsset.get(w.asset) ?? []), w]);
  for (const list of byAsset.values()) {
    list.sort((a, b) => a.window_end.localeCompare(b.window_end));
    let current: DeliveredWindow[] = [];
    for (const w of list) {
      const last = current.at(-1);
      if (last && Date.parse(w.window_end) - Date.parse(last.window_end) > EPISODE_GAP_MS) {
        episodes.push(current);
        current = [];
      }
      current.push(w);
    }
    if (current.length > 0) episodes.push(current);
  }
  if (episodes.length <= MAX_EPISODE_MESSAGES) return episodes.map((e) => ({ kind: 'episode', windows: e }));
  const ranked = windows.slice().sort((a, b) => a.anomaly_score - b.anomaly_score);
  const digests: Array<{ kind: 'digest'; windows: DeliveredWindow[] }> = [];
  for (let i = 0; i < ranked.length; i += DIGEST_WINDOWS)
    digests.push({ kind: 'digest', windows: ranked.slice(i, i + DIGEST_WINDOWS) });
  return digests;
}

function label(w: DeliveredWindow): string {
  return `${w.asset}${w.symbol ? ` (${w.symbol.toUpperCase()})` : ''}`;
}

const SIMULATED = 'SIMULATED DATA: these prices come from the market simulator';
const HOW_TO_READ = 'Scores below 0 are anomalous: the lower, the more unusual for this asset.';

function describeWindow(w: DeliveredWindow): string {
  return w.is_anomaly
    ? formatScore(w.anomaly_score)
    : `${formatScore(w.anomaly_score)} (cleared by model v${w.model_version})`;
}

function episodeReply(windows: DeliveredWindow[]): Reply {
  const first = windows[0] as DeliveredWindow;
  const last = windows.at(-1) as DeliveredWindow;
  const active = windows.filter((w) => w.is_anomaly);
  const worst = windows.reduce((a, b) => (b.anomaly_score < a.anomaly_score ? b : a));
  const span =
    windows.length === 1
      ? formatTime(first.window_end)
      : `${formatTime(first.window_end)} – ${formatTime(last.window_end)}`;
  return {
    title:
      active.length === 0
        ? `✅ ${label(first)}: anomaly cleared`
        : `🚨 ${label(first)}: ${active.length} anomalous window${active.length === 1 ? '' : 's'}`,
    badge: first.simulated ? SIMULATED : undefined,
    fields: [
      { label: 'Window end (UTC)', value: span },
      { label: 'Lowest score', value: `${describeWindow(worst)} at ${formatTime(worst.window_end)}` },
      {
        label: 'Price',
        value: `${formatPrice(worst.price_avg)} average, range ${formatPercent(worst.ret_window)}`,
      },
      { label: 'Model', value: `v${worst.model_version}` },
    ],
    tables:
      windows.length > 1
        ? [
            {
              columns: [
                { header: 'window end' },
                { header: 'score', align: 'right' },
                { header: 'range', align: 'right' },
              ],
              rows: windows.map((w) => [
                formatTime(w.window_end),
                describeWindow(w),
                formatPercent(w.ret_window),
              ]),
            },
          ]
        : [],
    notes: [HOW_TO_READ, `\`/crypto chart ${first.asset} 7d\` for a longer view.`],
    data: { windows },
  };
}

function digestReply(windows: DeliveredWindow[]): Reply {
  const assets = [...new Set(windows.map((w) => w.asset))];
  const active = windows.filter((w) => w.is_anomaly);
  return {
    title: `🚨 ${active.length} anomalous windows across ${assets.length} asset${assets.length === 1 ? '' : 's'}`,
    badge: windows.some((w) => w.simulated) ? SIMULATED : undefined,
    summary: 'A burst of anomalies, in one message instead of many (lowest score first).',
    tables: [
      {
        columns: [
          { header: 'asset' },
          { header: 'window end' },
          { header: 'score', align: 'right' },
          { header: 'avg price', align: 'right' },
          { header: 'range', align: 'right' },
        ],
        rows: windows.map((w) => [
          label(w),
          formatTime(w.window_end),
          describeWindow(w),
          formatPrice(w.price_avg),
          formatPercent(w.ret_window),
        ]),
      },
    ],
    notes: [HOW_TO_READ, '`/crypto top 50 24h` lists them all.'],
    data: { windows },
  };
}
