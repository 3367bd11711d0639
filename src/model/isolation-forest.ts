/**
 * IsolationForest with scikit-learn's semantics: `sklearn.ensemble.IsolationForest` (checked
 * against 1.2), whose trees are `ExtraTreeRegressor(splitter='random', max_features=1)` grown on
 * subsamples. The local platform trains and scores with this; the Databricks deployment uses
 * scikit-learn itself, so both must mean the same thing by a score.
 *
 * Why hand-written: the npm packages `isolation-forest` and `ml-isolation-forest` were measured and
 * do not follow these semantics (they grow every tree on all rows instead of a ψ-row subsample and
 * normalise path lengths with a different c(n)), so their scores and thresholds are not
 * comparable with the Databricks model's. What is needed is small enough to own.
 *
 * The semantics, as in scikit-learn:
 * - each tree is grown on ψ = min(256, n) rows (or `maxSamples`) drawn without replacement, to
 *   depth ceil(log2(max(ψ, 2)));
 * - at a node, a feature is chosen uniformly among those not constant over the node's rows (max ≤
 *   min + 1e-7 is constant), the threshold is uniform in [min, max) of that feature (a draw equal to
 *   max becomes min), and rows with x ≤ threshold go left; a node with fewer than 2 rows, at the
 *   depth limit, or with all features constant is a leaf;
 * - the path length of a row in a tree is the edges from the root to its leaf + c(leaf size), with
 *   c(n) = 2(ln(n − 1) + γ) − 2(n − 1)/n, c(2) = 1, c(n ≤ 1) = 0;
 * - score_samples = −2^(−mean path length / c(ψ)) (−0.5 when c(ψ) = 0, i.e. ψ = 1); offset = −0.5
 *   for contamination 'auto', else numpy's linear percentile of the training scores at
 *   100 × contamination; decision_function = score_samples − offset; predict = −1 where
 *   decision_function < 0, else 1.
 *
 * Deliberate differences: the random streams are this project's seeded PRNG, not scikit-learn's,
 * so the same seed does not give scikit-learn's trees (parity is statistical; see
 * tests/fixtures/iforest); features are compared in float64 (scikit-learn casts X to float32); and
 * a threshold that rounds to max or above becomes min (scikit-learn checks equality only), so both
 * children always get rows.
 *
 * Layout: all trees live in flat typed arrays (feature, threshold, left, per-leaf path length);
 * the two children of a node are adjacent (right = left + 1), so scoring is a tight loop with no
 * allocation per row. Nodes are numbered breadth-first, so the JSON form needs only each node's
 * feature, the split thresholds and the leaf sizes; the children are implied.
 */
import { createRandom } from '../market/random.js';

/** Rows × features as nested arrays, or row-major values with the number of features per row. */
export type Matrix = readonly (readonly number[])[] | FlatMatrix;

export interface FlatMatrix {
  /** Row-major: row i is values[i × features … (i + 1) × features − 1]. */
  readonly values: Float64Array;
  readonly features: number;
}

export interface IsolationForestOptions {
  /** Number of trees; default 100 (scikit-learn's). */
  nEstimators?: number;
  /** Rows per tree: 'auto' (default) = min(256, n), or a count (capped at n, as scikit-learn does). */
  maxSamples?: 'auto' | number;
  /** 'auto' (default): offset −0.5; a number in (0, 0.5]: the share of training rows to flag. */
  contamination?: 'auto' | number;
  /** Seed of the random streams; the same seed and data give the same forest. Default 0. */
  seed?: number | string;
}

export const IFOREST_FORMAT = 'crypto-risk/iforest';
export const IFOREST_VERSION = 1;

/** The versioned JSON form. Per tree, nodes in breadth-first order. */
export interface IsolationForestJson {
  format: typeof IFOREST_FORMAT;
  version: typeof IFOREST_VERSION;
  nFeatures: number;
  /** ψ, the rows each tree was grown on (scikit-learn's `max_samples_`). */
  maxSamples: number;
  contamination: 'auto' | number;
  offset: number;
  seed: number | string;
  trees: IsolationTreeJson[];
}

