import type { Platform, RetrainRun } from '../platform/port.js';

const TERMINAL = new Set<RetrainRun['state']>(['succeeded', 'failed']);

/**
 * Follows a retrain run until it ends, calling `onChange` at every change of state (Slack updates
 * the progress message in place from it). Polls: on Databricks the state comes from the Jobs API.
 */
export async function followRetrain(
  platform: Platform,
  id: string,
  options: { pollMs: number; onChange?: (run: RetrainRun) => Promise<void> | void },
): Promise<RetrainRun> {
  let last: RetrainRun['state'] | undefined;
  for (;;) {
    const run = await platform.pipeline.retrainRun(id);
    if (!run) throw new Error(`retrain run ${id} is unknown to the platform`);
    if (run.state !== last) {
      last = run.state;
      await options.onChange?.(run);
    }
    if (TERMINAL.has(run.state)) return run;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}
