import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type Args, isObject, str } from './args.js';
import type {
  BotResponse,
  DisconnectReason,
  EnvelopeType,
  SocketMessage,
  SocketModeControl,
} from './types.js';
import type { SlackBody } from './web-api.js';

/**
 * Socket Mode on the local Slack: `apps.connections.open` hands out one-time WebSocket URLs on
 * this server (`ws://host:port/link/?ticket=…&app_id=…`), and what Slack would POST to the
 * Request URL goes over the app's connections as envelopes, which the app acks.
 *
 * Sources: "Socket Mode" https://api.slack.com/apis/socket-mode (also at
 * https://docs.slack.dev/apis/events-api/using-socket-mode), its method
 * https://api.slack.com/methods/apps.connections.open, and the Events API's retry rules
 * https://api.slack.com/apis/events-api#retries. Where they are silent the stricter choice is
 * taken, and says so.
 */

/** https://api.slack.com/apis/socket-mode#connections: "up to 10 open WebSocket connections". */
const MAX_CONNECTIONS = 10;
/**
 * https://api.slack.com/apis/socket-mode#connect: hello's `approximate_connection_time` (seconds)
 * is how long the connection lasts until Slack refreshes it (3600 in the docs' example);
 * `&debug_reconnects=true` on the URL makes it 360 s.
 */
const CONNECTION_TIME_S = 3_600;
const DEBUG_CONNECTION_TIME_S = 360;
/** https://api.slack.com/apis/socket-mode#disconnect: "a warning about 10 seconds before the disconnect". */
const WARNING_BEFORE_MS = 10_000;
/**
 * After a `disconnect` message the connection gets no new envelopes and is closed by Slack this
 * long after (the docs give 10 s for the warning, nothing for the other reasons: the same here).
 */
const DISCONNECT_GRACE_MS = 10_000;
/**
 * Slack waits 3 s for an ack before it retries (Events API) or shows the user an error (slash
 * commands, interactivity): https://api.slack.com/apis/events-api#retries ("respond … within
 * 3 seconds"), https://api.slack.com/interactivity/slash-commands#responding_basic_receipt.
 */
const ACK_WINDOW_MS = 3_000;
/**
 * "Your app still needs to acknowledge receiving each event so that Slack knows whether to retry"
 * (https://api.slack.com/apis/socket-mode#events). The schedule is the Events API's: a retry
 * nearly immediately, then after 1 minute, then after 5 minutes, and no more
 * (https://api.slack.com/apis/events-api#retries). Stricter than the docs: every envelope is
 * retried this way, slash commands and interactivity too, so an app must expect duplicates.
 */
const RETRY_DELAYS_MS = [0, 60_000, 300_000];
/**
 * Socket Mode's `retry_reason` for an envelope that was not acked in time; the first delivery has
 * `retry_attempt: 0`. The docs only name the fields; the value is the one the SDKs' own fixtures
 * carry (node-slack-sdk socket-mode tests, java-slack-sdk's EventContext: `"retry_reason": "timeout"`).
 */
const RETRY_REASON = 'timeout';
/**
 * https://api.slack.com/methods/apps.connections.open "Generate a temporary Socket Mode WebSocket
 * URL": temporary, for how long is not said, so short here; and single-use (a ticket opens one
 * connection; every reconnect calls the method again).
 */
const TICKET_TTL_MS = 30_000;
const LINK_PATH = '/link/';
/** The message log keeps this many (the console runs for hours): the oldest go first. */
const MAX_LOGGED_MESSAGES = 10_000;

export interface SocketModeDeps {
  appId: string;
  /** The app-level token (xapp-); undefined: Socket Mode is off. */
  appToken: string | undefined;
  /** The bot token, refused by apps.connections.open with not_allowed_token_type. */
  botToken: string;
  /** ws://host:port of this server (known once it listens). */
  wsBase: () => string;
  now: () => number;
  /** How long a delivery waits for its ack, redeliveries included, before it fails. */
  timeoutMs: number;
}

