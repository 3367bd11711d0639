import { z } from 'zod';
import type { LabelComparison } from '../port.js';

/**
 * What the bot reads from a training run's output: the exit value of databricks/notebooks/
 * 03_train_iforest.py (`dbutils.notebook.exit`, a JSON object), whose optional `labels` and
 * `refused` are TrainResult's fields (src/platform/port.ts) as crypto_risk/labels.py writes them.
 * The rest of the version comes from the registry, so only these two are read here.
 */
const score = z.object({
  alerted: z.number().int().nonnegative(),
  precision: z.number().nullable(),
  recall: z.number().nullable(),
  f1: z.number().nullable(),
});

const comparison = z.object({
  windows: z.number().int().nonnegative(),
  real: z.number().int().nonnegative(),
  noise: z.number().int().nonnegative(),
  candidate: score,
  champion: score.extend({ version: z.number().int().positive() }).nullable(),
  rule_applies: z.boolean(),
  rule: z.string(),
});

const output = z.object({
  labels: comparison.optional(),
  refused: z.string().min(1).optional(),
});

export type TrainOutput = { labels?: LabelComparison; refused?: string };

/**
 * The labels' comparison and refusal of a training run's exit value; an exit value that is absent
 * (a notebook from before the comparison) gives neither, one that is not understood throws (the
 * caller logs it and shows the run without them).
 */
export function parseTrainOutput(exitValue: string | undefined): TrainOutput {
  if (!exitValue) return {};
  const parsed = output.parse(JSON.parse(exitValue));
  return {
    ...(parsed.labels ? { labels: parsed.labels } : {}),
    ...(parsed.refused ? { refused: parsed.refused } : {}),
  };
}