export interface IsolationTreeJson {
  /** Per node: the split feature, or −1 for a leaf. The k-th split node's children are nodes 2k + 1 and 2k + 2. */
  feature: number[];
  /** Per split node, in node order: its threshold (x ≤ threshold goes left). */
  threshold: number[];
  /** Per leaf, in node order: the training rows that ended there. */
  leafSize: number[];
}

/** The trees of a forest, read-only (for inspection and tests). Indices are global across trees. */
export interface ForestNodes {
  /** Tree t holds nodes [offsets[t], offsets[t + 1]); its root is offsets[t]. */
  readonly offsets: Int32Array;
  /** Split feature, or −1 for a leaf. */
  readonly feature: Int32Array;
  /** Split threshold (x ≤ threshold goes left); 0 for a leaf. */
  readonly threshold: Float64Array;
  /** Left child; the right child is left + 1. −1 for a leaf. */
  readonly left: Int32Array;
  /** Depth of the node (root 0). */
  readonly depth: Int32Array;
  /** Training rows in the node (scikit-learn's n_node_samples). */
  readonly size: Int32Array;
  /** For a leaf: depth + c(size), the path length of a row ending there; 0 for a split node. */
  readonly value: Float64Array;
}

const EULER_GAMMA = 0.5772156649015329;
/** scikit-learn's FEATURE_THRESHOLD: a feature with max ≤ min + this is constant in a node. */
const FEATURE_THRESHOLD = 1e-7;
const DEFAULT_TREES = 100;
const AUTO_MAX_SAMPLES = 256;

/** c(n): the average path length of an unsuccessful search in a binary search tree of n keys. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/** numpy.percentile(values, q) with the default 'linear' method (numpy 1.24's arithmetic). */
export function percentile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError('percentile of no values');
  const sorted = Float64Array.from(values).sort();
  const virtual = (n - 1) * (q / 100);
  if (virtual >= n - 1) return sorted[n - 1] as number;
  if (virtual < 0) return sorted[0] as number;
  const below = Math.floor(virtual);
  const t = virtual - below;
  const a = sorted[below] as number;
  const b = sorted[below + 1] as number;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

export class IsolationForest {
  readonly nFeatures: number;
  readonly nEstimators: number;
  /** ψ, the rows each tree was grown on. */
  readonly maxSamples: number;
  /** ceil(log2(max(ψ, 2))). */
  readonly maxDepth: number;
  readonly contamination: 'auto' | number;
  readonly seed: number | string;
  /** decision_function = score_samples − offset. */
  readonly offset: number;
  readonly nodes: ForestNodes;
  private readonly walk: ReturnType<typeof walkArrays>;

  /** Use `fitIsolationForest` or `loadIsolationForest`. */
  constructor(fields: {
    nFeatures: number;
    maxSamples: number;
    contamination: 'auto' | number;
    seed: number | string;
    offset: number;
    nodes: ForestNodes;
  }) {
    this.nFeatures = fields.nFeatures;
    this.nEstimators = fields.nodes.offsets.length - 1;
    this.maxSamples = fields.maxSamples;
    this.maxDepth = depthLimit(fields.maxSamples);
    this.contamination = fields.contamination;
    this.seed = fields.seed;
    this.offset = fields.offset;
    this.nodes = fields.nodes;
    this.walk = walkArrays(fields.nodes);
  }

  /** scikit-learn's score_samples: in [−1, 0); the lower, the more anomalous. */
  scoreSamples(X: Matrix): Float64Array {
    const { values, rows } = toFlat(X, this.nFeatures);
    return this.scoreFlat(values, rows);
  }

  /** score_samples − offset: negative for the rows predicted anomalous. */
  decisionFunction(X: Matrix): Float64Array {
    const scores = this.scoreSamples(X);
    for (let i = 0; i < scores.length; i++) scores[i] = (scores[i] as number) - this.offset;
    return scores;
  }

