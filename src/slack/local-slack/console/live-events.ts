import type { ServerResponse } from 'node:http';
import type { LiveLimits } from '../types.js';
import type { Workspace, WorkspaceChange } from '../workspace.js';

/**
 * Live updates for console pages, as server-sent events: each page holds one `GET /console/events`
 * stream for the user it shows, and every workspace change is sent to it as the object's new state
 * (`message`, `message_deleted`, `ephemeral`, `ephemeral_deleted`, `home`). Ephemeral messages and
 * Home views go only to their user's streams. A comment line every 15 s keeps proxies from closing
 * an idle stream; a page that reconnects reads the whole state again, so nothing sent while it was
 * away is missed.
 */
export interface LiveEvents {
  /**
   * Turns the response into an event stream for the user's page; answers 429 instead when the
   * user, or the process, has as many streams as it may.
   */
  attach(res: ServerResponse, userId: string): void;
  /** Streams open now. */
  count(): number;
  close(): void;
}

/**
 * Streams are bounded so that pages left open (or a script opening streams) cannot take the
 * process: a page holds one, so 4 per user leaves room for a few tabs; 256 in all. A client that
 * does not read is dropped: its unsent events are held for it only up to 1 MiB, and only for
 * 10 s after a write was refused (no 'drain'); the page reconnects and reads the state again.
 */
export const DEFAULT_LIVE_LIMITS: LiveLimits = {
  perUser: 4,
  perProcess: 256,
  maxBufferedBytes: 1024 * 1024,
  drainTimeoutMs: 10_000,
};

const HEARTBEAT_MS = 15_000;

interface Client {
  res: ServerResponse;
  userId: string;
  /** Set while a write waits for 'drain': the timer that drops the client if none comes. */
  stalled?: NodeJS.Timeout;
}

export function createLiveEvents(ws: Workspace, limits: LiveLimits = DEFAULT_LIVE_LIMITS): LiveEvents {
  const clients = new Set<Client>();

  function drop(client: Client): void {
    clearTimeout(client.stalled);
    clients.delete(client);
    client.res.destroy();
  }

  function write(client: Client, text: string): void {
    const { res } = client;
    if (res.writableEnded || res.destroyed) return;
    const flushed = res.write(text);
    if (res.writableLength > limits.maxBufferedBytes) {
      drop(client);
      return;
    }
    if (!flushed && client.stalled === undefined) {
      client.stalled = setTimeout(() => drop(client), limits.drainTimeoutMs);
      client.stalled.unref();
      res.once('drain', () => {
        clearTimeout(client.stalled);
        client.stalled = undefined;
      });
    }
  }

  function send(client: Client, event: string, data: unknown): void {
    write(client, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** The event a change becomes, and the one user it is for (undefined: everyone). */
  function eventOf(change: WorkspaceChange): { name: string; data: unknown; user?: string } | undefined {
    switch (change.kind) {
      case 'message': {
        const message = ws.message(change.channel, change.ts);
        return message
          ? { name: 'message', data: { channel: change.channel, message } }
          : { name: 'message_deleted', data: { channel: change.channel, ts: change.ts } };
      }
      case 'message_deleted':
        return { name: 'message_deleted', data: { channel: change.channel, ts: change.ts } };
      case 'ephemeral': {
        const message = ws.findEphemeral(change.ts);
        return message ? { name: 'ephemeral', data: { message }, user: change.user } : undefined;
      }
      case 'ephemeral_deleted':
        return { name: 'ephemeral_deleted', data: { ts: change.ts }, user: change.user };
      case 'home':
        return { name: 'home', data: { view: ws.homeView(change.user) ?? null }, user: change.user };
      case 'file':
        return undefined;
    }
  }

  const stop = ws.onChange((change) => {
    if (clients.size === 0) return;
    const event = eventOf(change);
    if (!event) return;
    for (const client of clients) {
      if (event.user === undefined || event.user === client.userId) send(client, event.name, event.data);
    }
  });

  const heartbeat = setInterval(() => {
    for (const client of clients) write(client, ': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  return {
    attach(res, userId) {
      let mine = 0;
      for (const client of clients) if (client.userId === userId) mine++;
      if (mine >= limits.perUser || clients.size >= limits.perProcess) {
        const payload = JSON.stringify({
          ok: false,
          error:
            mine >= limits.perUser
              ? `This user has ${mine} live pages open already (at most ${limits.perUser}); close one.`
              : `The console has ${clients.size} live pages open (at most ${limits.perProcess}).`,
        });
        res.writeHead(429, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(payload),
          'retry-after': '5',
        });
        res.end(payload);
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      // Reconnect after a second when the stream drops (the page then reads the state again).
      res.write('retry: 1000\n\n');
      const client: Client = { res, userId };
      clients.add(client);
      res.on('close', () => {
        clearTimeout(client.stalled);
        clients.delete(client);
      });
    },
    count: () => clients.size,
    close() {
      stop();
      clearInterval(heartbeat);
      for (const client of clients) {
        clearTimeout(client.stalled);
        client.res.end();
      }
      clients.clear();
    },
  };
}
