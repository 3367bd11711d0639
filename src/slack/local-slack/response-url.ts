import { randomBytes } from 'node:crypto';
import { bool, isObject, str } from './args.js';
import { MESSAGE_MAX_BLOCKS, validateBlocks } from './block-kit.js';
import type { Block } from './types.js';
import { type Workspace, WorkspaceError } from './workspace.js';

/**
 * The `response_url` Slack puts in slash command and interaction payloads. The app POSTs JSON
 * `{ text, blocks, response_type: 'ephemeral' | 'in_channel', replace_original, delete_original }`
 * to it: ephemeral (the default) shows only to the user, in_channel posts to the channel,
 * replace_original / delete_original act on the message an interaction (a button click) came from
 * (https://api.slack.com/interactivity/handling#message_responses). A slash command has no such
 * message: replace_original there posts a new message and delete_original deletes nothing, even
 * after an earlier post through the same URL (https://github.com/slackapi/bolt-js/issues/2287,
 * https://github.com/slackapi/bolt-python/issues/1268). A URL takes at most 5 posts within
 * 30 minutes; then it answers 404 `used_url` / `expired_url`. Posting through it needs no channel
 * membership: invoking the command grants it (https://github.com/slackapi/bolt-js/issues/365).
 */
export const RESPONSE_URL_MAX_USES = 5;
export const RESPONSE_URL_LIFETIME_MS = 30 * 60_000;

export interface ResponseOrigin {
  userId: string;
  channelId: string;
  /** The message the interaction came from (block_actions); a slash command has none. */
  original?: { kind: 'channel' | 'ephemeral'; ts: string };
  /** What the URL was given with. */
  from: 'slash_command' | 'block_actions';
}

interface Entry extends ResponseOrigin {
  createdAt: number;
  uses: number;
}

export interface ResponseAnswer {
  status: number;
  body: { ok: boolean; [key: string]: unknown };
}

const PATH_PREFIX = '/response/';

export class ResponseUrls {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ws: Workspace,
    private readonly now: () => number,
    private readonly baseUrl: () => string,
  ) {}

  create(origin: ResponseOrigin): string {
    const id = `${this.ws.config.teamId}/${randomBytes(6).toString('hex')}/${randomBytes(12).toString('hex')}`;
    this.entries.set(id, { ...origin, createdAt: this.now(), uses: 0 });
    return `${this.baseUrl()}${PATH_PREFIX}${id}`;
  }

  /** The id of a response URL of this server, from its path. */
  static idFromPath(path: string): string | undefined {
    return path.startsWith(PATH_PREFIX) ? path.slice(PATH_PREFIX.length) : undefined;
  }

  /** The id of a full response URL, e.g. one given back to clickButton. */
  idFromUrl(url: string): string | undefined {
    const prefix = `${this.baseUrl()}${PATH_PREFIX}`;
    return url.startsWith(prefix) && this.entries.has(url.slice(prefix.length))
      ? url.slice(prefix.length)
      : undefined;
  }

  handle(id: string, payload: unknown): ResponseAnswer {
    const entry = this.entries.get(id);
    if (!entry) return { status: 404, body: { ok: false, error: 'no_service' } };
    if (this.now() - entry.createdAt > RESPONSE_URL_LIFETIME_MS) {
      return { status: 404, body: { ok: false, error: 'expired_url' } };
    }
    if (entry.uses >= RESPONSE_URL_MAX_USES) return { status: 404, body: { ok: false, error: 'used_url' } };
    if (!isObject(payload)) return { status: 400, body: { ok: false, error: 'invalid_payload' } };

    // Only an interaction's URL has a message to replace or delete (bolt-js#2287, above).
    const original = entry.from === 'block_actions' ? entry.original : undefined;
    if (bool(payload, 'delete_original')) {
      entry.uses += 1;
      if (original) this.deleteOriginal(original, entry.channelId);
      delete entry.original;
      return { status: 200, body: { ok: true } };
    }
    const text = str(payload, 'text') ?? '';
    const blocks = payload.blocks;
    if (blocks !== undefined) {
      const issues = validateBlocks(blocks, {
        maxBlocks: MESSAGE_MAX_BLOCKS,
        pointer: '/blocks',
        fileUsable: (ref) => this.ws.fileUsable(ref),
      });
      if (issues.length > 0) {
        // A response_url answers refused blocks with HTTP 404 and invalid_blocks
        // (https://github.com/slackapi/java-slack-sdk/issues/1349: {"code":404,…"error":"invalid_blocks"}).
        return {
          status: 404,
          body: {
            ok: false,
            error: 'invalid_blocks',
            errors: issues,
            response_metadata: { messages: issues.map((i) => `[ERROR] ${i}`) },
          },
        };
      }
    }
    const typedBlocks = blocks as Block[] | undefined;
    if (text === '' && (typedBlocks === undefined || typedBlocks.length === 0)) {
      return { status: 400, body: { ok: false, error: 'no_text' } };
    }
    entry.uses += 1;
    try {
      if (bool(payload, 'replace_original') && original) {
        this.replaceOriginal(original, entry.channelId, text, typedBlocks);
        return { status: 200, body: { ok: true } };
      }
      const threadTs = str(payload, 'thread_ts');
      if (payload.response_type === 'in_channel') {
        this.ws.post({
          channel: entry.channelId,
          text,
          ...(typedBlocks ? { blocks: typedBlocks } : {}),
          ...(threadTs ? { threadTs } : {}),
        });
      } else {
        this.ws.postEphemeral({
          user: entry.userId,
          channel: entry.channelId,
          text,
          ...(typedBlocks ? { blocks: typedBlocks } : {}),
          ...(threadTs ? { thread_ts: threadTs } : {}),
          via: 'response_url',
        });
      }
      return { status: 200, body: { ok: true } };
    } catch (err) {
      if (err instanceof WorkspaceError) return { status: 404, body: { ok: false, error: err.code } };
      throw err;
    }
  }

  private replaceOriginal(
    original: NonNullable<ResponseOrigin['original']>,
    channel: string,
    text: string,
    blocks: Block[] | undefined,
  ): void {
    if (original.kind === 'ephemeral') {
      this.ws.replaceEphemeral(original.ts, { text, ...(blocks ? { blocks } : {}) });
    } else {
      this.ws.update(channel, original.ts, { text, blocks: blocks ?? [] });
    }
  }

  private deleteOriginal(original: NonNullable<ResponseOrigin['original']>, channel: string): void {
    try {
      if (original.kind === 'ephemeral') this.ws.deleteEphemeral(original.ts);
      else this.ws.delete(channel, original.ts);
    } catch (err) {
      if (!(err instanceof WorkspaceError)) throw err;
    }
  }
}
