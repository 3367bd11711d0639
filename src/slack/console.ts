import { randomBytes } from 'node:crypto';
import type { ConsoleSettings, SlackSettings } from '../config.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SlackBot } from './bot.js';
import { WorkspaceStoreError } from './local-slack/console/workspace-store.js';
import {
  type ConsoleDashboard,
  DEFAULT_CHANNELS,
  isLoopback,
  type LocalSlack,
  madeUpAppToken,
  startLocalSlack,
} from './local-slack/index.js';

/**
 * The local console: without Slack credentials, the bot runs its normal code path against the
 * local Slack workspace, which also serves the console page. The bot gets a bot token and a
 * signing secret made up for this run, listens on loopback where only the console reaches it, and
 * the console signs every request it sends like Slack does. With `slackMode: 'socket'` the bot
 * gets an app-level token made up for the run instead and runs in Socket Mode: it opens a
 * WebSocket connection to the console's Slack, and every request goes over it.
 */
export interface LocalConsole {
  bot: SlackBot;
  /** The page's address, e.g. http://127.0.0.1:3000 */
  url: string;
  /** Set when it listens beyond this machine: what to tell the person who started it. */
  warning?: string;
  stop(): Promise<void>;
}

export interface ConsoleDeps {
  settings: ConsoleSettings;
  logger: Logger;
  /** Builds the bot for these settings, listening on this loopback port (0: any free one). */
  createBot(
    settings: SlackSettings,
    listen: { host: string; port: number },
    /** The console's Dashboard view, which `/crypto dashboard` and status link to. */
    links?: { consoleDashboardUrl?: string },
  ): Promise<SlackBot>;
  /** The dashboard's data for the console's Dashboard view (the local lakehouse's); none: no data. */
  dashboard?: ConsoleDashboard;
}

export async function startConsole(deps: ConsoleDeps): Promise<LocalConsole> {
  const { settings, logger } = deps;
  const signingSecret = randomBytes(32).toString('hex');
  const botToken = `xoxb-local-${randomBytes(16).toString('hex')}`;
  const socketMode = settings.slackMode === 'socket';
  const appToken = socketMode ? madeUpAppToken('A0CRYPTO') : undefined;
  let local: LocalSlack;
  try {
    local = await startLocalSlack({
      signingSecret,
      botToken,
      ...(appToken ? { appToken } : {}),
      host: settings.host,
      port: settings.port,
      channels: consoleChannels(settings.feed.channel),
      stateDir: settings.stateDir,
      historyMessages: settings.historyMessages,
      ...(deps.dashboard ? { dashboard: deps.dashboard } : {}),
      onStoreError: (err) =>
        logger.error({ err: String(err) }, 'console: could not save the workspace (it goes on in memory)'),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new UserError(
        `The console cannot listen on ${settings.host}:${settings.port}: the port is in use (another run?). Set PORT to a free port.`,
        { cause: err },
      );
    }
    if (err instanceof WorkspaceStoreError) {
      throw new UserError(
        `The console's saved channel history cannot be read: ${err.message}. Move that folder away to start the console empty.`,
        { cause: err },
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') {
      throw new UserError(
        `The console cannot listen on ${settings.host}:${settings.port} (${code}). Check CONSOLE_HOST and PORT.`,
        { cause: err },
      );
    }
    throw err;
  }
  const warning = isLoopback(settings.host)
    ? undefined
    : `the console has no login and CONSOLE_HOST=${settings.host} makes it reachable beyond this machine: whoever reaches it can act as any console user, ops included`;
  if (warning) logger.warn({ host: settings.host, port: settings.port }, warning);
  const shown = isLoopback(settings.host)
    ? local.baseUrl
    : `http://${displayHost(settings.host)}:${settings.port}`;
  try {
    const bot = await deps.createBot(
      {
        botToken,
        ...(appToken ? { appToken } : { signingSecret }),
        apiUrl: local.apiUrl,
        feed: settings.feed,
        opsUsers: settings.opsUsers,
        ...(settings.opsUsergroup ? { opsUsergroup: settings.opsUsergroup } : {}),
      },
      { host: '127.0.0.1', port: 0 },
      deps.dashboard ? { consoleDashboardUrl: `${shown}/dashboard` } : {},
    );
    await bot.start();
    // In Socket Mode the bot has no Request URL: it is connected once start() resolves.
    if (socketMode) local.setBotHealthUrl(`http://127.0.0.1:${bot.port()}/healthz`);
    else local.setBotEventsUrl(`http://127.0.0.1:${bot.port()}/slack/events`);
    return {
      bot,
      url: shown,
      ...(warning ? { warning } : {}),
      async stop() {
        await bot.stop();
        await local.close();
      },
    };
  } catch (err) {
    await local.close();
    throw err;
  }
}

/** The console's channels: #crypto-alerts, and the feed channel when it is another one. */
function consoleChannels(feedChannel: string): Array<{ id: string; name: string }> {
  const channels = DEFAULT_CHANNELS.map((c) => ({ ...c }));
  const known = channels.some((c) => c.id === feedChannel || c.name === feedChannel);
  if (!known) {
    channels.push(
      /^[CG][A-Z0-9]{6,}$/.test(feedChannel)
        ? { id: feedChannel, name: 'feed' }
        : { id: 'C0CRYPTOFEED', name: feedChannel },
    );
  }
  return channels;
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
