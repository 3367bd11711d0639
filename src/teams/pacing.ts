/**
 * Teams' documented limits for one bot in one conversation ("Optimize your bot with rate limiting in
 * Teams", learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit, "Per bot per thread
 * limit", sending to a conversation): at most 7 operations in 1 s, 8 in 2 s, 60 in 30 s and 1800 in
 * 3600 s. Above them the connector answers 429, to be waited out with backoff.
 */
export const PER_THREAD_LIMITS: ReadonlyArray<{ windowMs: number; max: number }> = [
  { windowMs: 1_000, max: 7 },
  { windowMs: 2_000, max: 8 },
  { windowMs: 30_000, max: 60 },
  { windowMs: 3_600_000, max: 1_800 },
];

export interface ConversationPacer {
  /** Resolves when the next operation in this conversation may go (and counts it as gone). */
  turn(conversation: string): Promise<void>;
  /** The connector asked to wait (a 429's Retry-After): no operation in it before then. */
  pause(conversation: string, ms: number): void;
}

/**
 * Spaces the bot's operations per conversation to stay under PER_THREAD_LIMITS (wall-clock time:
 * Teams' limits are). Callers of one conversation are served in order.
 */
export function createConversationPacer(
  limits = PER_THREAD_LIMITS,
  now: () => number = Date.now,
): ConversationPacer {
  const longest = limits.reduce((most, l) => Math.max(most, l.windowMs), 0);
  const state = new Map<string, { sent: number[]; pausedUntil: number; queue: Promise<void> }>();
  const of = (conversation: string) => {
    let s = state.get(conversation);
    if (!s) {
      s = { sent: [], pausedUntil: 0, queue: Promise.resolve() };
      state.set(conversation, s);
    }
    return s;
  };
  /** How long until one more operation fits every window (0: now). */
  const waitFor = (s: { sent: number[]; pausedUntil: number }, at: number) => {
    while (s.sent.length > 0 && (s.sent[0] as number) <= at - longest) s.sent.shift();
    let wait = Math.max(0, s.pausedUntil - at);
    for (const { windowMs, max } of limits) {
      const inWindow = s.sent.filter((t) => t > at - windowMs);
      if (inWindow.length >= max) {
        // The oldest one that must leave the window for one more to fit.
        const leaving = inWindow[inWindow.length - max] as number;
        wait = Math.max(wait, leaving + windowMs - at);
      }
    }
    return wait;
  };
  return {
    turn(conversation) {
      const s = of(conversation);
      const mine = s.queue.then(async () => {
        for (;;) {
          const wait = waitFor(s, now());
          if (wait <= 0) break;
          await sleep(wait);
        }
        s.sent.push(now());
      });
      s.queue = mine.catch(() => undefined);
      return mine;
    },
    pause(conversation, ms) {
      const s = of(conversation);
      s.pausedUntil = Math.max(s.pausedUntil, now() + ms);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
