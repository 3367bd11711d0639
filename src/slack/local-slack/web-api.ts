import { type Args, bool, int, isObject, str } from './args.js';
import { MESSAGE_MAX_BLOCKS, VIEW_MAX_BLOCKS, validateBlocks } from './block-kit.js';
import {
  type ConversationKind,
  METHOD_SCOPES,
  READ_SCOPES,
  type ScopeNeed,
  WEB_API_METHODS,
  type WebApiMethodName,
} from './scopes.js';
import type { Block, Message, MessageMetadata } from './types.js';
import { type Channel, type HistoryQuery, type Page, type Workspace, WorkspaceError } from './workspace.js';

/**
 * The Web API methods the bot uses, answering Slack's documented shapes: `{ ok: true, … }` or
 * `{ ok: false, error }` (HTTP 200 either way, but for a rate limit: HTTP 429). Each method checks
 * what Slack checks before touching the workspace, in this order: the token's scope, the
 * conversation (does it exist for the bot, is the bot in it), the posting rate, then the arguments.
 */
export type SlackBody = { ok: boolean; [key: string]: unknown };

/** An answer that is not HTTP 200: a 429 with its Retry-After. */
export class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: SlackBody,
    readonly headers: Record<string, string>,
  ) {}
}

export type Method = (args: Args) => SlackBody | HttpAnswer;

export interface WebApiOptions {
  /** The bot token's scopes. */
  scopes: readonly string[];
  /** chat.postMessage messages per second per channel. */
  postsPerSecond: number;
  /** chat.postMessage messages a channel takes at once. */
  postBurst: number;
}

export function fail(error: string, extra: Record<string, unknown> = {}): SlackBody {
  return { ok: false, error, ...extra };
}

/** Slack lists each violation in `errors` and, prefixed with [ERROR], in response_metadata.messages. */
function invalid(error: string, issues: string[]): SlackBody {
  return fail(error, { errors: issues, response_metadata: { messages: issues.map((i) => `[ERROR] ${i}`) } });
}

/** A method gives up with this answer. */
class Refusal extends Error {
  constructor(readonly answer: SlackBody | HttpAnswer) {
    super(answer instanceof HttpAnswer ? String(answer.body.error) : String(answer.error));
  }
}

function refuse(error: string, extra: Record<string, unknown> = {}): never {
  throw new Refusal(fail(error, extra));
}

const HISTORY_DEFAULT_LIMIT = 100;
const HISTORY_MAX_LIMIT = 999;
const REPLIES_DEFAULT_LIMIT = 1000;
const TS_PATTERN = /^\d+(\.\d+)?$/;
/**
 * "Slack will truncate messages containing more than 40,000 characters"
 * (https://api.slack.com/methods/chat.postMessage#truncating,
 * https://api.slack.com/changelog/2018-04-truncating-really-long-messages); the stricter reading
 * is the documented error msg_too_long, which chat.postMessage, chat.update and chat.postEphemeral
 * all list (https://api.slack.com/methods/chat.update#errors, …/chat.postEphemeral#errors).
 */
const MAX_TEXT = 40_000;

/**
 * conversations.list: `limit` "must be an integer under 1000", default 100; `types` a comma-separated
 * mix of public_channel, private_channel, mpim, im, default public_channel
 * (https://api.slack.com/methods/conversations.list#args).
 */
const LIST_DEFAULT_LIMIT = 100;
const LIST_MAX_LIMIT = 999;
const LIST_TYPES: Readonly<Record<string, ConversationKind>> = {
  public_channel: 'public',
  private_channel: 'private',
  im: 'im',
  mpim: 'mpim',
};
const CHANNEL_CURSOR_PREFIX = 'channel:';

type Parsed<T> = { value: T } | { error: SlackBody };