  /** −1 for an anomaly (decision_function < 0), 1 otherwise. */
  predict(X: Matrix): Int8Array {
    const decision = this.decisionFunction(X);
    const out = new Int8Array(decision.length);
    for (let i = 0; i < decision.length; i++) out[i] = (decision[i] as number) < 0 ? -1 : 1;
    return out;
  }

  toJSON(): IsolationForestJson {
    const { offsets, feature, threshold, size } = this.nodes;
    const trees: IsolationTreeJson[] = [];
    for (let t = 0; t < this.nEstimators; t++) {
      const tree: IsolationTreeJson = { feature: [], threshold: [], leafSize: [] };
      for (let node = offsets[t] as number; node < (offsets[t + 1] as number); node++) {
        const f = feature[node] as number;
        tree.feature.push(f);
        if (f >= 0) tree.threshold.push(threshold[node] as number);
        else tree.leafSize.push(size[node] as number);
      }
      trees.push(tree);
    }
    return {
      format: IFOREST_FORMAT,
      version: IFOREST_VERSION,
      nFeatures: this.nFeatures,
      maxSamples: this.maxSamples,
      contamination: this.contamination,
      offset: this.offset,
      seed: this.seed,
      trees,
    };
  }

  /** Row-major, already validated. */
  private scoreFlat(X: Float64Array, rows: number): Float64Array {
    const { offsets, value } = this.nodes;
    const { left, feature, threshold, steps } = this.walk;
    const d = this.nFeatures;
    const trees = this.nEstimators;
    const sums = new Float64Array(rows);
    // thr − x is negative exactly when x > thr (thresholds are never −0); its sign bit is read
    // through this scratch pair instead of a compare, whose branch the CPU mispredicts half the time.
    const diff = new Float64Array(4);
    const bits = new Uint32Array(diff.buffer);
    const [h0, h1, h2, h3] = HIGH_WORDS;
    const block = 4096; // rows that stay in cache while every tree walks them
    for (let from = 0; from < rows; from += block) {
      const to = Math.min(rows, from + block);
      for (let t = 0; t < trees; t++) {
        const root = offsets[t] as number;
        const depth = steps[t] as number;
        let i = from;
        // Four rows at a time, each walking exactly `depth` steps (a leaf steps to itself), so the
        // four independent walks overlap in the CPU and nothing in the loop branches on the data.
        for (; i + 4 <= to; i += 4) {
          const b0 = i * d;
          const b1 = b0 + d;
          const b2 = b1 + d;
          const b3 = b2 + d;
          let n0 = root;
          let n1 = root;
          let n2 = root;
          let n3 = root;
          for (let k = 0; k < depth; k++) {
            diff[0] = (threshold[n0] as number) - (X[b0 + (feature[n0] as number)] as number);
            diff[1] = (threshold[n1] as number) - (X[b1 + (feature[n1] as number)] as number);
            diff[2] = (threshold[n2] as number) - (X[b2 + (feature[n2] as number)] as number);
            diff[3] = (threshold[n3] as number) - (X[b3 + (feature[n3] as number)] as number);
            n0 = (left[n0] as number) + ((bits[h0] as number) >>> 31);
            n1 = (left[n1] as number) + ((bits[h1] as number) >>> 31);
            n2 = (left[n2] as number) + ((bits[h2] as number) >>> 31);
            n3 = (left[n3] as number) + ((bits[h3] as number) >>> 31);
          }
          sums[i] = (sums[i] as number) + (value[n0] as number);
          sums[i + 1] = (sums[i + 1] as number) + (value[n1] as number);
          sums[i + 2] = (sums[i + 2] as number) + (value[n2] as number);
          sums[i + 3] = (sums[i + 3] as number) + (value[n3] as number);
        }
        for (; i < to; i++) {
          const base = i * d;
          let node = root;
          for (let k = 0; k < depth; k++) {
            node =
              (left[node] as number) +
              ((X[base + (feature[node] as number)] as number) > (threshold[node] as number) ? 1 : 0);
          }
          sums[i] = (sums[i] as number) + (value[node] as number);
        }
      }
    }
    // scikit-learn: 2^(−depths / (trees × c(ψ))), and 2^−1 when that denominator is 0 (ψ = 1).
    const denominator = trees * averagePathLength(this.maxSamples);
    for (let i = 0; i < rows; i++) {
      sums[i] = denominator === 0 ? -0.5 : -(2 ** -((sums[i] as number) / denominator));
    }
    return sums;
  }
}

