import type { Metrics } from '../metrics.js';

/**
 * How the scheduled jobs have been doing: each job's failed runs in a row since its last success.
 * `/readyz` refuses once a job has failed more than the allowed runs in a row, and the metrics
 * count every run.
 */
export interface JobHealth {
  /** Records one finished run of a job. */
  finished(job: string, ok: boolean, seconds: number): void;
  /** The jobs that failed more than `maxRuns` runs in a row, each with its count. */
  failing(maxRuns: number): Array<{ job: string; runs: number }>;
}

export function createJobHealth(metrics?: Metrics): JobHealth {
  const inARow = new Map<string, number>();
  return {
    finished(job, ok, seconds) {
      const failures = ok ? 0 : (inARow.get(job) ?? 0) + 1;
      inARow.set(job, failures);
      metrics?.jobRuns.inc({ job, result: ok ? 'succeeded' : 'failed' });
      metrics?.jobDuration.observe({ job }, seconds);
      metrics?.jobConsecutiveFailures.set({ job }, failures);
    },
    failing(maxRuns) {
      return [...inARow].filter(([, runs]) => runs > maxRuns).map(([job, runs]) => ({ job, runs }));
    },
  };
}
