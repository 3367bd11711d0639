/**
 * bench/detection: how well the model finds injected events, and how many false alerts it raises.
 * Each mode trains on the first half of 14 days (the product's 7-day lookback) and scores the rest,
 * through the product's path (ingest → pipeline → train → infer on the local platform):
 * - simulated: five simulated assets, the simulator's own injected events (ground truth in
 *   `sim_events`, about one per asset-day);
 * - real: the shared real Bitstamp BTC/USD minutes (../shared/data, see its README) replayed as
 *   bitcoin, with jumps, flash crashes and volume spikes of realistic size written into the scored
 *   days (bench/detection-inject.ts), landed as a CSV through the replay source.
 * How flags are scored (found events, alerts as episodes): bench/detection-score.ts. One line per
 * mode and configuration on stdout; the target (price recall ≥ 95 % at ≤ 1 false alert per
 * asset-day on real BTC) is judged on the real lines. Progress goes to stderr.
 * Usage: npm run bench:detection [-- --mode simulated|real|all --days 14 --seed 42
 *   --features default,seed --contamination 0.02,0.005,auto --rule model,forest,either:10 --events-per-day 5 --explain]
 * Without --features / --contamination / --rule it measures the product's defaults (src/config.ts)
 * and its alert rule (`model`: the stored is_anomaly; see bench/detection-score.ts for the others);
 * --explain lists each missed event and each false alert on stderr, with scores and reasons.
 */
import { access, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Clock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { runIngest } from '../src/jobs/ingest.js';
import { silentLogger } from '../src/log.js';
import { type MarketSource, replaySource, simulatorSource } from '../src/market/sources.js';
import { createLocalPlatform } from '../src/platform/local/platform.js';
import { injectEvents, minutesToCsv, readMinutes } from './detection-inject.js';
import {
  applyRule,
  describe,
  explain,
  type Flag,
  meetsTarget,
  parseRule,
  type Rule,
  ruleName,
  score,
  type TruthEvent,
} from './detection-score.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'all' },
    days: { type: 'string', default: '14' },
    seed: { type: 'string', default: '42' },
    features: { type: 'string' },
    contamination: { type: 'string' },
    rule: { type: 'string', default: 'model' },
    'events-per-day': { type: 'string', default: '5' },
    explain: { type: 'boolean', default: false },
  },
});
const mode = values.mode as string;
if (!['simulated', 'real', 'all'].includes(mode)) {
  console.error(`bench/detection: --mode must be simulated, real or all (not ${mode})`);
  process.exit(2);
}
const days = Number(values.days);
const trainDays = Math.floor(days / 2);
const scoreDays = days - trainDays;
const seed = Number(values.seed);
let rules: Rule[];
try {
  rules = (values.rule as string).split(',').map(parseRule);
} catch (err) {
  console.error(`bench/detection: ${(err as Error).message}`);
  process.exit(2);
}
const logger = silentLogger();
const dir = await mkdtemp(join(tmpdir(), 'bench-detection-'));
const product = loadConfig({ env: {}, cwd: dir }).model;
const featureSets = (values.features?.split(',') ?? [product.featureSet]) as Array<'seed' | 'default'>;
const contaminations = values.contamination?.split(',') ?? [String(product.contamination)];
const REAL_CSV = '../shared/data/btcusd_bitstamp_1min_part1.csv';
const realCsv = fileURLToPath(new URL(`../${REAL_CSV}`, import.meta.url));
const progress = (text: string) => process.stderr.write(`bench/detection: ${text}\n`);

/** One mode's data in a DuckDB file, ready to train and score. */
interface Prepared {
  mode: 'simulated' | 'real';
  label: string;
  dataFile: string;
  trainEnd: Date;
  end: Date;
  /** Injected events, or null to read the simulator's from `sim_events`. */
  events: TruthEvent[] | null;
}

async function land(name: string, end: Date, source: (p: PlatformOf) => MarketSource): Promise<string> {
  const dataFile = join(dir, `${name}.duckdb`);
  const clock: Clock = { now: () => end };
  const platform = await createLocalPlatform({
    dbPath: dataFile,
    landingDir: join(dir, `${name}-landing`),
    model: product,
    clock,
    logger,
  });
  const ingest = await runIngest({ platform, clock, logger, source: source(platform) });
  progress(`${name}: ${ingest.records.toLocaleString('en-US')} records landed; running the pipeline`);
  await platform.engine.runPipeline();
  await platform.close();
  return dataFile;
}
type PlatformOf = Awaited<ReturnType<typeof createLocalPlatform>>;

async function prepareSimulated(): Promise<Prepared> {
  const config = loadConfig({
    env: { SIMULATOR_SEED: String(seed), SIMULATOR_HISTORY_HOURS: String(days * 24) },
    cwd: dir,
  });
  const end = new Date('2025-03-01T00:00:00Z');
  progress(
    `simulated: ${config.market.assets.length} assets × ${days} days from the simulator (seed ${seed})`,
  );
  const dataFile = await land('simulated', end, (platform) =>
    simulatorSource({
      state: platform.pipeline.state,
      assets: config.market.assets,
      simulator: config.market.simulator,
    }),
  );
  return {
    mode: 'simulated',
    label: `${config.market.assets.length} simulated assets, ${scoreDays} days scored after ${trainDays} of training, seed ${seed}`,
    dataFile,
    trainEnd: new Date(end.getTime() - scoreDays * 86_400_000),
    end,
    events: null,
  };
}