/** Indices of the high 32-bit words of a Float64Array(4) viewed as a Uint32Array (byte order). */
const HIGH_WORDS = ((): [number, number, number, number] => {
  const high = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian: the odd words
  return [high, 2 + high, 4 + high, 6 + high];
})();

/**
 * The nodes as the scoring walk reads them: a leaf steps to itself (feature 0, threshold +∞), and
 * each tree takes as many steps as its deepest leaf. A threshold of −0 becomes +0.
 */
function walkArrays(nodes: ForestNodes): {
  left: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  steps: Int32Array;
} {
  const count = nodes.feature.length;
  const left = new Int32Array(count);
  const feature = new Int32Array(count);
  const threshold = new Float64Array(count);
  for (let node = 0; node < count; node++) {
    const f = nodes.feature[node] as number;
    if (f >= 0) {
      left[node] = nodes.left[node] as number;
      feature[node] = f;
      threshold[node] = (nodes.threshold[node] as number) + 0; // −0 + 0 is +0
    } else {
      left[node] = node;
      feature[node] = 0;
      threshold[node] = Number.POSITIVE_INFINITY;
    }
  }
  const trees = nodes.offsets.length - 1;
  const steps = new Int32Array(trees);
  for (let t = 0; t < trees; t++) {
    let deepest = 0;
    for (let node = nodes.offsets[t] as number; node < (nodes.offsets[t + 1] as number); node++) {
      deepest = Math.max(deepest, nodes.depth[node] as number);
    }
    steps[t] = deepest;
  }
  return { left, feature, threshold, steps };
}

/** Grows a forest on X (rows × features) and, for a numeric contamination, sets the offset. */
export function fitIsolationForest(X: Matrix, options: IsolationForestOptions = {}): IsolationForest {
  const nEstimators = options.nEstimators ?? DEFAULT_TREES;
  const contamination = options.contamination ?? 'auto';
  const seed = options.seed ?? 0;
  const maxSamplesOption = options.maxSamples ?? 'auto';
  if (!Number.isInteger(nEstimators) || nEstimators < 1) {
    throw new RangeError(`isolation forest: nEstimators must be a positive integer, got ${nEstimators}`);
  }
  if (
    contamination !== 'auto' &&
    !(typeof contamination === 'number' && contamination > 0 && contamination <= 0.5)
  ) {
    throw new RangeError(
      `isolation forest: contamination must be 'auto' or a number in (0, 0.5], got ${String(contamination)}`,
    );
  }
  if (maxSamplesOption !== 'auto' && !(Number.isInteger(maxSamplesOption) && maxSamplesOption >= 1)) {
    throw new RangeError(
      `isolation forest: maxSamples must be 'auto' or a positive integer, got ${String(maxSamplesOption)}`,
    );
  }
  if (typeof seed === 'number' ? !Number.isFinite(seed) : typeof seed !== 'string') {
    throw new RangeError(`isolation forest: seed must be a finite number or a string, got ${String(seed)}`);
  }
  const { values, rows, features } = toFlat(X);
  const psi =
    maxSamplesOption === 'auto' ? Math.min(AUTO_MAX_SAMPLES, rows) : Math.min(maxSamplesOption, rows);
  const nodes = growForest(values, rows, features, psi, nEstimators, seed);
  const fields = { nFeatures: features, maxSamples: psi, contamination, seed, offset: -0.5, nodes };
  const forest = new IsolationForest(fields);
  if (contamination === 'auto') return forest;
  // As scikit-learn: the percentile of the training scores at 100 × contamination (same arithmetic).
  const offset = percentile(forest.scoreSamples({ values, features }), 100 * contamination);
  return new IsolationForest({ ...fields, offset });
}

