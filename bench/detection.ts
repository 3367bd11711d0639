/**
 * bench/detection: how well each feature set finds the simulator's injected events.
 * Five assets × 14 simulated days (one injected event per asset-day on average): train on days
 * 1–7, score days 8–14, then compare the flags with the ground truth in `sim_events`. An event
 * counts as found when a flagged window of its asset overlaps it (window end within
 * (start, end + 10 min]); any other flag is a false flag. One line per configuration.
 * Usage: npm run bench:detection [-- --days 14 --seed 42]
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Clock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { runIngest } from '../src/jobs/ingest.js';
import { silentLogger } from '../src/log.js';
import { simulatorSource } from '../src/market/sources.js';
import { createLocalPlatform } from '../src/platform/local/platform.js';

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '14' },
    seed: { type: 'string', default: '42' },
    contamination: { type: 'string', default: '0.02,auto' },
    features: { type: 'string', default: 'seed,default' },
  },
});
const days = Number(values.days);
const trainDays = Math.floor(days / 2);
const logger = silentLogger();
const dir = await mkdtemp(join(tmpdir(), 'bench-detection-'));
const base = loadConfig({
  env: { SIMULATOR_SEED: values.seed as string, SIMULATOR_HISTORY_HOURS: String(days * 24) },
  cwd: dir,
});
const end = new Date('2025-03-01T00:00:00Z');
const trainEnd = new Date(end.getTime() - (days - trainDays) * 86_400_000);
const clock: Clock = { now: () => end };

// The data, once: simulated history through the pipeline into one DuckDB file.
const dataFile = join(dir, 'data.duckdb');
{
  const platform = await createLocalPlatform({
    dbPath: dataFile,
    landingDir: join(dir, 'landing'),
    model: base.model,
    clock,
    logger,
  });
  const source = simulatorSource({
    state: platform.pipeline.state,
    assets: base.market.assets,
    simulator: base.market.simulator,
  });
  await runIngest({ platform, clock, logger, source });
  await platform.engine.runPipeline();
  await platform.close();
}

interface Event {
  asset: string;
  kind: string;
  start_ts: string;
  end_ts: string;
}

for (const featureSet of (values.features as string).split(',') as Array<'seed' | 'default'>) {
  for (const contamination of (values.contamination as string).split(',')) {
    const file = join(dir, `${featureSet}-${contamination}.duckdb`);
    await copyFile(dataFile, file);
    const config = loadConfig({
      env: {
        MODEL_FEATURES: featureSet,
        MODEL_CONTAMINATION: contamination,
        TRAIN_LOOKBACK: `${trainDays}d`,
      },
      cwd: dir,
    });
    const platform = await createLocalPlatform({
      dbPath: file,
      landingDir: join(dir, 'landing'),
      model: config.model,
      clock,
      logger,
    });
    await platform.pipeline.train({ now: trainEnd });
    await platform.engine.infer({ now: end });
    const flags = await platform.db.all<{ asset: string; window_end: string }>(
      'SELECT asset, window_end FROM anomalies WHERE is_anomaly = 1 ORDER BY asset, window_end',
    );
    const scored = await platform.db.all<{ asset: string; n: number }>(
      'SELECT asset, count(*) AS n FROM anomalies GROUP BY asset ORDER BY asset',
    );
    const events = await platform.db.all<Event>(
      'SELECT asset, kind, start_ts, end_ts FROM sim_events WHERE start_ts > CAST(:from AS TIMESTAMP) AND end_ts <= CAST(:to AS TIMESTAMP)',
      { from: trainEnd.toISOString(), to: end.toISOString() },
    );
    await platform.close();

    const overlaps = (e: Event, f: { asset: string; window_end: string }) => {
      const we = Date.parse(f.window_end);
      return f.asset === e.asset && we > Date.parse(e.start_ts) && we <= Date.parse(e.end_ts) + 10 * 60_000;
    };
    const found = events.filter((e) => flags.some((f) => overlaps(e, f)));
    const falseFlags = flags.filter((f) => !events.some((e) => overlaps(e, f)));
    const kinds = [...new Set(events.map((e) => e.kind))].sort();
    const recallByKind = kinds
      .map(
        (k) =>
          `${k} ${found.filter((e) => e.kind === k).length}/${events.filter((e) => e.kind === k).length}`,
      )
      .join(', ');
    const share = scored
      .map((s) => `${s.asset} ${((100 * flags.filter((f) => f.asset === s.asset).length) / s.n).toFixed(1)}%`)
      .join(' ');
    const assetDays = scored.length * (days - trainDays);
    console.log(
      `bench/detection: features=${featureSet} contamination=${contamination}: recall ${found.length}/${events.length} ` +
        `(${((100 * found.length) / Math.max(1, events.length)).toFixed(0)}%; ${recallByKind}); ` +
        `false flags ${(falseFlags.length / assetDays).toFixed(1)} per asset-day; flagged share ${share}`,
    );
  }
}
await rm(dir, { recursive: true, force: true });
