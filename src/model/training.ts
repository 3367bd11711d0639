import type { ModelMetrics } from '../platform/port.js';
import type { FeatureRow } from './features.js';
import { fitIsolationForest, type IsolationForest } from './isolation-forest.js';

/** Fewer training windows than this give no model (about 20 minutes of 5 assets, or 1.7 h of one). */
export const MIN_TRAIN_ROWS = 100;
/** The latest share of the period is held out to see how scores hold up on newer data. */
export const HOLDOUT_SHARE = 0.2;
/** Windows a training period needs at least, so that MIN_TRAIN_ROWS remain after the holdout. */
export const MIN_PERIOD_ROWS = Math.ceil(MIN_TRAIN_ROWS / (1 - HOLDOUT_SHARE));

export interface FitSettings {
  trees: number;
  contamination: 'auto' | number;
  seed: number;
}

export interface FittedModel {
  forest: IsolationForest;
  trainRows: number;
  holdoutRows: number;
  metrics: ModelMetrics;
}

/**
 * Fits an IsolationForest on the earlier part of the period and measures it on both parts. Rows
 * must be the period's windows; the split is by time (all windows before the cut train).
 */
export function fitModel(rows: readonly FeatureRow[], settings: FitSettings): FittedModel {
  const ordered = rows
    .slice()
    .sort((a, b) => a.window_end.localeCompare(b.window_end) || a.asset.localeCompare(b.asset));
  const cut = ordered[Math.floor(ordered.length * (1 - HOLDOUT_SHARE))]?.window_end;
  const train = cut === undefined ? ordered : ordered.filter((r) => r.window_end < cut);
  const holdout = cut === undefined ? [] : ordered.filter((r) => r.window_end >= cut);
  const forest = fitIsolationForest(
    train.map((r) => r.features),
    { nEstimators: settings.trees, contamination: settings.contamination, seed: settings.seed },
  );
  const trainScores = forest.decisionFunction(train.map((r) => r.features));
  const holdoutScores =
    holdout.length > 0 ? forest.decisionFunction(holdout.map((r) => r.features)) : undefined;
  const trainStats = describe(trainScores);
  const holdoutStats = holdoutScores ? describe(holdoutScores) : undefined;
  return {
    forest,
    trainRows: train.length,
    holdoutRows: holdout.length,
    metrics: {
      train_mean: trainStats.mean,
      train_std: trainStats.std,
      holdout_mean: holdoutStats?.mean ?? null,
      holdout_std: holdoutStats?.std ?? null,
      train_flagged_share: trainStats.flagged,
      holdout_flagged_share: holdoutStats?.flagged ?? null,
      offset: forest.offset,
    },
  };
}

/** Mean, sample standard deviation and the share below 0 (flagged) of decision_function scores. */
function describe(scores: Float64Array): { mean: number; std: number; flagged: number } {
  const n = scores.length;
  let sum = 0;
  let flagged = 0;
  for (const s of scores) {
    sum += s;
    if (s < 0) flagged++;
  }
  const mean = sum / n;
  let squares = 0;
  for (const s of scores) squares += (s - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(squares / (n - 1)) : 0, flagged: flagged / n };
}
