/**
 * bench/pipeline: 20 simulated assets × 30 days of 1-minute ticks through landing → Bronze →
 * Silver → Gold on the local DuckDB platform (a real file, as in production). Ingest lands one file
 * per simulated hour (all assets); the pipeline runs once per simulated day over that day's files.
 * Prints one summary line. Usage: npm run bench:pipeline [-- --days 30 --assets 20]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Clock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createSimulator, syntheticAssets } from '../src/market/simulator.js';
import { createLocalPlatform } from '../src/platform/local/platform.js';

const { values } = parseArgs({
  options: { days: { type: 'string', default: '30' }, assets: { type: 'string', default: '20' } },
});
const days = Number(values.days);
const assetCount = Number(values.assets);

const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-'));
const start = new Date('2025-01-01T00:00:00Z');
let now = start;
const clock: Clock = { now: () => now };
const platform = await createLocalPlatform({
  dbPath: join(dir, 'bench.duckdb'),
  landingDir: join(dir, 'landing'),
  model: loadConfig({ env: {}, cwd: dir }).model,
  clock,
  logger: silentLogger(),
});
const sim = createSimulator({ seed: 42, assets: syntheticAssets(assetCount), start, tickSeconds: 60 });

let ticks = 0;
let files = 0;
let windows = 0;
let landingMs = 0;
let pipelineMs = 0;
const began = performance.now();
for (let hour = 1; hour <= days * 24; hour++) {
  now = new Date(start.getTime() + hour * 3_600_000);
  let t = performance.now();
  const { records } = sim.advance(now);
  await platform.pipeline.landing.write({ records, source: 'simulator', ingestTs: now, seq: 0 });
  landingMs += performance.now() - t;
  ticks += records.length;
  files++;
  if (hour % 24 === 0) {
    t = performance.now();
    const run = await platform.engine.runPipeline();
    pipelineMs += performance.now() - t;
    windows += run.gold.windows_emitted;
  }
}
const totalMs = performance.now() - began;
const peakRssMb = process.resourceUsage().maxRSS / 1024;
await platform.close();
await rm(dir, { recursive: true, force: true });

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US');
console.log(
  `bench/pipeline: ${assetCount} assets × ${days} days = ${ticks.toLocaleString('en-US')} ticks in ${files} landing files → ` +
    `${windows.toLocaleString('en-US')} Gold windows; ${rate(ticks, totalMs)} ticks/s end to end ` +
    `(simulate+land ${(landingMs / 1000).toFixed(1)} s, pipeline ${(pipelineMs / 1000).toFixed(1)} s = ${rate(ticks, pipelineMs)} ticks/s); ` +
    `peak RSS ${Math.round(peakRssMb)} MB`,
);
