import { type Args, bool, int, isObject, str } from './args.js';
import { MESSAGE_MAX_BLOCKS, VIEW_MAX_BLOCKS, validateBlocks } from './block-kit.js';
import type { Block, Message, MessageMetadata } from './types.js';
import { type HistoryQuery, type Page, type Workspace, WorkspaceError } from './workspace.js';

/**
 * The Web API methods the bot uses, answering Slack's documented shapes: `{ ok: true, … }` or
 * `{ ok: false, error }` (HTTP 200 either way). Each method validates its arguments the way Slack
 * does before touching the workspace.
 */
export type SlackBody = { ok: boolean; [key: string]: unknown };
export type Method = (args: Args) => SlackBody;

export function fail(error: string, extra: Record<string, unknown> = {}): SlackBody {
  return { ok: false, error, ...extra };
}

/** Slack lists each violation in `errors` and, prefixed with [ERROR], in response_metadata.messages. */
function invalid(error: string, issues: string[]): SlackBody {
  return fail(error, { errors: issues, response_metadata: { messages: issues.map((i) => `[ERROR] ${i}`) } });
}

const HISTORY_DEFAULT_LIMIT = 100;
const HISTORY_MAX_LIMIT = 999;
const REPLIES_DEFAULT_LIMIT = 1000;
const TS_PATTERN = /^\d+(\.\d+)?$/;
/** Slack truncates longer message text; chat.postMessage answers msg_too_long. */
const MAX_TEXT = 40_000;

type Parsed<T> = { value: T } | { error: SlackBody };

