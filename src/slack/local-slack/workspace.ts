import { randomBytes } from 'node:crypto';
import type { ConversationKind } from './scopes.js';
import type {
  Block,
  ChannelOption,
  EphemeralMessage,
  FileObject,
  HomeView,
  Message,
  MessageMetadata,
  StoredFile,
} from './types.js';

/**
 * The state of one Slack workspace as the bot sees it: channels, users, user groups, the messages
 * of each channel (with threads), ephemeral messages, files and Home tabs. It knows Slack's
 * bookkeeping (increasing `ts`, thread parents' reply counts, `edited`, file shares) but nothing of
 * HTTP: the Web API methods, response URLs and the console all go through it.
 */
export interface WorkspaceConfig {
  teamId: string;
  teamDomain: string;
  botUserId: string;
  botId: string;
  appId: string;
  channels: ChannelOption[];
  users: Array<{ id: string; name: string }>;
  usergroups: Array<{ id: string; handle: string; users: string[] }>;
  /** Root URL of the server (known once it listens). */
  baseUrl: () => string;
  now: () => number;
  /** How long a completed upload stays unprocessed. Default: DEFAULT_FILE_PROCESSING_MS. */
  fileProcessingMs?: number;
  /**
   * Messages a conversation keeps, replies counted; beyond it the oldest threads go, each with
   * its replies, and so do the files only they showed. Ephemeral messages are kept to the same
   * number. Default: no bound (tests); the console sets CONSOLE_HISTORY_MESSAGES.
   */
  historyLimit?: number;
}

/** A conversation as the workspace keeps it. */
export interface Channel {
  id: string;
  /** Channels: their name; DMs: 'directmessage'; group DMs: mpdm-<a>--<b>--<c>-1, like Slack names them. */
  name: string;
  kind: ConversationKind;
  /** The people in it, the bot apart. */
  members: string[];
  botMember: boolean;
  /** Seconds since the epoch. */
  created: number;
}

/**
 * Slack processes an uploaded file asynchronously after files.completeUploadExternal: until then
 * files.info shows an empty mimetype and a slack_file image block naming it is refused as
 * invalid_blocks. The documentation is silent on how long it takes; the SDK trackers report
 * about a second: https://github.com/slackapi/python-slack-sdk/issues/1521 ("if I wait for about
 * 1 sec between these two operations then it works"), https://github.com/slackapi/java-slack-sdk/issues/1349,
 * https://github.com/slackapi/node-slack-sdk/issues/2040, https://github.com/slackapi/node-slack-sdk/issues/2170
 * ("certain details about the file such as mimetype might not be known immediately after the
 * files.completeUploadExternal call completes … check the files.info response").
 */
export const DEFAULT_FILE_PROCESSING_MS = 300;

export interface PostInput {
  channel: string;
  text: string;
  blocks?: Block[];
  metadata?: MessageMetadata;
  threadTs?: string;
  files?: FileObject[];
}

export interface HistoryQuery {
  limit: number;
  cursor?: string;
  oldest?: string;
  latest?: string;
  inclusive: boolean;
}

export interface Page {
  messages: Message[];
  hasMore: boolean;
  nextCursor?: string;
}

/** What changed, for the console's live updates (the object itself is read back from the workspace). */
export type WorkspaceChange =
  | { kind: 'message'; channel: string; ts: string }
  | { kind: 'message_deleted'; channel: string; ts: string }
  | { kind: 'ephemeral'; user: string; ts: string }
  | { kind: 'ephemeral_deleted'; user: string; ts: string }
  | { kind: 'home'; user: string }
  | { kind: 'file'; id: string };

/** Everything a workspace holds, as JSON (file bytes apart), to carry it across restarts. */
export interface WorkspaceSnapshot {
  version: 1;
  lastMicros: number;
  counter: number;
  ims: Array<{ id: string; user: string }>;
  messages: Record<string, Message[]>;
  ephemerals: EphemeralMessage[];
  files: FileObject[];
  views: Record<string, HomeView>;
}

export class WorkspaceError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** Microseconds since the epoch of a Slack ts ("1764111111.000100"), exact. */
export function tsToMicros(ts: string): number {
  const [sec = '0', frac = ''] = ts.split('.');
  return Number.parseInt(sec, 10) * 1_000_000 + Number.parseInt(`${frac}000000`.slice(0, 6), 10);
}

