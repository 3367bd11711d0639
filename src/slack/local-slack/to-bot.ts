import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ResponseUrls } from './response-url.js';
import { signSlackRequest } from './signing.js';
import type { SocketMode } from './socket-mode.js';
import type { Block, BotResponse, ButtonClickInput, EnvelopeType, SlashCommandInput } from './types.js';
import type { Workspace } from './workspace.js';

/**
 * What Slack sends to an app's Request URL, signed the way Slack signs it: slash commands
 * (form-urlencoded fields), Block Kit button clicks (form-urlencoded `payload=<block_actions JSON>`)
 * and App Home openings (a JSON `event_callback` with an `app_home_opened` event). Each answer is the
 * bot's HTTP status, body and the time it took to answer (Slack waits 3 s for that ack).
 *
 * In Socket Mode (https://api.slack.com/apis/socket-mode: "you'll only receive events and
 * interactive payloads over your WebSocket connections—not over HTTP") the same payloads go as
 * envelopes over the app's connection instead: the slash command's fields as JSON, the
 * block_actions payload, the event_callback. The answer is then the ack: status 200, its payload as
 * the body, and the time from sending the envelope to its ack (the same measure as over HTTP).
 * With no connection open and a Request URL set, they go over HTTP.
 */
export interface ToBotDeps {
  ws: Workspace;
  responseUrls: ResponseUrls;
  signingSecret: string;
  /** The deprecated verification token Slack still puts in payloads. */
  verificationToken: string;
  eventsUrl: () => string | undefined;
  now: () => number;
  timeoutMs: number;
  /** Socket Mode, when the app has an app-level token. */
  socket?: SocketMode;
}

export interface ToBot {
  sendToBot(body: string, contentType: string, headers?: Record<string, string>): Promise<BotResponse>;
  slashCommand(a: SlashCommandInput): Promise<BotResponse>;
  slashCommandBody(a: SlashCommandInput): string;
  clickButton(a: ButtonClickInput): Promise<BotResponse>;
  openHome(userId: string): Promise<BotResponse>;
}

/** Bolt's HTTP receiver compares the content type exactly, so no charset parameter. */
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const USER_AGENT = 'Slackbot 1.0 (+https://api.slack.com/robots)';

interface FoundButton {
  messageTs: string;
  message?: Record<string, unknown>;
  threadTs?: string;
  blockId: string;
  text: unknown;
  value: string;
}

