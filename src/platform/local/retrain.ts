import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { describeTrain } from '../../domain/summaries.js';
import type { Logger } from '../../log.js';
import type { JobRun, RetrainRun, TrainRequest, TrainResult } from '../port.js';

export interface RetrainDeps {
  train(request: TrainRequest): Promise<TrainResult>;
  recordJobRun(run: JobRun): Promise<void>;
  clock: Clock;
  logger: Logger;
}

/**
 * Retraining as an operation of the local platform: a run starts in the background and its state
 * can be read while it goes (queued → running → succeeded | failed). One run at a time: a request
 * while one is queued or running gets that run back. Runs are kept in memory: on Databricks the
 * Jobs API keeps them; here a restart ends the process that ran them.
 */
export function createLocalRetrains(deps: RetrainDeps) {
  const runs = new Map<string, RetrainRun>();
  let active: RetrainRun | undefined;
  const now = () => deps.clock.now().toISOString();

  async function execute(run: RetrainRun): Promise<void> {
    run.state = 'running';
    run.started_at = now();
    const startedAt = deps.clock.now();
    try {
      run.result = await deps.train({ now: startedAt });
      run.state = 'succeeded';
    } catch (err) {
      run.error = err instanceof Error ? err.message : String(err);
      run.state = 'failed';
    }
    run.finished_at = now();
    active = undefined;
    await deps
      .recordJobRun({
        job: 'train',
        startedAt,
        finishedAt: deps.clock.now(),
        result: run.state === 'succeeded' ? 'succeeded' : 'failed',
        summary: run.result ? describeTrain(run.result) : (run.error ?? 'failed'),
        detail: { run_id: run.id, requested_by: run.requested_by },
      })
      .catch((err: unknown) => deps.logger.error({ err: String(err) }, 'could not record the retrain run'));
  }

  return {
    async retrain(request: { requestedBy: string }): Promise<{ run: RetrainRun; started: boolean }> {
      if (active) return { run: { ...active }, started: false };
      const run: RetrainRun = {
        id: randomUUID(),
        state: 'queued',
        requested_by: request.requestedBy,
        created_at: now(),
        started_at: null,
        finished_at: null,
        result: null,
        error: null,
      };
      runs.set(run.id, run);
      active = run;
      setImmediate(() => void execute(run));
      return { run: { ...run }, started: true };
    },
    async retrainRun(id: string): Promise<RetrainRun | undefined> {
      const run = runs.get(id);
      return run ? { ...run } : undefined;
    },
  };
}