async function prepareReal(): Promise<Prepared | string> {
  try {
    await access(realCsv);
  } catch {
    return `${REAL_CSV} is not there (the shared real BTC minutes, relative to the repository)`;
  }
  const all = await readMinutes(realCsv);
  const last = all.at(-1);
  if (!last) return `${REAL_CSV} has no rows`;
  // The end of the last whole 5-minute window; the span, plus a day of warm-up for the trailing features.
  const endS = Math.floor((last.timestamp + 60) / 300) * 300;
  const trainEndS = endS - scoreDays * 86_400;
  const fromS = endS - (days + 1) * 86_400;
  const minutes = all.filter((m) => m.timestamp >= fromS && m.timestamp < endS);
  if ((all[0]?.timestamp ?? endS) > endS - days * 86_400) {
    return `${REAL_CSV} covers less than ${days} days`;
  }
  const events = injectEvents(minutes, {
    asset: 'bitcoin',
    from: trainEndS,
    to: endS,
    count: Number(values['events-per-day']) * scoreDays,
    seed: `bench/detection/${seed}`,
  });
  const csv = join(dir, 'btcusd-injected.csv');
  await writeFile(csv, minutesToCsv(minutes));
  const end = new Date(endS * 1000);
  const trainEnd = new Date(trainEndS * 1000);
  progress(
    `real: ${minutes.length.toLocaleString('en-US')} Bitstamp minutes, ${events.length} events injected`,
  );
  const dataFile = await land('real', end, (platform) =>
    replaySource({ state: platform.pipeline.state, logger }, csv, 'bitcoin'),
  );
  const day = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');
  return {
    mode: 'real',
    label: `bitcoin from Bitstamp BTC/USD minutes, ${scoreDays} days scored (${day(trainEnd)} – ${day(end)} UTC) after ${trainDays} of training, ${events.length} injected events, seed ${seed}`,
    dataFile,
    trainEnd,
    end,
    events,
  };
}

/** Trains and scores one configuration on a copy of the mode's data; its scored windows, the truth and per-asset counts. */
async function evaluate(p: Prepared, featureSet: 'seed' | 'default', contamination: string) {
  const file = join(dir, `${p.mode}-${featureSet}-${contamination}.duckdb`);
  await copyFile(p.dataFile, file);
  const config = loadConfig({
    env: { MODEL_FEATURES: featureSet, MODEL_CONTAMINATION: contamination, TRAIN_LOOKBACK: `${trainDays}d` },
    cwd: dir,
  });
  const platform = await createLocalPlatform({
    dbPath: file,
    landingDir: join(dir, `${p.mode}-landing`),
    model: config.model,
    clock: { now: () => p.end },
    logger,
  });
  try {
    await platform.pipeline.train({ now: p.trainEnd });
    await platform.engine.infer({ now: p.end });
    const windows = await platform.db.all<Flag & { anomaly_score: number; is_anomaly: number }>(
      `SELECT asset, window_end, reasons, data_issue, anomaly_score, is_anomaly FROM anomalies
       ORDER BY asset, window_end`,
    );
    const scored = await platform.db.all<{ asset: string; n: number }>(
      'SELECT asset, count(*) AS n FROM anomalies GROUP BY asset ORDER BY asset',
    );
    const events =
      p.events ??
      (await platform.db.all<TruthEvent>(
        `SELECT asset, kind, start_ts, end_ts, magnitude FROM sim_events
         WHERE start_ts > CAST(:from AS TIMESTAMP) AND end_ts <= CAST(:to AS TIMESTAMP)`,
        { from: p.trainEnd.toISOString(), to: p.end.toISOString() },
      ));
    return { windows, scored, events };
  } finally {
    await platform.close();
    await rm(file, { force: true });
  }
}

const started = Date.now();
try {
  for (const which of mode === 'all' ? (['simulated', 'real'] as const) : [mode as 'simulated' | 'real']) {
    const prepared = which === 'simulated' ? await prepareSimulated() : await prepareReal();
    if (typeof prepared === 'string') {
      console.log(`bench/detection: mode=real skipped: ${prepared}`);
      continue;
    }
    for (const featureSet of featureSets) {
      for (const contamination of contaminations) {
        progress(`${which}: training and scoring features=${featureSet} contamination=${contamination}`);
        const { windows, scored, events } = await evaluate(prepared, featureSet, contamination);
        const assetDays = scored.length * scoreDays;
        for (const rule of rules) {
          const kept = applyRule(windows, rule);
          const s = score(kept, events);
          if (values.explain) for (const line of explain(windows, kept, events)) progress(`  ${line}`);
          const share = scored
            .map(
              (a) =>
                `${a.asset} ${((100 * kept.filter((f) => f.asset === a.asset).length) / a.n).toFixed(1)}%`,
            )
            .join(' ');
          const target =
            which === 'real'
              ? `; target (price recall ≥ 95 %, ≤ 1 false alert per asset-day) ${meetsTarget(s, assetDays) ? 'met' : 'missed'}`
              : '';
          console.log(
            `bench/detection: mode=${which} (${prepared.label}) features=${featureSet} contamination=${contamination} ` +
              `rule=${ruleName(rule)}: ${describe(s, assetDays)}; flagged share ${share}${target}`,
          );
        }
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  progress(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