/**
 * Posting rate: "chat.postMessage generally allows posting one message per second per channel";
 * "Posting messages: 1 per second. Short bursts >1 allowed. If you attempt bursts, there is no
 * guarantee that messages will be delivered" (https://api.slack.com/apis/rate-limits and
 * https://api.slack.com/methods/chat.postMessage#rate_limiting). Past it Slack answers HTTP 429
 * with Retry-After in seconds and `{ ok: false, error: 'ratelimited' }`
 * (https://api.slack.com/apis/rate-limits#headers). A token bucket per channel (thread replies
 * count for their channel): `postsPerSecond` refills it, `postBurst` is its size. The documentation
 * names no burst size, so the default is the strict one, 1: a second message within the second
 * is refused. The bucket is computed from the clock when asked; only a posted message takes a token.
 */
class PostBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {}

  private level(channel: string): { tokens: number; at: number } {
    const at = this.now();
    const b = this.buckets.get(channel);
    if (!b) return { tokens: this.burst, at };
    return { tokens: Math.min(this.burst, b.tokens + (Math.max(0, at - b.at) / 1000) * this.rate), at };
  }

  /** 0 when the channel takes a message now, else the whole seconds until it does (Retry-After). */
  retryAfter(channel: string): number {
    const { tokens } = this.level(channel);
    if (tokens >= 1 - 1e-9) return 0;
    return Math.max(1, Math.ceil((1 - tokens) / this.rate));
  }

  take(channel: string): void {
    const { tokens, at } = this.level(channel);
    this.buckets.set(channel, { tokens: tokens - 1, at });
  }
}

/** How a method uses the conversation it names. */
interface ConversationUse {
  /** chat.postMessage and files.completeUploadExternal also take a name or a user ID. */
  byName: boolean;
  /** The bot must be in it (posting, reading messages); conversations.info only has to see it. */
  member: boolean;
  /** The scope chosen by the conversation's kind, for methods whose scope depends on it. */
  scopes?: Readonly<Record<ConversationKind, string>>;
}