/** A forest from its JSON form (as parsed); checks the format, version and every tree's shape. */
export function loadIsolationForest(json: unknown): IsolationForest {
  const fail = (why: string): never => {
    throw new TypeError(`not a ${IFOREST_FORMAT} model (version ${IFOREST_VERSION}): ${why}`);
  };
  if (typeof json !== 'object' || json === null) fail('expected a JSON object');
  const j = json as Partial<Record<keyof IsolationForestJson, unknown>>;
  if (j.format !== IFOREST_FORMAT) fail(`format is ${JSON.stringify(j.format)}`);
  if (j.version !== IFOREST_VERSION) fail(`version ${JSON.stringify(j.version)} is not supported`);
  const nFeatures = j.nFeatures;
  const psi = j.maxSamples;
  if (!Number.isInteger(nFeatures) || (nFeatures as number) < 1) fail('nFeatures must be a positive integer');
  if (!Number.isInteger(psi) || (psi as number) < 1) fail('maxSamples must be a positive integer');
  const c = j.contamination;
  if (c !== 'auto' && !(typeof c === 'number' && c > 0 && c <= 0.5))
    fail("contamination must be 'auto' or in (0, 0.5]");
  if (typeof j.offset !== 'number' || !Number.isFinite(j.offset)) fail('offset must be a finite number');
  if (typeof j.seed !== 'number' && typeof j.seed !== 'string') fail('seed must be a number or a string');
  if (!Array.isArray(j.trees) || j.trees.length === 0) fail('trees must be a non-empty array');
  const trees = j.trees as unknown[];
  const d = nFeatures as number;
  const maxDepth = depthLimit(psi as number);

  let total = 0;
  for (const [t, tree] of trees.entries()) {
    const tr = tree as Partial<IsolationTreeJson> | null;
    if (!tr || !Array.isArray(tr.feature) || !Array.isArray(tr.threshold) || !Array.isArray(tr.leafSize)) {
      fail(`tree ${t} must have feature, threshold and leafSize arrays`);
    }
    total += (tr as IsolationTreeJson).feature.length;
  }
  const nodes = allocateNodes(total, trees.length);
  let next = 0;
  for (const [t, tree] of trees.entries()) {
    const { feature, threshold, leafSize } = tree as IsolationTreeJson;
    const root = next;
    nodes.offsets[t] = root;
    const splits = feature.filter((f) => f !== -1).length;
    if (feature.length !== 2 * splits + 1) fail(`tree ${t} has ${feature.length} nodes for ${splits} splits`);
    if (threshold.length !== splits)
      fail(`tree ${t} has ${threshold.length} thresholds for ${splits} splits`);
    if (leafSize.length !== splits + 1)
      fail(`tree ${t} has ${leafSize.length} leaf sizes for ${splits + 1} leaves`);
    let split = 0;
    let leaf = 0;
    nodes.depth[root] = 0;
    for (let k = 0; k < feature.length; k++) {
      const node = root + k;
      const f = feature[k];
      const depth = nodes.depth[node] as number;
      if (f === -1) {
        const n = leafSize[leaf++];
        if (!Number.isInteger(n) || (n as number) < 1)
          fail(`tree ${t} has a leaf size that is not a positive integer`);
        nodes.feature[node] = -1;
        nodes.left[node] = -1;
        nodes.size[node] = n as number;
        nodes.value[node] = depth + averagePathLength(n as number);
      } else {
        if (!Number.isInteger(f) || (f as number) < 0 || (f as number) >= d)
          fail(`tree ${t} splits on feature ${f}`);
        const thr = threshold[split];
        if (typeof thr !== 'number' || !Number.isFinite(thr))
          fail(`tree ${t} has a threshold that is not finite`);
        if (depth >= maxDepth) fail(`tree ${t} splits below its depth limit ${maxDepth}`);
        const child = root + 2 * split + 1;
        split++;
        nodes.feature[node] = f as number;
        nodes.threshold[node] = thr as number;
        nodes.left[node] = child;
        nodes.depth[child] = depth + 1;
        nodes.depth[child + 1] = depth + 1;
      }
    }
    // Split sizes are the sums of their children's; children come after their parent.
    for (let node = root + feature.length - 1; node >= root; node--) {
      const l = nodes.left[node] as number;
      if (l >= 0) nodes.size[node] = (nodes.size[l] as number) + (nodes.size[l + 1] as number);
    }
    if (nodes.size[root] !== psi) fail(`tree ${t} holds ${nodes.size[root]} rows, not maxSamples ${psi}`);
    next += feature.length;
  }
  nodes.offsets[trees.length] = next;
  return new IsolationForest({
    nFeatures: d,
    maxSamples: psi as number,
    contamination: c as 'auto' | number,
    seed: j.seed as number | string,
    offset: j.offset as number,
    nodes,
  });
}

