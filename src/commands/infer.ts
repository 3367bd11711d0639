import { formatPercent, formatPrice, formatScore, formatTime } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { describeInfer } from '../domain/summaries.js';
import { runInfer } from '../jobs/infer.js';
import type { JobDeps } from '../jobs/record-run.js';

/** Scores the new Gold windows with the champion now (the 10-minute job, by hand). */
export async function inferCommand(deps: JobDeps, options: { rescoreSinceMs?: number }): Promise<Reply> {
  const rescoreSince =
    options.rescoreSinceMs === undefined
      ? undefined
      : new Date(deps.clock.now().getTime() - options.rescoreSinceMs);
  const result = await runInfer(deps, rescoreSince ? { rescoreSince } : {});
  const simulated = result.new_anomalies.some((a) => a.simulated);
  return {
    title: `Inference with model v${result.model_version}`,
    badge: simulated ? 'SIMULATED DATA: these anomalies are in simulated prices' : undefined,
    summary: describeInfer(result).replace(/^infer: /, ''),
    tables:
      result.new_anomalies.length === 0
        ? []
        : [
            {
              title: 'New anomalies (lowest score first)',
              columns: [
                { header: 'window end' },
                { header: 'asset' },
                { header: 'score', align: 'right' },
                { header: 'avg price', align: 'right' },
                { header: 'range', align: 'right' },
              ],
              rows: result.new_anomalies
                .slice(0, 50)
                .map((a) => [
                  formatTime(a.window_end),
                  a.asset,
                  formatScore(a.anomaly_score),
                  formatPrice(a.price_avg),
                  formatPercent(a.ret_window),
                ]),
            },
          ],
    notes:
      result.new_anomalies.length > 50
        ? [`${result.new_anomalies.length - 50} more; see \`crypto-risk top\`.`]
        : [],
    data: result,
  };
}
