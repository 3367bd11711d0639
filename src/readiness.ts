/**
 * `/readyz`: whether the process can do its job now, as opposed to `/healthz`, which says only that
 * it is alive. Each check is a named probe that resolves when all is well and throws a sentence
 * saying what is wrong. A check that does not answer within `timeoutMs` fails ("no answer within
 * 5 s"), and each answer is kept for `cacheMs`, so a probe every few seconds never turns into a
 * stream of calls to Slack, Entra or the workspace.
 */
export type Check = () => Promise<void>;

export interface ReadinessReport {
  ready: boolean;
  /** Every check by name: `ok`, or why it failed. */
  checks: Record<string, string>;
  /** The failing checks' names (none when ready). */
  failing: string[];
}

export interface Readiness {
  /** Runs the checks (the process's, then `extra`: a chat surface's own) and reports. */
  report(extra?: Readonly<Record<string, Check>>): Promise<ReadinessReport>;
}

export function createReadiness(deps: {
  checks: Readonly<Record<string, Check>>;
  timeoutMs?: number;
  cacheMs?: number;
  /** Monotonic milliseconds (injectable for tests). */
  now?: () => number;
}): Readiness {
  const timeoutMs = deps.timeoutMs ?? 5_000;
  const cacheMs = deps.cacheMs ?? 5_000;
  const now = deps.now ?? (() => performance.now());
  const cache = new Map<string, { at: number; answer: Promise<string> }>();

  function answer(name: string, check: Check): Promise<string> {
    const cached = cache.get(name);
    if (cached && now() - cached.at < cacheMs) return cached.answer;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<string>((resolve) => {
      const within = timeoutMs >= 1_000 ? `${Math.round(timeoutMs / 1_000)} s` : `${timeoutMs} ms`;
      timer = setTimeout(() => resolve(`no answer within ${within}`), timeoutMs);
      timer.unref();
    });
    const result = Promise.race([
      check().then(
        () => 'ok',
        (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0] || 'failed',
      ),
      timedOut,
    ]).finally(() => clearTimeout(timer));
    cache.set(name, { at: now(), answer: result });
    return result;
  }

  return {
    async report(extra = {}) {
      const all = Object.entries({ ...deps.checks, ...extra });
      const answers = await Promise.all(all.map(([name, check]) => answer(name, check)));
      const checks: Record<string, string> = {};
      const failing: string[] = [];
      all.forEach(([name], i) => {
        const text = answers[i] as string;
        checks[name] = text;
        if (text !== 'ok') failing.push(name);
      });
      return { ready: failing.length === 0, checks, failing };
    },
  };
}

/** The HTTP answer to `/readyz`: 200 when ready, else 503 naming the failing checks. */
export function readyzAnswer(report: ReadinessReport): { status: number; body: Record<string, unknown> } {
  return report.ready
    ? { status: 200, body: { status: 'ready', checks: report.checks } }
    : {
        status: 503,
        body: { status: 'not ready', failing: report.failing, checks: report.checks },
      };
}