function depthLimit(psi: number): number {
  return Math.ceil(Math.log2(Math.max(psi, 2)));
}

interface MutableNodes {
  offsets: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  depth: Int32Array;
  size: Int32Array;
  value: Float64Array;
}

function allocateNodes(total: number, trees: number): MutableNodes {
  return {
    offsets: new Int32Array(trees + 1),
    feature: new Int32Array(total),
    threshold: new Float64Array(total),
    left: new Int32Array(total),
    depth: new Int32Array(total),
    size: new Int32Array(total),
    value: new Float64Array(total),
  };
}

/** The trees, grown one after another from one seeded stream. */
function growForest(
  X: Float64Array,
  rows: number,
  d: number,
  psi: number,
  trees: number,
  seed: number | string,
): ForestNodes {
  const random = createRandom(seed);
  const uniform = random.uniform;
  const maxDepth = depthLimit(psi);
  const perTree = 2 * psi - 1; // a binary tree with at most ψ leaves
  const all = allocateNodes(trees * perTree, trees);

  // Row indices; the first ψ after a partial Fisher–Yates shuffle are a uniform sample without
  // replacement, whatever order earlier trees left the array in.
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  const samples = new Int32Array(psi); // the tree's rows, partitioned in place node by node
  const start = new Int32Array(perTree);
  const constant = new Uint8Array(perTree * d); // per node: features known to be constant in it
  const candidates = new Int32Array(d);

  let next = 0;
  for (let t = 0; t < trees; t++) {
    for (let i = 0; i < psi; i++) {
      const j = i + Math.floor(uniform() * (rows - i));
      const row = order[j] as number;
      order[j] = order[i] as number;
      order[i] = row;
      samples[i] = row;
    }
    const root = next;
    all.offsets[t] = root;
    // Breadth-first: nodes are processed in index order and each split appends its two children,
    // so the k-th split node's children are root + 2k + 1 and root + 2k + 2.
    let count = 1;
    start[0] = 0;
    all.size[root] = psi;
    all.depth[root] = 0;
    constant.fill(0, 0, d);
    for (let k = 0; k < count; k++) {
      const node = root + k;
      const n = all.size[node] as number;
      const depth = all.depth[node] as number;
      const lo = start[k] as number;
      const hi = lo + n;
      let feature = -1;
      let threshold = 0;
      let leftCount = 0;
      if (n >= 2 && depth < maxDepth) {
        const flags = k * d;
        let m = 0;
        for (let f = 0; f < d; f++) if (constant[flags + f] === 0) candidates[m++] = f;
        while (m > 0) {
          const pick = Math.floor(uniform() * m);
          const f = candidates[pick] as number;
          let min = X[(samples[lo] as number) * d + f] as number;
          let max = min;
          for (let p = lo + 1; p < hi; p++) {
            const x = X[(samples[p] as number) * d + f] as number;
            if (x < min) min = x;
            else if (x > max) max = x;
          }
          if (max <= min + FEATURE_THRESHOLD) {
            constant[flags + f] = 1;
            candidates[pick] = candidates[--m] as number;
            continue;
          }
          threshold = (max - min) * uniform() + min;
          if (threshold >= max) threshold = min;
          feature = f;
          // Partition [lo, hi): x <= threshold to the front.
          let a = lo;
          let b = hi - 1;
          while (a <= b) {
            if ((X[(samples[a] as number) * d + f] as number) <= threshold) a++;
            else {
              const s = samples[a] as number;
              samples[a] = samples[b] as number;
              samples[b] = s;
              b--;
            }
          }
          leftCount = a - lo;
          break;
        }
      }
      all.feature[node] = feature;
      if (feature < 0) {
        all.left[node] = -1;
        all.threshold[node] = 0;
        all.value[node] = depth + averagePathLength(n);
        continue;
      }
      const child = count;
      count += 2;
      all.threshold[node] = threshold;
      all.left[node] = root + child;
      all.value[node] = 0;
      const right = child + 1;
      start[child] = lo;
      start[right] = lo + leftCount;
      all.size[root + child] = leftCount;
      all.size[root + right] = n - leftCount;
      all.depth[root + child] = depth + 1;
      all.depth[root + right] = depth + 1;
      constant.copyWithin(child * d, k * d, k * d + d);
      constant.copyWithin(right * d, k * d, k * d + d);
    }
    next += count;
  }
  all.offsets[trees] = next;
  return {
    offsets: all.offsets,
    feature: all.feature.slice(0, next),
    threshold: all.threshold.slice(0, next),
    left: all.left.slice(0, next),
    depth: all.depth.slice(0, next),
    size: all.size.slice(0, next),
    value: all.value.slice(0, next),
  };
}

