import type { Reply } from '../render/reply.js';

export const USAGE_LINES = [
  '`/crypto top [N] [24h|7d|…] [asset]`: anomalies per asset and the N most anomalous windows, with a chart',
  '`/crypto status`: health of each stage, data freshness, last job runs, champion model',
  '`/crypto chart <asset> [24h|7d]`: price with anomaly markers',
  '`/crypto retrain`: train a new model now (ops only; asks for confirmation)',
  '`/crypto provision [apply]`: Databricks: the deployment plan, or apply it (ops only)',
  '`/crypto help`: this text',
];

/** The usage text, optionally after a sentence saying what was wrong with the request. */
export function helpCommand(problem?: string): Reply {
  return {
    title: problem ? 'That command did not work' : 'crypto-risk-monitor commands',
    summary: problem,
    fields: undefined,
    notes: USAGE_LINES,
    data: { problem: problem ?? null, usage: USAGE_LINES },
  };
}
