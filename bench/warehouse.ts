/**
 * bench/warehouse: a simulated day of the bot on Databricks against the loopback emulators (REST
 * APIs and the SQL warehouse), with the default schedules: the bot ingests every 2 minutes (Files
 * API), the crypto-risk-score job (pipeline + inference) succeeds every 10 minutes, the feed checks
 * every minute and charts what it would post, someone reads `status` every 15 minutes, and 22
 * commands spread over the day ask `top`/`chart`: 20 for 24 h or 7 d and 2 for 30 d. The warehouse
 * stops after 10 idle minutes, as an auto-stopping warehouse does.
 *
 * Side by side in the same run: this bot (feed files and the serving snapshot) and the way it worked
 * before (a feed query on the warehouse after each scoring run, every answer from the warehouse).
 * One summary line: SQL statements for the feed (target 0), warehouse starts, minutes the warehouse
 * runs (target ≤ 60), REST calls per endpoint.
 * Usage: npm run bench:warehouse [-- --minutes 1440]
 */
import { parseArgs } from 'node:util';
import { priceChart } from '../src/commands/chart.js';
import { topCommand } from '../src/commands/top.js';
import { runIngest } from '../src/jobs/ingest.js';
import { simulatorSource } from '../src/market/sources.js';
import { timestampParam } from '../src/platform/databricks/warehouse.js';
import type { LakehouseRead, Platform } from '../src/platform/port.js';
import { sqlFile } from '../src/sql-files.js';
import type { RecordedCall } from '../tests/support/databricks-emulator.js';
import { startDatabricksHarness, WAREHOUSE_ID } from '../tests/support/databricks-harness.js';
import { testConfig } from '../tests/support/lakehouse.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '1440' } } });
const minutes = Number(values.minutes);
const AUTO_STOP_MINUTES = 10;
const DAY = 86_400_000;

/** The 22 commands of the day, at evenly spread minutes: 20 for 24 h or 7 d, 2 for 30 d. */
const ASKS: LakehouseRead[] = [
  ...Array.from({ length: 20 }, (_, i): LakehouseRead => {
    const sinceMs = i % 2 === 0 ? DAY : 7 * DAY;
    return i % 4 < 2 ? { kind: 'top', sinceMs, limit: 10 } : { kind: 'chart', sinceMs, asset: 'bitcoin' };
  }),
  { kind: 'top', sinceMs: 30 * DAY, limit: 10 },
  { kind: 'chart', sinceMs: 30 * DAY, asset: 'ethereum' },
];
const askAt = new Map<number, LakehouseRead>(
  // 30 d asks at 08:00 and 16:00; the others every 65 minutes from 00:30.
  ASKS.map((ask, i) => [i < 20 ? 30 + i * 65 : i === 20 ? 480 : 960, ask]),
);

interface Outcome {
  scoringRuns: number;
  asks: number;
  feedStatements: number;
  feedWindows: number;
  statusStatements: number;
  askStatements: number;
  starts: number;
  runningMinutes: number;
  calls: RecordedCall[];
  seconds: number;
}