/** Validates X and returns it row-major; `expected` is the feature count it must have. */
function toFlat(X: Matrix, expected?: number): { values: Float64Array; rows: number; features: number } {
  const need = (features: number): void => {
    if (expected !== undefined && features !== expected) {
      throw new RangeError(
        `isolation forest: rows have ${features} features; the model was fitted on ${expected}`,
      );
    }
  };
  if (Array.isArray(X)) {
    const nested = X as readonly (readonly number[])[];
    if (nested.length === 0) throw new RangeError('isolation forest: X has no rows (at least 1 is needed)');
    const first = nested[0];
    if (!Array.isArray(first))
      throw new TypeError('isolation forest: X must be an array of rows (arrays of numbers)');
    const features = first.length;
    if (features === 0)
      throw new RangeError('isolation forest: rows have no features (at least 1 is needed)');
    need(features);
    const values = new Float64Array(nested.length * features);
    for (let i = 0; i < nested.length; i++) {
      const row = nested[i];
      if (!Array.isArray(row)) throw new TypeError(`isolation forest: row ${i} is not an array`);
      if (row.length !== features) {
        throw new RangeError(`isolation forest: row ${i} has ${row.length} values; row 0 has ${features}`);
      }
      const base = i * features;
      for (let f = 0; f < features; f++) {
        const x = row[f];
        if (typeof x !== 'number' || !Number.isFinite(x)) {
          throw new RangeError(
            `isolation forest: row ${i}, feature ${f} is ${String(x)}; values must be finite numbers`,
          );
        }
        values[base + f] = x;
      }
    }
    return { values, rows: nested.length, features };
  }
  const { values, features } = X as FlatMatrix;
  if (!(values instanceof Float64Array))
    throw new TypeError('isolation forest: X.values must be a Float64Array');
  if (!Number.isInteger(features) || features < 1) {
    throw new RangeError(`isolation forest: X.features must be a positive integer, got ${features}`);
  }
  need(features);
  if (values.length === 0) throw new RangeError('isolation forest: X has no rows (at least 1 is needed)');
  if (values.length % features !== 0) {
    throw new RangeError(
      `isolation forest: ${values.length} values are not whole rows of ${features} features`,
    );
  }
  for (let k = 0; k < values.length; k++) {
    if (!Number.isFinite(values[k])) {
      throw new RangeError(
        `isolation forest: row ${Math.floor(k / features)}, feature ${k % features} is ${values[k]}; values must be finite numbers`,
      );
    }
  }
  return { values, rows: values.length / features, features };
}
