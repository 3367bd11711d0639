/**
 * A local Slack workspace on loopback: the subset of the Slack Web API the bot uses (so a real
 * WebClient or Bolt app points its `slackApiUrl` at it), Block Kit limit checks, files, Home tabs,
 * response URLs, and the requests Slack sends to an app (slash commands, button clicks, App Home
 * openings), signed with the app's signing secret, or, with an app-level token, as Socket Mode
 * envelopes over the app's WebSocket connection (socket-mode.ts). The bot's tests use it, and it
 * is the local console when the product runs without Slack credentials: the same server serves
 * the console page at `/`, which shows the workspace live and sends what a person does there to
 * the bot.
 */
import type { AddressInfo } from 'node:net';
import { createLiveEvents, DEFAULT_LIVE_LIMITS } from './console/live-events.js';
import { type ConsoleRoutes, createConsoleRoutes } from './console/routes.js';
import { openWorkspaceStore, type WorkspaceStore } from './console/workspace-store.js';
import { FaultQueues } from './faults.js';
import { ResponseUrls } from './response-url.js';
import { manifestBotScopes } from './scopes.js';
import { createLocalSlackServer } from './server.js';
import { createSocketMode } from './socket-mode.js';
import { createToBot } from './to-bot.js';
import type { LocalSlack, LocalSlackOptions, RecordedCall } from './types.js';
import { webApiMethods } from './web-api.js';
import { Workspace } from './workspace.js';

export type { ConsoleDashboard } from './console/dashboard-routes.js';
export { signSlackRequest } from './signing.js';
export { madeUpAppToken } from './socket-mode.js';
export type {
  Block,
  BotResponse,
  ButtonClickInput,
  ChannelOption,
  DisconnectReason,
  EnvelopeType,
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
  SocketMessage,
  SocketModeControl,
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
  /** The bot's /healthz, which the console's relays (default: beside the events URL). */
  let healthUrl: string | undefined;

  const ws = new Workspace({
    teamId: options.teamId ?? 'T0CRYPTO',
    teamDomain: options.teamDomain ?? 'crypto-risk-local',
    botUserId: options.botUserId ?? 'U0CRYPTOBOT',
    botId: options.botId ?? 'B0CRYPTOBOT',
    appId: options.appId ?? 'A0CRYPTO',
    channels: structuredClone(options.channels ?? DEFAULT_CHANNELS.map((c) => ({ ...c }))),
    users: (options.users ?? DEFAULT_USERS).map((u) => ({ ...u })),
    usergroups: (options.usergroups ?? DEFAULT_USERGROUPS).map((g) => ({ ...g, users: [...g.users] })),
    baseUrl: () => baseUrl,
    now,
    ...(options.fileProcessingMs !== undefined ? { fileProcessingMs: options.fileProcessingMs } : {}),
    ...(options.historyMessages !== undefined ? { historyLimit: options.historyMessages } : {}),
  });
  const postsPerSecond = options.postsPerSecond ?? 1;
  const postBurst = options.postBurst ?? 1;
  if (!(postsPerSecond > 0) || !Number.isInteger(postBurst) || postBurst < 1) {
    throw new Error('local Slack: postsPerSecond must be above 0 and postBurst a whole number from 1');
  }
  const methods = webApiMethods(ws, {
    scopes: options.scopes ?? manifestBotScopes(),
    postsPerSecond,
    postBurst,
  });
  const calls: RecordedCall[] = [];
  const faults = new FaultQueues();
  const responseUrls = new ResponseUrls(ws, now, () => baseUrl);
  const store: WorkspaceStore | undefined = options.stateDir
    ? await openWorkspaceStore(ws, options.stateDir, { onError: options.onStoreError })
    : undefined;
  let consoleRoutes: ConsoleRoutes | undefined;
  const botTimeoutMs = options.botTimeoutMs ?? DEFAULT_BOT_TIMEOUT_MS;
  const socketMode = createSocketMode({
    appId: ws.config.appId,
    appToken: options.appToken,
    botToken: options.botToken,
    wsBase: () => baseUrl.replace(/^http/, 'ws'),
    now,
    timeoutMs: botTimeoutMs,
  });
  const { server, close } = createLocalSlackServer({
    ws,
    methods,
    responseUrls,
    faults,
    calls,
    botToken: options.botToken,
    appLevel: {
      token: options.appToken,
      methods: { 'apps.connections.open': socketMode.connectionsOpen },
    },
    now,
    console: () => consoleRoutes,
  });
  server.on('upgrade', socketMode.handleUpgrade);

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
    timeoutMs: botTimeoutMs,
    socket: socketMode,
  });
  const live = createLiveEvents(ws, { ...DEFAULT_LIVE_LIMITS, ...options.liveLimits });
  consoleRoutes = createConsoleRoutes({
    ws,
    toBot,
    live,
    commands: options.commands ?? DEFAULT_COMMANDS,
    loopbackOnly: isLoopback(host),
    port: () => port,
    healthUrl: () => healthUrl ?? (eventsUrl ? new URL('/healthz', eventsUrl).href : undefined),
    ...(options.dashboard ? { dashboard: options.dashboard } : {}),
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
    setBotHealthUrl: (url) => {
      healthUrl = url;
    },
    calls,
    fault: (method, ...list) => faults.add(method, list),
    clearFaults: () => faults.clear(),
    setUsergroupUsers: (id, users) => {
      const group = ws.usergroup(id);
      if (!group) throw new Error(`local Slack: no user group ${id}`);
      group.users = [...users];
    },
    channelMessages: (channel) => ws.channelMessages(ws.resolveChannel(channel) ?? channel),
    ephemeral: (userId) => ws.ephemeral(userId),
    file: (id) => ws.file(id),
    homeView: (userId) => ws.homeView(userId),
    slashCommand: toBot.slashCommand,
    slashCommandBody: toBot.slashCommandBody,
    clickButton: toBot.clickButton,
    openHome: toBot.openHome,
    sendToBot: toBot.sendToBot,
    socketMode: {
      openConnections: socketMode.openConnections,
      messages: socketMode.messages,
      disconnect: socketMode.disconnect,
    },
    async close() {
      live.close();
      await socketMode.close();
      await store?.close();
      await close();
    },
  };
}

/** 127.0.0.0/8, ::1 or localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost';
}
