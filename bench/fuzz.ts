/**
 * bench/fuzz: 10,000 random landing records, good and hostile (tests/support/silver-model.ts: out
 * of bounds, wrong types, missing fields, future and far-past times, lying ingest times, duplicates),
 * in several files per run over several pipeline runs on the local DuckDB platform (a real file).
 * Counts the runs that threw or held a file back (stuck), reconciles Silver's rows with its drop
 * counters and with the records landed, and checks every run against the model of the rules.
 * Prints one summary line; exits 1 when anything does not reconcile.
 * Usage: npm run bench:fuzz [-- --records 10000 --runs 12 --files 4 --seed 7]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import type { Clock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createLocalPlatform } from '../src/platform/local/platform.js';
import {
  type LineSpec,
  lineSpec,
  type ModelState,
  modelRun,
  render,
  runTime,
  type SilverCounts,
  zeroCounts,
} from '../tests/support/silver-model.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '12' },
    files: { type: 'string', default: '4' },
    seed: { type: 'string', default: '7' },
  },
});
const records = Number(values.records);
const runs = Number(values.runs);
const filesPerRun = Number(values.files);

const dir = await mkdtemp(join(tmpdir(), 'bench-fuzz-'));
const landingDir = join(dir, 'landing');
let now = runTime(0);
const clock: Clock = { now: () => now };
const platform = await createLocalPlatform({
  dbPath: join(dir, 'fuzz.duckdb'),
  landingDir,
  model: loadConfig({ env: {}, cwd: dir }).model,
  clock,
  logger: silentLogger(),
});

// records only (the garbage lines of the generator are Bronze's concern, not Silver's)
const specs = fc.sample(
  lineSpec.filter((s): s is Extract<LineSpec, { kind: 'record' }> => s.kind === 'record'),
  { numRuns: records, seed: Number(values.seed) },
);
const state: ModelState = { maxEvent: null, keys: new Set() };
const total = { ...zeroCounts(), ok: 0 };
const modelTotal: SilverCounts = zeroCounts();
let stuck = 0;
let disagreements = 0;
const durations: number[] = [];
let at = 0;
for (let r = 0; r < runs; r++) {
  now = runTime(r);
  const share = Math.floor(((r + 1) * records) / runs) - Math.floor((r * records) / runs);
  const mine = specs.slice(at, at + share);
  at += share;
  const texts: string[][] = Array.from({ length: filesPerRun }, () => []);
  for (const [i, spec] of mine.entries()) texts[i % filesPerRun]?.push(render(spec, now));
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  for (const [f, lines] of texts.entries()) {
    const day = now.toISOString().slice(0, 10);
    const hour = now.toISOString().slice(11, 13);
    const path = join(
      landingDir,
      `date=${day}`,
      `hour=${hour}`,
      `${stamp}-${String(f).padStart(3, '0')}-fuzz.jsonl`,
    );
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${lines.join('\n')}\n`);
  }
  const want = modelRun(texts, now, state);
  for (const k of Object.keys(want) as Array<keyof SilverCounts>) modelTotal[k] += want[k];
  const t = performance.now();
  try {
    const run = await platform.engine.runPipeline();
    durations.push(performance.now() - t);
    if ((run.failed ?? 0) > 0 || run.files !== filesPerRun) stuck++;
    const s = run.silver;
    const got = {
      rows_in: s.rows_in,
      ok: s.rows_out,
      missing: s.dropped_missing,
      bounds: s.dropped_bounds,
      future: s.dropped_future,
      late: s.dropped_late,
      duplicate: s.dropped_duplicate,
    };
    for (const [k, v] of Object.entries(got)) {
      total[k as keyof typeof total] += v;
      if (want[k as keyof SilverCounts] !== v) disagreements++;
    }
  } catch (err) {
    durations.push(performance.now() - t);
    stuck++;
    console.error(
      `fuzz: run ${r + 1} threw: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    );
  }
}
const [silverRows] = await platform.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM prices_silver');
await platform.close();
await rm(dir, { recursive: true, force: true });

const dropped = total.missing + total.bounds + total.future + total.late + total.duplicate;
const reconciled =
  total.ok + dropped === records &&
  total.rows_in === records &&
  silverRows?.n === total.ok &&
  disagreements === 0;
const sorted = [...durations].sort((a, b) => a - b);
const median = sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
console.log(
  `fuzz: ${records} records, ${runs} runs, ${stuck} stuck pipelines, silver ${total.ok} + dropped ${dropped} ` +
    `(bounds ${total.bounds}, missing ${total.missing}, future ${total.future}, late ${total.late}, ` +
    `duplicate ${total.duplicate}) = ${total.ok + dropped} ${reconciled ? 'reconciled' : 'NOT reconciled'}` +
    `${disagreements > 0 ? ` (${disagreements} counter(s) differ from the model)` : ''}, median run ${Math.round(median)} ms`,
);
if (!reconciled || stuck > 0) process.exitCode = 1;
