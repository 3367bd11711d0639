/** Faults a test queues on any emulator route, matched by method and path. */
export type FaultAction =
  /** Answer with this status (429 carries Retry-After in seconds when given). */
  | { kind: 'status'; status: number; retryAfter?: number; body?: unknown }
  /** Hold the request this long, then answer it normally. */
  | { kind: 'delay'; ms: number }
  /** Destroy the socket without an answer. */
  | { kind: 'drop' };

export type FaultRule = FaultAction & {
  /** HTTP method, or any when omitted. */
  method?: string;
  /** Path (no query). A string may use `*` for one path segment and `**` for any rest; or a RegExp. */
  path: string | RegExp;
  /** How many matching requests it hits: 1 by default; `Infinity` for a persistent fault. */
  times?: number;
};

interface Armed {
  rule: FaultRule;
  pattern: RegExp;
  left: number;
}

export class FaultBook {
  private armed: Armed[] = [];

  add(rule: FaultRule): void {
    const times = rule.times ?? 1;
    if (!(times > 0))
      throw new Error(`A fault must hit at least one request; times was ${String(rule.times)}.`);
    this.armed.push({ rule, pattern: toPattern(rule.path), left: times });
  }

  clear(): void {
    this.armed = [];
  }

  /** The first armed fault for this request, consumed by one. */
  take(method: string, path: string): FaultAction | undefined {
    const hit = this.armed.find(
      (a) => (!a.rule.method || a.rule.method.toUpperCase() === method) && a.pattern.test(path),
    );
    if (!hit) return undefined;
    hit.left -= 1;
    if (hit.left <= 0) this.armed = this.armed.filter((a) => a !== hit);
    return hit.rule;
  }
}

function toPattern(path: string | RegExp): RegExp {
  if (path instanceof RegExp) return path;
  const source = path
    .split(/(\*\*|\*)/)
    .map((part) => {
      if (part === '**') return '.*';
      if (part === '*') return '[^/]*';
      return part.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * The per bot per thread limit for "Send to conversation" and "Create conversation" ("Optimize your
 * bot with rate limiting in Teams", Per bot per thread limit:
 * https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit#per-bot-per-thread-limit):
 * 7 in 1 s, 8 in 2 s, 60 in 30 s, 1800 in 3600 s. The page says "All requests are subject to the same
 * rate limiting policy", so updates and deletes count as well.
 */
export const TEAMS_THREAD_LIMITS: ReadonlyArray<{ seconds: number; max: number }> = [
  { seconds: 1, max: 7 },
  { seconds: 2, max: 8 },
  { seconds: 30, max: 60 },
  { seconds: 3600, max: 1800 },
];

export class ThreadRateLimiter {
  private readonly log = new Map<string, number[]>();
  private readonly horizonMs: number;

  constructor(
    private readonly limits: ReadonlyArray<{ seconds: number; max: number }> = TEAMS_THREAD_LIMITS,
  ) {
    this.horizonMs = limits.reduce((most, l) => Math.max(most, l.seconds), 0) * 1000;
  }

  /** Records one operation on `thread`, or returns the seconds to wait when a window is full. */
  admit(thread: string, now = Date.now()): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const times = (this.log.get(thread) ?? []).filter((t) => now - t < this.horizonMs);
    for (const { seconds, max } of this.limits) {
      const windowMs = seconds * 1000;
      const inWindow = times.filter((t) => now - t < windowMs);
      if (inWindow.length >= max) {
        // The window frees a slot when its oldest operation ages out.
        const oldest = inWindow[inWindow.length - max] ?? now;
        this.log.set(thread, times);
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)) };
      }
    }
    times.push(now);
    this.log.set(thread, times);
    return { ok: true };
  }
}
