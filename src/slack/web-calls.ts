/**
 * How the bot treats Slack Web API failures. A 429 means the call was not processed
 * (https://api.slack.com/apis/rate-limits), so it is waited out (`Retry-After`) and made again,
 * whatever the method. Any other failure of a call that creates something (chat.postMessage) is
 * not retried blindly: a network error or a 5xx may hide a post that went through, so only a
 * Slack answer `ok: false` proves nothing happened.
 */

/** The error code of a Slack Web API failure (`invalid_blocks`, `message_not_found`, …). */
export function slackError(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/** Slack answered `ok: false`: the call did nothing. */
export function refusedBySlack(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'slack_webapi_platform_error';
}

/** Seconds to wait when a WebClient with `rejectRateLimitedCalls` refused a call with a 429. */
export function retryAfterSeconds(err: unknown): number | undefined {
  const e = err as { code?: unknown; retryAfter?: unknown } | undefined;
  return e?.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number'
    ? e.retryAfter
    : undefined;
}

/** How many 429s in a row one call waits out before giving up. */
const MAX_RATE_LIMIT_WAITS = 6;

/** Makes a call, waiting out 429s (`Retry-After`) a bounded number of times; other errors pass through. */
export async function waitingOutRateLimits<T>(call: () => Promise<T>): Promise<T> {
  for (let waits = 0; ; waits++) {
    try {
      return await call();
    } catch (err) {
      const seconds = retryAfterSeconds(err);
      if (seconds === undefined || waits >= MAX_RATE_LIMIT_WAITS) throw err;
      await sleep(Math.max(seconds, 1) * 1_000);
    }
  }
}

/** Between two posts to one channel: chat.postMessage allows about one per second per channel. */
export const CHANNEL_POST_INTERVAL_MS = 1_050;

export type ChannelPacer = ReturnType<typeof createChannelPacer>;

/**
 * Spaces posts to each channel: chat.postMessage allows about one message per second per channel
 * (https://api.slack.com/methods/chat.postMessage, "Rate limiting"). `turn(channel)` resolves when
 * the next post to that channel may go. Wall-clock time: Slack's limit is.
 */
export function createChannelPacer(intervalMs: number) {
  const next = new Map<string, number>();
  return {
    async turn(channel: string): Promise<void> {
      const now = Date.now();
      const at = Math.max(now, next.get(channel) ?? 0);
      next.set(channel, at + intervalMs);
      if (at > now) await sleep(at - now);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