export function webApiMethods(ws: Workspace, options: WebApiOptions): Record<WebApiMethodName, Method> {
  const { config } = ws;
  const granted = new Set(options.scopes);
  const provided = options.scopes.join(',');
  const buckets = new PostBuckets(options.postsPerSecond, options.postBurst, config.now);
  const fileUsable = (ref: { id?: string; url?: string }) => ws.fileUsable(ref);

  /**
   * A token without the scope: `{ ok: false, error: 'missing_scope', needed, provided }`
   * (missing_scope in every method's "Errors"; needed/provided in @slack/web-api's response types).
   */
  function requireScope(scope: string): void {
    if (!granted.has(scope)) refuse('missing_scope', { needed: scope, provided });
  }

  /**
   * The conversation a method names, as the bot may use it. A conversation the bot cannot see (a
   * private channel, DM or group DM it is not in) does not exist for it: channel_not_found, like an
   * unknown ID (https://api.slack.com/methods/chat.postMessage#errors; a DM between people:
   * https://github.com/slack-ruby/slack-ruby-client/issues/227). A public channel the bot is not in
   * can be seen but not posted to or read: not_in_channel
   * (https://api.slack.com/methods/chat.postMessage#errors "Cannot post user messages to a channel
   * they are not in", https://api.slack.com/methods/conversations.history#errors).
   */
  function conversation(args: Args, key: string, use: ConversationUse): Channel {
    const ref = str(args, key)?.trim();
    if (!ref) refuse('channel_not_found');
    const id = use.byName ? ws.resolveChannel(ref) : ws.channel(ref)?.id;
    const c = id ? ws.channel(id) : undefined;
    if (!c || (!c.botMember && c.kind !== 'public')) refuse('channel_not_found');
    if (use.scopes) requireScope(use.scopes[c.kind]);
    if (use.member && !c.botMember) refuse('not_in_channel');
    return c;
  }

  const POST: ConversationUse = { byName: true, member: true };
  const EDIT: ConversationUse = { byName: false, member: true };

  function messageBlocks(args: Args): Parsed<Block[] | undefined> {
    const blocks = args.blocks;
    if (blocks === undefined || blocks === '') return { value: undefined };
    if (!Array.isArray(blocks)) return { error: fail('invalid_blocks_format') };
    const issues = validateBlocks(blocks, { maxBlocks: MESSAGE_MAX_BLOCKS, pointer: '/blocks', fileUsable });
    return issues.length > 0 ? { error: invalid('invalid_blocks', issues) } : { value: blocks as Block[] };
  }

  function metadata(args: Args): Parsed<MessageMetadata | undefined> {
    const m = args.metadata;
    if (m === undefined || m === '') return { value: undefined };
    if (
      !isObject(m) ||
      typeof m.event_type !== 'string' ||
      m.event_type === '' ||
      !isObject(m.event_payload)
    ) {
      return { error: fail('invalid_metadata_format') };
    }
    return { value: { event_type: m.event_type, event_payload: m.event_payload } };
  }

  function historyQuery(args: Args, defaultLimit: number, maxLimit: number): Parsed<HistoryQuery> {
    const limit = int(args, 'limit');
    if (limit !== undefined && (Number.isNaN(limit) || limit < 0)) return { error: fail('invalid_limit') };
    const oldest = str(args, 'oldest');
    const latest = str(args, 'latest');
    if (oldest !== undefined && oldest !== '' && !TS_PATTERN.test(oldest))
      return { error: fail('invalid_ts_oldest') };
    if (latest !== undefined && latest !== '' && !TS_PATTERN.test(latest))
      return { error: fail('invalid_ts_latest') };
    const cursor = str(args, 'cursor');
    return {
      value: {
        limit: Math.min(limit === undefined || limit === 0 ? defaultLimit : limit, maxLimit),
        ...(cursor ? { cursor } : {}),
        ...(oldest ? { oldest } : {}),
        ...(latest ? { latest } : {}),
        inclusive: bool(args, 'inclusive'),
      },
    };
  }

  /** Message metadata is returned only to callers asking for it with include_all_metadata. */
  function pageBody(page: Page, args: Args): SlackBody {
    const withMetadata = bool(args, 'include_all_metadata');
    const messages = page.messages.map((m): Message => {
      if (withMetadata || m.metadata === undefined) return m;
      const { metadata: _metadata, ...rest } = m;
      return rest;
    });
    return {
      ok: true,
      messages,
      has_more: page.hasMore,
      ...(page.nextCursor ? { response_metadata: { next_cursor: page.nextCursor } } : {}),
    };
  }

  /**
   * A conversation object with the flags true to its kind
   * (https://api.slack.com/types/conversation): is_channel for channels public or private,
   * is_im / is_mpim for DMs, is_private for all but public channels, is_member for the bot.
   */
  function conversationObject(c: Channel): Record<string, unknown> {
    return {
      id: c.id,
      ...(c.kind === 'im' ? { user: c.members[0] } : { name: c.name, name_normalized: c.name }),
      is_channel: c.kind === 'public' || c.kind === 'private',
      is_group: false,
      is_im: c.kind === 'im',
      is_mpim: c.kind === 'mpim',
      is_private: c.kind !== 'public',
      is_archived: false,
      is_general: false,
      is_shared: false,
      is_ext_shared: false,
      is_org_shared: false,
      is_member: c.botMember,
      created: c.created,
      context_team_id: config.teamId,
    };
  }

  function tooLong(text: string | undefined): boolean {
    return text !== undefined && text.length > MAX_TEXT;
  }

  const methods: Record<WebApiMethodName, Method> = {
    'auth.test': () => ({
      ok: true,
      url: `${config.baseUrl()}/`,
      team: 'Crypto Risk (local)',
      user: ws.user(config.botUserId)?.name ?? 'bot',
      team_id: config.teamId,
      user_id: config.botUserId,
      bot_id: config.botId,
      is_enterprise_install: false,
    }),

    'chat.postMessage': (args) => {
      const channel = conversation(args, 'channel', POST).id;
      const retryAfter = buckets.retryAfter(channel);
      if (retryAfter > 0) {
        throw new Refusal(new HttpAnswer(429, fail('ratelimited'), { 'retry-after': String(retryAfter) }));
      }
      const blocks = messageBlocks(args);
      if ('error' in blocks) return blocks.error;
      const meta = metadata(args);
      if ('error' in meta) return meta.error;
      const text = str(args, 'text');
      if ((text === undefined || text === '') && !blocks.value) return fail('no_text');
      if (tooLong(text)) return fail('msg_too_long');
      const threadTs = str(args, 'thread_ts');
      const message = ws.post({
        channel,
        text: text ?? '',
        ...(blocks.value ? { blocks: blocks.value } : {}),
        ...(meta.value ? { metadata: meta.value } : {}),
        ...(threadTs ? { threadTs } : {}),
      });
      buckets.take(channel);
      return { ok: true, channel, ts: message.ts, message };
    },

    'chat.update': (args) => {
      const channel = conversation(args, 'channel', EDIT).id;
      const ts = str(args, 'ts');
      if (!ts) return fail('message_not_found');
      const blocks = messageBlocks(args);
      if ('error' in blocks) return blocks.error;
      const meta = metadata(args);
      if ('error' in meta) return meta.error;
      const text = str(args, 'text');
      if (text === undefined && blocks.value === undefined && meta.value === undefined)
        return fail('no_text');
      if (tooLong(text)) return fail('msg_too_long');
      // "If you don't include blocks, the message's previous blocks will only be retained if the
      // text argument is not provided. If the text argument is provided and blocks are not
      // provided, the blocks will be removed" (https://api.slack.com/methods/chat.update#arg_blocks,
      // also https://github.com/slackapi/python-slack-sdk/issues/523). An older wording of the
      // same page says the previous blocks are retained; this takes the stricter one, so a bot
      // has to send its blocks again with every update.
      const newBlocks = blocks.value ?? (text !== undefined ? [] : undefined);
      const message = ws.update(channel, ts, {
        ...(text !== undefined ? { text } : {}),
        ...(newBlocks !== undefined ? { blocks: newBlocks } : {}),
        ...(meta.value !== undefined ? { metadata: meta.value } : {}),
      });
      return { ok: true, channel, ts, text: message.text, message };
    },

    'chat.postEphemeral': (args) => {
      const channel = conversation(args, 'channel', POST).id;
      const user = str(args, 'user');
      // "The user should be in the channel specified by the channel argument";
      // user_not_in_channel: "Intended recipient is not in the specified channel"
      // (https://api.slack.com/methods/chat.postEphemeral#errors).
      if (!user || !ws.isMember(channel, user)) return fail('user_not_in_channel');
      const blocks = messageBlocks(args);
      if ('error' in blocks) return blocks.error;
      const text = str(args, 'text');
      if ((text === undefined || text === '') && !blocks.value) return fail('no_text');
      if (tooLong(text)) return fail('msg_too_long');
      const threadTs = str(args, 'thread_ts');
      const message = ws.postEphemeral({
        user,
        channel,
        text: text ?? '',
        ...(blocks.value ? { blocks: blocks.value } : {}),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        via: 'chat.postEphemeral',
      });
      return { ok: true, message_ts: message.ts };
    },

    'chat.delete': (args) => {
      const channel = conversation(args, 'channel', EDIT).id;
      const ts = str(args, 'ts');
      if (!ts) return fail('message_not_found');
      ws.delete(channel, ts);
      return { ok: true, channel, ts };
    },

    'files.getUploadURLExternal': (args) => {
      const filename = str(args, 'filename');
      const length = int(args, 'length');
      if (!filename)
        return fail('invalid_arguments', {
          response_metadata: { messages: ['[ERROR] missing required field: filename'] },
        });
      if (length === undefined || Number.isNaN(length) || length <= 0) return fail('missing_argument');
      const altTxt = str(args, 'alt_txt') ?? str(args, 'alt_text');
      if (altTxt && altTxt.length > 1000) return fail('alt_txt_too_large');
      const { fileId, uploadUrl } = ws.startUpload(filename, length, altTxt);
      return { ok: true, upload_url: uploadUrl, file_id: fileId };
    },

    'files.completeUploadExternal': (args) => {
      const files = args.files;
      if (
        !Array.isArray(files) ||
        files.length === 0 ||
        !files.every((f) => isObject(f) && typeof f.id === 'string')
      ) {
        return fail('invalid_arguments', {
          response_metadata: { messages: ['[ERROR] files must be a JSON array of {id, title}'] },
        });
      }
      const channelRef = str(args, 'channel_id') ?? str(args, 'channels')?.split(',')[0];
      // Sharing in a conversation is posting there: the bot must be in it, as for chat.postMessage.
      const channel = channelRef ? conversation({ channel: channelRef }, 'channel', POST).id : undefined;
      const blocks = messageBlocks(args);
      if ('error' in blocks) return blocks.error;
      const threadTs = str(args, 'thread_ts');
      const initialComment = str(args, 'initial_comment');
      const described = ws.completeUpload({
        files: files.map((f) => {
          const { id, title } = f as { id: string; title?: unknown };
          return typeof title === 'string' ? { id, title } : { id };
        }),
        ...(channel ? { channel } : {}),
        ...(channel && threadTs ? { threadTs } : {}),
        ...(initialComment !== undefined ? { initialComment } : {}),
        ...(blocks.value ? { blocks: blocks.value } : {}),
      });
      return { ok: true, files: described };
    },

    /**
     * https://api.slack.com/methods/files.info: `{ ok, file, comments, response_metadata }`;
     * file_not_found for an unknown file (and, stricter, for one whose upload is not completed).
     * Until Slack has processed the file its mimetype is empty (see DEFAULT_FILE_PROCESSING_MS).
     */
    'files.info': (args) => {
      const id = str(args, 'file');
      const file = id ? ws.fileInfo(id) : undefined;
      if (!file) return fail('file_not_found');
      return { ok: true, file, comments: [], response_metadata: { next_cursor: '' } };
    },

    'conversations.history': (args) => {
      const channel = conversation(args, 'channel', {
        byName: false,
        member: true,
        scopes: scopesOf('conversations.history'),
      }).id;
      const q = historyQuery(args, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT);
      if ('error' in q) return q.error;
      return {
        ...pageBody(ws.history(channel, q.value), args),
        pin_count: 0,
        channel_actions_ts: null,
        channel_actions_count: 0,
      };
    },

    'conversations.replies': (args) => {
      const channel = conversation(args, 'channel', {
        byName: false,
        member: true,
        scopes: scopesOf('conversations.replies'),
      }).id;
      const ts = str(args, 'ts');
      if (!ts) return fail('thread_not_found');
      const q = historyQuery(args, REPLIES_DEFAULT_LIMIT, REPLIES_DEFAULT_LIMIT);
      if ('error' in q) return q.error;
      return pageBody(ws.replies(channel, ts, q.value), args);
    },

    /**
     * https://api.slack.com/methods/conversations.list: the kinds asked for in `types` (default
     * public_channel; each needs its read scope); every public channel, with is_member telling
     * whether the bot is in it, but only the private channels, DMs and group DMs the bot is in;
     * `limit` and `cursor` paginate (response_metadata.next_cursor, empty on the last page).
     */
    'conversations.list': (args) => {
      const names = (str(args, 'types') || 'public_channel').split(',').map((t) => t.trim());
      const kinds = new Set<ConversationKind>();
      for (const name of names) {
        const kind = LIST_TYPES[name];
        if (!kind) return fail('invalid_types');
        kinds.add(kind);
      }
      for (const kind of kinds) requireScope(READ_SCOPES[kind]);
      const limit = int(args, 'limit');
      if (limit !== undefined && (Number.isNaN(limit) || limit < 0 || limit > LIST_MAX_LIMIT)) {
        return fail('invalid_limit');
      }
      const pageSize = limit === undefined || limit === 0 ? LIST_DEFAULT_LIMIT : limit;
      const all = ws.allChannels().filter((c) => kinds.has(c.kind) && (c.kind === 'public' || c.botMember));
      let start = 0;
      const cursor = str(args, 'cursor');
      if (cursor) {
        const decoded = Buffer.from(cursor, 'base64').toString('utf8');
        start = decoded.startsWith(CHANNEL_CURSOR_PREFIX)
          ? all.findIndex((c) => c.id === decoded.slice(CHANNEL_CURSOR_PREFIX.length))
          : -1;
        if (start < 0) return fail('invalid_cursor');
      }
      const page = all.slice(start, start + pageSize);
      const next = all[start + pageSize];
      return {
        ok: true,
        channels: page.map(conversationObject),
        response_metadata: {
          next_cursor: next ? Buffer.from(`${CHANNEL_CURSOR_PREFIX}${next.id}`).toString('base64') : '',
        },
      };
    },

    'chat.getPermalink': (args) => {
      // A conversation the bot cannot see has no permalink for it; a public one it is not in has.
      const channel = conversation(args, 'channel', { byName: false, member: false }).id;
      const ts = str(args, 'message_ts');
      if (!ts || !ws.message(channel, ts)) return fail('message_not_found');
      return {
        ok: true,
        channel,
        permalink: `${config.baseUrl()}/archives/${channel}/p${ts.replace('.', '')}`,
      };
    },

    /**
     * https://api.slack.com/methods/conversations.info: a public channel answers whether or not
     * the bot is in it (is_member says); a private channel, DM or group DM the bot is not in is
     * channel_not_found. The scope is the read scope of its kind.
     */
    'conversations.info': (args) => {
      const c = conversation(args, 'channel', {
        byName: false,
        member: false,
        scopes: scopesOf('conversations.info'),
      });
      return { ok: true, channel: conversationObject(c) };
    },

    'views.publish': (args) => {
      const userId = str(args, 'user_id');
      if (!userId || !ws.user(userId)) return fail('user_not_found');
      const view = args.view;
      if (!isObject(view))
        return invalid('invalid_arguments', ['must provide an object [json-pointer:/view]']);
      const issues: string[] = [];
      if (view.type !== 'home') issues.push('must be home [json-pointer:/view/type]');
      const blockIssues = validateBlocks(view.blocks, {
        maxBlocks: VIEW_MAX_BLOCKS,
        pointer: '/view/blocks',
        fileUsable,
      });
      for (const issue of blockIssues) issues.push(issue);
      if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3000) {
        issues.push('must be less than 3001 characters [json-pointer:/view/private_metadata]');
      }
      if (typeof view.callback_id === 'string' && view.callback_id.length > 255) {
        issues.push('must be less than 256 characters [json-pointer:/view/callback_id]');
      }
      if (issues.length > 0) return invalid('invalid_arguments', issues);
      const hash = str(args, 'hash');
      return { ok: true, view: ws.publishHome(userId, view, hash || undefined) };
    },

    'usergroups.users.list': (args) => {
      const id = str(args, 'usergroup');
      const group = id ? ws.usergroup(id) : undefined;
      if (!group) return fail('no_such_subteam');
      return { ok: true, users: [...group.users] };
    },

    'users.info': (args) => {
      const id = str(args, 'user');
      const user = id ? ws.user(id) : undefined;
      if (!user) return fail('user_not_found');
      const isBot = user.id === config.botUserId;
      return {
        ok: true,
        user: {
          id: user.id,
          team_id: config.teamId,
          name: user.name,
          real_name: user.name,
          deleted: false,
          is_bot: isBot,
          is_app_user: false,
          tz: 'UTC',
          profile: { display_name: user.name, real_name: user.name, team: config.teamId },
        },
      };
    },
  };

  /** Each method behind its scope check (a fixed scope is checked before anything else). */
  return Object.fromEntries(
    WEB_API_METHODS.map((name) => [name, guarded(METHOD_SCOPES[name].need, methods[name], requireScope)]),
  ) as Record<WebApiMethodName, Method>;
}

/** The per-kind scopes of a method whose scope depends on the conversation. */
function scopesOf(name: WebApiMethodName): Readonly<Record<ConversationKind, string>> {
  const need = METHOD_SCOPES[name].need;
  if (need.kind !== 'by_conversation') throw new Error(`local Slack: ${name} has no per-conversation scope`);
  return need.scopes;
}

function guarded(need: ScopeNeed, run: Method, requireScope: (scope: string) => void): Method {
  return (args) => {
    try {
      if (need.kind === 'fixed') requireScope(need.scope);
      return run(args);
    } catch (err) {
      if (err instanceof Refusal) return err.answer;
      if (err instanceof WorkspaceError) return fail(err.code);
      throw err;
    }
  };
}
