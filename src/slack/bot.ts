import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  App,
  type Logger as BoltLogger,
  HTTPReceiver,
  LogLevel,
  type RespondFn,
  SocketModeReceiver,
} from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { meteredFetch } from '../api-metrics.js';
import { createAccess } from '../chat/access.js';
import type { DeliveryLog } from '../chat/delivery-log.js';
import { createFeed, type Feed } from '../chat/feed.js';
import { createLabelFlow, LABEL_NOISE, LABEL_REAL, labelOf } from '../chat/labels.js';
import type { Respond } from '../chat/port.js';
import { createRetrainFlow, RETRAIN_CONFIRM } from '../chat/retrain.js';
import { askSchedule, createScheduleFlow, SCHEDULE_CONFIRM } from '../chat/schedule-flow.js';
import type { Clock } from '../clock.js';
import { commandLabel, dispatch, parseSlashText } from '../commands/registry.js';
import { createSilences } from '../commands/silences.js';
import { statusCommand } from '../commands/status.js';
import type { SlackSettings } from '../config.js';
import type { Reply } from '../domain/reply.js';
import { UserError } from '../errors.js';
import type { Schedules } from '../jobs/schedules.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Db } from '../platform/local/db.js';
import type { LakehouseRead, Platform } from '../platform/port.js';
import { type Readiness, readyzAnswer } from '../readiness.js';
import { renderBlocks } from '../render/blocks.js';
import { createSlackCharts, refusedBlocks } from './charts.js';
import { createSlackFeedOutlet } from './feed-outlet.js';
import { createSlackHttpServer } from './http-server.js';
import { slackUsergroup } from './ops-group.js';
import { createSlackProgress } from './retrain-outlet.js';
import { CHANNEL_POST_INTERVAL_MS, createChannelPacer, sleep } from './web-calls.js';

/** Waits out 429s (Retry-After) a few times instead of the WebClient's default half hour of retries. */
const RETRY_429S = { retries: 4, factor: 2, minTimeout: 500, maxTimeout: 10_000 };
/** How long a command's answer waits for its chart to be processed by Slack before going without it. */
const CHART_READY_MS = 2_500;
/** How long a delivered trigger or event id is remembered, to recognise Slack delivering it again. */
const REDELIVERY_WINDOW_MS = 30 * 60_000;
/** How long a chart that follows an answer is waited for. */
const LATE_CHART_MS = 60_000;

export interface SlackBotDeps {
  settings: SlackSettings;
  /** HTTP port for Slack's requests and /healthz (0: any free port). */
  port: number;
  /** Address to listen on (default: every address). */
  host?: string;
  platform: Platform;
  log: DeliveryLog;
  /** The bot store (the delivery log's tables): silences live there. Without it, nothing can be muted. */
  store?: Db;
  clock: Clock;
  logger: Logger;
  /** How often a running retrain's state is read (ms). */
  retrainPollMs?: number;
  /** The feed's stale-data rule (FeedDeps.staleAfterMs). */
  staleAfterMs?: number;
  /** Counts of the bot's work (acks, Web API calls, feed messages), when `run` serves them. */
  metrics?: Metrics;
  /** The process's readiness checks; /readyz adds the bot token's (auth.test) to them. */
  readiness?: Readiness;
  /** The local console's Dashboard view, when the bot runs on the console (`/crypto dashboard`, status). */
  consoleDashboardUrl?: string;
  /** The jobs' schedules (`/crypto schedule`; the feed announces their changes). */
  schedules?: Schedules;
}

export interface SlackBot {
  /** The anomaly feed, run by the scheduler. */
  feed: Feed;
  start(): Promise<void>;
  /** The port the HTTP receiver listens on (after start). */
  port(): number | undefined;
  stop(): Promise<void>;
}

/**
 * The Slack app (Bolt): `/crypto` commands, the retrain button, App Home and the anomaly feed.
 * Socket Mode when an app-level token is configured, else Slack's signed HTTP requests on
 * `/slack/events`; `/healthz` on `port` either way. Every command is acknowledged at once and
 * answered through its response_url; failures are answered as sentences.
 */
