import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpRouteHandler, IHttpServerAdapter } from '@microsoft/teams.apps';
import type { Logger } from '../log.js';
import { CHART_HASH, type ChartStore } from './chart-store.js';

/**
 * An activity is a few kilobytes (Teams caps a bot message at about 100 KB): a body above 1 MiB is
 * refused (413) without being read further. Node's own limits bound the rest, as for Slack:
 * headers at most 16 KiB within 10 s, the whole request within 30 s.
 */
const MAX_BODY_BYTES = 1024 * 1024;
const SERVER_OPTIONS = { maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 30_000 };

export interface TeamsHttpServer extends IHttpServerAdapter {
  listen(port: number, host: string): Promise<void>;
  port(): number | undefined;
  close(): Promise<void>;
}

/**
 * The Teams SDK's transport seam (IHttpServerAdapter, @microsoft/teams.apps dist/http/adapter.d.ts)
 * over node:http instead of its Express adapter: the SDK's HttpServer registers the messaging
 * endpoint here and does the Bot Framework authentication itself (the bearer JWT of every request
 * checked against the connector's OpenID keys, 401 otherwise). This server adds what is the
 * product's own: the body cap, `/healthz`, and the chart images the cards name by URL.
 */
export function createTeamsHttpServer(deps: {
  healthz: () => Record<string, unknown>;
  /** `/readyz`: 200, or 503 naming the failing checks (src/readiness.ts). */
  readyz?: () => Promise<{ status: number; body: Record<string, unknown> }>;
  /** Told of each activity answered and how long its answer took (the ack latency metric). */
  answered?: (activity: Record<string, unknown>, seconds: number) => void;
  charts: ChartStore;
  logger: Logger;
}): TeamsHttpServer {
  const routes = new Map<string, HttpRouteHandler>();
  let server: Server | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const received = performance.now();
    const path = new URL(req.url ?? '/', 'http://bot').pathname;
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/healthz') {
      if (!readOnly) return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(deps.healthz()));
      return;
    }
    if (path === '/readyz' && deps.readyz) {
      if (!readOnly) return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
      const { status, body } = await deps.readyz();
      res
        .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(body));
      return;
    }
    const chart = /^\/charts\/([^/]+)\.png$/.exec(path);
    if (chart) {
      if (!readOnly) return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
      const hash = chart[1] as string;
      const png = CHART_HASH.test(hash) ? deps.charts.get(hash) : undefined;
      if (!png) return void res.writeHead(404).end();
      // Content-addressed: the same URL is always the same image.
      res
        .writeHead(200, {
          'content-type': 'image/png',
          'content-length': png.length,
          'cache-control': 'public, max-age=31536000, immutable',
          'x-content-type-options': 'nosniff',
        })
        .end(req.method === 'HEAD' ? undefined : png);
      return;
    }
    const route = routes.get(path);
    if (!route) return void res.writeHead(404).end();
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      res.writeHead(413, { connection: 'close' }).end();
      req.resume();
      return;
    }
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
      return void res.writeHead(415, { accept: 'application/json' }).end();
    }
    const raw = await readBody(req);
    if (raw === 'too large') {
      res.writeHead(413, { connection: 'close' }).end();
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"not JSON"}');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return void res
        .writeHead(400, { 'content-type': 'application/json' })
        .end('{"error":"not an activity"}');
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = value;
    const answer = await route({ body, headers });
    if (answer.body === undefined || answer.body === null) {
      res.writeHead(answer.status).end();
    } else {
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    }
    if (answer.status < 300)
      deps.answered?.(body as Record<string, unknown>, (performance.now() - received) / 1000);
  }

  return {
    registerRoute(method, path, handler) {
      if (method !== 'POST') throw new Error(`only POST routes are served (asked for ${method} ${path})`);
      routes.set(path, handler);
    },
    async listen(port, host) {
      const http = createServer(SERVER_OPTIONS, (req, res) => {
        handle(req, res).catch((err: unknown) => {
          deps.logger.error({ err: String(err) }, 'teams: could not answer a request');
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        });
      });
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve();
        });
      });
      server = http;
    },
    // The SDK's App.start would call this; the bot listens through `listen` (host and errors its own).
    async start(port) {
      await this.listen(Number(port), '127.0.0.1');
    },
    async stop() {
      await this.close();
    },
    port: () => (server?.address() as AddressInfo | null)?.port,
    async close() {
      const http = server;
      server = undefined;
      if (!http) return;
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

/** The body, or 'too large' past MAX_BODY_BYTES (a chunked body declares no length up front). */
function readBody(req: IncomingMessage): Promise<Buffer | 'too large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
