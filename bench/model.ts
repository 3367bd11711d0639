/**
 * bench/model: the TypeScript IsolationForest against scikit-learn on the same data. 200,000 rows ×
 * 5 features (seeded Gaussian inliers and 2 % outliers), 200 trees, contamination 0.02, so fit also
 * scores the training set (as scikit-learn's does); then score_samples on the same rows. The data
 * goes to scikit-learn (bench/model_sklearn.py, run with PYTHON, default /usr/bin/python3) through a
 * temporary float64 file; only its fit and score_samples are timed. Both sides run on one thread.
 * Prints one summary line. Usage: npx tsx bench/model.ts [--rows 200000] [--trees 200]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRandom } from '../src/market/random.js';
import { fitIsolationForest } from '../src/model/isolation-forest.js';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '200000' }, trees: { type: 'string', default: '200' } },
});
const rows = Number(args.rows);
const trees = Number(args.trees);
const features = 5;
const contamination = 0.02;
const python = process.env.PYTHON ?? '/usr/bin/python3';

const random = createRandom('bench/model');
const values = new Float64Array(rows * features);
for (let i = 0; i < rows; i++) {
  const outlier = random.uniform() < contamination;
  for (let f = 0; f < features; f++) {
    values[i * features + f] = outlier ? (random.uniform() - 0.5) * 12 : random.normal() * (1 + f * 0.5);
  }
}
const X = { values, features };

let t = performance.now();
const forest = fitIsolationForest(X, { nEstimators: trees, contamination, seed: 42 });
const fitS = (performance.now() - t) / 1000;
t = performance.now();
forest.scoreSamples(X);
const scoreS = (performance.now() - t) / 1000;

const sklearn = await runSklearn();
const ratio = (ours: number, theirs: number): string =>
  ours <= theirs ? `${(theirs / ours).toFixed(1)}× faster` : `${(ours / theirs).toFixed(1)}× slower`;
const head = `bench/model: ${rows.toLocaleString('en-US')} rows × ${features} features, ${trees} trees`;
console.log(
  'skipped' in sklearn
    ? `${head}: fit ${fitS.toFixed(2)} s, score ${scoreS.toFixed(2)} s (scikit-learn skipped: ${sklearn.skipped})`
    : `${head}: fit ${fitS.toFixed(2)} s vs sklearn ${sklearn.fit_s.toFixed(2)} s (${ratio(fitS, sklearn.fit_s)}), ` +
        `score ${scoreS.toFixed(2)} s vs sklearn ${sklearn.score_s.toFixed(2)} s (${ratio(scoreS, sklearn.score_s)})`,
);

async function runSklearn(): Promise<{ fit_s: number; score_s: number } | { skipped: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-model-'));
  try {
    const file = join(dir, 'X.f64');
    // Float64Array is in the platform's byte order; every machine this runs on is little-endian.
    await writeFile(file, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    const script = fileURLToPath(new URL('./model_sklearn.py', import.meta.url));
    const run = spawnSync(
      python,
      [script, file, String(rows), String(features), String(trees), String(contamination)],
      {
        encoding: 'utf8',
      },
    );
    if (run.error) return { skipped: `${python} could not be run (${run.error.message})` };
    if (run.status !== 0)
      return { skipped: run.stderr.trim().split('\n').at(-1) ?? `exit code ${run.status}` };
    return JSON.parse(run.stdout) as { fit_s: number; score_s: number };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
