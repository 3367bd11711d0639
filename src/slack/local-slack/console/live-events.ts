import type { ServerResponse } from 'node:http';
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
  /** Turns the response into an event stream for the user's page. */
  attach(res: ServerResponse, userId: string): void;
  close(): void;
}

const HEARTBEAT_MS = 15_000;

export function createLiveEvents(ws: Workspace): LiveEvents {
  const clients = new Set<{ res: ServerResponse; userId: string }>();

  function send(res: ServerResponse, event: string, data: unknown): void {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
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
      if (event.user === undefined || event.user === client.userId) send(client.res, event.name, event.data);
    }
  });

  const heartbeat = setInterval(() => {
    for (const client of clients) if (!client.res.writableEnded) client.res.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  return {
    attach(res, userId) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      // Reconnect after a second when the stream drops (the page then reads the state again).
      res.write('retry: 1000\n\n');
      const client = { res, userId };
      clients.add(client);
      res.on('close', () => clients.delete(client));
    },
    close() {
      stop();
      clearInterval(heartbeat);
      for (const client of clients) client.res.end();
      clients.clear();
    },
  };
}