export function webApiMethods(ws: Workspace): Record<string, Method> {
  const { config } = ws;
  const fileExists = (id: string) => ws.fileExists(id);

  function messageBlocks(args: Args): Parsed<Block[] | undefined> {
    const blocks = args.blocks;
    if (blocks === undefined || blocks === '') return { value: undefined };
    if (!Array.isArray(blocks)) return { error: fail('invalid_blocks_format') };
    const issues = validateBlocks(blocks, { maxBlocks: MESSAGE_MAX_BLOCKS, pointer: '/blocks', fileExists });
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

  /** Channel IDs only (chat.update, conversations.*), or also names and user IDs (chat.postMessage). */
  function channelOf(args: Args, key: string, byName: boolean): string | undefined {
    const ref = str(args, key);
    if (!ref) return undefined;
    return byName ? ws.resolveChannel(ref) : ws.channel(ref)?.id;
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

  function guard(run: () => SlackBody): SlackBody {
    try {
      return run();
    } catch (err) {
      if (err instanceof WorkspaceError) return fail(err.code);
      throw err;
    }
  }

  return {
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

    'chat.postMessage': (args) =>
      guard(() => {
        const channel = channelOf(args, 'channel', true);
        if (!channel) return fail('channel_not_found');
        const blocks = messageBlocks(args);
        if ('error' in blocks) return blocks.error;
        const meta = metadata(args);
        if ('error' in meta) return meta.error;
        const text = str(args, 'text');
        if ((text === undefined || text === '') && !blocks.value) return fail('no_text');
        if (text !== undefined && text.length > MAX_TEXT) return fail('msg_too_long');
        const threadTs = str(args, 'thread_ts');
        const message = ws.post({
          channel,
          text: text ?? '',
          ...(blocks.value ? { blocks: blocks.value } : {}),
          ...(meta.value ? { metadata: meta.value } : {}),
          ...(threadTs ? { threadTs } : {}),
        });
        return { ok: true, channel, ts: message.ts, message };
      }),

    'chat.update': (args) =>
      guard(() => {
        const channel = channelOf(args, 'channel', false);
        if (!channel) return fail('channel_not_found');
        const ts = str(args, 'ts');
        if (!ts) return fail('message_not_found');
        const blocks = messageBlocks(args);
        if ('error' in blocks) return blocks.error;
        const meta = metadata(args);
        if ('error' in meta) return meta.error;
        const text = str(args, 'text');
        if (text === undefined && blocks.value === undefined && meta.value === undefined)
          return fail('no_text');
        const message = ws.update(channel, ts, {
          ...(text !== undefined ? { text } : {}),
          ...(blocks.value !== undefined ? { blocks: blocks.value } : {}),
          ...(meta.value !== undefined ? { metadata: meta.value } : {}),
        });
        return { ok: true, channel, ts, text: message.text, message };
      }),

    'chat.postEphemeral': (args) =>
      guard(() => {
        const channel = channelOf(args, 'channel', true);
        if (!channel) return fail('channel_not_found');
        const user = str(args, 'user');
        if (!user || !ws.user(user)) return fail('user_not_in_channel');
        const blocks = messageBlocks(args);
        if ('error' in blocks) return blocks.error;
        const text = str(args, 'text');
        if ((text === undefined || text === '') && !blocks.value) return fail('no_text');
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
      }),

    'chat.delete': (args) =>
      guard(() => {
        const channel = channelOf(args, 'channel', false);
        if (!channel) return fail('channel_not_found');
        const ts = str(args, 'ts');
        if (!ts) return fail('message_not_found');
        ws.delete(channel, ts);
        return { ok: true, channel, ts };
      }),

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

    'files.completeUploadExternal': (args) =>
      guard(() => {
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
        const channel = channelRef ? ws.resolveChannel(channelRef.trim()) : undefined;
        if (channelRef && !channel) return fail('channel_not_found');
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
      }),

    'conversations.history': (args) =>
      guard(() => {
        const channel = channelOf(args, 'channel', false);
        if (!channel) return fail('channel_not_found');
        const q = historyQuery(args, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT);
        if ('error' in q) return q.error;
        return {
          ...pageBody(ws.history(channel, q.value), args),
          pin_count: 0,
          channel_actions_ts: null,
          channel_actions_count: 0,
        };
      }),

    'conversations.replies': (args) =>
      guard(() => {
        const channel = channelOf(args, 'channel', false);
        if (!channel) return fail('channel_not_found');
        const ts = str(args, 'ts');
        if (!ts) return fail('thread_not_found');
        const q = historyQuery(args, REPLIES_DEFAULT_LIMIT, REPLIES_DEFAULT_LIMIT);
        if ('error' in q) return q.error;
        return pageBody(ws.replies(channel, ts, q.value), args);
      }),

    'conversations.list': (args) => {
      const all = ws.publicChannels();
      const limit = Math.min(Math.max(Number(str(args, 'limit') ?? 100) || 100, 1), 1000);
      const start =
        Number(
          Buffer.from(str(args, 'cursor') ?? '', 'base64')
            .toString()
            .replace(/^offset:/, ''),
        ) || 0;
      const page = all.slice(start, start + limit);
      const next =
        start + limit < all.length ? Buffer.from(`offset:${start + limit}`).toString('base64') : '';
      return {
        ok: true,
        channels: page.map((c) => ({
          id: c.id,
          name: c.name,
          is_channel: true,
          is_archived: false,
          is_member: true,
        })),
        response_metadata: { next_cursor: next },
      };
    },

    'chat.getPermalink': (args) => {
      const channel = channelOf(args, 'channel', false);
      const ts = str(args, 'message_ts');
      if (!channel) return fail('channel_not_found');
      if (!ts || !ws.message(channel, ts)) return fail('message_not_found');
      return {
        ok: true,
        channel,
        permalink: `${config.baseUrl()}/archives/${channel}/p${ts.replace('.', '')}`,
      };
    },

    'conversations.info': (args) => {
      const channel = channelOf(args, 'channel', false);
      const c = channel ? ws.channel(channel) : undefined;
      if (!c) return fail('channel_not_found');
      return {
        ok: true,
        channel: {
          id: c.id,
          name: c.name,
          is_channel: !c.isIm,
          is_im: c.isIm,
          is_private: false,
          is_archived: false,
          is_member: true,
          context_team_id: config.teamId,
        },
      };
    },

    'views.publish': (args) =>
      guard(() => {
        const userId = str(args, 'user_id');
        if (!userId || !ws.user(userId)) return fail('user_not_found');
        const view = args.view;
        if (!isObject(view))
          return invalid('invalid_arguments', ['must provide an object [json-pointer:/view]']);
        const issues: string[] = [];
        if (view.type !== 'home') issues.push('must be home [json-pointer:/view/type]');
        issues.push(
          ...validateBlocks(view.blocks, { maxBlocks: VIEW_MAX_BLOCKS, pointer: '/view/blocks', fileExists }),
        );
        if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3000) {
          issues.push('must be less than 3001 characters [json-pointer:/view/private_metadata]');
        }
        if (typeof view.callback_id === 'string' && view.callback_id.length > 255) {
          issues.push('must be less than 256 characters [json-pointer:/view/callback_id]');
        }
        if (issues.length > 0) return invalid('invalid_arguments', issues);
        const hash = str(args, 'hash');
        return { ok: true, view: ws.publishHome(userId, view, hash || undefined) };
      }),

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
}