export interface SocketMode extends SocketModeControl {
  /** The app is in Socket Mode (it has an app-level token). */
  readonly enabled: boolean;
  /** A connection is open and takes envelopes. */
  connected(): boolean;
  /** POST apps.connections.open, with the Authorization header's bearer token (if any). */
  connectionsOpen(args: Args, auth: { bearer?: string; httpMethod: string }): SlackBody;
  /** The HTTP server's 'upgrade' listener: WebSocket connections on /link/. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Sends the payload as an envelope (now, or when a connection opens) and resolves with its ack:
   * status 200, the ack's payload as JSON ('' without one) and the time from sending to the ack.
   */
  deliver(type: EnvelopeType, payload: Record<string, unknown>): Promise<BotResponse>;
  close(): Promise<void>;
}

interface Connection {
  id: number;
  socket: WebSocket;
  host: string;
  /** A disconnect message went out: no new envelopes go here. */
  draining: boolean;
  timers: Set<NodeJS.Timeout>;
}

interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
}

interface Delivery {
  envelope: Envelope;
  /** retry_attempt of the latest send. */
  attempt: number;
  /** performance.now() when it was first to be sent. */
  started: number;
  /** The connection the latest attempt went on (undefined: waiting for one). */
  connection: Connection | undefined;
  timers: Set<NodeJS.Timeout>;
  resolve(response: BotResponse): void;
  reject(err: Error): void;
}

/**
 * Whether the app may answer in the ack (https://api.slack.com/apis/socket-mode, the examples of
 * each payload): slash commands and interactivity yes, Events API no (an ack payload is ignored).
 */
const ACCEPTS_RESPONSE_PAYLOAD: Record<EnvelopeType, boolean> = {
  slash_commands: true,
  interactive: true,
  events_api: false,
};

