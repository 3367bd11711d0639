import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, type Logger as BoltLogger, LogLevel, type RespondFn } from '@slack/bolt';
import type { Clock } from '../clock.js';
import { priceChart } from '../commands/chart.js';
import { helpCommand } from '../commands/help.js';
import { provisionCommand } from '../commands/provision.js';
import { parseSlashText } from '../commands/slash.js';
import { statusCommand } from '../commands/status.js';
import { topCommand } from '../commands/top.js';
import type { SlackSettings } from '../config.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Platform } from '../platform/port.js';
import { renderBlocks } from '../render/blocks.js';
import type { ChartInput } from '../render/chart.js';
import { renderChartPng } from '../render/chart.js';
import type { Reply } from '../render/reply.js';
import { createAccess } from './access.js';
import type { DeliveryLog } from './delivery-log.js';
import { createFeed } from './feed.js';
import { createRetrainFlow, RETRAIN_CONFIRM } from './retrain.js';

export interface SlackBotDeps {
  settings: SlackSettings;
  /** HTTP port for Slack's requests and /healthz (0: any free port). */
  port: number;
  /** Address to listen on (default: every address). */
  host?: string;
  platform: Platform;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
  /** How often a running retrain's state is read (ms). */
  retrainPollMs?: number;
}

export interface SlackBot {
  /** The anomaly feed, run by the scheduler. */
  feed: ReturnType<typeof createFeed>;
  start(): Promise<void>;
  /** The port the HTTP receiver listens on (after start). */
  port(): number | undefined;
  stop(): Promise<void>;
}

/**
 * The Slack app (Bolt): `/crypto` commands, the retrain button, App Home and the anomaly feed.
 * Socket Mode when an app-level token is configured, else Slack's signed HTTP requests on
 * `/slack/events`, with `/healthz` on the same server. Every command is acknowledged at once and
 * answered through its response_url; failures are answered as sentences.
 */
export async function createSlackBot(deps: SlackBotDeps): Promise<SlackBot> {
  const { settings, platform, clock, logger } = deps;
  const socketMode = Boolean(settings.appToken);
  const app = new App({
    token: settings.botToken,
    signingSecret: settings.signingSecret,
    appToken: settings.appToken,
    socketMode,
    port: deps.port,
    customRoutes: [
      {
        path: '/healthz',
        method: ['GET'],
        handler: (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'ok', platform: platform.kind }));
        },
      },
    ],
    clientOptions: {
      slackApiUrl: settings.apiUrl,
      // Waits out 429s (Retry-After) a few times instead of the default half hour of retries.
      retryConfig: { retries: 4, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
    },
    logger: boltLogger(logger.child({ component: 'bolt' })),
    deferInitialization: true,
  });
  const client = app.client;
  const access = createAccess({
    opsUsers: settings.opsUsers,
    opsUsergroup: settings.opsUsergroup,
    client,
    clock,
    logger,
  });
  const retrain = createRetrainFlow({
    platform,
    client,
    access,
    clock,
    logger,
    pollMs: deps.retrainPollMs ?? 1_000,
  });

  async function uploadChart(input: ChartInput): Promise<string> {
    const png = await renderChartPng(input);
    const res = (await client.filesUploadV2({
      file: png,
      filename: `${input.asset}.png`,
      title: input.title ?? input.asset,
    })) as { files?: Array<{ files?: Array<{ id?: string }> }> };
    const id = res.files?.[0]?.files?.[0]?.id;
    if (!id) throw new Error('Slack did not return the id of the uploaded chart');
    return id;
  }

  /** Answers with a reply, its chart uploaded first when it has one. */
  async function answer(respond: RespondFn, reply: Reply): Promise<void> {
    const chartFileId = reply.chart ? await uploadChart(reply.chart) : undefined;
    await respond({ response_type: 'ephemeral', ...renderBlocks(reply, { chartFileId }) });
  }

  /** Reads need the lakehouse: on Databricks a stopped warehouse is started, and the user told. */
  async function warmUp(respond: RespondFn): Promise<void> {
    const { ready, state } = await platform.readiness();
    if (ready) return;
    await respond({
      response_type: 'ephemeral',
      text: `The SQL warehouse is ${state.toLowerCase()}; it is starting now and the answer follows here when it is ready (usually a minute or two).`,
    });
    await platform.ensureReady();
  }

  async function slashCommand(userId: string, text: string, respond: RespondFn): Promise<void> {
    const request = parseSlashText(text);
    if (request.name === 'top' || request.name === 'chart') await warmUp(respond);
    const now = clock.now();
    switch (request.name) {
      case 'help':
        return answer(respond, helpCommand());
      case 'usage':
        return answer(respond, helpCommand(request.problem));
      case 'status':
        return answer(respond, await statusCommand({ platform, now }));
      case 'top':
        return answer(respond, await topCommand(request.args, { platform, now }));
      case 'chart': {
        const assets = await platform.assets();
        if (!assets.includes(request.args.asset)) {
          return answer(
            respond,
            helpCommand(
              `There is no data for "${request.args.asset}".${assets.length > 0 ? ` Assets with data: ${assets.join(', ')}.` : ''}`,
            ),
          );
        }
        const chart = await priceChart(
          { asset: request.args.asset, sinceMs: request.args.since },
          { platform, now },
        );
        return answer(respond, {
          title: chart.title ?? request.args.asset,
          summary: chart.subtitle,
          chart,
          data: {},
        });
      }
      case 'retrain':
        return retrain.request(userId, respond);
      case 'provision': {
        const what = request.apply ? 'provision (apply)' : 'provision (plan)';
        if (!(await access.isOps(userId))) {
          access.audit({ who: userId, what, result: 'refused: not an ops user' });
          await respond({ response_type: 'ephemeral', text: 'Only the ops team can provision Databricks.' });
          return;
        }
        const reply = await provisionCommand(request.apply, { platform });
        access.audit({ who: userId, what, result: reply.summary ?? 'done' });
        return answer(respond, reply);
      }
    }
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

  app.command('/crypto', async ({ command, ack, respond }) => {
    await ack();
    await safely(respond, `/crypto ${command.text.slice(0, 40)}`, () =>
      slashCommand(command.user_id, command.text, respond),
    );
  });

  app.action(RETRAIN_CONFIRM, async ({ ack, body, respond }) => {
    await ack();
    const channel =
      body.channel?.id ?? (body as { container?: { channel_id?: string } }).container?.channel_id;
    await safely(respond, 'the retrain', async () => {
      if (!channel) throw new UserError('The retrain button must be pressed in a channel.');
      await retrain.confirm(body.user.id, channel, respond);
    });
  });

  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    try {
      const reply = await statusCommand({ platform, now: clock.now() });
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
  const feed = createFeed({
    platform,
    client,
    channel: settings.feedChannel,
    log: deps.log,
    clock,
    logger: logger.child({ component: 'feed' }),
    uploadChart,
  });

  return {
    feed,
    async start() {
      try {
        await app.init();
      } catch (err) {
        throw new UserError(
          `Slack refused the bot token (${err instanceof Error ? err.message : String(err)}): check SLACK_BOT_TOKEN${settings.apiUrl ? ' and SLACK_API_URL' : ''}.`,
          { cause: err },
        );
      }
      const started = await app.start(deps.host ? { port: deps.port, host: deps.host } : deps.port);
      if (!socketMode) server = started as Server;
    },
    port: () => (server?.address() as AddressInfo | null)?.port,
    async stop() {
      await retrain.stop();
      await app.stop();
    },
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
