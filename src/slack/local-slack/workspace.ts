import { randomBytes } from 'node:crypto';
import type {
  Block,
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
  channels: Array<{ id: string; name: string }>;
  users: Array<{ id: string; name: string }>;
  usergroups: Array<{ id: string; handle: string; users: string[] }>;
  /** Root URL of the server (known once it listens). */
  baseUrl: () => string;
  now: () => number;
}

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

export class Workspace {
  private readonly channels = new Map<string, { id: string; name: string; isIm: boolean }>();
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
    for (const c of config.channels) this.channels.set(c.id, { ...c, isIm: false });
    for (const u of config.users) this.users.set(u.id, u);
    this.users.set(config.botUserId, { id: config.botUserId, name: 'crypto-risk-bot' });
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

  channel(id: string): { id: string; name: string; isIm: boolean } | undefined {
    return this.channels.get(id);
  }

  /** The public channels (not IMs), in the order they were made. */
  publicChannels(): Array<{ id: string; name: string }> {
    return [...this.channels.values()].filter((c) => !c.isIm).map(({ id, name }) => ({ id, name }));
  }

  /** The IM channel between the bot and a user (App Home's Messages tab, DMs). */
  imChannelOf(userId: string): string {
    const id = `D${userId.replace(/^[UW]/, '')}`;
    if (!this.channels.has(id)) this.channels.set(id, { id, name: userId, isIm: true });
    return id;
  }

  /** A channel ID, a name with or without '#', or a user ID (their IM channel). */
  resolveChannel(ref: string): string | undefined {
    if (this.channels.has(ref)) return ref;
    const name = ref.replace(/^#/, '');
    for (const c of this.channels.values()) if (!c.isIm && c.name === name) return c.id;
    if (this.users.has(ref)) return this.imChannelOf(ref);
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
    return clone(message);
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
    return m ? clone(m) : undefined;
  }

  /** Current state: root messages and replies, oldest first. */
  channelMessages(channel: string): Message[] {
    return clone(this.messages.get(channel) ?? []);
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
    const messages = clone(list.slice(0, limit));
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
    for (const { file, title } of stored) {
      file.completed = true;
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
      const name = this.channel(channel)?.name ?? channel;
      for (const { file } of stored) {
        if (!file.channels.includes(channel)) file.channels.push(channel);
        file.is_public = !this.channel(channel)?.isIm;
        const shares = file.shares.public ?? {};
        shares[channel] = [
          ...(shares[channel] ?? []),
          { ts: message.ts, channel_name: name, team_id: this.config.teamId },
        ];
        file.shares.public = shares;
      }
      const list = this.list(channel);
      const posted = list.find((m) => m.ts === message.ts);
      if (posted) posted.files = stored.map(({ file }) => this.describe(file));
      this.changed({ kind: 'message', channel, ts: message.ts });
    }
    return stored.map(({ file }) => this.describe(file));
  }

  /** The Web API description of a file (no bytes). */
  describe(file: StoredFile): FileObject {
    const { bytes: _bytes, uploaded: _uploaded, completed: _completed, ...described } = file;
    return clone(described);
  }

  file(id: string): StoredFile | undefined {
    const file = this.files.get(id);
    if (!file) return undefined;
    return {
      ...this.describe(file),
      bytes: Buffer.from(file.bytes),
      uploaded: file.uploaded,
      completed: file.completed,
    };
  }

  /** Bytes of a completed file, for its url_private. */
  fileBytes(id: string): { file: FileObject; bytes: Buffer } | undefined {
    const file = this.files.get(id);
    return file?.completed ? { file: this.describe(file), bytes: file.bytes } : undefined;
  }

  fileExists(id: string): boolean {
    return this.files.get(id)?.uploaded === true;
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
    const ims = [...this.channels.values()].filter((c) => c.isIm).map((c) => ({ id: c.id, user: c.name }));
    return clone({
      version: 1,
      lastMicros: this.lastMicros,
      counter: this.counter,
      ims,
      messages: Object.fromEntries(this.messages),
      ephemerals: this.ephemerals,
      files: [...this.files.values()].filter((f) => f.completed).map((f) => this.describe(f)),
      views: Object.fromEntries(this.views),
    });
  }

  /** Puts back a snapshot taken earlier (on an empty workspace); files whose bytes are missing are left out. */
  restore(snapshot: WorkspaceSnapshot, bytesOf: (file: FileObject) => Buffer | undefined): void {
    this.lastMicros = Math.max(this.lastMicros, snapshot.lastMicros);
    this.counter = Math.max(this.counter, snapshot.counter);
    for (const im of snapshot.ims) this.channels.set(im.id, { id: im.id, name: im.user, isIm: true });
    for (const [channel, list] of Object.entries(snapshot.messages)) this.messages.set(channel, clone(list));
    this.ephemerals.push(...clone(snapshot.ephemerals));
    for (const file of snapshot.files) {
      const bytes = bytesOf(file);
      if (bytes) this.files.set(file.id, { ...clone(file), bytes, uploaded: true, completed: true });
    }
    for (const [user, view] of Object.entries(snapshot.views)) this.views.set(user, clone(view));
  }
}
