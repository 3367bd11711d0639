/**
 * Public shapes of the local Slack workspace: the options it starts with, the handle tests and the
 * local console hold, and the Slack objects it stores (messages, files, views), in the field names
 * Slack's Web API uses so the same assertions hold against either.
 */

import type { ConsoleDashboard } from './console/dashboard-routes.js';

/**
 * How many live-update streams the console serves (per user and in all), and how much a client
 * that does not read may have waiting, for how long (console/live-events.ts).
 */
export interface LiveLimits {
  perUser: number;
  perProcess: number;
  maxBufferedBytes: number;
  drainTimeoutMs: number;
}

export interface LocalSlackOptions {
  /** Signs the requests sent to the bot (v0 HMAC-SHA256, like Slack). */
  signingSecret: string;
  /** The console's live-update stream limits (default: console/live-events.ts). */
  liveLimits?: Partial<LiveLimits>;
  /** The xoxb- token the Web API accepts; any other → invalid_auth, none → not_authed. */
  botToken: string;
  /**
   * The app's xapp- app-level token: Socket Mode is on. apps.connections.open takes it (and only
   * it), and while the app has a connection open, what Slack sends the app goes over it.
   */
  appToken?: string;
  teamId?: string;
  /** Workspace domain sent as team_domain / team.domain. */
  teamDomain?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /** Default: [{ id: 'C0CRYPTO1', name: 'crypto-alerts' }] (public, every user and the bot in it). */
  channels?: ChannelOption[];
  /** Default: U0OPS01 ops-alice, U0OPS02 ops-carol, U0VIEW01 viewer-bob. */
  users?: Array<{ id: string; name: string }>;
  /** Default: S0CRYPTOOPS @crypto-ops = [U0OPS01, U0OPS02]. */
  usergroups?: Array<{ id: string; handle: string; users: string[] }>;
  /** Where the bot receives Slack requests, e.g. http://127.0.0.1:3000/slack/events. */
  botEventsUrl?: string;
  host?: string;
  port?: number;
  /** Milliseconds since the epoch; message ts, response_url expiry and request signing use it. */
  now?: () => number;
  /** How long to wait for the bot to answer a request before giving up (Slack gives up after 3 s). */
  botTimeoutMs?: number;
  /** The app's slash commands; the console refuses others like Slack does. Default: /crypto. */
  commands?: readonly string[];
  /** Keep the workspace in this folder across restarts (the console); default: in memory only. */
  stateDir?: string;
  /**
   * Messages each conversation keeps, replies counted: beyond it the oldest threads are pruned with
   * their replies and the files only they showed, in memory and in `stateDir`. Default: no bound.
   */
  historyMessages?: number;
  /** A save of the state folder failed (the workspace goes on in memory). */
  onStoreError?: (err: unknown) => void;
  /** The product's dashboard data, for the console's Dashboard view. Default: the view has none. */
  dashboard?: ConsoleDashboard;
  /** The bot token's scopes. Default: the bot scopes of slack/manifest.yml. */
  scopes?: string[];
  /** How long after files.completeUploadExternal a file stays unprocessed (no mimetype, not usable in blocks). Default 300. */
  fileProcessingMs?: number;
  /** chat.postMessage messages per second per channel (the token bucket's refill rate). Default 1. */
  postsPerSecond?: number;
  /** chat.postMessage messages a channel takes at once before 429s (the bucket's size). Default 1. */
  postBurst?: number;
}

/**
 * A conversation of the workspace. Channels are public unless `private`; `members` are people
 * (default: every configured user), `botMember` says whether the bot is in it (default true). A DM
 * (`kind: 'im'`, two people counting the bot) or group DM (`kind: 'mpim'`, three or more) names
 * its people in `members`; with `botMember: false` it is a conversation between people only.
 */