export async function createSlackBot(deps: SlackBotDeps): Promise<SlackBot> {
  const { settings, platform, clock, logger } = deps;
  const socketMode = Boolean(settings.appToken);
  const boltLog = boltLogger(logger.child({ component: 'bolt' }));
  // Every Web API call is counted and timed by method (api-metrics.ts), from each client below.
  const fetch = meteredFetch(deps.metrics, 'slack');
  const clientOptions = { slackApiUrl: settings.apiUrl, retryConfig: RETRY_429S, fetch };
  // HTTP: Bolt's receiver behind the product's own server (http-server.ts), which also serves
  // /healthz, in Socket Mode too. Socket Mode: Bolt's receiver opens its WebSocket connection
  // through the same Web API URL.
  const httpReceiver = socketMode
    ? undefined
    : new HTTPReceiver({ signingSecret: settings.signingSecret ?? '', logger: boltLog });
  const socketReceiver = socketMode
    ? new SocketModeReceiver({
        appToken: settings.appToken as string,
        logger: boltLog,
        installerOptions: { clientOptions },
      })
    : undefined;
  const app = new App({
    token: settings.botToken,
    receiver: httpReceiver ?? socketReceiver,
    clientOptions,
    logger: boltLog,
    deferInitialization: true,
  });
  const client = app.client;
  const silences = deps.store ? createSilences(deps.store) : undefined;
  const access = createAccess({
    opsUsers: settings.opsUsers,
    ...(settings.opsUsergroup
      ? { group: slackUsergroup({ usergroup: settings.opsUsergroup, client, clock }) }
      : {}),
    clock,
    logger,
  });
  // The bot's posts to a channel are spaced to Slack's per-channel limit, feed and threads alike.
  const pacer = createChannelPacer(CHANNEL_POST_INTERVAL_MS);
  // Clients apart from the one answering commands, so the feed's rate limits and waits never hold
  // up an answer (a WebClient pauses its whole queue on a 429). Posts (the feed's, the retrain
  // threads') go through one that never retries and refuses on 429: a post is not repeated blindly
  // after a lost answer, and 429s are waited out by the caller (web-calls.ts). The feed's chart
  // uploads have one of their own.
  const ownClientOptions = { slackApiUrl: settings.apiUrl, timeout: 30_000, logger: boltLog, fetch };
  const postingClient = new WebClient(settings.botToken, {
    ...ownClientOptions,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
  const retrain = createRetrainFlow({
    platform,
    access,
    clock,
    logger,
    pollMs: deps.retrainPollMs ?? 1_000,
  });
  const scheduleFlow = deps.schedules
    ? createScheduleFlow({ schedules: deps.schedules, access, clock })
    : undefined;
  const progress = createSlackProgress({
    client,
    poster: postingClient,
    pacer,
    feedChannel: () => outlet.channel(),
    logger,
  });

  const charts = createSlackCharts({ client, logger });
  const stopping = new AbortController();
  const followUps = new Set<Promise<void>>();

  /**
   * Answers with a reply and its chart. The chart's file must be processed by Slack before an image
   * block can show it: when it is not ready in time, the answer goes without it, says the chart
   * follows, and the chart is sent as a follow-up through the same response_url. A chart never
   * fails the answer.
   */
  async function answer(respond: RespondFn, reply: Reply): Promise<void> {
    const fileId = reply.chart ? await charts.upload(reply.chart) : undefined;
    if (fileId && (await charts.ready(fileId, CHART_READY_MS, stopping.signal))) {
      const sent = await respondUnlessRefused(respond, {
        response_type: 'ephemeral',
        ...renderBlocks(reply, { chartFileId: fileId }),
      });
      if (sent) return;
    }
    const note = reply.chart
      ? fileId
        ? 'The chart follows in a moment.'
        : 'The chart could not be made this time; `/crypto status` shows whether the lakehouse is healthy.'
      : undefined;
    await respond({
      response_type: 'ephemeral',
      ...renderBlocks({
        ...reply,
        chart: undefined,
        notes: [...(reply.notes ?? []), ...(note ? [note] : [])],
      }),
    });
    if (fileId && reply.chart)
      followUpChart(
        respond,
        { title: reply.chart.title ?? reply.title, chart: reply.chart, data: {} },
        fileId,
      );
  }

  /** Sends the chart alone, once processed, as a new answer through the response_url. */
  function followUpChart(respond: RespondFn, chartOnly: Reply, fileId: string): void {
    const work = (async () => {
      if (!(await charts.ready(fileId, LATE_CHART_MS, stopping.signal))) {
        logger.warn({ file: fileId }, 'chart: not processed in time; the answer stays without it');
        return;
      }
      for (let attempt = 0; attempt < 4 && !stopping.signal.aborted; attempt++) {
        const message = {
          response_type: 'ephemeral' as const,
          ...renderBlocks(chartOnly, { chartFileId: fileId }),
        };
        if (await respondUnlessRefused(respond, message)) return;
        await sleep(500 * 2 ** attempt);
      }
    })()
      .catch((err: unknown) => logger.warn({ err: String(err) }, 'chart: could not send the follow-up'))
      .finally(() => followUps.delete(work));
    followUps.add(work);
  }

  /** A response_url post; false when Slack refused its blocks (an image not processed yet). */
  async function respondUnlessRefused(
    respond: RespondFn,
    message: Parameters<RespondFn>[0],
  ): Promise<boolean> {
    try {
      const res = (await respond(message)) as { data?: { ok?: boolean; error?: string } } | undefined;
      if (res?.data?.ok === false && res.data.error === 'invalid_blocks') return false;
      return true;
    } catch (err) {
      if (refusedBlocks(err)) return false;
      throw err;
    }
  }

  /**
   * Reads need the lakehouse: on Databricks, unless the serving snapshot answers this read, a stopped
   * warehouse is started, and the user told.
   */
  async function warmUp(respond: RespondFn, read: LakehouseRead): Promise<void> {
    const { ready, state } = await platform.reads.readiness(read);
    if (ready) return;
    await respond({
      response_type: 'ephemeral',
      text: `The SQL warehouse is ${state.toLowerCase()}; it is starting now and the answer follows here when it is ready (usually a minute or two).`,
    });
    await platform.reads.ensureReady();
  }

  async function slashCommand(userId: string, text: string, respond: RespondFn): Promise<void> {
    const reply = await dispatch(parseSlashText(text), {
      platform,
      clock,
      user: userId,
      access,
      flows: {
        retrain: (user) => retrain.request(user, asRespond(respond)),
        schedule: (user, request) => askSchedule(scheduleFlow, user, request),
      },
      warmUp: (read) => warmUp(respond, read),
      refuse: async (sentence) => {
        await respond({ response_type: 'ephemeral', replace_original: false, text: sentence });
      },
      ...(silences ? { silences } : {}),
      openIncidents: () => deps.log.openIncidents(),
      ...(deps.consoleDashboardUrl ? { consoleDashboardUrl: deps.consoleDashboardUrl } : {}),
      ...(deps.schedules ? { schedules: deps.schedules } : {}),
    });
    if (reply) await answer(respond, reply);
  }

  /** Turns any failure into a sentence for the user (and a log line). */
  async function safely(respond: RespondFn, what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      const known = err instanceof UserError;
      logger.error({ what, err: known ? err.message : String(err) }, `${what} failed`);
      const text = known
        ? err.message
        : `Sorry, ${what} failed unexpectedly (${err instanceof Error ? err.message.split('\n')[0] : String(err)}). ` +
          'It was logged; try again in a minute, or check `/crypto status`.';
      await respond({ response_type: 'ephemeral', replace_original: false, text }).catch(
        (respondErr: unknown) =>
          logger.error({ err: String(respondErr) }, 'could not tell the user about the failure'),
      );
    }
  }

  // Slack delivers again what it saw no acknowledgement for (Socket Mode after a lost connection,
  // Events API retries), with the same trigger_id or event_id. A request counts as delivered once
  // its ack went out; a repeat of a delivered one is acknowledged and not run again.
  const delivered = new Map<string, number>();
  function firstDelivery(key: unknown): boolean {
    if (typeof key !== 'string') return true;
    const now = Date.now();
    for (const [k, at] of delivered) if (now - at > REDELIVERY_WINDOW_MS) delivered.delete(k);
    if (delivered.has(key)) {
      logger.info({ key }, 'ignored a request Slack delivered again');
      return false;
    }
    delivered.set(key, now);
    return true;
  }
  // When Bolt took the request up (after its signature check), for the ack latency metric.
  const RECEIVED = 'cryptoRiskReceivedAt';
  app.use(async ({ context, next }) => {
    context[RECEIVED] = performance.now();
    await next();
  });
  /** Acknowledges; false when Slack had this request delivered before (then it is not run). */
  async function acknowledge(
    ack: () => Promise<void>,
    body: object,
    command: string,
    context: Record<string, unknown>,
  ): Promise<boolean> {
    await ack();
    const received = context[RECEIVED];
    if (typeof received === 'number')
      deps.metrics?.commandAck.observe({ surface: 'slack', command }, (performance.now() - received) / 1000);
    return firstDelivery((body as { trigger_id?: unknown }).trigger_id);
  }

  app.command('/crypto', async ({ command, ack, respond, context }) => {
    if (!(await acknowledge(ack, command, commandLabel(command.text), context))) return;
    await safely(respond, `/crypto ${command.text.slice(0, 40)}`, () =>
      slashCommand(command.user_id, command.text, respond),
    );
  });

  app.action(RETRAIN_CONFIRM, async ({ ack, body, respond, context }) => {
    if (!(await acknowledge(ack, body, 'retrain_confirm', context))) return;
    const channel =
      body.channel?.id ?? (body as { container?: { channel_id?: string } }).container?.channel_id;
    const action = (body as { actions?: Array<{ value?: unknown }> }).actions?.[0];
    const token = typeof action?.value === 'string' ? action.value : '';
    await safely(respond, 'the retrain', async () => {
      if (!channel) throw new UserError('The retrain button must be pressed in a channel.');
      await retrain.confirm(body.user.id, channel, token, asRespond(respond), progress);
    });
  });

  // A schedule change's confirmation: checked again, made, and shown in place of the question.
  app.action(SCHEDULE_CONFIRM, async ({ ack, body, respond, context }) => {
    if (!(await acknowledge(ack, body, 'schedule_confirm', context))) return;
    const action = (body as { actions?: Array<{ value?: unknown }> }).actions?.[0];
    const token = typeof action?.value === 'string' ? action.value : '';
    await safely(respond, 'the schedule change', async () => {
      if (!scheduleFlow) throw new UserError('Schedules cannot be changed from this bot.');
      const reply = await scheduleFlow.confirm(body.user.id, token);
      await respond({ response_type: 'ephemeral', replace_original: true, ...renderBlocks(reply) });
    });
  });

  // Labels: anyone in the channel may press them; the message itself shows the new counts.
  const labels = createLabelFlow({
    platform,
    log: deps.log,
    clock,
    logger,
    refresh: (deliveryId) => feed.refresh(deliveryId),
  });
  app.action(new RegExp(`^(${LABEL_REAL}|${LABEL_NOISE})$`), async ({ ack, body, respond, context }) => {
    if (!(await acknowledge(ack, body, 'label', context))) return;
    const container = (body as { container?: { channel_id?: string; message_ts?: string } }).container;
    const action = (body as { actions?: Array<{ action_id?: string; value?: unknown }> }).actions?.[0];
    const label = labelOf(action?.action_id ?? '');
    const deliveryId = typeof action?.value === 'string' ? action.value : '';
    await safely(respond, 'the label', async () => {
      if (!label || !container?.channel_id || !container.message_ts)
        throw new UserError('Label an anomaly from its message in the feed channel.');
      await labels.label(deliveryId, body.user.id, label, {
        conversation: container.channel_id,
        id: container.message_ts,
      });
    });
  });

  app.event('app_home_opened', async ({ event, body }) => {
    if (event.tab !== 'home' || !firstDelivery((body as { event_id?: unknown }).event_id)) return;
    try {
      const reply = await statusCommand({
        platform,
        now: clock.now(),
        openIncidents: () => deps.log.openIncidents(),
        ...(deps.consoleDashboardUrl ? { consoleDashboardUrl: deps.consoleDashboardUrl } : {}),
      });
      const { blocks } = renderBlocks(reply, { maxBlocks: 100 });
      await client.views.publish({ user_id: event.user, view: { type: 'home', blocks } });
    } catch (err) {
      logger.error({ err: String(err) }, 'could not publish the App Home view');
    }
  });

  app.error(async (err) => {
    logger.error({ err: String(err) }, 'Slack app error');
  });

  let server: Server | undefined;
  let started = false;
  let botName = 'crypto-risk';
  const feedLogger = logger.child({ component: 'feed' });
  const outlet = createSlackFeedOutlet({
    client: postingClient,
    settings: settings.feed,
    logger: feedLogger,
    charts: createSlackCharts({
      client: new WebClient(settings.botToken, { ...ownClientOptions, retryConfig: RETRY_429S }),
      logger,
    }),
    pacer,
    botName: () => botName,
  });
  const feed = createFeed({
    platform,
    outlet,
    log: deps.log,
    clock,
    logger: feedLogger,
    ...(silences ? { silences } : {}),
    ...(deps.staleAfterMs !== undefined ? { staleAfterMs: deps.staleAfterMs } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.schedules ? { schedules: deps.schedules } : {}),
  });

  return {
    feed,
    async start() {
      try {
        await app.init();
        const auth = await client.auth.test();
        if (typeof auth.user === 'string' && auth.user) botName = auth.user;
      } catch (err) {
        throw new UserError(
          `Slack refused the bot token (${err instanceof Error ? err.message : String(err)}): check SLACK_BOT_TOKEN${settings.apiUrl ? ' and SLACK_API_URL' : ''}.`,
          { cause: err },
        );
      }
      // The feed channel is checked before anything runs: found (public or private), the bot in it.
      await feed.destination();
      const http = createSlackHttpServer({
        healthz: () => ({ status: 'ok', platform: platform.kind }),
        readyz: async () => {
          const report = await deps.readiness?.report({
            // The bot token still accepted (and Slack answering): auth.test, on the client that never retries.
            'slack auth': async () => {
              await postingClient.auth.test();
            },
          });
          return report ? readyzAnswer(report) : { status: 200, body: { status: 'ready', checks: {} } };
        },
        ...(httpReceiver ? { bolt: httpReceiver.requestListener } : {}),
        logger,
      });
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(deps.port, deps.host, () => {
          http.off('error', reject);
          resolve();
        });
      });
      server = http;
      if (socketReceiver) {
        await app.start();
        started = true;
      }
    },
    port: () => (server?.address() as AddressInfo | null)?.port,
    async stop() {
      stopping.abort();
      await Promise.all([retrain.stop(), feed.stop(), ...followUps]);
      if (started) await app.stop();
      const http = server;
      if (http) {
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      }
    },
  };
}

/** The chat core's answers to the requester, as response_url posts visible to them only. */
function asRespond(respond: RespondFn): Respond {
  return async (reply, options) => {
    await respond(
      typeof reply === 'string'
        ? { response_type: 'ephemeral', replace_original: options?.replaceOriginal ?? false, text: reply }
        : { response_type: 'ephemeral', ...renderBlocks(reply) },
    );
  };
}

/** Bolt's logger interface over the product's logger. */
function boltLogger(logger: Logger): BoltLogger {
  const text = (parts: unknown[]) =>
    parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ');
  return {
    debug: (...m) => logger.debug(text(m)),
    info: (...m) => logger.info(text(m)),
    warn: (...m) => logger.warn(text(m)),
    error: (...m) => logger.error(text(m)),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}
