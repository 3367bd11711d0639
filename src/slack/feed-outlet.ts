import type { KnownBlock, MessageMetadata } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { type Envelope, type FeedOutlet, NotPosted } from '../chat/port.js';
import type { FeedSettings } from '../config.js';
import type { Reply } from '../domain/reply.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { renderBlocks } from '../render/blocks.js';
import type { SlackCharts } from './charts.js';
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
/** The Slack message metadata type of data-incident messages (looked up after a restart). */
export const INCIDENT_EVENT_TYPE = 'crypto_data_incident';
/** Messages read per page when looking for pending deliveries after a restart. */
const HISTORY_PAGE = 200;
/** How long a feed message waits for its chart to be processed before it goes without it. */
const CHART_READY_MS = 3_000;
/** How long a message posted without its chart waits for it, to add it by chat.update. */
const LATE_CHART_MS = 120_000;
const CHANNEL_ID = /^[CG][A-Z0-9]{6,}$/;

export interface SlackFeedOutletDeps {
  /**
   * The feed's own WebClient, apart from the one answering commands, so a burst's rate limits never
   * hold up an answer: no retries of its own, `rejectRateLimitedCalls` (429s are waited out here).
   */
  client: WebClient;
  /** Where the feed posts (channel ID or name). */
  settings: FeedSettings;
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
  withChart: KnownBlock[];
  withoutChart: KnownBlock[];
  metadata: MessageMetadata;
  /** The chart's file, when it was uploaded. */
  fileId?: string;
  chartReady: boolean;
}

/**
 * The feed in a Slack channel. Each message carries Slack message metadata (event_type
 * crypto_anomaly or crypto_data_incident, with the delivery id or incident key), which is how a
 * message whose post was interrupted is found again in the channel's history. Posts are paced to
 * the channel's rate limit and wait out 429s; a chart Slack has not processed yet follows by
 * chat.update, and a chart that cannot be made never stops a message.
 */
export function createSlackFeedOutlet(deps: SlackFeedOutletDeps): FeedOutlet & {
  /** The feed channel's id (the same as destination). */
  channel(): Promise<string>;
} {
  const { client, logger, charts, pacer } = deps;
  const stopping = new AbortController();
  const lateCharts = new Set<Promise<void>>();
  let channelId: string | undefined;

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

  function metadata(envelope: Envelope): MessageMetadata {
    return {
      event_type: envelope.kind === 'anomaly' ? FEED_EVENT_TYPE : INCIDENT_EVENT_TYPE,
      event_payload: envelope.payload as MessageMetadata['event_payload'],
    };
  }

  /** The message's blocks with and without its chart, the chart uploaded and waited for (bounded). */
  async function content(reply: Reply, envelope: Envelope): Promise<Content> {
    const fileId = reply.chart ? await charts.upload(reply.chart) : undefined;
    const chartReady = fileId ? await charts.ready(fileId, CHART_READY_MS, stopping.signal) : false;
    const withChart = renderBlocks(reply, fileId ? { chartFileId: fileId } : {});
    const withoutChart = renderBlocks({ ...reply, chart: undefined }).blocks;
    return {
      text: withChart.text,
      blocks: chartReady ? withChart.blocks : withoutChart,
      withChart: withChart.blocks,
      withoutChart,
      ...(fileId ? { fileId } : {}),
      chartReady,
      metadata: metadata(envelope),
    };
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

  /** A post Slack refused (`ok: false`, a 429) did nothing: NotPosted. Anything else may have posted. */
  function classified(err: unknown): unknown {
    const seconds = retryAfterSeconds(err);
    if (!refusedBySlack(err) && seconds === undefined) return err;
    return new NotPosted(
      `Slack refused the post (${slackError(err) ?? (err instanceof Error ? err.message : String(err))})`,
      seconds === undefined ? undefined : seconds * 1_000,
      { cause: err },
    );
  }

  /** Messages of this metadata type in the channel whose key is among `keys`, by key. */
  async function scan(
    channel: string,
    envelopeKind: Envelope['kind'],
    keys: Set<string>,
    oldest: string | undefined,
  ): Promise<Map<string, string>> {
    const eventType = envelopeKind === 'anomaly' ? FEED_EVENT_TYPE : INCIDENT_EVENT_TYPE;
    const field = envelopeKind === 'anomaly' ? 'delivery_id' : 'incident';
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
        const key = (m.metadata?.event_payload as Record<string, unknown> | undefined)?.[field];
        if (m.metadata?.event_type === eventType && typeof key === 'string' && keys.has(key) && m.ts) {
          found.set(key, m.ts);
        }
      }
      // Incidents: the latest page (they are rare); feed messages: every page since the last known post.
      cursor =
        envelopeKind === 'anomaly' && page.has_more
          ? page.response_metadata?.next_cursor || undefined
          : undefined;
    } while (cursor && found.size < keys.size);
    return found;
  }

  return {
    platform: 'slack',
    destination: resolveChannel,
    channel: resolveChannel,

    async post(channel, reply, envelope) {
      if (envelope.kind === 'incident') {
        // Announcements (data incidents, silences) have no chart: their blocks go out as they are.
        const { text, blocks } = renderBlocks(reply);
        await pacer.turn(channel);
        try {
          const answer = await waitingOutRateLimits(() =>
            client.chat.postMessage({ channel, text, blocks, metadata: metadata(envelope) }),
          );
          return answer.ts as string;
        } catch (err) {
          throw classified(err);
        }
      }
      const c = await content(reply, envelope);
      let blocks = c.blocks;
      for (;;) {
        await pacer.turn(channel);
        try {
          const posted = await waitingOutRateLimits(() =>
            client.chat.postMessage({ channel, text: c.text, blocks, metadata: c.metadata }),
          );
          if (blocks !== c.withChart) addChartLater(channel, posted.ts as string, c);
          return posted.ts as string;
        } catch (err) {
          // The image's file is not processed yet after all: the message goes without it.
          if (slackError(err) === 'invalid_blocks' && blocks !== c.withoutChart) {
            blocks = c.withoutChart;
            continue;
          }
          throw classified(err);
        }
      }
    },

    async update({ conversation: channel, id: ts }, reply, envelope) {
      const c = await content(reply, envelope);
      try {
        // chat.update replaces the blocks: they are always sent, with the image only when it is ready.
        await waitingOutRateLimits(() =>
          client.chat.update({ channel, ts, text: c.text, blocks: c.blocks, metadata: c.metadata }),
        );
      } catch (err) {
        if (slackError(err) === 'message_not_found') return false;
        throw err;
      }
      if (!c.chartReady) addChartLater(channel, ts, c);
      return true;
    },

    // A pending message, if it went out, is newer than every message the log knows was posted, so
    // the scan starts there (Slack's own clock) and follows every page.
    findPosted: (channel, kind, keys, after) =>
      scan(channel, kind, keys, kind === 'anomaly' ? after : undefined),

    async stop() {
      stopping.abort();
      await Promise.all(lateCharts);
    },
  };
}
