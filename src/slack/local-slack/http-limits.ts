import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';

/**
 * What the local Slack (and so the console, which runs in the bot's process) holds against a
 * client that misbehaves: the bot shares the event loop and the memory, and must still ack a
 * slash command within Slack's 3 seconds.
 *
 * - Node's own limits (node:http ServerOptions): headers at most 16 KiB (`maxHeaderSize`), all of
 *   them within 10 s (`headersTimeout`), the whole request within 60 s (`requestTimeout`; a
 *   live-update stream is a GET whose request is complete at once, so it is not cut), at most
 *   1,000 requests per kept-alive socket (`server.maxRequestsPerSocket`).
 * - Bodies: 1 MiB, except uploads (the upload URL of files.getUploadURLExternal), which are capped
 *   at 50 MiB: a chart is a few hundred KiB, and the console keeps file bytes in memory and in its
 *   saved state, so it takes less than Slack's 1 GB. A Content-Length above the cap is refused
 *   before a byte of the body is read; a body that grows past it while streaming is refused when it
 *   does, and what was read is dropped. Either way the answer is 413 and the connection is closed.
 * - At most 64 requests in flight (live-update streams are counted apart): above that, 503 with
 *   Retry-After, before the body is read.
 */
export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
export const MAX_IN_FLIGHT = 64;

export const SERVER_OPTIONS: ServerOptions = {
  maxHeaderSize: 16 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 60_000,
};
/** Set on the server (`server.maxRequestsPerSocket`: a property, not a constructor option). */
export const MAX_REQUESTS_PER_SOCKET = 1_000;

/** Time a refused client gets to read the answer before its connection is destroyed. */
const LINGER_MS = 1_000;
/** What is read (and dropped) of a refused body meanwhile, at most. */
const LINGER_BYTES = 1024 * 1024;

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** The declared body length, or undefined when the body is chunked (or absent). */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isFinite(n) ? n : undefined;
}

/** The body, read up to `limit` bytes: past it, reading stops and BodyTooLarge is thrown. */
export async function readLimitedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw new BodyTooLarge(limit);
  // Listeners, not `for await`: leaving that loop early destroys the request and its socket, and
  // the 413 would never reach the client.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer | string) => {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += buf.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        done(new BodyTooLarge(limit));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = () => done();
    const onError = (err: Error) => done(err);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

/**
 * Answers, then closes the connection without taking the rest of the body. Closing at once would
 * lose the answer: a client still sending gets a reset, and a reset discards what it had not read
 * yet. So, like a web server's lingering close, what still arrives is read and dropped (never
 * kept) for at most LINGER_MS or LINGER_BYTES, then the socket is destroyed.
 */
export function refuseAndClose(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  error: string,
  headers: Record<string, string> = {},
): void {
  const socket = req.socket;
  if (res.headersSent || res.destroyed || !socket) {
    socket?.destroy();
    return;
  }
  let dropped = 0;
  const close = () => socket.destroy();
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Flowing with a listener of its own: Node then leaves the rest of the body to it.
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) close();
  });
  req.once('end', () => {
    if (res.writableFinished) close();
  });
  req.resume();
  const payload = JSON.stringify({ ok: false, error });
  // No `connection: close` header: with it Node closes the socket the moment the answer is out.
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload, () => {
    if (req.complete) close();
  });
}

/** Counts requests in flight; `enter` is false when the limit is reached. */
export function createInFlight(limit: number) {
  let count = 0;
  return {
    enter(): boolean {
      if (count >= limit) return false;
      count++;
      return true;
    },
    leave(): void {
      count--;
    },
    get count() {
      return count;
    },
  };
}
