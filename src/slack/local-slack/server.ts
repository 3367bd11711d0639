import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type Args, bearerToken, mediaType, parseArgs, parseMultipart, str, withoutToken } from './args.js';
import type { ConsoleRoutes } from './console/routes.js';
import type { FaultQueues } from './faults.js';
import {
  BodyTooLarge,
  createInFlight,
  MAX_BODY_BYTES,
  MAX_IN_FLIGHT,
  MAX_REQUESTS_PER_SOCKET,
  MAX_UPLOAD_BYTES,
  readLimitedBody,
  refuseAndClose,
  SERVER_OPTIONS,
} from './http-limits.js';
import { ResponseUrls } from './response-url.js';
import type { RecordedCall } from './types.js';
import { HttpAnswer, type Method } from './web-api.js';
import { type Workspace, WorkspaceError } from './workspace.js';

/**
 * The HTTP side of the local Slack: `POST|GET /api/<method>` (the Web API), `POST /upload/v1/<token>`
 * (the upload URL of files.getUploadURLExternal), `GET /files-pri/<team>-<file>/…` (url_private,
 * bot token required like Slack) and `POST /response/<id>` (response URLs). Every API call, upload
 * and response_url post is recorded; queued faults are applied before the real answer. The rest
 * (`/`, `/console/…`, `/healthz`) is the local console's.
 */
export interface ServerDeps {
  ws: Workspace;
  methods: Record<string, Method>;
  responseUrls: ResponseUrls;
  faults: FaultQueues;
  calls: RecordedCall[];
  botToken: string;
  /**
   * Methods called with the app-level token (apps.connections.open), which check the token
   * themselves; every other method refuses that token with not_allowed_token_type.
   */
  appLevel?: { token: string | undefined; methods: Record<string, AppLevelMethod> };
  now: () => number;
  /** Set once the routes exist (they need the server's port). */
  console: () => ConsoleRoutes | undefined;
}

export interface LocalSlackServer {
  server: Server;
  close(): Promise<void>;
}

/** `drop`: the work is done but the connection closes without an answer (a 'drop' fault). */
type Answer = { status: number; body: unknown; headers?: Record<string, string>; drop?: boolean };
export type AppLevelMethod = (args: Args, auth: { bearer?: string; httpMethod: string }) => unknown;

const API_PREFIX = '/api/';
const UPLOAD_PREFIX = '/upload/v1/';
const FILES_PREFIX = '/files-pri/';

function send(res: ServerResponse, answer: Answer): void {
  if (res.destroyed) return;
  if (answer.drop) {
    res.socket?.destroy();
    return;
  }
  const isText = typeof answer.body === 'string';
  const payload = isText ? (answer.body as string) : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...answer.headers,
  });
  res.end(payload);
}

