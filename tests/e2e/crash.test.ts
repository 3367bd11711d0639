import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createSimulator, DEFAULT_ASSETS } from '../../src/market/simulator.js';
import { openDb } from '../../src/platform/local/db.js';
import { createLocalPlatform } from '../../src/platform/local/platform.js';
import { type CliProcess, spawnCli } from '../support/cli-process.js';

/**
 * A `kill -9` in the middle of the pipeline or of inference, then a restart, must leave exactly
 * the tables a run without the crash leaves: no Gold window or anomaly row lost or duplicated.
 */

let dir: string;
let proc: CliProcess | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-crash-'));
});
afterEach(async () => {
  proc?.child.kill('SIGKILL');
  proc = undefined;
  await rm(dir, { recursive: true, force: true });
});

const START = new Date('2025-02-01T00:00:00Z');
const HOURS = 120;
const END = new Date(START.getTime() + HOURS * 3_600_000).toISOString();

const envFor = (dataDir: string) => ({
  DATA_DIR: dataDir,
  MARKET_SOURCE: 'simulator',
  PIPELINE_GROUP_FILES: '8',
  TRAIN_LOOKBACK: '3d',
  LOG_LEVEL: 'debug',
  LOG_FORMAT: 'json',
});

/** Lands HOURS files of simulated ticks (one per hour, five assets) into a data folder. */
async function landBacklog(dataDir: string): Promise<void> {
  const config = loadConfig({ env: envFor(dataDir), cwd: dir });
  const platform = await createLocalPlatform({
    dbPath: config.dbPath,
    landingDir: config.landingDir,
    model: config.model,
    clock: { now: () => START },
    logger: silentLogger(),
  });
  const sim = createSimulator({ seed: 9, assets: DEFAULT_ASSETS, start: START });
  for (let h = 1; h <= HOURS; h++) {
    const at = new Date(START.getTime() + h * 3_600_000);
    await platform.pipeline.landing.write({
      records: sim.advance(at).records,
      source: 'simulator',
      ingestTs: at,
      seq: 0,
    });
  }
  await platform.close();
}

/** The command line in this process, for the steps that are not crashed. */
async function cli(dataDir: string, args: string[]): Promise<void> {
  const code = await runCli(args, {
    env: { ...envFor(dataDir), LOG_LEVEL: 'warn' },
    cwd: dir,
    stdout: () => {},
    stderr: () => {},
  });
  expect(code, args.join(' ')).toBe(0);
}

async function tables(dataDir: string) {
  const db = await openDb(join(dataDir, 'crypto.duckdb'));
  try {
    return {
      gold: await db.all('SELECT * EXCLUDE (emitted_at) FROM metrics_gold ORDER BY asset, window_start'),
      goldKeys: await db.all(
        'SELECT count(*) AS n, count(DISTINCT (asset, window_start)) AS distinct_n FROM metrics_gold',
      ),
      silver: await db.all(
        'SELECT count(*) AS n, count(DISTINCT event_key) AS distinct_n FROM prices_silver',
      ),
      files: await db.all('SELECT count(*) AS n FROM pipeline_files'),
      anomalies: await db.all('SELECT * FROM anomalies ORDER BY asset, window_end'),
    };
  } finally {
    await db.close();
  }
}

/** Runs `args` in a child process and kills it with SIGKILL once `marker` shows in its log. */
async function crashAt(dataDir: string, args: string[], marker: RegExp): Promise<string> {
  proc = spawnCli(args, envFor(dataDir));
  const line = await proc.waitFor(marker, 'stderr');
  proc.child.kill('SIGKILL');
  expect((await proc.exited).signal).toBe('SIGKILL');
  return line;
}

describe('crash and restart', () => {
  it('a pipeline killed with SIGKILL mid-run carries on to the same Gold as a run without the crash', async () => {
    const crashed = join(dir, 'crashed');
    const reference = join(dir, 'reference');
    await landBacklog(crashed);
    await cp(crashed, reference, { recursive: true });

    const line = await crashAt(crashed, ['pipeline', '--now', END], /pipeline group committed/);
    expect(JSON.parse(line)).toMatchObject({ done: 8, pending: HOURS }); // killed with most of the work to do
    const partial = await tables(crashed);
    expect(partial.files[0]).toEqual({ n: expect.any(Number) });
    expect((partial.files[0] as { n: number }).n).toBeLessThan(HOURS);

    await cli(crashed, ['pipeline', '--now', END]);
    await cli(reference, ['pipeline', '--now', END]);
    const after = await tables(crashed);
    const expected = await tables(reference);
    expect(after.files).toEqual([{ n: HOURS }]);
    expect(after.goldKeys).toEqual(expected.goldKeys);
    expect((after.goldKeys[0] as { n: number; distinct_n: number }).n).toBe(
      (after.goldKeys[0] as { distinct_n: number }).distinct_n,
    );
    expect(after.silver).toEqual(expected.silver);
    expect(after.gold).toEqual(expected.gold);
  });

  it('inference killed with SIGKILL while merging carries on to the same anomalies as a run without the crash', async () => {
    const crashed = join(dir, 'crashed');
    const reference = join(dir, 'reference');
    await landBacklog(crashed);
    await cli(crashed, ['pipeline', '--now', END]);
    await cli(crashed, ['train', '--now', END]);
    await cp(crashed, reference, { recursive: true });

    await crashAt(crashed, ['infer', '--now', END], /inference merging scores/);
    const partial = (await tables(crashed)).anomalies.length;
    await cli(crashed, ['infer', '--now', END]);
    await cli(reference, ['infer', '--now', END]);
    const after = await tables(crashed);
    const expected = await tables(reference);
    expect([0, expected.anomalies.length]).toContain(partial); // the MERGE is all or nothing
    expect(after.anomalies.length).toBeGreaterThan(500);
    expect(after.anomalies).toEqual(expected.anomalies);
  });
});
