import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Clock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config.js';
import { runIngest } from '../../src/jobs/ingest.js';
import { silentLogger } from '../../src/log.js';
import type { MarketRecord, SourceKind } from '../../src/market/record.js';
import { simulatorSource } from '../../src/market/sources.js';
import { createLocalPlatform, type LocalPlatform } from '../../src/platform/local/platform.js';

/** A local platform on an in-memory DuckDB and a temporary landing folder, with a settable clock. */
export interface TestLakehouse {
  platform: LocalPlatform;
  landingDir: string;
  dir: string;
  setNow(iso: string): void;
  clock: Clock;
  /** Lands records as one batch (one file), stamped at the current test time. */
  land(records: MarketRecord[], source?: SourceKind): Promise<string>;
  /** Lands a file with exactly these lines (for malformed input). */
  landRaw(lines: string[] | Buffer, name?: string): Promise<string>;
  table<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/** The configured defaults, with these settings (by their environment names) over them. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ env: { LOG_LEVEL: 'silent', ...env }, cwd: tmpdir() });
}

export async function createTestLakehouse(
  startIso = '2025-01-07T00:00:00Z',
  model: Config['model'] = testConfig().model,
): Promise<TestLakehouse> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-test-'));
  const landingDir = join(dir, 'landing');
  let now = new Date(startIso);
  const clock: Clock = { now: () => new Date(now.getTime()) };
  const platform = await createLocalPlatform({
    dbPath: ':memory:',
    landingDir,
    model,
    clock,
    logger: silentLogger(),
  });
  let seq = 0;
  return {
    platform,
    landingDir,
    dir,
    clock,
    setNow(iso) {
      now = new Date(iso);
    },
    async land(records, source = 'replay') {
      const written = await platform.pipeline.landing.write({
        records,
        source,
        ingestTs: clock.now(),
        seq: seq++,
      });
      return written.file;
    },
    async landRaw(lines, name) {
      const stamp = clock.now().toISOString();
      const file =
        name ??
        `date=${stamp.slice(0, 10)}/hour=${stamp.slice(11, 13)}/${stamp.replace(/[-:.]/g, '')}-${String(seq++).padStart(3, '0')}-raw.jsonl`;
      const path = join(landingDir, file);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, Buffer.isBuffer(lines) ? lines : `${lines.join('\n')}\n`);
      return file;
    },
    table: (sql) => platform.db.all(sql),
    async close() {
      await platform.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A CoinGecko-shaped record at an instant. */
export function tick(
  asset: string,
  iso: string,
  price: number | null,
  volume: number | null = 1,
): MarketRecord {
  return {
    id: asset,
    symbol: asset.slice(0, 3),
    name: asset[0]?.toUpperCase() + asset.slice(1),
    current_price: price,
    total_volume: volume,
    last_updated: iso,
  };
}

/** A lakehouse with `hours` of simulated history of the default assets, a first model and its scores. */
export async function createScoredLakehouse(startIso: string, hours: number): Promise<TestLakehouse> {
  const config = testConfig({ SIMULATOR_HISTORY_HOURS: String(hours), TRAIN_LOOKBACK: '24h' });
  const lake = await createTestLakehouse(startIso, config.model);
  await runSimulatedRound(lake, hours, { train: true });
  return lake;
}

/**
 * One round of the jobs at the lakehouse's clock: the simulator's ticks since the last round (the
 * first round: `hours` of history) landed, the pipeline run, optionally a model trained, the new
 * windows scored.
 */
export async function runSimulatedRound(
  lake: TestLakehouse,
  hours: number,
  options: { train?: boolean } = {},
): Promise<void> {
  const config = testConfig({ SIMULATOR_HISTORY_HOURS: String(hours) });
  const source = simulatorSource({
    state: lake.platform.pipeline.state,
    assets: config.market.assets,
    simulator: config.market.simulator,
  });
  await runIngest({ platform: lake.platform, clock: lake.clock, logger: silentLogger(), source });
  await lake.platform.engine.runPipeline();
  if (options.train) await lake.platform.pipeline.train({ now: lake.clock.now() });
  await lake.platform.engine.infer({ now: lake.clock.now() });
}
