import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { runIngest } from '../../src/jobs/ingest.js';
import { silentLogger } from '../../src/log.js';
import { createCoinGeckoClient } from '../../src/market/coingecko.js';
import { resolveSource, type SourceDeps } from '../../src/market/sources.js';
import { type CoinGeckoEmulator, startCoinGeckoEmulator } from '../support/coingecko-emulator.js';
import { createTestLakehouse, type TestLakehouse } from '../support/lakehouse.js';

let lake: TestLakehouse;
let cg: CoinGeckoEmulator;
afterEach(async () => {
  await lake?.close();
  await cg?.close();
});

const NOW = '2026-03-02T12:00:00.000Z';

/** CoinGecko answers as of NOW: current records and 288 five-minute points ending at NOW. */
async function setup(assets = ['bitcoin', 'ethereum'], chartFails: (id: string) => boolean = () => false) {
  lake = await createTestLakehouse(NOW);
  cg = await startCoinGeckoEmulator({
    markets: (ids) =>
      ids.map((id, i) => ({
        id,
        symbol: id.slice(0, 3),
        name: id,
        current_price: 100 * (i + 1),
        total_volume: 5e9,
        last_updated: NOW,
        roi: null,
      })),
    chart: (id) => {
      if (chartFails(id)) throw new Error('history unavailable');
      const end = Date.parse(NOW);
      const points = Array.from({ length: 288 }, (_, i) => end - (287 - i) * 300_000);
      return {
        prices: points.map((t, i) => [t, 100 + i / 10]),
        market_caps: points.map((t) => [t, 1e12]),
        total_volumes: points.map((t) => [t, id === 'bitcoin' ? 2e10 : null]),
      };
    },
  });
  const deps: SourceDeps = {
    state: lake.platform.pipeline.state,
    logger: silentLogger(),
    assets,
    coingecko: createCoinGeckoClient({
      plan: 'public',
      baseUrl: cg.url,
      timeoutMs: 500,
      retries: 2,
      retryBaseDelayMs: 5,
      maxRetryAfterMs: 2_000,
      logger: silentLogger(),
    }),
    simulator: { seed: 42, tickSeconds: 60, historyHours: 24 },
  };
  const ingest = async (setting: Parameters<typeof resolveSource>[0] = { kind: 'coingecko' }) => {
    const { source } = await resolveSource(setting, deps);
    return runIngest({ platform: lake.platform, clock: lake.clock, logger: silentLogger(), source });
  };
  return { deps, ingest };
}

async function landingFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.jsonl')).sort();
  } catch {
    return [];
  }
}

describe('ingest from CoinGecko', () => {
  it('backfills the last 24 h on the first run, then lands one snapshot per run, stamped', async () => {
    const { ingest } = await setup();
    const first = await ingest();
    expect(first.batches.map((b) => [b.label, b.records])).toEqual([
      ['backfill', 576],
      ['snapshot', 2],
    ]);
    const files = await landingFiles(lake.landingDir);
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(
      /^date=2026-03-02\/hour=12\/20260302T120000000Z-000-coingecko-[0-9a-f]{8}\.jsonl$/,
    );
    const snapshot = (await readFile(join(lake.landingDir, files[1] as string), 'utf8')).trim().split('\n');
    expect(JSON.parse(snapshot[0] as string)).toMatchObject({
      id: 'bitcoin',
      roi: null,
      ingest_ts: NOW,
      ingest_source: 'coingecko',
    });

    lake.setNow('2026-03-02T12:02:00.000Z');
    const second = await ingest();
    expect(second.batches.map((b) => b.label)).toEqual(['snapshot']);
    expect(cg.requests.filter((r) => r.path.endsWith('/market_chart'))).toHaveLength(2);

    const run = await lake.platform.engine.runPipeline();
    expect(run.files).toBe(3);
    // the snapshot at NOW repeats the backfill's last point (same event_key): one duplicate per coin
    expect(run.silver.dropped_duplicate).toBe(4);
    expect(await lake.table('SELECT count(*) AS n FROM prices_silver')).toEqual([{ n: 576 }]);
  });

  it.each([
    [
      'a persistent 500',
      [
        { kind: 'status', status: 500 },
        { kind: 'status', status: 500 },
        { kind: 'status', status: 500 },
      ],
    ],
    ['a malformed body', [{ kind: 'body', body: '[{"id": 5},' }]],
    [
      'a timeout',
      [
        { kind: 'delay', ms: 2000 },
        { kind: 'delay', ms: 2000 },
        { kind: 'delay', ms: 2000 },
      ],
    ],
  ] as const)('writes nothing to landing on %s, and records the failed run', async (_name, faults) => {
    const { ingest } = await setup();
    cg.fault(...faults);
    await expect(ingest()).rejects.toBeInstanceOf(UserError);
    expect(await landingFiles(lake.landingDir)).toEqual([]);
    const runs = await lake.table<{ job: string; result: string }>('SELECT job, result FROM job_runs');
    expect(runs).toEqual([{ job: 'ingest', result: 'failed' }]);
  });

  it('writes nothing when the backfill of one coin fails after the others succeeded', async () => {
    const { ingest } = await setup(['bitcoin', 'ethereum'], (id) => id === 'ethereum');
    await expect(ingest()).rejects.toThrow(/CoinGecko answered HTTP 500 for \/coins\/ethereum\/market_chart/);
    expect(cg.requests.map((r) => r.path)).toContain('/coins/bitcoin/market_chart');
    expect(await landingFiles(lake.landingDir)).toEqual([]);
    expect(await lake.platform.pipeline.state.get('coingecko.backfilled')).toBeUndefined();
  });

  it('falls back to the simulator when CoinGecko is unreachable, says so, and remembers the choice', async () => {
    const { deps } = await setup();
    await cg.close();
    const unreachable = await startCoinGeckoEmulator();
    const url = unreachable.url;
    await unreachable.close();
    deps.coingecko = createCoinGeckoClient({
      plan: 'public',
      baseUrl: url,
      timeoutMs: 300,
      retries: 0,
      maxRetryAfterMs: 1000,
      logger: silentLogger(),
    });
    const first = await resolveSource({ kind: 'auto' }, deps);
    expect(first.source.kind).toBe('simulator');
    expect(first.source.simulated).toBe(true);
    expect(first.notice).toMatch(
      /^CoinGecko could not be reached .*\. Using the market simulator instead: prices are SIMULATED\.$/,
    );
    const later = await resolveSource({ kind: 'auto' }, deps);
    expect(later.source.kind).toBe('simulator');
    expect(later.notice).toMatch(/chose the simulator for this data folder earlier/);
    cg = await startCoinGeckoEmulator();
  });
});