export function createToBot(deps: ToBotDeps): ToBot {
  const { ws } = deps;
  const { config } = ws;

  function triggerId(): string {
    const digits = () => String(Math.floor(Math.random() * 1e12)).padStart(12, '0');
    return `${digits()}.${digits()}.${randomBytes(16).toString('hex')}`;
  }

  function actionTs(): string {
    const ms = deps.now();
    return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
  }

  function userOf(id: string): { id: string; name: string } {
    const user = ws.user(id);
    if (!user) throw new Error(`local Slack: no user ${id} in this workspace`);
    return user;
  }

  function channelOf(id: string): { id: string; name: string } {
    const channel = ws.channel(id);
    if (!channel) throw new Error(`local Slack: no channel ${id} in this workspace`);
    // Slack's channel_name: 'directmessage' for a DM, 'mpdm-…' for a group DM (the workspace names them so).
    return { id: channel.id, name: channel.name };
  }

  async function sendToBot(
    body: string,
    contentType: string,
    headers: Record<string, string> = {},
  ): Promise<BotResponse> {
    const url = deps.eventsUrl();
    if (!url) throw new Error('local Slack: the bot events URL is not set (setBotEventsUrl)');
    const overrides = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const started = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        'user-agent': USER_AGENT,
        ...signSlackRequest(deps.signingSecret, body, deps.now() / 1000),
        ...overrides,
      },
      body,
      signal: AbortSignal.timeout(deps.timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text, ms: Math.round(performance.now() - started) };
  }

  /** Socket Mode when a connection is open, or none is and there is no Request URL to post to. */
  function overSocket(): SocketMode | undefined {
    const socket = deps.socket;
    return socket?.enabled && (socket.connected() || !deps.eventsUrl()) ? socket : undefined;
  }

  /** One request to the app: an envelope over its Socket Mode connection, else the HTTP request. */
  function toApp(
    type: EnvelopeType,
    payload: Record<string, unknown>,
    http: () => [body: string, contentType: string],
  ): Promise<BotResponse> {
    const socket = overSocket();
    if (socket) return socket.deliver(type, payload);
    const [body, contentType] = http();
    return sendToBot(body, contentType);
  }

  async function slashCommand(a: SlashCommandInput): Promise<BotResponse> {
    const fields = slashCommandFields(a);
    return toApp('slash_commands', Object.fromEntries(fields), () => [fields.toString(), FORM]);
  }

  /** The form body Slack sends for a slash command (its response_url registered here), unsigned. */
  function slashCommandBody(a: SlashCommandInput): string {
    return slashCommandFields(a).toString();
  }

  function slashCommandFields(a: SlashCommandInput): URLSearchParams {
    const user = userOf(a.userId);
    const channel = channelOf(a.channelId ?? config.channels[0]?.id ?? ws.imChannelOf(a.userId));
    const responseUrl = deps.responseUrls.create({
      userId: user.id,
      channelId: channel.id,
      from: 'slash_command',
    });
    const fields = new URLSearchParams({
      token: deps.verificationToken,
      team_id: config.teamId,
      team_domain: config.teamDomain,
      channel_id: channel.id,
      channel_name: channel.name,
      user_id: user.id,
      user_name: user.name,
      command: a.command ?? '/crypto',
      text: a.text,
      api_app_id: config.appId,
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: triggerId(),
    });
    return fields;
  }

  /** The button on a stored message (channel or the user's ephemeral ones), newest first. */
  function findButton(a: ButtonClickInput): FoundButton {
    const candidates: Array<{
      ts: string;
      blocks?: Block[];
      message?: Record<string, unknown>;
      threadTs?: string;
    }> = a.ephemeral
      ? ws
          .ephemeral(a.userId)
          .filter((e) => e.channel === a.channelId)
          .map((e) => ({ ts: e.ts, ...(e.blocks ? { blocks: e.blocks } : {}) }))
      : ws.channelMessages(a.channelId).map((m) => ({
          ts: m.ts,
          ...(m.blocks ? { blocks: m.blocks } : {}),
          message: { ...m },
          ...(m.thread_ts && m.thread_ts !== m.ts ? { threadTs: m.thread_ts } : {}),
        }));
    const pool = a.messageTs ? candidates.filter((c) => c.ts === a.messageTs) : candidates.reverse();
    if (a.messageTs && pool.length === 0) {
      throw new Error(
        `local Slack: no ${a.ephemeral ? 'ephemeral ' : ''}message ${a.messageTs} in ${a.channelId}`,
      );
    }
    for (const candidate of pool) {
      const hit = buttonIn(candidate.blocks ?? [], a.actionId, a.value);
      if (hit) {
        return {
          messageTs: candidate.ts,
          ...(candidate.message ? { message: candidate.message } : {}),
          ...(candidate.threadTs ? { threadTs: candidate.threadTs } : {}),
          ...hit,
        };
      }
    }
    throw new Error(`local Slack: no message in ${a.channelId} has a button with action_id ${a.actionId}`);
  }

  async function clickButton(a: ButtonClickInput): Promise<BotResponse> {
    const user = userOf(a.userId);
    const channel = channelOf(a.channelId);
    const found = findButton(a);
    const responseUrl =
      a.responseUrl ??
      deps.responseUrls.create({
        userId: user.id,
        channelId: channel.id,
        original: { kind: a.ephemeral ? 'ephemeral' : 'channel', ts: found.messageTs },
        from: 'block_actions',
      });
    const payload = {
      type: 'block_actions',
      user: { id: user.id, username: user.name, name: user.name, team_id: config.teamId },
      api_app_id: config.appId,
      token: deps.verificationToken,
      container: {
        type: 'message',
        message_ts: found.messageTs,
        channel_id: channel.id,
        is_ephemeral: a.ephemeral === true,
        ...(found.threadTs ? { thread_ts: found.threadTs } : {}),
      },
      trigger_id: triggerId(),
      team: { id: config.teamId, domain: config.teamDomain },
      enterprise: null,
      is_enterprise_install: false,
      channel,
      ...(a.ephemeral || !found.message ? {} : { message: found.message }),
      state: { values: {} },
      response_url: responseUrl,
      actions: [
        {
          action_id: a.actionId,
          block_id: found.blockId,
          text: found.text,
          // Slack sends the value of the button that was pressed; a test may forge another.
          value: a.value ?? found.value,
          type: 'button',
          action_ts: actionTs(),
        },
      ],
    };
    return toApp('interactive', payload, () => [
      new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
      FORM,
    ]);
  }

  async function openHome(userId: string): Promise<BotResponse> {
    const user = userOf(userId);
    const view = ws.homeView(user.id);
    const nowSec = Math.floor(deps.now() / 1000);
    const body = {
      token: deps.verificationToken,
      team_id: config.teamId,
      api_app_id: config.appId,
      event: {
        type: 'app_home_opened',
        user: user.id,
        channel: ws.imChannelOf(user.id),
        tab: 'home',
        event_ts: actionTs(),
        ...(view ? { view } : {}),
      },
      type: 'event_callback',
      event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
      event_time: nowSec,
      authorizations: [
        {
          enterprise_id: null,
          team_id: config.teamId,
          user_id: config.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
      event_context: `4-${randomBytes(12).toString('base64url')}`,
    };
    return toApp('events_api', body, () => [JSON.stringify(body), JSON_TYPE]);
  }

  return { sendToBot, slashCommand, slashCommandBody, clickButton, openHome };
}

/** A button with that action_id (the one with that value first) in actions blocks or section accessories. */
function buttonIn(
  blocks: Block[],
  actionId: string,
  value: string | undefined,
): { blockId: string; text: unknown; value: string } | undefined {
  let fallback: { blockId: string; text: unknown; value: string } | undefined;
  for (const block of blocks) {
    const elements: unknown[] =
      block.type === 'actions' && Array.isArray(block.elements)
        ? block.elements
        : block.type === 'section' && block.accessory !== undefined
          ? [block.accessory]
          : [];
    for (const el of elements) {
      const button = el as { type?: unknown; action_id?: unknown; value?: unknown; text?: unknown };
      if (button.type !== 'button' || button.action_id !== actionId) continue;
      const hit = {
        blockId: block.block_id ?? '',
        text: button.text,
        value: typeof button.value === 'string' ? button.value : '',
      };
      if (value === undefined || button.value === value) return hit;
      fallback ??= hit;
    }
  }
  return fallback;
}
