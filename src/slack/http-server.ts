import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

/**
 * The bot's HTTP server: `/healthz` (alive), `/readyz` (able to do its job: 200, or 503 naming
 * the failing checks; src/readiness.ts), and in HTTP mode Bolt's HTTPReceiver for everything else (in
 * Socket Mode nothing else is served). Bolt verifies the signature and refuses requests dated more
 * than 5 minutes in the past; Slack's guidance is to refuse requests more than 5 minutes away from
 * the local clock either way (https://api.slack.com/authentication/verifying-requests-from-slack:
 * "If the absolute value of the difference between the timestamp and the current time is greater
 * than 5 minutes, ignore the request"), so a request dated in the future is refused here the same
 * way (401, nothing run) before Bolt sees it.
 */
const MAX_SKEW_SECONDS = 5 * 60;
/**
 * Slack's requests are small (a slash command, a click, a view): a declared body above 1 MiB is
 * refused (413) before Bolt reads it. Node's own limits bound the rest: headers at most 16 KiB,
 * all of them within 10 s, the whole request within 30 s.
 */
const MAX_BODY_BYTES = 1024 * 1024;
const SERVER_OPTIONS = { maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 30_000 };

export function createSlackHttpServer(deps: {
  healthz: () => Record<string, unknown>;
  readyz?: () => Promise<{ status: number; body: Record<string, unknown> }>;
  /** Bolt's request listener (HTTP mode). */
  bolt?: (req: IncomingMessage, res: ServerResponse) => void;
  logger: Logger;
  now?: () => number;
}): Server {
  const now = deps.now ?? Date.now;
  return createServer(SERVER_OPTIONS, (req, res) => {
    const path = new URL(req.url ?? '/', 'http://bot').pathname;
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(deps.healthz()));
      return;
    }
    if (path === '/readyz' && deps.readyz && (req.method === 'GET' || req.method === 'HEAD')) {
      deps.readyz().then(
        ({ status, body }) =>
          res
            .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
            .end(JSON.stringify(body)),
        (err: unknown) => {
          deps.logger.error({ err: String(err) }, 'could not check readiness');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (!deps.bolt) {
      res.writeHead(404).end();
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      res.writeHead(413, { connection: 'close' }).end();
      return;
    }
    const header = req.headers['x-slack-request-timestamp'];
    const timestamp = Number(Array.isArray(header) ? header[0] : header);
    if (req.method === 'POST' && Number.isFinite(timestamp) && timestamp - now() / 1000 > MAX_SKEW_SECONDS) {
      deps.logger.warn({ timestamp }, 'refused a Slack request dated more than 5 minutes in the future');
      res.writeHead(401).end();
      return;
    }
    deps.bolt(req, res);
  });
}