export type ChannelOption =
  | { id: string; name: string; kind?: 'channel'; private?: boolean; members?: string[]; botMember?: boolean }
  | { id: string; kind: 'im' | 'mpim'; members: string[]; botMember?: boolean; name?: string };

export interface LocalSlack {
  /** Base for WebClient/Bolt `slackApiUrl`: http://127.0.0.1:PORT/api/ */
  apiUrl: string;
  /** Root of this server: http://127.0.0.1:PORT */
  baseUrl: string;
  teamId: string;
  botUserId: string;
  botId: string;
  appId: string;
  setBotEventsUrl(url: string): void;
  /** The bot's /healthz, for the console's (default: /healthz beside the events URL; Socket Mode has none). */
  setBotHealthUrl(url: string): void;
  /**
   * Every Web API call, upload (method 'upload_url') and response_url post (method 'response_url'),
   * in arrival order, including the ones answered with an error or a fault.
   */
  calls: RecordedCall[];
  /** Queue faults for a method ('*' = any Web API method), consumed one per request, in order. */
  fault(method: string, ...faults: Fault[]): void;
  /** Drops every fault still queued (Slack answers normally again). */
  clearFaults(): void;
  /** Sets who is in a user group (an admin adding or removing people). */
  setUsergroupUsers(id: string, users: string[]): void;
  /** Current state of a channel (after updates and deletes): root messages and replies, oldest first. */
  channelMessages(channel: string): Message[];
  /** Ephemeral messages (chat.postEphemeral and ephemeral response_url posts), oldest first. */
  ephemeral(userId?: string): EphemeralMessage[];
  file(id: string): StoredFile | undefined;
  /** The view of the last views.publish for the user, as Slack stores it (id, hash, blocks, …). */
  homeView(userId: string): HomeView | undefined;
  slashCommand(a: SlashCommandInput): Promise<BotResponse>;
  /** The unsigned form body of a slash command (its response_url registered), for load generators. */
  slashCommandBody(a: SlashCommandInput): string;
  clickButton(a: ButtonClickInput): Promise<BotResponse>;
  openHome(userId: string): Promise<BotResponse>;
  /**
   * Sends a raw body to the bot. It is signed with the signing secret unless `headers` override
   * `x-slack-request-timestamp` / `x-slack-signature` (forged or stale signatures).
   */
  sendToBot(body: string, contentType: string, headers?: Record<string, string>): Promise<BotResponse>;
  /** Socket Mode (with `appToken`): the app's connections, what went over them, and a disconnect hook. */
  socketMode: SocketModeControl;
  close(): Promise<void>;
}

export interface SlashCommandInput {
  userId: string;
  /** Default: the first channel. */
  channelId?: string;
  text: string;
  /** Default: /crypto */
  command?: string;
}

export interface ButtonClickInput {
  userId: string;
  channelId: string;
  actionId: string;
  /** Default: the value of the button found (what Slack sends); another value forges the click. */
  value?: string;
  /** The message holding the button; default: the newest message there with that action_id. */
  messageTs?: string;
  /** The button is on an ephemeral message of the user. */
  ephemeral?: boolean;
  /** Reuse a response_url (default: a new one for this click). */
  responseUrl?: string;
}

export type Fault =
  /** HTTP 429 with Retry-After: <retryAfter> and { ok: false, error: 'ratelimited' }. */
  | { kind: 'rate_limited'; retryAfter: number }
  /** HTTP 200 { ok: false, error }. */
  | { kind: 'error'; error: string }
  /** That HTTP status with a plain-text body. */
  | { kind: 'http'; status: number }
  /** Answer normally, `ms` late. */
  | { kind: 'delay'; ms: number }
  /** Do the work at once but answer `ms` late (a stalled connection after Slack acted). */
  | { kind: 'stall'; ms: number }
  /** Do the work, then close the connection without answering (the answer is lost). */
  | { kind: 'drop' };

