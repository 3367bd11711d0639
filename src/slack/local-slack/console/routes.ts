import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { chatExamples } from '../../../commands/registry.js';
import type { ToBot } from '../to-bot.js';
import type { BotResponse, Message } from '../types.js';
import { tsToMicros, type Workspace } from '../workspace.js';
import { type ConsoleDashboard, createDashboardRoutes, DASHBOARD_PATHS } from './dashboard-routes.js';
import type { LiveEvents } from './live-events.js';

/**
 * The local console's HTTP side, served beside the Web API: the page (`GET /` and
 * `/console/assets/*`), the state a page starts from (`GET /console/state?user=`), live updates
 * (`GET /console/events?user=`), the example commands its chips offer (`GET /console/commands`, from
 * the command registry), and what a person does there, turned into the requests Slack would
 * send the bot: a slash command (`POST /console/command`), a button click (`POST /console/click`),
 * opening the App Home tab (`POST /console/home`). Images come from `GET /console/files/<id>`.
 * `GET /healthz` and `GET /readyz` answer with the bot's own.
 *
 * The console has no login. It refuses requests whose Host is not the loopback address it was
 * opened on (a web page elsewhere cannot reach it through DNS rebinding) and POSTs that are not
 * JSON from its own origin (no cross-site form posts).
 */
export interface ConsoleRoutesDeps {
  ws: Workspace;
  toBot: ToBot;
  live: LiveEvents;
  /** The slash commands the app has (Slack answers any other with "not a valid command"). */
  commands: readonly string[];
  /** Bound to a loopback address: only loopback Host headers are accepted. */
  loopbackOnly: boolean;
  port: () => number;
  /** The bot's /healthz. */
  healthUrl: () => string | undefined;
  /** The product's dashboard data for the Dashboard view (dashboard-routes.ts); none: no data. */
  dashboard?: ConsoleDashboard;
}