/** One simulated day; `viaWarehouse` is the bot before feed files and the snapshot. */
async function simulate(viaWarehouse: boolean): Promise<Outcome> {
  const start = new Date('2025-03-01T00:00:00Z');
  let now = start;
  const clock = { now: () => now };
  const h = await startDatabricksHarness({ warehouseState: 'STOPPED', clock });
  h.logger.level = 'warn';
  await h.platform.deployment.provision(true);
  const platform: Platform = h.platform;
  const config = testConfig({ SIMULATOR_HISTORY_HOURS: '0' });
  const source = simulatorSource({
    state: platform.pipeline.state,
    assets: config.market.assets,
    simulator: config.market.simulator,
  });
  h.api.calls.length = 0;

  const out: Outcome = {
    scoringRuns: 0,
    asks: 0,
    feedStatements: 0,
    feedWindows: 0,
    statusStatements: 0,
    askStatements: 0,
    starts: 0,
    runningMinutes: 0,
    calls: [],
    seconds: 0,
  };
  const statements = () => h.warehouse.statements.length;
  const seriesBefore = async (asset: string, sinceMs: number) => {
    await platform.reads.ensureReady();
    await h.sql.query(sqlFile('queries/price_series'), {
      asset,
      since: new Date(now.getTime() - sinceMs),
      until: now,
    });
  };
  let lastSql = -Infinity;
  let cursor: string | null = null;
  let newRun = false;
  const began = performance.now();
  for (let minute = 0; minute < minutes; minute++) {
    now = new Date(start.getTime() + minute * 60_000);
    const before = statements();
    // An auto-stopping warehouse: idle for AUTO_STOP_MINUTES, it stops.
    if (h.api.warehouseState(WAREHOUSE_ID) === 'RUNNING') {
      if (minute - lastSql >= AUTO_STOP_MINUTES) h.api.setWarehouseState(WAREHOUSE_ID, 'STOPPED');
      else out.runningMinutes++;
    }
    if (minute % 2 === 0) await runIngest({ platform, clock, logger: h.logger, source });
    if (minute % 10 === 0) {
      await h.runScoreJob();
      out.scoringRuns++;
      newRun = true;
    }

    // The feed, and the chart of each asset it would post about.
    const feedBefore = statements();
    let rows: Array<{ asset: string; is_anomaly: boolean; scored_at: string }>;
    if (!viaWarehouse) {
      rows = await platform.reads.scoredSince(cursor, 5_000);
    } else if (newRun) {
      // Before: one feed query on the warehouse after each successful scoring run.
      await platform.reads.ensureReady();
      rows = await h.sql.query(sqlFile('queries/scored_since'), {
        cursor: timestampParam(cursor),
        limit: 5_000,
      });
    } else {
      rows = [];
    }
    newRun = false;
    for (const asset of new Set(rows.filter((r) => r.is_anomaly).map((r) => r.asset))) {
      if (viaWarehouse) await seriesBefore(asset, DAY);
      else await priceChart({ asset, sinceMs: DAY }, { platform, now });
    }
    out.feedWindows += rows.filter((r) => r.is_anomaly).length;
    out.feedStatements += statements() - feedBefore;
    cursor = rows.at(-1)?.scored_at ?? cursor;

    if (minute % 15 === 0) {
      const statusBefore = statements();
      await platform.reads.status(now);
      out.statusStatements += statements() - statusBefore;
    }
    const ask = askAt.get(minute);
    if (ask) {
      const askBefore = statements();
      out.asks++;
      if (viaWarehouse) {
        // Before: every answer from the warehouse (the leaderboard, the windows, the chart).
        await platform.reads.ensureReady();
        if (ask.kind === 'top') {
          const period = { since: new Date(now.getTime() - ask.sinceMs), until: now, asset: null };
          await h.sql.query(sqlFile('queries/top_leaderboard'), period);
          await h.sql.query(sqlFile('queries/top_windows'), { ...period, limit: ask.limit });
          await seriesBefore('bitcoin', ask.sinceMs);
        } else {
          await seriesBefore(ask.asset, ask.sinceMs);
        }
      } else {
        if (!(await platform.reads.readiness(ask)).ready) await platform.reads.ensureReady();
        if (ask.kind === 'top') await topCommand({ limit: ask.limit, since: ask.sinceMs }, { platform, now });
        else await priceChart({ asset: ask.asset, sinceMs: ask.sinceMs }, { platform, now });
      }
      out.askStatements += statements() - askBefore;
    }
    if (statements() > before) lastSql = minute;
  }
  out.seconds = (performance.now() - began) / 1000;
  out.starts = h.api.warehouseStarts(WAREHOUSE_ID);
  // The schedule's own run-now calls are Databricks', not the bot's.
  out.calls = h.api.calls.filter((c) => !(c.method === 'POST' && c.path.endsWith('/jobs/run-now')));
  await h.close();
  return out;
}

/** `GET runs/list` and the like; volume files by folder. */
function endpoint(call: RecordedCall): string {
  const path = call.path
    .replace(/^\/api\/[\d.]+\//, '')
    .replace(/^fs\/files\/Volumes\/[^/]+\/[^/]+\/[^/]+\/([^/]+)\/.*$/, 'fs/files/$1/*')
    .replace(/^fs\/files\/Volumes\/[^/]+\/[^/]+\/[^/]+\/serving\/.*$/, 'fs/files/serving/*')
    .replace(/^jobs\//, '')
    .replace(/\/[0-9a-f]{16}(\/|$)/, '/{id}$1');
  return `${call.method} ${path}`;
}

function perEndpoint(calls: RecordedCall[]): string {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(endpoint(c), (counts.get(endpoint(c)) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
}

const files = await simulate(false);
const sql = await simulate(true);
const line = (o: Outcome) =>
  `${o.feedStatements} SQL for the feed (${o.feedWindows} anomalous windows), ${o.askStatements} SQL for ${o.asks} top/chart, ` +
  `${o.statusStatements} for status; ${o.starts} warehouse starts, ${o.runningMinutes} warehouse minutes`;
console.log(
  `bench/warehouse: simulated ${minutes} minutes, ${files.scoringRuns} scoring runs, auto-stop ${AUTO_STOP_MINUTES} min — ` +
    `feed files + snapshot: ${line(files)} (targets: 0 feed SQL, ≤ 60 min); ` +
    `before (SQL feed and answers): ${line(sql)}; ` +
    `REST calls by the bot: ${files.calls.length} [${perEndpoint(files.calls)}] vs ${sql.calls.length} before; ` +
    `${(files.seconds + sql.seconds).toFixed(0)} s`,
);
process.exit(0);
