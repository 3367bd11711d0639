import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Platform } from '../platform/port.js';

export interface JobDeps {
  platform: Platform;
  clock: Clock;
  logger: Logger;
}

/**
 * Runs one job and records the run (start, end, result, a one-line summary) for `status`. A failed
 * run is recorded too, then the error goes on to the caller.
 */
export async function recordRun<T>(
  job: string,
  deps: JobDeps,
  work: () => Promise<T>,
  summarise: (result: T) => string,
): Promise<T> {
  const startedAt = deps.clock.now();
  const started = performance.now();
  const finishedAt = () => new Date(startedAt.getTime() + Math.round(performance.now() - started));
  try {
    const result = await work();
    const summary = summarise(result);
    await deps.platform.pipeline.recordJobRun({
      job,
      startedAt,
      finishedAt: finishedAt(),
      result: 'succeeded',
      summary,
      detail: result,
    });
    deps.logger.debug({ job }, summary);
    return result;
  } catch (err) {
    const summary = err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : String(err);
    await deps.platform.pipeline
      .recordJobRun({ job, startedAt, finishedAt: finishedAt(), result: 'failed', summary })
      .catch((recordErr) => deps.logger.error({ job, err: recordErr }, 'could not record the failed run'));
    throw err;
  }
}