function microsToTs(us: number): string {
  return `${Math.floor(us / 1_000_000)}.${String(us % 1_000_000).padStart(6, '0')}`;
}

const CURSOR_PREFIX = 'next_ts:';

function encodeCursor(ts: string): string {
  return Buffer.from(`${CURSOR_PREFIX}${ts}`).toString('base64');
}

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  if (!text.startsWith(CURSOR_PREFIX) || !/^\d+\.\d{6}$/.test(text.slice(CURSOR_PREFIX.length))) {
    throw new WorkspaceError('invalid_cursor');
  }
  return text.slice(CURSOR_PREFIX.length);
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  pdf: 'application/pdf',
};

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The ways to name a file in a slack_file object (https://api.slack.com/reference/block-kit/composition-objects#slack_file). */
export interface SlackFileRef {
  id?: string;
  url?: string;
}

function fileTypeOf(name: string): { filetype: string; mimetype: string; pretty: string } {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? '';
  const mimetype = MIME_BY_EXTENSION[ext];
  if (!mimetype) return { filetype: 'binary', mimetype: 'application/octet-stream', pretty: 'Binary' };
  return { filetype: ext === 'jpeg' ? 'jpg' : ext, mimetype, pretty: ext.toUpperCase() };
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

const BLOCK_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Slack stores every block with a block_id, generating one where the app gave none. */
function withBlockIds(blocks: Block[]): Block[] {
  return blocks.map((block) => {
    if (block.block_id !== undefined) return clone(block);
    const id = [...randomBytes(5)].map((b) => BLOCK_ID_ALPHABET[b % BLOCK_ID_ALPHABET.length]).join('');
    return { ...clone(block), block_id: id };
  });
}

/**
 * The conversations the options declare, checked: a DM is between two people, the bot counted
 * (https://api.slack.com/types/im), a group DM between three or more
 * (https://api.slack.com/types/mpim, "multi-party instant message").
 */
function declaredChannel(c: ChannelOption, userIds: readonly string[], created: number): Channel {
  const botMember = c.botMember ?? true;
  const kind: ConversationKind =
    c.kind === 'im' || c.kind === 'mpim' ? c.kind : 'private' in c && c.private ? 'private' : 'public';
  const members = [...(c.members ?? userIds)];
  const unknown = members.filter((m) => !userIds.includes(m));
  if (unknown.length > 0) {
    throw new Error(
      `local Slack: channel ${c.id} names members who are not users of the workspace: ${unknown}`,
    );
  }
  const people = members.length + (botMember ? 1 : 0);
  if (kind === 'im' && people !== 2) {
    throw new Error(`local Slack: the DM ${c.id} must be between two (the bot counted), not ${people}`);
  }
  if (kind === 'mpim' && people < 3) {
    throw new Error(
      `local Slack: the group DM ${c.id} needs three people or more (the bot counted), not ${people}`,
    );
  }
  if ((kind === 'public' || kind === 'private') && !c.name) {
    throw new Error(`local Slack: channel ${c.id} needs a name`);
  }
  return { id: c.id, name: c.name ?? '', kind, members, botMember, created };
}

export class Workspace {
  private readonly channels = new Map<string, Channel>();
  private readonly users = new Map<string, { id: string; name: string }>();
  /** Per channel, in ts order (ts only grows). */
  private readonly messages = new Map<string, Message[]>();
  private readonly ephemerals: EphemeralMessage[] = [];
  private readonly files = new Map<string, StoredFile>();
  private readonly uploadTokens = new Map<string, string>();
  private readonly views = new Map<string, HomeView>();
  private readonly listeners = new Set<(change: WorkspaceChange) => void>();
  private lastMicros = 0;
  private counter = 0;

  constructor(readonly config: WorkspaceConfig) {
    for (const u of config.users) this.users.set(u.id, u);
    this.users.set(config.botUserId, { id: config.botUserId, name: 'crypto-risk-bot' });
    const userIds = config.users.map((u) => u.id);
    const created = Math.floor(config.now() / 1000);
    for (const option of config.channels) {
      if (this.channels.has(option.id))
        throw new Error(`local Slack: channel ${option.id} is declared twice`);
      const channel = declaredChannel(option, userIds, created);
      if (channel.kind === 'mpim' && !channel.name) channel.name = this.mpimName(channel);
      if (channel.kind === 'im') channel.name = 'directmessage';
      this.channels.set(channel.id, channel);
    }
  }

  /**
   * Slack names a group DM after its people: "mpdm-user1--user2--user3-1" (https://api.slack.com/types/mpim);
   * a DM is 'directmessage' in slash command payloads (https://github.com/slack-ruby/slack-ruby-client/issues/227).
   */
  private mpimName(c: Channel): string {
    const ids = [...c.members, ...(c.botMember ? [this.config.botUserId] : [])];
    return `mpdm-${ids.map((id) => this.users.get(id)?.name ?? id).join('--')}-1`;
  }

  get fileProcessingMs(): number {
    return this.config.fileProcessingMs ?? DEFAULT_FILE_PROCESSING_MS;
  }

  /** Calls the listener after every change; returns the function that stops it. */
  onChange(listener: (change: WorkspaceChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(change: WorkspaceChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /** A new message ts: the clock in microseconds, strictly increasing. */
  nextTs(): string {
    this.lastMicros = Math.max(this.config.now() * 1000, this.lastMicros + 1);
    return microsToTs(this.lastMicros);
  }

  /** A new id with Slack's prefix letter, e.g. F0000000001. */
  nextId(prefix: string): string {
    this.counter += 1;
    return `${prefix}${this.counter.toString(36).toUpperCase().padStart(10, '0')}`;
  }

  user(id: string): { id: string; name: string } | undefined {
    return this.users.get(id);
  }

  usergroup(id: string): { id: string; handle: string; users: string[] } | undefined {
    return this.config.usergroups.find((g) => g.id === id);
  }

  channel(id: string): Channel | undefined {
    const c = this.channels.get(id);
    return c ? clone(c) : undefined;
  }

  /** Every conversation (channels, DMs, group DMs), in the order they were made. */
  allChannels(): Channel[] {
    return clone([...this.channels.values()]);
  }

  /** The named channels, public and private (not DMs), in the order they were made. */
  publicChannels(): Array<{ id: string; name: string }> {
    return [...this.channels.values()]
      .filter((c) => c.kind === 'public' || c.kind === 'private')
      .map(({ id, name }) => ({ id, name }));
  }

  /** Whether a user (or the bot) is in a conversation. */
  isMember(channelId: string, userId: string): boolean {
    const c = this.channels.get(channelId);
    if (!c) return false;
    return userId === this.config.botUserId ? c.botMember : c.members.includes(userId);
  }

  /** The IM channel between the bot and a user (App Home's Messages tab, DMs). */
  imChannelOf(userId: string): string {
    const id = `D${userId.replace(/^[UW]/, '')}`;
    if (!this.channels.has(id)) {
      this.channels.set(id, {
        id,
        name: 'directmessage',
        kind: 'im',
        members: [userId],
        botMember: true,
        created: Math.floor(this.config.now() / 1000),
      });
    }
    return id;
  }

  /** A channel ID, a channel name with or without '#', or a user ID (their IM channel with the bot). */
  resolveChannel(ref: string): string | undefined {
    if (this.channels.has(ref)) return ref;
    const name = ref.replace(/^#/, '');
    for (const c of this.channels.values()) {
      if ((c.kind === 'public' || c.kind === 'private') && c.name === name) return c.id;
    }
    if (this.users.has(ref) && ref !== this.config.botUserId) return this.imChannelOf(ref);
    return undefined;
  }

  private list(channel: string): Message[] {
    let list = this.messages.get(channel);
    if (!list) {
      list = [];
      this.messages.set(channel, list);
    }
    return list;
  }

  private find(channel: string, ts: string): Message | undefined {
    return this.messages.get(channel)?.find((m) => m.ts === ts);
  }

  /** Posts as the bot. A thread_ts naming a reply is moved to its parent, like Slack does. */
  post(input: PostInput): Message {
    const { config } = this;
    let parent: Message | undefined;
    if (input.threadTs !== undefined) {
      const target = this.find(input.channel, input.threadTs);
      if (!target) throw new WorkspaceError('thread_not_found');
      parent =
        target.thread_ts && target.thread_ts !== target.ts
          ? this.find(input.channel, target.thread_ts)
          : target;
      if (!parent) throw new WorkspaceError('thread_not_found');
    }
    const message: Message = {
      type: 'message',
      ts: this.nextTs(),
      user: config.botUserId,
      bot_id: config.botId,
      app_id: config.appId,
      team: config.teamId,
      text: input.text,
      ...(input.blocks ? { blocks: withBlockIds(input.blocks) } : {}),
      ...(input.metadata ? { metadata: clone(input.metadata) } : {}),
      ...(input.files ? { files: clone(input.files), upload: true } : {}),
    };
    if (parent) {
      message.thread_ts = parent.ts;
      message.parent_user_id = parent.user;
      parent.thread_ts = parent.ts;
      parent.reply_count = (parent.reply_count ?? 0) + 1;
      const replyUsers = new Set(parent.reply_users ?? []);
      replyUsers.add(message.user);
      parent.reply_users = [...replyUsers];
      parent.reply_users_count = replyUsers.size;
      parent.latest_reply = message.ts;
    }
    this.list(input.channel).push(message);
    this.changed({ kind: 'message', channel: input.channel, ts: message.ts });
    if (parent) this.changed({ kind: 'message', channel: input.channel, ts: parent.ts });
    this.prune(input.channel);
    return clone(message);
  }

  /**
   * Keeps a conversation within `historyLimit` messages: the oldest thread goes first, parent and
   * replies together (a reply without its parent cannot be shown or answered), never the one
   * just posted to. Files that only the pruned messages showed (shared in them, or named by a `slack_file`)
   * are dropped with them. Returns how many messages went.
   */
  private prune(channel: string): number {
    const limit = this.config.historyLimit;
    const list = this.messages.get(channel);
    if (limit === undefined || !list || list.length <= limit) return 0;
    // Threads in the order they started (a parent comes before its replies), with their sizes.
    const sizes = new Map<string, number>();
    for (const m of list) {
      const root = m.thread_ts ?? m.ts;
      sizes.set(root, (sizes.get(root) ?? 0) + 1);
    }
    const newest = list[list.length - 1];
    const newestRoot = newest?.thread_ts ?? newest?.ts;
    const gone = new Set<string>();
    let left = list.length;
    for (const [root, size] of sizes) {
      if (left <= limit) break;
      if (root === newestRoot) continue;
      gone.add(root);
      left -= size;
    }
    const removed: Message[] = [];
    const kept: Message[] = [];
    for (const m of list) (gone.has(m.thread_ts ?? m.ts) ? removed : kept).push(m);
    this.messages.set(channel, kept);
    for (const m of removed) this.changed({ kind: 'message_deleted', channel, ts: m.ts });
    this.dropFilesOnlyIn(removed);
    return removed.length;
  }

  /** Removes the files the given messages show that nothing left in the workspace shows. */
  private dropFilesOnlyIn(removed: readonly Message[]): void {
    const named = new Set<string>();
    for (const m of removed) fileRefs(m, named);
    const candidates = [...this.files.values()].filter(
      (f) => f.completed && (named.has(f.id) || named.has(f.url_private) || named.has(f.permalink)),
    );
    if (candidates.length === 0) return;
    const still = new Set<string>();
    for (const list of this.messages.values()) for (const m of list) fileRefs(m, still);
    for (const e of this.ephemerals) fileRefs(e, still);
    for (const v of this.views.values()) fileRefs(v, still);
    for (const f of candidates) {
      if (still.has(f.id) || still.has(f.url_private) || still.has(f.permalink)) continue;
      this.files.delete(f.id);
      this.changed({ kind: 'file', id: f.id });
    }
  }

  /** chat.update: replaces what is given, marks the message edited. Only the bot's messages. */
  update(
    channel: string,
    ts: string,
    change: { text?: string; blocks?: Block[]; metadata?: MessageMetadata },
  ): Message {
    const message = this.find(channel, ts);
    if (!message) throw new WorkspaceError('message_not_found');
    if (message.user !== this.config.botUserId) throw new WorkspaceError('cant_update_message');
    if (change.text !== undefined) message.text = change.text;
    if (change.blocks !== undefined) {
      if (change.blocks.length > 0) message.blocks = withBlockIds(change.blocks);
      else delete message.blocks;
    }
    if (change.metadata !== undefined) message.metadata = clone(change.metadata);
    message.edited = { user: this.config.botUserId, ts: this.nextTs() };
    this.changed({ kind: 'message', channel, ts });
    return clone(message);
  }

  delete(channel: string, ts: string): void {
    const list = this.messages.get(channel);
    const index = list?.findIndex((m) => m.ts === ts) ?? -1;
    if (!list || index < 0) throw new WorkspaceError('message_not_found');
    const [removed] = list.splice(index, 1);
    this.changed({ kind: 'message_deleted', channel, ts });
    if (removed?.thread_ts && removed.thread_ts !== removed.ts) {
      const parent = this.find(channel, removed.thread_ts);
      if (parent?.reply_count) parent.reply_count -= 1;
      if (parent) this.changed({ kind: 'message', channel, ts: parent.ts });
    }
  }

  message(channel: string, ts: string): Message | undefined {
    const m = this.find(channel, ts);
    return m ? this.readOut(m) : undefined;
  }

  /** Current state: root messages and replies, oldest first. */
  channelMessages(channel: string): Message[] {
    return (this.messages.get(channel) ?? []).map((m) => this.readOut(m));
  }

  /** A message as read back: a copy, its files as they are now (processed or not yet). */
  private readOut(m: Message): Message {
    const copy = clone(m);
    if (copy.files) {
      copy.files = copy.files.map((f) => {
        const file = this.files.get(f.id);
        return file ? this.describe(file) : f;
      });
    }
    return copy;
  }

  /** conversations.history: root messages, newest first, within oldest/latest. */
  history(channel: string, q: HistoryQuery): Page {
    const oldest = q.oldest !== undefined ? tsToMicros(q.oldest) : 0;
    const latest = q.latest !== undefined ? tsToMicros(q.latest) : Number.MAX_SAFE_INTEGER;
    const start = q.cursor !== undefined ? tsToMicros(decodeCursor(q.cursor)) : Number.MAX_SAFE_INTEGER;
    const roots = (this.messages.get(channel) ?? [])
      .filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts)
      .filter((m) => {
        const us = tsToMicros(m.ts);
        const inRange = q.inclusive ? us >= oldest && us <= latest : us > oldest && us < latest;
        return inRange && us <= start;
      })
      .reverse();
    return this.page(roots, q.limit);
  }

  /** conversations.replies: the parent then its replies, oldest first. */
  replies(channel: string, ts: string, q: HistoryQuery): Page {
    const target = this.find(channel, ts);
    if (!target) throw new WorkspaceError('thread_not_found');
    const parentTs = target.thread_ts ?? target.ts;
    const oldest = q.oldest !== undefined ? tsToMicros(q.oldest) : 0;
    const latest = q.latest !== undefined ? tsToMicros(q.latest) : Number.MAX_SAFE_INTEGER;
    const start = q.cursor !== undefined ? tsToMicros(decodeCursor(q.cursor)) : 0;
    const thread = (this.messages.get(channel) ?? []).filter((m) => {
      if (m.ts !== parentTs && m.thread_ts !== parentTs) return false;
      const us = tsToMicros(m.ts);
      if (m.ts !== parentTs) {
        const inRange = q.inclusive ? us >= oldest && us <= latest : us > oldest && us < latest;
        if (!inRange) return false;
      }
      return us >= start;
    });
    return this.page(thread, q.limit);
  }

  private page(list: Message[], limit: number): Page {
    const messages = list.slice(0, limit).map((m) => this.readOut(m));
    const next = list[limit];
    return next
      ? { messages, hasMore: true, nextCursor: encodeCursor(next.ts) }
      : { messages, hasMore: false };
  }

  postEphemeral(input: Omit<EphemeralMessage, 'ts'>): EphemeralMessage {
    const message: EphemeralMessage = {
      ...clone(input),
      ...(input.blocks ? { blocks: withBlockIds(input.blocks) } : {}),
      ts: this.nextTs(),
    };
    this.ephemerals.push(message);
    this.changed({ kind: 'ephemeral', user: message.user, ts: message.ts });
    const limit = this.config.historyLimit;
    if (limit !== undefined && this.ephemerals.length > limit) {
      const removed = this.ephemerals.splice(0, this.ephemerals.length - limit);
      for (const e of removed) this.changed({ kind: 'ephemeral_deleted', user: e.user, ts: e.ts });
    }
    return clone(message);
  }

  findEphemeral(ts: string): EphemeralMessage | undefined {
    const m = this.ephemerals.find((e) => e.ts === ts);
    return m ? clone(m) : undefined;
  }

  replaceEphemeral(ts: string, change: { text: string; blocks?: Block[] }): void {
    const message = this.ephemerals.find((e) => e.ts === ts);
    if (!message) throw new WorkspaceError('message_not_found');
    message.text = change.text;
    if (change.blocks) message.blocks = withBlockIds(change.blocks);
    else delete message.blocks;
    this.changed({ kind: 'ephemeral', user: message.user, ts });
  }

  deleteEphemeral(ts: string): void {
    const index = this.ephemerals.findIndex((e) => e.ts === ts);
    if (index < 0) throw new WorkspaceError('message_not_found');
    const [removed] = this.ephemerals.splice(index, 1);
    if (removed) this.changed({ kind: 'ephemeral_deleted', user: removed.user, ts });
  }

  ephemeral(userId?: string): EphemeralMessage[] {
    return clone(this.ephemerals.filter((e) => userId === undefined || e.user === userId));
  }

  /** files.getUploadURLExternal: a pending file and the URL its bytes go to. */
  startUpload(filename: string, length: number, altTxt?: string): { fileId: string; uploadUrl: string } {
    const { config } = this;
    const id = this.nextId('F');
    const base = config.baseUrl();
    const type = fileTypeOf(filename);
    const created = Math.floor(config.now() / 1000);
    const name = encodeURIComponent(filename);
    const file: StoredFile = {
      id,
      created,
      timestamp: created,
      name: filename,
      title: filename,
      mimetype: type.mimetype,
      filetype: type.filetype,
      pretty_type: type.pretty,
      user: config.botUserId,
      size: length,
      is_external: false,
      is_public: false,
      url_private: `${base}/files-pri/${config.teamId}-${id}/${name}`,
      url_private_download: `${base}/files-pri/${config.teamId}-${id}/download/${name}`,
      permalink: `${base}/files/${config.botUserId}/${id}/${name}`,
      ...(altTxt ? { alt_txt: altTxt } : {}),
      channels: [],
      shares: {},
      bytes: Buffer.alloc(0),
      uploaded: false,
      completed: false,
    };
    this.files.set(id, file);
    const token = randomBytes(12).toString('hex');
    this.uploadTokens.set(token, id);
    return { fileId: id, uploadUrl: `${base}/upload/v1/${token}` };
  }

  /** The bytes posted to an upload URL; their length must be the one announced. */
  receiveUpload(token: string, bytes: Buffer): StoredFile {
    const id = this.uploadTokens.get(token);
    const file = id ? this.files.get(id) : undefined;
    if (!file) throw new WorkspaceError('upload_url_not_found');
    if (file.completed) throw new WorkspaceError('file_already_completed');
    if (bytes.length !== file.size) throw new WorkspaceError('length_mismatch');
    file.bytes = Buffer.from(bytes);
    file.uploaded = true;
    if (file.mimetype === 'application/octet-stream' && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
      Object.assign(file, { mimetype: 'image/png', filetype: 'png', pretty_type: 'PNG' });
    }
    return file;
  }

  /** files.completeUploadExternal: the files become visible; with a channel, one message shares them. */
  completeUpload(input: {
    files: Array<{ id: string; title?: string }>;
    channel?: string;
    threadTs?: string;
    initialComment?: string;
    blocks?: Block[];
  }): FileObject[] {
    const stored = input.files.map((f) => {
      const file = this.files.get(f.id);
      if (!file?.uploaded) throw new WorkspaceError('file_not_found');
      return { file, title: f.title };
    });
    const completedAt = this.config.now();
    for (const { file, title } of stored) {
      file.completed = true;
      file.completedAt = completedAt;
      if (title) file.title = title;
      this.changed({ kind: 'file', id: file.id });
    }
    if (input.channel !== undefined) {
      const channel = input.channel;
      const message = this.post({
        channel,
        text: input.initialComment ?? '',
        ...(input.initialComment === undefined && input.blocks ? { blocks: input.blocks } : {}),
        ...(input.threadTs !== undefined ? { threadTs: input.threadTs } : {}),
        files: stored.map(({ file }) => this.describe(file)),
      });
      const target = this.channels.get(channel);
      const name = target?.name ?? channel;
      // A file shared in a public channel is public; in a private channel or DM it stays private
      // and its share is listed under shares.private (https://api.slack.com/types/file).
      const visibility = target?.kind === 'public' ? 'public' : 'private';
      for (const { file } of stored) {
        if (!file.channels.includes(channel)) file.channels.push(channel);
        if (visibility === 'public') file.is_public = true;
        const shares = file.shares[visibility] ?? {};
        shares[channel] = [
          ...(shares[channel] ?? []),
          { ts: message.ts, channel_name: name, team_id: this.config.teamId },
        ];
        file.shares[visibility] = shares;
      }
      const list = this.list(channel);
      const posted = list.find((m) => m.ts === message.ts);
      if (posted) posted.files = stored.map(({ file }) => this.describe(file));
      this.changed({ kind: 'message', channel, ts: message.ts });
    }
    return stored.map(({ file }) => this.describe(file));
  }

  /** Whether Slack has processed a completed file (fileProcessingMs after completion, by the clock). */
  private processed(file: StoredFile): boolean {
    return (
      file.completed &&
      file.completedAt !== undefined &&
      this.config.now() - file.completedAt >= this.fileProcessingMs
    );
  }

  /** The file as stored: its real type, whatever the processing state (no bytes). */
  private stored(file: StoredFile): FileObject {
    const {
      bytes: _bytes,
      uploaded: _uploaded,
      completed: _completed,
      completedAt: _completedAt,
      ...described
    } = file;
    return clone(described);
  }

  /**
   * The Web API description of a file (no bytes). Until Slack has processed it, its type is not
   * known: mimetype, filetype and pretty_type are empty strings (the trackers above report an
   * empty mimetype; the documentation is silent on the others, so they are empty too).
   */
  describe(file: StoredFile): FileObject {
    const described = this.stored(file);
    return this.processed(file) ? described : { ...described, mimetype: '', filetype: '', pretty_type: '' };
  }

  /** A file as stored (its real type, bytes and upload state), for tests. */
  file(id: string): StoredFile | undefined {
    const file = this.files.get(id);
    if (!file) return undefined;
    return {
      ...this.stored(file),
      bytes: Buffer.from(file.bytes),
      uploaded: file.uploaded,
      completed: file.completed,
      ...(file.completedAt !== undefined ? { completedAt: file.completedAt } : {}),
    };
  }

  /** files.info: the Web API description of a completed file; undefined for others. */
  fileInfo(id: string): FileObject | undefined {
    const file = this.files.get(id);
    return file?.completed ? this.describe(file) : undefined;
  }

  /** Bytes of a completed file and its real type, for its url_private and the console. */
  fileBytes(id: string): { file: FileObject; bytes: Buffer } | undefined {
    const file = this.files.get(id);
    return file?.completed ? { file: this.stored(file), bytes: file.bytes } : undefined;
  }

  /**
   * Whether a slack_file object names a file a block may show: completed and processed. A slack_file
   * names it by id, or by its url_private or permalink
   * (https://api.slack.com/reference/block-kit/composition-objects#slack_file).
   */
  fileUsable(ref: SlackFileRef): boolean {
    const file =
      ref.id !== undefined
        ? this.files.get(ref.id)
        : [...this.files.values()].find((f) => f.url_private === ref.url || f.permalink === ref.url);
    return file !== undefined && this.processed(file);
  }

  /** views.publish for a Home tab; `hash` must match the current one when given. */
  publishHome(userId: string, view: Record<string, unknown>, hash?: string): HomeView {
    const { config } = this;
    const current = this.views.get(userId);
    if (hash !== undefined && current && current.hash !== hash) throw new WorkspaceError('hash_conflict');
    const id = current?.id ?? this.nextId('V');
    const published: HomeView = {
      id,
      team_id: config.teamId,
      type: 'home',
      blocks: withBlockIds(view.blocks as Block[]),
      private_metadata: typeof view.private_metadata === 'string' ? view.private_metadata : '',
      callback_id: typeof view.callback_id === 'string' ? view.callback_id : '',
      external_id: typeof view.external_id === 'string' ? view.external_id : '',
      state: { values: {} },
      hash: `${Math.floor(config.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      title: { type: 'plain_text', text: 'View Title', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: null,
      previous_view_id: null,
      root_view_id: id,
      app_id: config.appId,
      app_installed_team_id: config.teamId,
      bot_id: config.botId,
    };
    this.views.set(userId, published);
    this.changed({ kind: 'home', user: userId });
    return clone(published);
  }

  homeView(userId: string): HomeView | undefined {
    const view = this.views.get(userId);
    return view ? clone(view) : undefined;
  }

  /** The workspace's content as JSON; file bytes are read with fileBytes(). */
  snapshot(): WorkspaceSnapshot {
    const declared = new Set(this.config.channels.map((c) => c.id));
    const ims = [...this.channels.values()]
      .filter((c) => c.kind === 'im' && c.botMember && !declared.has(c.id))
      .map((c) => ({ id: c.id, user: c.members[0] ?? '' }));
    return clone({
      version: 1,
      lastMicros: this.lastMicros,
      counter: this.counter,
      ims,
      messages: Object.fromEntries(this.messages),
      ephemerals: this.ephemerals,
      files: [...this.files.values()].filter((f) => f.completed).map((f) => this.stored(f)),
      views: Object.fromEntries(this.views),
    });
  }

  /**
   * Puts back a snapshot taken earlier (on an empty workspace); files whose bytes are missing are
   * left out. A history longer than `historyLimit` (saved under a larger one) is pruned; returns
   * how many messages that removed.
   */
  restore(snapshot: WorkspaceSnapshot, bytesOf: (file: FileObject) => Buffer | undefined): number {
    this.lastMicros = Math.max(this.lastMicros, snapshot.lastMicros);
    this.counter = Math.max(this.counter, snapshot.counter);
    for (const im of snapshot.ims) {
      if (this.channels.has(im.id) || !this.users.has(im.user)) continue;
      this.channels.set(im.id, {
        id: im.id,
        name: 'directmessage',
        kind: 'im',
        members: [im.user],
        botMember: true,
        created: Math.floor(this.config.now() / 1000),
      });
    }
    for (const [channel, list] of Object.entries(snapshot.messages)) this.messages.set(channel, clone(list));
    for (const ephemeral of clone(snapshot.ephemerals)) this.ephemerals.push(ephemeral);
    for (const file of snapshot.files) {
      const bytes = bytesOf(file);
      // processed long ago
      if (bytes)
        this.files.set(file.id, { ...clone(file), bytes, uploaded: true, completed: true, completedAt: 0 });
    }
    for (const [user, view] of Object.entries(snapshot.views)) this.views.set(user, clone(view));
    let pruned = 0;
    for (const channel of this.messages.keys()) pruned += this.prune(channel);
    const limit = this.config.historyLimit;
    if (limit !== undefined && this.ephemerals.length > limit) {
      pruned += this.ephemerals.splice(0, this.ephemerals.length - limit).length;
    }
    return pruned;
  }
}

/**
 * Adds to `into` the files a message or view names: the ids of the files it shares, and the id or
 * URL of each `slack_file` in its blocks, however deep
 * (https://api.slack.com/reference/block-kit/composition-objects#slack_file).
 */
function fileRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) fileRefs(item, into);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const record = value as Record<string, unknown>;
  for (const [key, child] of Object.entries(record)) {
    if ((key === 'slack_file' || key === 'files') && typeof child === 'object' && child !== null) {
      for (const ref of Array.isArray(child) ? child : [child]) {
        if (typeof ref !== 'object' || ref === null) continue;
        const { id, url } = ref as { id?: unknown; url?: unknown };
        if (typeof id === 'string') into.add(id);
        if (typeof url === 'string') into.add(url);
      }
    }
    if (typeof child === 'object') fileRefs(child, into);
  }
}
