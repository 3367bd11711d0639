import type { LabelComparison, LabelScore } from '../platform/port.js';

/**
 * How a new model version is measured against the channel's labels when it is trained, and when
 * automatic promotion refuses it.
 *
 * - A labelled window's truth is the majority of its people's labels (each person once, their
 *   latest label). A tie counts as real: someone saw a real event there, and a missed real event
 *   costs the desk more than one more alert to dismiss.
 * - A model alerts on a window by the product's rule (isAlert, src/model/reasons.ts) on its own
 *   score of the window's features, computed as inference computes them.
 * - precision = real windows among the alerted ones (null when nothing alerted); recall = alerted
 *   windows among the real ones (null without real windows); F1 is their harmonic mean (0 when no
 *   real window alerted).
 * The labels do not train the forest (it is unsupervised), so labelled windows inside the training
 * period are fair to count.
 */
export const LABEL_PROMOTION_RULE = {
  /** Labelled windows needed before the labels can hold a promotion back. */
  minWindows: 10,
  /** Of them, at least this many real and this many noise. */
  minEach: 3,
  /** A candidate is clearly worse when its F1 is below the champion's by more than this. */
  maxF1Drop: 0.1,
} as const;

/** The rule in words, as the train result and the chat reply show it. */
export const LABEL_PROMOTION_RULE_TEXT =
  `With automatic promotion a new version is not made champion when, on at least ${LABEL_PROMOTION_RULE.minWindows} ` +
  `labelled windows with at least ${LABEL_PROMOTION_RULE.minEach} real and ${LABEL_PROMOTION_RULE.minEach} noise, ` +
  `its F1 on the labels is more than ${LABEL_PROMOTION_RULE.maxF1Drop} below the champion's.`;

/** Whether a labelled window counts as real: the majority of its labels, ties real. */
export function isRealWindow(real: number, noise: number): boolean {
  return real >= noise;
}

/** A model's precision, recall and F1 on labelled windows (`truth[i]`: real; `alerts[i]`: it alerts). */
export function scoreOnLabels(truth: readonly boolean[], alerts: readonly boolean[]): LabelScore {
  let alerted = 0;
  let hits = 0;
  let real = 0;
  for (const [i, isReal] of truth.entries()) {
    const alert = alerts[i] === true;
    if (alert) alerted += 1;
    if (isReal) real += 1;
    if (alert && isReal) hits += 1;
  }
  const precision = alerted > 0 ? hits / alerted : null;
  const recall = real > 0 ? hits / real : null;
  const f1 =
    recall === null
      ? null
      : hits === 0
        ? 0
        : (2 * (precision as number) * recall) / ((precision as number) + recall);
  return { alerted, precision, recall, f1 };
}

/** Whether there are enough labels, of both kinds, for the rule to apply. */
export function ruleApplies(c: Pick<LabelComparison, 'windows' | 'real' | 'noise'>): boolean {
  return (
    c.windows >= LABEL_PROMOTION_RULE.minWindows &&
    c.real >= LABEL_PROMOTION_RULE.minEach &&
    c.noise >= LABEL_PROMOTION_RULE.minEach
  );
}

/** Whether the candidate is clearly worse than the champion on the labels (the rule applies). */
export function clearlyWorse(c: LabelComparison): boolean {
  if (!c.rule_applies || !c.champion) return false;
  return (c.candidate.f1 ?? 0) < (c.champion.f1 ?? 0) - LABEL_PROMOTION_RULE.maxF1Drop;
}

/** The sentence saying why a candidate stayed a challenger. */
export function refusalSentence(c: LabelComparison, candidate: number): string {
  const champion = c.champion as NonNullable<LabelComparison['champion']>;
  return (
    `Not promoted: on ${c.windows} labelled windows (${c.real} real, ${c.noise} noise) v${candidate} has F1 ` +
    `${formatF1(c.candidate.f1)} against champion v${champion.version}'s ${formatF1(champion.f1)}, ` +
    `more than ${LABEL_PROMOTION_RULE.maxF1Drop} lower; it stays a challenger (\`crypto-risk promote ${candidate}\` makes it champion anyway).`
  );
}

function formatF1(f1: number | null): string {
  return f1 === null ? '—' : f1.toFixed(2);
}