export function createLocalSlackServer(deps: ServerDeps): LocalSlackServer {
  const timers = new Set<NodeJS.Timeout>();

  /** A 'stall' fault's delay, applied after the method has done its work. */
  const stalls = new Map<string, number>();

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  function record(method: string, args: Args, at: number, answer: Answer): void {
    deps.calls.push({ method, args, at, status: answer.status, response: answer.body });
  }

  /** The answer a queued fault imposes, or undefined to answer normally (after any delay). */
  async function faultAnswer(name: string, wildcard: boolean): Promise<Answer | undefined> {
    const fault = deps.faults.take(name, wildcard);
    if (!fault) return undefined;
    switch (fault.kind) {
      case 'delay':
        await sleep(fault.ms);
        return undefined;
      case 'stall':
        stalls.set(name, fault.ms);
        return undefined;
      case 'drop':
        stalls.set(name, -1);
        return undefined;
      case 'rate_limited':
        return {
          status: 429,
          body: { ok: false, error: 'ratelimited' },
          headers: { 'retry-after': String(fault.retryAfter) },
        };
      case 'error':
        return { status: 200, body: { ok: false, error: fault.error } };
      case 'http':
        return { status: fault.status, body: `HTTP ${fault.status}` };
    }
  }

  async function api(req: IncomingMessage, url: URL, body: Buffer, at: number): Promise<Answer> {
    const method = decodeURIComponent(url.pathname.slice(API_PREFIX.length));
    let args: Args;
    try {
      args = await parseArgs(url.searchParams, body, req.headers['content-type']);
    } catch {
      const answer = { status: 200, body: { ok: false, error: 'invalid_json' } };
      record(method, {}, at, answer);
      return answer;
    }
    const answer =
      (await faultAnswer(method, true)) ?? callMethod(method, args, bearerToken(req), req.method ?? 'GET');
    record(method, withoutToken(args), at, answer);
    const stall = stalls.get(method);
    if (stall === -1) {
      stalls.delete(method);
      return { ...answer, drop: true };
    }
    if (stall !== undefined) {
      stalls.delete(method);
      await sleep(stall);
    }
    return answer;
  }

  function callMethod(method: string, args: Args, bearer: string | undefined, httpMethod: string): Answer {
    const appLevel = deps.appLevel?.methods[method];
    if (appLevel) return { status: 200, body: appLevel(args, { ...(bearer ? { bearer } : {}), httpMethod }) };
    const run = deps.methods[method];
    if (!run) return { status: 200, body: { ok: false, error: 'unknown_method', req_method: method } };
    const token = bearer ?? str(args, 'token');
    if (!token) return { status: 200, body: { ok: false, error: 'not_authed' } };
    // Every method's error table: not_allowed_token_type "The token type used in this request is
    // not allowed" (an app-level token only opens connections, https://api.slack.com/authentication/token-types#app).
    if (deps.appLevel?.token && token === deps.appLevel.token) {
      return { status: 200, body: { ok: false, error: 'not_allowed_token_type' } };
    }
    if (token !== deps.botToken) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    try {
      const result = run(args);
      // A method's own HTTP status (a 429 with Retry-After), else Slack's usual HTTP 200.
      return result instanceof HttpAnswer
        ? { status: result.status, body: result.body, headers: result.headers }
        : { status: 200, body: result };
    } catch (err) {
      return { status: 200, body: { ok: false, error: 'internal_error', detail: String(err) } };
    }
  }

  /** The bytes of an upload: a multipart file part (WebClient: field `body`; curl: `filename`) or raw. */
  async function uploadedBytes(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ bytes: Buffer; part?: string }> {
    const contentType = req.headers['content-type'];
    if (mediaType(contentType) !== 'multipart/form-data' || !contentType) return { bytes: body };
    const form = await parseMultipart(body, contentType);
    for (const [key, value] of form) {
      if (typeof value !== 'string') return { bytes: Buffer.from(await value.arrayBuffer()), part: key };
    }
    for (const [key, value] of form) {
      if (typeof value === 'string') return { bytes: Buffer.from(value), part: key };
    }
    return { bytes: Buffer.alloc(0) };
  }

  async function upload(req: IncomingMessage, url: URL, body: Buffer, at: number): Promise<Answer> {
    const token = url.pathname.slice(UPLOAD_PREFIX.length);
    const args: Args = { content_type: req.headers['content-type'] ?? '', length: body.length };
    let answer = await faultAnswer('upload_url', false);
    if (!answer) {
      try {
        const { bytes, part } = await uploadedBytes(req, body);
        const file = deps.ws.receiveUpload(token, bytes);
        Object.assign(args, { file_id: file.id, bytes: bytes.length, ...(part ? { part } : {}) });
        answer = { status: 200, body: `OK - ${bytes.length}` };
      } catch (err) {
        if (!(err instanceof WorkspaceError)) throw err;
        answer = { status: err.code === 'upload_url_not_found' ? 404 : 400, body: err.code };
      }
    }
    record('upload_url', args, at, answer);
    return answer;
  }

  function fileDownload(req: IncomingMessage, url: URL, res: ServerResponse): void {
    if (bearerToken(req) !== deps.botToken) {
      send(res, { status: 403, body: 'url_private needs the bot token (Authorization: Bearer)' });
      return;
    }
    const [owner = '', ...rest] = url.pathname.slice(FILES_PREFIX.length).split('/');
    const fileId = owner.slice(owner.indexOf('-') + 1);
    const found = deps.ws.fileBytes(fileId);
    if (!found) {
      send(res, { status: 404, body: 'file_not_found' });
      return;
    }
    res.writeHead(200, {
      'content-type': found.file.mimetype,
      'content-length': found.bytes.length,
      ...(rest[0] === 'download'
        ? { 'content-disposition': `attachment; filename="${found.file.name}"` }
        : {}),
    });
    res.end(found.bytes);
  }

  async function responseUrl(id: string, body: Buffer, at: number): Promise<Answer> {
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      payload = undefined;
    }
    const args: Args =
      typeof payload === 'object' && payload !== null
        ? { ...(payload as Args) }
        : { body: body.toString('utf8') };
    const answer = (await faultAnswer('response_url', false)) ?? deps.responseUrls.handle(id, payload);
    record('response_url', args, at, answer);
    return answer;
  }

  /** Which part of the server a request is for, decided from its line and headers alone. */
  function routeOf(req: IncomingMessage, url: URL): 'slack' | 'console' | 'wrong-host' | undefined {
    const path = url.pathname;
    const method = req.method;
    if (
      (path.startsWith(API_PREFIX) && (method === 'POST' || method === 'GET')) ||
      (path.startsWith(UPLOAD_PREFIX) && method === 'POST') ||
      (path.startsWith(FILES_PREFIX) && method === 'GET') ||
      (ResponseUrls.idFromPath(path) !== undefined && method === 'POST')
    ) {
      return 'slack';
    }
    return deps.console()?.route(req, url);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = deps.now();
    const url = new URL(req.url ?? '/', 'http://local-slack');
    const path = url.pathname;
    // Host and path are checked before a byte of the body is read.
    const route = routeOf(req, url);
    if (route === undefined) {
      refuseAndClose(req, res, 404, 'Not Found');
      return;
    }
    if (route === 'wrong-host') {
      refuseAndClose(req, res, 421, 'The console answers on its loopback address only.');
      return;
    }
    let body: Buffer;
    try {
      body = await readLimitedBody(req, path.startsWith(UPLOAD_PREFIX) ? MAX_UPLOAD_BYTES : MAX_BODY_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      refuseAndClose(req, res, 413, `The request body is larger than ${err.limit} bytes.`);
      return;
    }
    if (path.startsWith(API_PREFIX) && (req.method === 'POST' || req.method === 'GET')) {
      send(res, await api(req, url, body, at));
      return;
    }
    if (path.startsWith(UPLOAD_PREFIX) && req.method === 'POST') {
      send(res, await upload(req, url, body, at));
      return;
    }
    if (path.startsWith(FILES_PREFIX) && req.method === 'GET') {
      fileDownload(req, url, res);
      return;
    }
    const id = ResponseUrls.idFromPath(path);
    if (id !== undefined && req.method === 'POST') {
      send(res, await responseUrl(id, body, at));
      return;
    }
    if (await deps.console()?.handle(req, res, url, body)) return;
    send(res, { status: 404, body: 'Not Found' });
  }

  const inFlight = createInFlight(MAX_IN_FLIGHT);
  const server = createServer(SERVER_OPTIONS, (req, res) => {
    if (!inFlight.enter()) {
      refuseAndClose(req, res, 503, 'Too many requests at once; try again in a second.', {
        'retry-after': '1',
      });
      return;
    }
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      inFlight.leave();
    };
    // A request is in flight until it is answered (a live-update stream: until it has started).
    res.once('close', leave);
    handle(req, res)
      .catch((err: unknown) => {
        send(res, { status: 500, body: `local Slack error: ${String(err)}` });
      })
      .finally(leave);
  });
  server.maxRequestsPerSocket = MAX_REQUESTS_PER_SOCKET;

  return {
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