export interface ConsoleRoutes {
  /**
   * Whether a request is the console's, from its line and Host alone (before its body is read):
   * undefined when it is not, 'wrong-host' when it is but its Host is not the console's.
   */
  route(req: IncomingMessage, url: URL): 'console' | 'wrong-host' | undefined;
  /** Answers the request when it is the console's; false when it is not. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<boolean>;
}

/** Root messages per channel a page starts with (older ones stay in the workspace). */
const HISTORY_ROOTS = 300;
const MAX_COMMAND_TEXT = 4000;

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));
const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};
/** Everything the page loads comes from here: no inline script, nothing from elsewhere. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const userRef = z.string().regex(/^[UW][A-Z0-9]+$/, { error: 'must be a user ID' });
const channelRef = z.string().regex(/^[CGD][A-Z0-9]+$/, { error: 'must be a channel ID' });
const commandBody = z.object({
  user: userRef,
  channel: channelRef,
  text: z.string().max(MAX_COMMAND_TEXT, { error: `must be at most ${MAX_COMMAND_TEXT} characters` }),
});
const clickBody = z.object({
  user: userRef,
  channel: channelRef,
  ts: z.string().regex(/^\d+\.\d{6}$/, { error: 'must be a message ts' }),
  actionId: z.string().min(1).max(255),
  value: z.string().max(2000).default(''),
  ephemeral: z.boolean().default(false),
});
const homeBody = z.object({ user: userRef });

type Answer = { status: number; body: unknown };

function sendJson(res: ServerResponse, answer: Answer): void {
  const payload = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(payload);
}

function problem(status: number, error: string): Answer {
  return { status, body: { ok: false, error } };
}

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];
const CONSOLE_POSTS = new Set(['/console/command', '/console/click', '/console/home']);

export function createConsoleRoutes(deps: ConsoleRoutesDeps): ConsoleRoutes {
  const { ws, toBot } = deps;
  const assets = new Map(
    readdirSync(PAGE_DIR).map((name) => [name, readFileSync(`${PAGE_DIR}${name}`)] as const),
  );

  function hostAllowed(req: IncomingMessage): boolean {
    if (!deps.loopbackOnly) return true;
    const host = (req.headers.host ?? '').toLowerCase();
    return LOOPBACK_HOSTS.some((name) => host === `${name}:${deps.port()}`);
  }

  /** A console POST must be JSON, and from the console's own page when the browser says where from. */
  function postAllowed(req: IncomingMessage): string | undefined {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') return 'console requests are JSON (content-type: application/json)';
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      return 'console requests come from the console page';
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return 'console requests come from the console page';
    }
    return undefined;
  }

  function page(res: ServerResponse, name: string): void {
    const bytes = assets.get(name);
    if (!bytes) {
      sendJson(res, problem(404, 'not found'));
      return;
    }
    const ext = name.slice(name.lastIndexOf('.') + 1);
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'content-length': bytes.length,
      ...PAGE_HEADERS,
    });
    res.end(bytes);
  }

  function knownUser(id: string | null): string | undefined {
    return id && id !== ws.config.botUserId && ws.user(id) ? id : undefined;
  }

  function state(userId: string): Answer {
    const channels = ws.publicChannels();
    const messages: Record<string, Message[]> = {};
    const olderNotShown: Record<string, number> = {};
    for (const channel of channels) {
      const all = ws.channelMessages(channel.id);
      const roots = all.filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts);
      const first = roots.at(-HISTORY_ROOTS);
      const from = first ? tsToMicros(first.ts) : 0;
      const shown = all.filter((m) => tsToMicros(m.thread_ts ?? m.ts) >= from);
      messages[channel.id] = shown;
      if (roots.length > HISTORY_ROOTS) olderNotShown[channel.id] = roots.length - HISTORY_ROOTS;
    }
    const { config } = ws;
    return {
      status: 200,
      body: {
        ok: true,
        team: { id: config.teamId, domain: config.teamDomain },
        bot: { id: config.botUserId, name: ws.user(config.botUserId)?.name ?? 'bot' },
        users: config.users.map((u) => ({
          id: u.id,
          name: u.name,
          groups: config.usergroups.filter((g) => g.users.includes(u.id)).map((g) => g.handle),
        })),
        channels,
        commands: deps.commands,
        messages,
        olderNotShown,
        ephemerals: ws.ephemeral(userId),
        home: ws.homeView(userId) ?? null,
        user: userId,
      },
    };
  }

  /** What Slack shows for a bot that failed to take a request. */
  function dispatchFailure(what: string, err: unknown): Answer {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return problem(
      502,
      `${what} failed with the error "${timedOut ? 'operation_timeout' : 'dispatch_failed'}"`,
    );
  }

  /** Slack shows a non-empty body of a slash command's ack as the immediate response. */
  function immediateResponse(r: BotResponse, userId: string, channel: string): void {
    const text = r.body.trim();
    if (text === '') return;
    let parsed: { text?: unknown; blocks?: unknown; response_type?: unknown } | undefined;
    try {
      const value: unknown = JSON.parse(text);
      parsed = typeof value === 'object' && value !== null ? (value as typeof parsed) : undefined;
    } catch {
      parsed = undefined;
    }
    const message = {
      text: typeof parsed?.text === 'string' ? parsed.text : parsed ? '' : text,
      ...(Array.isArray(parsed?.blocks) ? { blocks: parsed.blocks } : {}),
    };
    if (parsed?.response_type === 'in_channel') ws.post({ channel, ...message });
    else ws.postEphemeral({ user: userId, channel, ...message, via: 'response_url' });
  }

  async function command(body: unknown): Promise<Answer> {
    const input = commandBody.safeParse(body);
    if (!input.success) return problem(400, describe(input.error));
    const { user, channel } = input.data;
    if (!knownUser(user)) return problem(400, `There is no user ${user} in this workspace.`);
    if (!ws.channel(channel)) return problem(400, `There is no channel ${channel} in this workspace.`);
    const text = input.data.text.trim();
    const match = /^(\/[a-z0-9_-]+)(?:\s+([\s\S]*))?$/i.exec(text);
    if (!match) {
      return problem(
        400,
        `The console sends slash commands to the app: try ${deps.commands[0] ?? '/crypto'} help.`,
      );
    }
    const name = (match[1] as string).toLowerCase();
    if (!deps.commands.includes(name)) {
      return problem(
        400,
        `${name} is not a valid command. This app's command is ${deps.commands.join(', ')}.`,
      );
    }
    let r: BotResponse;
    try {
      r = await toBot.slashCommand({ userId: user, channelId: channel, command: name, text: match[2] ?? '' });
    } catch (err) {
      return dispatchFailure(name, err);
    }
    if (r.status !== 200) return problem(502, `${name} failed with the error "dispatch_failed"`);
    immediateResponse(r, user, channel);
    return { status: 200, body: { ok: true, ms: r.ms } };
  }

  async function click(body: unknown): Promise<Answer> {
    const input = clickBody.safeParse(body);
    if (!input.success) return problem(400, describe(input.error));
    const a = input.data;
    if (!knownUser(a.user)) return problem(400, `There is no user ${a.user} in this workspace.`);
    if (!ws.channel(a.channel)) return problem(400, `There is no channel ${a.channel} in this workspace.`);
    let r: BotResponse;
    try {
      r = await toBot.clickButton({
        userId: a.user,
        channelId: a.channel,
        actionId: a.actionId,
        value: a.value,
        messageTs: a.ts,
        ephemeral: a.ephemeral,
      });
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('local Slack: no ')) {
        return problem(404, 'That message or button is gone.');
      }
      return dispatchFailure('The button', err);
    }
    if (r.status !== 200) return problem(502, 'The app did not take the click ("dispatch_failed").');
    return { status: 200, body: { ok: true, ms: r.ms } };
  }

  async function home(body: unknown): Promise<Answer> {
    const input = homeBody.safeParse(body);
    if (!input.success) return problem(400, describe(input.error));
    if (!knownUser(input.data.user))
      return problem(400, `There is no user ${input.data.user} in this workspace.`);
    try {
      const r = await toBot.openHome(input.data.user);
      if (r.status !== 200) return problem(502, 'The app did not take the Home tab opening.');
    } catch (err) {
      return dispatchFailure('Opening Home', err);
    }
    return { status: 200, body: { ok: true, view: ws.homeView(input.data.user) ?? null } };
  }

  function file(res: ServerResponse, id: string): void {
    const found = ws.fileBytes(id);
    if (!found) {
      sendJson(res, problem(404, 'file_not_found'));
      return;
    }
    res.writeHead(200, {
      'content-type': found.file.mimetype,
      'content-length': found.bytes.length,
      'cache-control': 'private, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'",
    });
    res.end(found.bytes);
  }

  /** A message permalink (chat.getPermalink) opens the console on that message. */
  function permalinkRedirect(res: ServerResponse, url: URL): void {
    const match = /^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})$/.exec(url.pathname);
    if (!match) {
      sendJson(res, problem(404, 'not a message link'));
      return;
    }
    const [, channel = '', sec = '', micros = ''] = match;
    const ts = url.searchParams.get('thread_ts') ?? `${sec}.${micros}`;
    const target = `/?${new URLSearchParams({ channel, message: ts })}`;
    res.writeHead(302, { location: target, 'content-length': 0 });
    res.end();
  }

  /** The bot's /healthz or /readyz, relayed (its status and answer, or 503 when it does not answer). */
  async function health(res: ServerResponse, path: '/healthz' | '/readyz'): Promise<void> {
    const health = deps.healthUrl();
    try {
      if (!health) throw new Error('the bot is not connected yet');
      // Readiness checks may wait up to 5 s for a platform that does not answer.
      const r = await fetch(new URL(path, health), {
        signal: AbortSignal.timeout(path === '/readyz' ? 8_000 : 3_000),
      });
      sendJson(res, { status: r.status, body: await r.json() });
    } catch (err) {
      sendJson(res, { status: 503, body: { status: 'unavailable', error: String(err) } });
    }
  }

  async function post(req: IncomingMessage, body: Buffer, work: (input: unknown) => Promise<Answer>) {
    const refused = postAllowed(req);
    if (refused) return problem(403, refused);
    let input: unknown;
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      return problem(400, 'The request body is not JSON.');
    }
    return work(input);
  }

  const dashboard = createDashboardRoutes({ dashboard: deps.dashboard, sendJson, page });

  /** The console's paths and methods; any other request is not the console's (404). */
  function isConsole(method: string | undefined, path: string): boolean {
    const get = method === 'GET' || method === 'HEAD';
    if (get && (path === '/' || path === '/healthz' || path === '/readyz' || path.startsWith('/archives/')))
      return true;
    if (get && (path.startsWith('/console/assets/') || path.startsWith('/console/files/'))) return true;
    if (method === 'GET' && (path === '/console/state' || path === '/console/events')) return true;
    if (method === 'GET' && path === '/console/commands') return true;
    if (method === 'GET' && DASHBOARD_PATHS.has(path)) return true;
    return method === 'POST' && CONSOLE_POSTS.has(path);
  }

  return {
    route(req, url) {
      if (!isConsole(req.method, url.pathname)) return undefined;
      return hostAllowed(req) ? 'console' : 'wrong-host';
    },
    async handle(req, res, url, body) {
      const path = url.pathname;
      if (!isConsole(req.method, path)) return false;
      if (!hostAllowed(req)) {
        sendJson(res, problem(421, 'The console answers on its loopback address only.'));
        return true;
      }
      const get = req.method === 'GET' || req.method === 'HEAD';
      if (get && (path === '/healthz' || path === '/readyz')) await health(res, path);
      else if (get && path.startsWith('/archives/')) permalinkRedirect(res, url);
      else if (get && path === '/') page(res, 'index.html');
      else if (get && path.startsWith('/console/assets/')) page(res, path.slice('/console/assets/'.length));
      else if (get && path.startsWith('/console/files/')) file(res, path.slice('/console/files/'.length));
      else if (req.method === 'GET' && DASHBOARD_PATHS.has(path)) await dashboard(res, url);
      else if (req.method === 'GET' && path === '/console/commands') {
        sendJson(res, { status: 200, body: { ok: true, examples: chatExamples() } });
      } else if (req.method === 'GET' && (path === '/console/state' || path === '/console/events')) {
        // An unknown or missing user (a page from another run) gets the first user of the workspace.
        const user = knownUser(url.searchParams.get('user')) ?? ws.config.users[0]?.id;
        if (!user) sendJson(res, problem(404, 'This workspace has no users.'));
        else if (path === '/console/state') sendJson(res, state(user));
        else deps.live.attach(res, user);
      } else if (req.method === 'POST' && path === '/console/command') {
        sendJson(res, await post(req, body, command));
      } else if (req.method === 'POST' && path === '/console/click') {
        sendJson(res, await post(req, body, click));
      } else if (req.method === 'POST' && path === '/console/home') {
        sendJson(res, await post(req, body, home));
      } else sendJson(res, problem(404, 'not found'));
      return true;
    },
  };
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}