export interface BotResponse {
  status: number;
  body: string;
  /**
   * Time until the ack, in milliseconds: until the bot answered the HTTP request, or, in Socket
   * Mode, from sending the envelope until its ack arrived (redeliveries included).
   */
  ms: number;
}

/** What Socket Mode wraps in an envelope: slash commands, interactivity, and Events API callbacks. */
export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

/** Why Slack closes a Socket Mode connection (the `reason` of a `disconnect` message). */
export type DisconnectReason = 'refresh_requested' | 'warning' | 'link_disabled' | 'too_many_websockets';

/** One WebSocket message of Socket Mode, either way, in order. */
export interface SocketMessage {
  /** The connection (1, 2, … in the order they opened). */
  connection: number;
  direction: 'to_app' | 'from_app';
  /** Milliseconds since the epoch. */
  at: number;
  /** The message as JSON (hello, envelope, disconnect; from the app: acks). */
  message: Record<string, unknown>;
}

export interface SocketModeControl {
  /** Connections that got their `hello` and were not told to disconnect. */
  openConnections(): number;
  /** Every message over every connection, in order (the latest 10,000). */
  messages: SocketMessage[];
  /**
   * Sends `disconnect` with this reason on every open connection now; with `afterNextEnvelope`,
   * right behind the next envelope on its connection, before the app can ack it.
   */
  disconnect(reason: DisconnectReason, options?: { afterNextEnvelope?: boolean }): void;
}

export interface RecordedCall {
  /** Web API method, or 'response_url' / 'upload_url'. */
  method: string;
  /** Arguments as received, JSON-encoded ones (blocks, metadata, view, files…) decoded. */
  args: Record<string, unknown>;
  /** Arrival time, milliseconds since the epoch. */
  at: number;
  /** HTTP status answered. */
  status: number;
  /** Body answered (parsed JSON, or the text). */
  response: unknown;
}

/** A Block Kit block, as the bot sent it. */
export interface Block {
  type: string;
  block_id?: string;
  [key: string]: unknown;
}

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

/** A message in Slack's shape (conversations.history / replies). */
export interface Message {
  type: 'message';
  subtype?: string;
  ts: string;
  user: string;
  bot_id?: string;
  app_id?: string;
  team?: string;
  text: string;
  blocks?: Block[];
  metadata?: MessageMetadata;
  thread_ts?: string;
  parent_user_id?: string;
  reply_count?: number;
  reply_users_count?: number;
  reply_users?: string[];
  latest_reply?: string;
  edited?: { user: string; ts: string };
  files?: FileObject[];
  upload?: boolean;
}

export interface EphemeralMessage {
  user: string;
  channel: string;
  ts: string;
  text: string;
  blocks?: Block[];
  thread_ts?: string;
  via: 'chat.postEphemeral' | 'response_url';
}

/** A file as the Web API describes it (files.completeUploadExternal, message `files`). */
export interface FileObject {
  id: string;
  created: number;
  timestamp: number;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  pretty_type: string;
  user: string;
  size: number;
  is_external: false;
  is_public: boolean;
  url_private: string;
  url_private_download: string;
  permalink: string;
  alt_txt?: string;
  channels: string[];
  shares: {
    public?: Record<string, Array<{ ts: string; channel_name: string; team_id: string }>>;
    private?: Record<string, Array<{ ts: string; channel_name: string; team_id: string }>>;
  };
}

export interface StoredFile extends FileObject {
  bytes: Buffer;
  /** The bytes arrived at the upload URL. */
  uploaded: boolean;
  /** files.completeUploadExternal finished the upload. */
  completed: boolean;
  /** When it finished (milliseconds since the epoch); Slack processes the file after that. */
  completedAt?: number;
}

export interface HomeView {
  id: string;
  team_id: string;
  type: 'home';
  blocks: Block[];
  private_metadata: string;
  callback_id: string;
  external_id: string;
  hash: string;
  app_id: string;
  bot_id: string;
  [key: string]: unknown;
}
