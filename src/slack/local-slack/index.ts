/**
 * A local Slack workspace on loopback: the subset of the Slack Web API the bot uses (so a real
 * WebClient or Bolt app points its `slackApiUrl` at it), Block Kit limit checks, files, Home tabs,
 * response URLs, and the requests Slack sends to an app (slash commands, button clicks, App Home
 * openings), signed with the app's signing secret. The bot's tests use it, and it is the local
 * console when the product runs without Slack credentials: the same server serves the console
 * page at `/`, which shows the workspace live and sends what a person does there to the bot.
 */
import type { AddressInfo } from 'node:net';
import { createLiveEvents } from './console/live-events.js';
import { type ConsoleRoutes, createConsoleRoutes } from './console/routes.js';
import { openWorkspaceStore, type WorkspaceStore } from './console/workspace-store.js';
import { FaultQueues } from './faults.js';
import { ResponseUrls } from './response-url.js';
import { createLocalSlackServer } from './server.js';
import { createToBot } from './to-bot.js';
import type { LocalSlack, LocalSlackOptions, RecordedCall } from './types.js';
import { webApiMethods } from './web-api.js';
import { Workspace } from './workspace.js';

export { signSlackRequest } from './signing.js';
export type {
  Block,
  BotResponse,
  ButtonClickInput,
  EphemeralMessage,
  Fault,
  FileObject,
  HomeView,
  LocalSlack,
  LocalSlackOptions,
  Message,
  MessageMetadata,
  RecordedCall,
  SlashCommandInput,
  StoredFile,
} from './types.js';

export const DEFAULT_CHANNELS: ReadonlyArray<Readonly<{ id: string; name: string }>> = [
  { id: 'C0CRYPTO1', name: 'crypto-alerts' },
];
export const DEFAULT_USERS: ReadonlyArray<Readonly<{ id: string; name: string }>> = [
  { id: 'U0OPS01', name: 'ops-alice' },
  { id: 'U0OPS02', name: 'ops-carol' },
  { id: 'U0VIEW01', name: 'viewer-bob' },
];
/** The app's slash commands (slack/manifest.yml). */
export const DEFAULT_COMMANDS: readonly string[] = ['/crypto'];

export const DEFAULT_USERGROUPS: ReadonlyArray<
  Readonly<{ id: string; handle: string; users: readonly string[] }>
> = [{ id: 'S0CRYPTOOPS', handle: 'crypto-ops', users: ['U0OPS01', 'U0OPS02'] }];

/** Slack gives up on an app after 3 s; this waits longer so slow acks can be measured. */
const DEFAULT_BOT_TIMEOUT_MS = 10_000;

export async function startLocalSlack(options: LocalSlackOptions): Promise<LocalSlack> {
  const now = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  let baseUrl = '';
  let eventsUrl = options.botEventsUrl;

  const ws = new Workspace({
    teamId: options.teamId ?? 'T0CRYPTO',
    teamDomain: options.teamDomain ?? 'crypto-risk-local',
    botUserId: options.botUserId ?? 'U0CRYPTOBOT',
    botId: options.botId ?? 'B0CRYPTOBOT',
    appId: options.appId ?? 'A0CRYPTO',
    channels: (options.channels ?? DEFAULT_CHANNELS).map((c) => ({ ...c })),
    users: (options.users ?? DEFAULT_USERS).map((u) => ({ ...u })),
    usergroups: (options.usergroups ?? DEFAULT_USERGROUPS).map((g) => ({ ...g, users: [...g.users] })),
    baseUrl: () => baseUrl,
    now,
  });
  const calls: RecordedCall[] = [];
  const faults = new FaultQueues();
  const responseUrls = new ResponseUrls(ws, now, () => baseUrl);
  const store: WorkspaceStore | undefined = options.stateDir
    ? await openWorkspaceStore(ws, options.stateDir, { onError: options.onStoreError })
    : undefined;
  let consoleRoutes: ConsoleRoutes | undefined;
  const { server, close } = createLocalSlackServer({
    ws,
    methods: webApiMethods(ws),
    responseUrls,
    faults,
    calls,
    botToken: options.botToken,
    now,
    console: () => consoleRoutes,
  });

  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      void Promise.resolve(store?.close()).finally(() => reject(err));
    };
    server.once('error', failed);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const toBot = createToBot({
    ws,
    responseUrls,
    signingSecret: options.signingSecret,
    verificationToken: 'local-slack-verification-token',
    eventsUrl: () => eventsUrl,
    now,
    timeoutMs: options.botTimeoutMs ?? DEFAULT_BOT_TIMEOUT_MS,
  });
  const live = createLiveEvents(ws);
  consoleRoutes = createConsoleRoutes({
    ws,
    toBot,
    live,
    commands: options.commands ?? DEFAULT_COMMANDS,
    loopbackOnly: isLoopback(host),
    port: () => port,
    eventsUrl: () => eventsUrl,
  });

  return {
    apiUrl: `${baseUrl}/api/`,
    baseUrl,
    teamId: ws.config.teamId,
    botUserId: ws.config.botUserId,
    botId: ws.config.botId,
    appId: ws.config.appId,
    setBotEventsUrl: (url) => {
      eventsUrl = url;
    },
    calls,
    fault: (method, ...list) => faults.add(method, list),
    channelMessages: (channel) => ws.channelMessages(ws.resolveChannel(channel) ?? channel),
    ephemeral: (userId) => ws.ephemeral(userId),
    file: (id) => ws.file(id),
    homeView: (userId) => ws.homeView(userId),
    slashCommand: toBot.slashCommand,
    slashCommandBody: toBot.slashCommandBody,
    clickButton: toBot.clickButton,
    openHome: toBot.openHome,
    sendToBot: toBot.sendToBot,
    async close() {
      live.close();
      await store?.close();
      await close();
    },
  };
}

/** 127.0.0.0/8, ::1 or localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost';
}
