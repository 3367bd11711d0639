import { NotPosted } from '../chat/port.js';
import type { ConversationPacer } from './pacing.js';

/**
 * How the bot treats Bot Connector failures (the SDK's HTTP client is axios: a failed call throws an
 * error with `response.status` and headers). A 429 was not processed ("Optimize your bot with rate
 * limiting in Teams": back off and retry), so it is waited out (`Retry-After`, else exponential
 * backoff with jitter, as that page recommends) and made again. Another 4xx refused the call: it did
 * nothing. Anything else (a 5xx, no answer) may hide a post that went through.
 */

/** How many 429s in a row one call waits out before giving up. */
const MAX_RATE_LIMIT_WAITS = 6;
/** Retry-After is honoured up to this long; a longer ask gives up (NotPosted with the wait). */
const MAX_WAIT_MS = 60_000;

/** The HTTP status of a failed connector (or Graph) call, when it got an answer. */
export function httpStatus(err: unknown): number | undefined {
  const status = (err as { response?: { status?: unknown } } | undefined)?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** A 429's Retry-After in ms (seconds or an HTTP date, RFC 9110 §10.2.3), when it named one. */
export function retryAfterMs(err: unknown, now: () => number = Date.now): number | undefined {
  const headers = (err as { response?: { headers?: Record<string, unknown> } } | undefined)?.response
    ?.headers;
  const raw = headers?.['retry-after'];
  const value = typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(raw) : undefined;
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now()) : undefined;
}

/**
 * A sentence about a failed call without its request: axios errors carry the request's headers,
 * which hold the bearer token.
 */
export function describeFailure(err: unknown): string {
  const status = httpStatus(err);
  if (status !== undefined) {
    const data = (err as { response?: { data?: unknown } }).response?.data as
      | { error?: { code?: unknown; message?: unknown } }
      | undefined;
    const code = typeof data?.error?.code === 'string' ? ` ${data.error.code}` : '';
    return `HTTP ${status}${code}`;
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : String(err);
}

/**
 * Makes one call in a conversation at the pace Teams allows, waiting out 429s a bounded number of
 * times. A refusal (4xx, or 429s past the bound) is thrown as NotPosted: certainly not done.
 */
export async function paced<T>(
  pacer: ConversationPacer,
  conversation: string,
  what: string,
  call: () => Promise<T>,
  sleep: (ms: number) => Promise<void>,
): Promise<T> {
  for (let waits = 0; ; waits++) {
    await pacer.turn(conversation);
    try {
      return await call();
    } catch (err) {
      const status = httpStatus(err);
      if (status === 429) {
        const asked = retryAfterMs(err);
        const backoff = asked ?? Math.min(MAX_WAIT_MS, 500 * 2 ** waits * (1 + Math.random()));
        if (waits < MAX_RATE_LIMIT_WAITS && backoff <= MAX_WAIT_MS) {
          pacer.pause(conversation, backoff);
          await sleep(backoff);
          continue;
        }
        throw new NotPosted(`Teams refused ${what} (HTTP 429, rate limited)`, backoff, { cause: err });
      }
      if (status !== undefined && status >= 400 && status < 500) {
        throw new NotPosted(`Teams refused ${what} (${describeFailure(err)})`, undefined, { cause: err });
      }
      throw new Error(`Teams did not confirm ${what} (${describeFailure(err)})`);
    }
  }
}