export function createSocketMode(deps: SocketModeDeps): SocketMode {
  const enabled = deps.appToken !== undefined;
  const wss = new WebSocketServer({ noServer: true });
  /** Ticket → when it expires. */
  const tickets = new Map<string, number>();
  const connections = new Set<Connection>();
  const deliveries = new Map<string, Delivery>();
  const waiting: Delivery[] = [];
  const messages: SocketMessage[] = [];
  let connectionSeq = 0;
  let roundRobin = 0;
  let disconnectAfterNextEnvelope: DisconnectReason | undefined;
  let closed = false;

  const fail = (error: string): SlackBody => ({ ok: false, error });

  function connectionsOpen(args: Args, auth: { bearer?: string; httpMethod: string }): SlackBody {
    // https://api.slack.com/methods/apps.connections.open errors: insecure_request "The method was not called via a POST request";
    // missing_args "An app-level token wasn't provided" (the token must be in the Authorization
    // header: "passing it as a POST parameter will result in an error"); a token of another type
    // (the bot token) → not_allowed_token_type; an unknown token → invalid_auth.
    if (auth.httpMethod !== 'POST') return fail('insecure_request');
    if (!auth.bearer) return fail(str(args, 'token') ? 'missing_args' : 'not_authed');
    if (auth.bearer === deps.botToken) return fail('not_allowed_token_type');
    if (!enabled || auth.bearer !== deps.appToken) return fail('invalid_auth');
    const now = deps.now();
    for (const [id, expires] of tickets) if (expires <= now) tickets.delete(id);
    const ticket = randomUUID();
    tickets.set(ticket, now + TICKET_TTL_MS);
    const query = new URLSearchParams({ ticket, app_id: deps.appId });
    return { ok: true, url: `${deps.wsBase()}${LINK_PATH}?${query}` };
  }

  function refuse(socket: Duplex, status: number, text: string): void {
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  function log(entry: SocketMessage): void {
    if (messages.length >= MAX_LOGGED_MESSAGES) messages.splice(0, messages.length - MAX_LOGGED_MESSAGES + 1);
    messages.push(entry);
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://local-slack');
    if (!enabled || closed || url.pathname !== LINK_PATH) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    const id = url.searchParams.get('ticket') ?? '';
    const expires = tickets.get(id);
    // One ticket, one connection; an expired or unknown one, or another app's, opens nothing.
    tickets.delete(id);
    if (expires === undefined || expires <= deps.now() || url.searchParams.get('app_id') !== deps.appId) {
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    const debug = url.searchParams.get('debug_reconnects') === 'true';
    wss.handleUpgrade(req, socket, head, (ws) => opened(ws, debug));
  }

  function send(conn: Connection, message: Record<string, unknown>): void {
    log({ connection: conn.id, direction: 'to_app', at: deps.now(), message });
    conn.socket.send(JSON.stringify(message));
  }

  /** A timer that does not keep the process alive, kept in `timers` so it can be cleared. */
  function later(timers: Set<NodeJS.Timeout>, ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    timers.add(timer);
  }

  const usable = () => [...connections].filter((c) => !c.draining && c.socket.readyState === c.socket.OPEN);

  function opened(socket: WebSocket, debug: boolean): void {
    const conn: Connection = {
      id: ++connectionSeq,
      socket,
      host: `applink-local-${connectionSeq}`,
      draining: false,
      timers: new Set(),
    };
    socket.on('message', (data, isBinary) => received(conn, data, isBinary));
    socket.on('close', () => gone(conn));
    socket.on('error', () => socket.terminate());
    if (closed) {
      socket.terminate();
      return;
    }
    const open = usable().length;
    connections.add(conn);
    if (open >= MAX_CONNECTIONS) {
      // Past 10, Slack turns the connection away (the reason Slack sends then: https://github.com/slackapi/node-slack-sdk/issues/1654).
      disconnectOne(conn, 'too_many_websockets');
      return;
    }
    const lifetimeS = debug ? DEBUG_CONNECTION_TIME_S : CONNECTION_TIME_S;
    // https://api.slack.com/apis/socket-mode#connect: the hello message, its fields as documented.
    send(conn, {
      type: 'hello',
      num_connections: open + 1,
      debug_info: {
        host: conn.host,
        started: new Date(deps.now()).toISOString().replace('T', ' ').replace('Z', ''),
        build_number: 1,
        approximate_connection_time: lifetimeS,
      },
      connection_info: { app_id: deps.appId },
    });
    // The connection is refreshed when its time is up, with a warning 10 s before.
    later(conn.timers, lifetimeS * 1000 - WARNING_BEFORE_MS, () => disconnectOne(conn, 'warning'));
    for (const delivery of waiting.splice(0)) dispatch(delivery);
  }

  function disconnectOne(conn: Connection, reason: DisconnectReason): void {
    if (conn.draining) return;
    conn.draining = true;
    if (conn.socket.readyState === conn.socket.OPEN) {
      send(conn, { type: 'disconnect', reason, debug_info: { host: conn.host } });
    }
    later(conn.timers, DISCONNECT_GRACE_MS, () => conn.socket.close(1000));
  }

  function gone(conn: Connection): void {
    connections.delete(conn);
    for (const timer of conn.timers) clearTimeout(timer);
    conn.timers.clear();
    // Envelopes in flight on it stay unacked: their ack window runs out and they are redelivered.
  }

  function received(conn: Connection, data: RawData, isBinary: boolean): void {
    let message: unknown;
    try {
      message = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      message = undefined;
    }
    const record = isObject(message) ? message : { unparsable: data.toString().slice(0, 200) };
    log({ connection: conn.id, direction: 'from_app', at: deps.now(), message: record });
    if (!isObject(message) || typeof message.envelope_id !== 'string') return;
    const delivery = deliveries.get(message.envelope_id);
    // An ack counts on the connection the envelope went over (a stale or unknown one is ignored).
    if (!delivery || delivery.connection !== conn) return;
    const payload = message.payload;
    const answer =
      delivery.envelope.accepts_response_payload && isObject(payload) && Object.keys(payload).length > 0
        ? JSON.stringify(payload)
        : '';
    finish(delivery, { status: 200, body: answer, ms: Math.round(performance.now() - delivery.started) });
  }

  function finish(delivery: Delivery, outcome: BotResponse | Error): void {
    for (const timer of delivery.timers) clearTimeout(timer);
    delivery.timers.clear();
    deliveries.delete(delivery.envelope.envelope_id);
    const queued = waiting.indexOf(delivery);
    if (queued >= 0) waiting.splice(queued, 1);
    if (outcome instanceof Error) delivery.reject(outcome);
    else delivery.resolve(outcome);
  }

  function dispatch(delivery: Delivery): void {
    const open = usable();
    if (open.length === 0) {
      delivery.connection = undefined;
      waiting.push(delivery);
      return;
    }
    // "each payload may be sent to any of the connections": round robin.
    const conn = open[roundRobin++ % open.length] as Connection;
    delivery.connection = conn;
    send(conn, {
      ...delivery.envelope,
      retry_attempt: delivery.attempt,
      retry_reason: delivery.attempt === 0 ? '' : RETRY_REASON,
    });
    if (disconnectAfterNextEnvelope) {
      const reason = disconnectAfterNextEnvelope;
      disconnectAfterNextEnvelope = undefined;
      disconnectOne(conn, reason);
    }
    later(delivery.timers, ACK_WINDOW_MS, () => redeliver(delivery));
  }

  function redeliver(delivery: Delivery): void {
    delivery.connection = undefined;
    const delay = RETRY_DELAYS_MS[delivery.attempt];
    if (delay === undefined) return; // out of retries: the delivery times out
    delivery.attempt += 1;
    if (delay === 0) dispatch(delivery);
    else later(delivery.timers, delay, () => dispatch(delivery));
  }

  function deliver(type: EnvelopeType, payload: Record<string, unknown>): Promise<BotResponse> {
    if (!enabled) return Promise.reject(new Error('local Slack: Socket Mode is off (no appToken)'));
    if (closed) return Promise.reject(new Error('local Slack: closed'));
    return new Promise<BotResponse>((resolve, reject) => {
      const delivery: Delivery = {
        envelope: {
          envelope_id: randomUUID(),
          type,
          payload,
          accepts_response_payload: ACCEPTS_RESPONSE_PAYLOAD[type],
        },
        attempt: 0,
        started: performance.now(),
        connection: undefined,
        timers: new Set(),
        resolve,
        reject,
      };
      deliveries.set(delivery.envelope.envelope_id, delivery);
      later(delivery.timers, deps.timeoutMs, () =>
        finish(
          delivery,
          new Error(
            `local Slack: the app did not acknowledge the ${type} envelope within ${deps.timeoutMs} ms ` +
              `(${delivery.attempt + 1} deliveries over Socket Mode)`,
          ),
        ),
      );
      dispatch(delivery);
    });
  }

  function disconnect(reason: DisconnectReason, options: { afterNextEnvelope?: boolean } = {}): void {
    if (options.afterNextEnvelope) {
      disconnectAfterNextEnvelope = reason;
      return;
    }
    for (const conn of usable()) disconnectOne(conn, reason);
  }

  async function close(): Promise<void> {
    closed = true;
    disconnectAfterNextEnvelope = undefined;
    for (const delivery of [...deliveries.values()]) finish(delivery, new Error('local Slack: closed'));
    const sockets = [...connections].map((c) => c.socket);
    for (const conn of connections) gone(conn);
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === socket.CLOSED) return resolve();
            socket.once('close', () => resolve());
            socket.terminate();
          }),
      ),
    );
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  return {
    enabled,
    connected: () => usable().length > 0,
    openConnections: () => usable().length,
    messages,
    connectionsOpen,
    handleUpgrade,
    deliver,
    disconnect,
    close,
  };
}

/** A made-up app-level token in Slack's shape: xapp-1-<app id>-<digits>-<hex>. */
export function madeUpAppToken(appId: string): string {
  const digits = String(Math.floor(Math.random() * 1e13)).padStart(13, '0');
  return `xapp-1-${appId}-${digits}-${randomBytes(32).toString('hex')}`;
}
