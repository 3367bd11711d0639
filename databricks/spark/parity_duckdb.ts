/**
 * The DuckDB side of the Spark parity test (databricks/spark/test_pipeline.py): lands the first
 * `--days` UTC days of an OHLCV CSV the way the bot's replay does (src/market/replay.ts records,
 * src/platform/local/landing.ts files), one file per `--hours-per-file` hours of minutes, plus a
 * few files that exercise every drop reason (at least 4 files: `--days` × 24 / `--hours-per-file`),
 * runs the local pipeline (sql/local/pipeline_batch.sql) twice, and writes its Silver count,
 * per-stage counters and Gold windows as JSON.
 *
 * Usage (from the repository root):
 *   npx tsx databricks/spark/parity_duckdb.ts <csv> <out dir> [--days 1] [--hours-per-file 6]
 * Writes <out dir>/landing (the landing files, laid out like the volume) and <out dir>/duckdb.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { MarketRecord } from '../../src/market/record.js';
import { type OhlcvRow, ohlcvToRecord, readOhlcvCsv } from '../../src/market/replay.js';
import { assetSpecFor } from '../../src/market/simulator.js';
import { landingName, toJsonLines } from '../../src/platform/landing-files.js';
import { createLocalLanding } from '../../src/platform/local/landing.js';
import { createLocalPlatform } from '../../src/platform/local/platform.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    days: { type: 'string', default: '1' },
    'hours-per-file': { type: 'string', default: '6' },
    asset: { type: 'string', default: 'bitcoin' },
  },
});
const [csv, out] = positionals;
if (!csv || !out) throw new Error('usage: parity_duckdb.ts <csv> <out dir> [--days 2]');
const days = Number(values.days);
const perFile = Number(values['hours-per-file']);
const asset = values.asset as string;

const { rows } = await readOhlcvCsv(csv);
const first = rows[0]?.timestamp ?? 0;
const dayStart = first - (first % 86_400);
const slice = rows.filter((r) => r.timestamp < dayStart + days * 86_400);
const spec = assetSpecFor(asset);
const record = (r: OhlcvRow) => ohlcvToRecord(r, { id: asset, symbol: spec.symbol, name: spec.name });

// one landing file per `perFile` hours of minutes (a replay polled every `perFile` hours)
const hours = new Map<number, OhlcvRow[]>();
for (const r of slice) {
  const h = Math.floor(r.timestamp / 3600 / perFile) * perFile;
  const list = hours.get(h) ?? [];
  if (list.length === 0) hours.set(h, list);
  list.push(r);
}
const hourKeys = [...hours.keys()].sort((a, b) => a - b);

let now = new Date(0);
const clock: Clock = { now: () => now };
const platform = await createLocalPlatform({
  dbPath: join(out, 'parity.duckdb'),
  landingDir: join(out, 'landing'),
  model: loadConfig({ env: {}, cwd: out }).model,
  clock,
  logger: silentLogger(),
});
const land = (records: MarketRecord[], ingestTs: Date, seq: number) =>
  platform.pipeline.landing.write({ records, source: 'replay', ingestTs, seq });

const iso = (t: number) => new Date(t * 1000).toISOString();
let landed = 0;
for (const [i, h] of hourKeys.entries()) {
  const hourRows = hours.get(h) as OhlcvRow[];
  const ingestTs = new Date((h + perFile) * 3_600_000); // polled at the end of its hours
  now = new Date(ingestTs.getTime() + 30_000);
  const lastHour = h + perFile - 1;
  const held = (r: OhlcvRow) =>
    r.timestamp >= lastHour * 3600 + 50 * 60 && r.timestamp < lastHour * 3600 + 55 * 60;
  if (i === 1) {
    // minutes 50–54 of the last hour arrive in a second file: kept by Silver (20 min), late for Gold (2 min)
    await land(hourRows.filter((r) => !held(r)).map(record), ingestTs, 0);
    await land(hourRows.filter(held).map(record), ingestTs, 1);
  } else if (i === 2) {
    // defects: missing price, missing event time, an event from the future, values out of bounds
    // (a zero and a 1e308 price, a negative and a 1e14 volume); the previous file's last 10 minutes
    // again, one of them twice (duplicates, not late); a line that is not JSON (rescued in Bronze);
    // and an event in 2030 whose ingest time lies the same (from the future all the same)
    const previous = hours.get(hourKeys[1] as number) as OhlcvRow[];
    const again = previous.slice(-10).map(record);
    const extra: MarketRecord[] = [
      { ...record(hourRows[10] as OhlcvRow), current_price: null },
      { ...record(hourRows[11] as OhlcvRow), last_updated: null },
      { ...record(hourRows[12] as OhlcvRow), last_updated: iso((h + perFile + 1) * 3600) },
      { ...record(hourRows[13] as OhlcvRow), current_price: 0, last_updated: iso(h * 3600 + 13 * 60 + 30) },
      {
        ...record(hourRows[14] as OhlcvRow),
        current_price: 1e308,
        last_updated: iso(h * 3600 + 14 * 60 + 30),
      },
      { ...record(hourRows[15] as OhlcvRow), total_volume: -1, last_updated: iso(h * 3600 + 15 * 60 + 30) },
      { ...record(hourRows[16] as OhlcvRow), total_volume: 1e14, last_updated: iso(h * 3600 + 16 * 60 + 30) },
      ...again,
      again[0] as MarketRecord,
    ];
    const batch = {
      records: [...hourRows.map(record), ...extra],
      source: 'replay' as const,
      ingestTs,
      seq: 0,
    };
    const path = join(out, 'landing', landingName(batch));
    await mkdir(dirname(path), { recursive: true });
    const lying = JSON.stringify({
      ...record(hourRows[17] as OhlcvRow),
      last_updated: '2030-01-01T00:00:00.000Z',
      ingest_ts: '2030-01-01T00:00:00.000Z',
      ingest_source: 'replay',
    });
    await writeFile(path, `${toJsonLines(batch)}this is not json\n${lying}\n`);
  } else if (i === 3) {
    // with the first file's minutes again, long after: late for Silver's 20-minute watermark
    const first = hours.get(hourKeys[0] as number) as OhlcvRow[];
    await land([...hourRows, ...first].map(record), ingestTs, 0);
  } else {
    await land(hourRows.map(record), ingestTs, 0);
  }
  landed += 1;
  if (i === Math.floor(hourKeys.length / 2)) await platform.engine.runPipeline(); // two runs: state carries over
}
await platform.engine.runPipeline();

const counters = await platform.db.all(
  `SELECT stage, sum(rows_in)::BIGINT AS rows_in, sum(rows_out)::BIGINT AS rows_out, sum(rescued)::BIGINT AS rescued,
     sum(dropped_missing)::BIGINT AS dropped_missing, sum(dropped_bounds)::BIGINT AS dropped_bounds,
     sum(dropped_future)::BIGINT AS dropped_future, sum(dropped_late)::BIGINT AS dropped_late,
     sum(dropped_duplicate)::BIGINT AS dropped_duplicate, sum(windows_emitted)::BIGINT AS windows_emitted
   FROM pipeline_metrics GROUP BY stage ORDER BY stage`,
);
const [silver] = await platform.db.all<{ n: number }>('SELECT count(*)::BIGINT AS n FROM prices_silver');
const gold = await platform.db.all(
  `SELECT asset, symbol, window_start, window_end, price_avg, price_vol, price_min, price_max, vol_sum,
     ret_window, ticks::BIGINT AS ticks, source
   FROM metrics_gold ORDER BY asset, window_start`,
);
const files = (await createLocalLanding(join(out, 'landing')).list()).length;
await platform.close();
await writeFile(
  join(out, 'duckdb.json'),
  `${JSON.stringify({ hours: landed, files, silver_rows: silver?.n ?? 0, counters, gold }, null, 1)}\n`,
);
