import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/market/random.js';
import {
  averagePathLength,
  fitIsolationForest,
  type IsolationForest,
  type IsolationForestJson,
  loadIsolationForest,
  percentile,
} from '../../src/model/isolation-forest.js';

/** A fixture written by tests/fixtures/iforest/generate.py (scikit-learn's IsolationForest). */
interface Fixture {
  name: string;
  sklearn: string;
  n_estimators: number;
  max_samples: number;
  X: number[][];
  labels: number[];
  score_samples: number[];
  contamination: Record<string, { offset: number; flagged_share: number }>;
  roc_auc: number;
  percentiles: Record<string, number>;
}

const FIXTURES = ['gaussian', 'heavy-tailed', 'constant-column', 'small'];

function fixture(name: string): Fixture {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/iforest/${name}.json`, import.meta.url), 'utf8'),
  ) as Fixture;
}

/** Ranks from 1, ties sharing their average rank. */
function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from(values, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const out = new Float64Array(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1] as number] === values[order[i] as number]) j++;
    for (let k = i; k <= j; k++) out[order[k] as number] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] as number) - ma;
    const y = (b[i] as number) - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

const spearman = (a: ArrayLike<number>, b: ArrayLike<number>): number => pearson(ranks(a), ranks(b));

/** ROC AUC of `score` (higher = more positive) against 0/1 labels: Mann–Whitney U with ties as ½. */
function rocAuc(labels: readonly number[], score: ArrayLike<number>): number {
  const r = ranks(score);
  let positives = 0;
  let rankSum = 0;
  labels.forEach((label, i) => {
    if (label === 1) {
      positives++;
      rankSum += r[i] as number;
    }
  });
  const negatives = labels.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

const negate = (values: Float64Array): Float64Array => values.map((v) => -v);
const flaggedShare = (forest: IsolationForest, X: number[][]): number =>
  forest.predict(X).filter((p) => p === -1).length / X.length;

function gaussianRows(n: number, d: number, seed: number): number[][] {
  const random = createRandom(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => random.normal()));
}

/** Depth of every node of every tree, walked from the roots (independent of the stored depths). */
function walkDepths(forest: IsolationForest): { maxDepth: number; leafDepths: number[] } {
  const { offsets, feature, left } = forest.nodes;
  let maxDepth = 0;
  const leafDepths: number[] = [];
  for (let t = 0; t < forest.nEstimators; t++) {
    const stack: [number, number][] = [[offsets[t] as number, 0]];
    while (stack.length > 0) {
      const [node, depth] = stack.pop() as [number, number];
      maxDepth = Math.max(maxDepth, depth);
      if ((feature[node] as number) < 0) leafDepths.push(depth);
      else stack.push([left[node] as number, depth + 1], [(left[node] as number) + 1, depth + 1]);
    }
  }
  return { maxDepth, leafDepths };
}

describe('c(n), the average path length', () => {
  it('has scikit-learn values (its _average_path_length)', () => {
    expect(averagePathLength(0)).toBe(0);
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    const sklearn: [number, number][] = [
      [3, 1.207392357589623],
      [4, 1.8516559071392846],
      [10, 3.748880484475504],
      [256, 10.244770920119917],
      [100_000, 22.180282259643523],
    ];
    for (const [n, c] of sklearn) expect(averagePathLength(n)).toBeCloseTo(c, 12);
  });
});

describe('parity with scikit-learn (tests/fixtures/iforest, 1,000 trees)', () => {
  it.each(FIXTURES)('%s: same ranking, flagged shares, offsets and ROC AUC', (name) => {
    const fx = fixture(name);
    const forest = fitIsolationForest(fx.X, { nEstimators: fx.n_estimators, seed: 42 });
    expect(forest.maxSamples).toBe(fx.max_samples);
    const scores = forest.scoreSamples(fx.X);

    expect(spearman(scores, fx.score_samples)).toBeGreaterThanOrEqual(0.95);
    // The scores themselves, not just their order (Spearman ignores the normalisation by c(ψ)):
    // two scikit-learn forests with different random_state differ by about 0.003 on average.
    let meanAbsDiff = 0;
    for (let i = 0; i < scores.length; i++)
      meanAbsDiff += Math.abs((scores[i] as number) - (fx.score_samples[i] as number));
    expect(meanAbsDiff / scores.length).toBeLessThan(0.008);
    expect(Math.abs(rocAuc(fx.labels, negate(scores)) - fx.roc_auc)).toBeLessThanOrEqual(0.01);

    for (const [contamination, sk] of Object.entries(fx.contamination)) {
      const flagged = fitIsolationForest(fx.X, {
        nEstimators: fx.n_estimators,
        contamination: Number(contamination),
        seed: 42,
      });
      expect(Math.abs(flaggedShare(flagged, fx.X) - sk.flagged_share)).toBeLessThanOrEqual(0.005);
      expect(Math.abs(flagged.offset - sk.offset)).toBeLessThan(0.015);
    }
  });

  it("percentile is numpy's linear percentile, to the last bit", () => {
    for (const name of FIXTURES) {
      const fx = fixture(name);
      for (const [q, numpy] of Object.entries(fx.percentiles)) {
        expect(percentile(fx.score_samples, Number(q))).toBe(numpy);
      }
    }
    const full = JSON.parse(
      readFileSync(new URL('../fixtures/iforest/numpy-percentile.json', import.meta.url), 'utf8'),
    ) as { values: number[]; percentiles: Record<string, number> };
    for (const [q, numpy] of Object.entries(full.percentiles))
      expect(percentile(full.values, Number(q))).toBe(numpy);
    expect(percentile([3, 1, 2, 10], 10)).toBe(1.3); // numpy.percentile([3, 1, 2, 10], 10)
  });
});

describe('semantics', () => {
  it('never splits on a constant column, and treats a spread of at most 1e-7 as constant', () => {
    const X = gaussianRows(500, 4, 1).map((row, i) => [
      row[0] as number,
      5,
      row[1] as number,
      1 + (i % 7) * 1e-8,
    ]);
    const forest = fitIsolationForest(X, { nEstimators: 50, seed: 1 });
    const used = new Set(forest.nodes.feature);
    expect(used.has(1)).toBe(false);
    expect(used.has(3)).toBe(false);
    expect(used.has(0) && used.has(2)).toBe(true);
  });

  it('gives all-constant data one leaf per tree and equal scores (−0.5)', () => {
    const X = Array.from({ length: 50 }, () => [1, 2, 3]);
    const forest = fitIsolationForest(X, { nEstimators: 20, contamination: 0.1, seed: 1 });
    expect(Array.from(forest.nodes.feature)).toEqual(new Array(20).fill(-1));
    expect(Array.from(forest.nodes.size)).toEqual(new Array(20).fill(50));
    const scores = forest.scoreSamples([...X, [100, -100, 0]]);
    for (const s of scores) expect(s).toBe(scores[0]);
    expect(scores[0]).toBeCloseTo(-0.5, 12); // path c(50) in every tree, over c(ψ) = c(50)
    expect(forest.offset).toBe(scores[0]); // the 10th percentile of equal scores
    expect(forest.predict(X).every((p) => p === 1)).toBe(true);
  });

  it('grows each tree on all rows when n < 256 (ψ = n), each row once', () => {
    const X = gaussianRows(100, 3, 2);
    const forest = fitIsolationForest(X, { nEstimators: 30, seed: 2 });
    expect(forest.maxSamples).toBe(100);
    expect(forest.maxDepth).toBe(7);
    const { offsets, feature, threshold, left, size } = forest.nodes;
    for (let t = 0; t < forest.nEstimators; t++) {
      // Route every training row (x <= threshold goes left): the counts must be the stored sizes,
      // and each threshold must lie in [min, max) of the node's rows.
      const reached = new Map<number, number[][]>();
      for (const row of X) {
        let node = offsets[t] as number;
        for (;;) {
          reached.set(node, [...(reached.get(node) ?? []), row]);
          const f = feature[node] as number;
          if (f < 0) break;
          node = (left[node] as number) + ((row[f] as number) <= (threshold[node] as number) ? 0 : 1);
        }
      }
      expect(size[offsets[t] as number]).toBe(100);
      for (const [node, rows] of reached) {
        expect(rows.length).toBe(size[node]);
        const f = feature[node] as number;
        if (f < 0) continue;
        const column = rows.map((r) => r[f] as number);
        expect(threshold[node]).toBeGreaterThanOrEqual(column.reduce((a, b) => Math.min(a, b)));
        expect(threshold[node]).toBeLessThan(column.reduce((a, b) => Math.max(a, b)));
      }
    }
  });

  it('subsamples min(256, n) rows by default, or maxSamples capped at n', () => {
    const X = gaussianRows(1000, 2, 3);
    expect(fitIsolationForest(X, { nEstimators: 5 }).maxSamples).toBe(256);
    const small = fitIsolationForest(X, { nEstimators: 5, maxSamples: 64 });
    expect(small.maxSamples).toBe(64);
    expect(small.maxDepth).toBe(6);
    for (let t = 0; t < 5; t++) expect(small.nodes.size[small.nodes.offsets[t] as number]).toBe(64);
    expect(fitIsolationForest(X, { nEstimators: 5, maxSamples: 5000 }).maxSamples).toBe(1000);
  });

  it('sends x <= threshold left when scoring, also at ±0 (a hand-written one-split model)', () => {
    const model = (threshold: number): IsolationForest =>
      loadIsolationForest({
        format: 'crypto-risk/iforest',
        version: 1,
        nFeatures: 1,
        maxSamples: 4,
        contamination: 'auto',
        offset: -0.5,
        seed: 0,
        trees: [{ feature: [0, -1, -1], threshold: [threshold], leafSize: [1, 3] }],
      });
    const left = -(2 ** -(1 / averagePathLength(4))); // depth 1 + c(1)
    const right = -(2 ** -((1 + averagePathLength(3)) / averagePathLength(4))); // depth 1 + c(3)
    // Six rows: the first four are walked together, the last two one by one.
    const cases: [number, number[], number[]][] = [
      [0.5, [0.5, 0.4, 0.5, 0.6, 0.5, 0.6], [left, left, left, right, left, right]],
      [-0, [0, -0, 1e-300, -1e-300, 0, -0], [left, left, right, left, left, left]],
      [0, [-0, 0, 1e-300, -1e-300, -0, 1], [left, left, right, left, left, right]],
    ];
    for (const [threshold, xs, expected] of cases) {
      expect(Array.from(model(threshold).scoreSamples(xs.map((x) => [x])))).toEqual(expected);
    }
  });

  it('fits one row: every score is −0.5 (c(1) = 0, as scikit-learn) and nothing is flagged', () => {
    const forest = fitIsolationForest([[3, 4]], { nEstimators: 10, seed: 1 });
    expect(forest.maxSamples).toBe(1);
    expect(
      Array.from(
        forest.scoreSamples([
          [3, 4],
          [1e6, -1e6],
        ]),
      ),
    ).toEqual([-0.5, -0.5]);
    expect(Array.from(forest.decisionFunction([[3, 4]]))).toEqual([0]);
    expect(Array.from(forest.predict([[3, 4]]))).toEqual([1]);
  });

  it('handles duplicated rows: equal rows score equally, and a leaf of duplicates stops early', () => {
    const points = [
      [0, 0],
      [1, 0],
      [0, 1],
      [5, 5],
    ];
    const X = Array.from({ length: 300 }, (_, i) => points[i < 20 ? 3 : i % 3] as number[]);
    const forest = fitIsolationForest(X, { nEstimators: 100, seed: 4 });
    const scores = forest.scoreSamples(X);
    const first = new Map<string, number>();
    X.forEach((row, i) => {
      const key = row.join(',');
      if (!first.has(key)) first.set(key, scores[i] as number);
      expect(scores[i]).toBe(first.get(key));
    });
    expect(first.size).toBe(4);
    expect(first.get('5,5')).toBeLessThan(first.get('0,0') as number); // the rare point is the anomaly
    const { feature, depth, size } = forest.nodes;
    const early = Array.from(feature).filter(
      (f, node) => f < 0 && (depth[node] as number) < 8 && (size[node] as number) > 1,
    );
    expect(early.length).toBeGreaterThan(0);
    expect(walkDepths(forest).maxDepth).toBeLessThanOrEqual(3); // 4 distinct points need at most 3 splits
  });

  it('respects the depth limit ceil(log2(ψ)) and reaches it', () => {
    const X = gaussianRows(3000, 3, 5);
    for (const [maxSamples, limit] of [
      ['auto', 8],
      [16, 4],
      [200, 8],
    ] as const) {
      const forest = fitIsolationForest(X, { nEstimators: 40, maxSamples, seed: 5 });
      expect(forest.maxDepth).toBe(limit);
      expect(walkDepths(forest).maxDepth).toBe(limit);
    }
    // A leaf's path length is its depth + c(its size).
    const forest = fitIsolationForest(X, { nEstimators: 10, seed: 5 });
    const { feature, depth, size, value } = forest.nodes;
    for (let node = 0; node < feature.length; node++) {
      if ((feature[node] as number) < 0) {
        expect(value[node]).toBe((depth[node] as number) + averagePathLength(size[node] as number));
      }
    }
  });

  it("uses offset −0.5 for contamination 'auto'", () => {
    const X = gaussianRows(400, 3, 6);
    const forest = fitIsolationForest(X, { nEstimators: 50, seed: 6 });
    expect(forest.offset).toBe(-0.5);
    const scores = forest.scoreSamples(X);
    const decision = forest.decisionFunction(X);
    const predicted = forest.predict(X);
    for (let i = 0; i < X.length; i++) {
      expect(decision[i]).toBe((scores[i] as number) + 0.5);
      expect(predicted[i]).toBe((decision[i] as number) < 0 ? -1 : 1);
    }
  });

  it('flags about 10 % of the training rows at contamination 0.1', () => {
    const X = gaussianRows(1000, 4, 7);
    const forest = fitIsolationForest(X, { nEstimators: 100, contamination: 0.1, seed: 7 });
    expect(forest.offset).toBe(percentile(forest.scoreSamples(X), 10));
    const share = flaggedShare(forest, X);
    expect(share).toBeGreaterThanOrEqual(0.095);
    expect(share).toBeLessThanOrEqual(0.105);
  });

  it('scores a flat Float64Array exactly as nested rows', () => {
    const X = gaussianRows(300, 3, 8);
    const forest = fitIsolationForest(X, { nEstimators: 50, seed: 8 });
    const flat = { values: Float64Array.from(X.flat()), features: 3 };
    expect(forest.scoreSamples(flat)).toEqual(forest.scoreSamples(X));
    expect(fitIsolationForest(flat, { nEstimators: 50, seed: 8 }).toJSON()).toEqual(forest.toJSON());
  });

  it('round-trips through JSON to identical scores', () => {
    const X = gaussianRows(2000, 5, 9);
    const forest = fitIsolationForest(X, { nEstimators: 100, contamination: 0.05, seed: 9 });
    const text = JSON.stringify(forest.toJSON());
    const json = JSON.parse(text) as IsolationForestJson;
    expect(json.format).toBe('crypto-risk/iforest');
    expect(json.version).toBe(1);
    expect(json.trees[0]?.feature.every((f) => typeof f === 'number')).toBe(true); // arrays of numbers
    const loaded = loadIsolationForest(json);
    const probe = [...X, ...gaussianRows(500, 5, 10).map((r) => r.map((v) => v * 4))];
    expect(loaded.scoreSamples(probe)).toEqual(forest.scoreSamples(probe));
    expect(loaded.decisionFunction(probe)).toEqual(forest.decisionFunction(probe));
    expect(loaded.offset).toBe(forest.offset);
    expect(loaded.maxSamples).toBe(forest.maxSamples);
    expect(loaded.nodes).toEqual(forest.nodes);
    expect(JSON.stringify(loaded.toJSON())).toBe(text);
  });

  it('gives the same model for the same seed and a different one for another seed', () => {
    const X = gaussianRows(600, 3, 11);
    const a = fitIsolationForest(X, { nEstimators: 30, seed: 'a' });
    expect(fitIsolationForest(X, { nEstimators: 30, seed: 'a' }).toJSON()).toEqual(a.toJSON());
    const b = fitIsolationForest(X, { nEstimators: 30, seed: 'b' });
    expect(b.toJSON().trees).not.toEqual(a.toJSON().trees);
    expect(b.scoreSamples(X)).not.toEqual(a.scoreSamples(X));
  });

  it('rejects bad input and options with a clear message', () => {
    const ok = [
      [1, 2],
      [3, 4],
    ];
    expect(() => fitIsolationForest([])).toThrow(/X has no rows/);
    expect(() => fitIsolationForest([[]])).toThrow(/rows have no features/);
    expect(() => fitIsolationForest([[1, 2], [3]])).toThrow(/row 1 has 1 values; row 0 has 2/);
    expect(() => fitIsolationForest([[1, Number.NaN]])).toThrow(
      /row 0, feature 1 is NaN; values must be finite/,
    );
    expect(() =>
      fitIsolationForest([
        [1, 2],
        [Infinity, 0],
      ]),
    ).toThrow(/row 1, feature 0 is Infinity/);
    expect(() => fitIsolationForest({ values: new Float64Array(5), features: 2 })).toThrow(
      /not whole rows of 2/,
    );
    expect(() => fitIsolationForest(ok, { nEstimators: 0 })).toThrow(
      /nEstimators must be a positive integer/,
    );
    expect(() => fitIsolationForest(ok, { contamination: 0.6 })).toThrow(
      /contamination must be 'auto' or a number in \(0, 0.5]/,
    );
    expect(() => fitIsolationForest(ok, { contamination: 0 })).toThrow(/contamination/);
    expect(() => fitIsolationForest(ok, { maxSamples: 0 })).toThrow(
      /maxSamples must be 'auto' or a positive integer/,
    );
    const forest = fitIsolationForest(ok, { nEstimators: 3 });
    expect(() => forest.scoreSamples([[1, 2, 3]])).toThrow(/rows have 3 features; the model was fitted on 2/);
    expect(() => forest.predict([[1, Number.NaN]])).toThrow(/finite/);

    const json = forest.toJSON();
    expect(() => loadIsolationForest(null)).toThrow(/expected a JSON object/);
    expect(() => loadIsolationForest({ ...json, format: 'other' })).toThrow(
      /not a crypto-risk\/iforest model.*format/,
    );
    expect(() => loadIsolationForest({ ...json, version: 2 })).toThrow(/version 2 is not supported/);
    const [tree] = json.trees as [IsolationForestJson['trees'][number]];
    const split = tree.feature.findIndex((f) => f >= 0);
    const badFeature = { ...tree, feature: tree.feature.map((f, k) => (k === split ? 7 : f)) };
    expect(() => loadIsolationForest({ ...json, trees: [badFeature] })).toThrow(/tree 0 splits on feature 7/);
    expect(() => loadIsolationForest({ ...json, trees: [{ ...tree, leafSize: [1] }] })).toThrow(/leaf sizes/);
  });
});
