/**
 * bench/warehouse: a simulated day of the bot on Databricks, against the loopback emulators (REST
 * APIs and the SQL warehouse), with the default schedules: the bot ingests every 2 minutes (Files
 * API), the crypto-risk-score job (pipeline + inference) succeeds every 10 minutes, the feed checks
 * every minute, and someone reads `status` every 5 minutes. The warehouse stops after 10 idle
 * minutes, as an auto-stopping warehouse does. Counts the SQL statements the bot sent and the
 * warehouse starts it caused. One summary line.
 * Usage: npm run bench:warehouse [-- --minutes 1440]
 */
import { parseArgs } from 'node:util';
import { runIngest } from '../src/jobs/ingest.js';
import { simulatorSource } from '../src/market/sources.js';
import { JOB_NAMES } from '../src/platform/databricks/resources.js';
import { seedLakehouse, startDatabricksHarness, WAREHOUSE_ID } from '../tests/support/databricks-harness.js';
import { testConfig } from '../tests/support/lakehouse.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '1440' } } });
const minutes = Number(values.minutes);
const AUTO_STOP_MINUTES = 10;

const start = new Date('2025-03-01T00:00:00Z');
let now = start;
const clock = { now: () => now };
const h = await startDatabricksHarness({ warehouseState: 'STOPPED', clock });
h.logger.level = 'warn';
await h.platform.provision(true);
await seedLakehouse(h.warehouse, start);
const config = testConfig({ SIMULATOR_HISTORY_HOURS: '0' });
const source = simulatorSource({
  state: h.platform.state,
  assets: config.market.assets,
  simulator: config.market.simulator,
});
const scoreJob = h.api.jobs().find((j) => j.settings.name === JOB_NAMES.score)?.job_id;

async function runScoreJob(): Promise<void> {
  const res = await fetch(`${h.api.url}/api/2.2/jobs/run-now`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.api.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ job_id: scoreJob }),
  });
  const { run_id } = (await res.json()) as { run_id: number };
  while (h.api.runs().find((r) => r.run_id === run_id)?.life_cycle_state !== 'TERMINATED') {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let inferenceRuns = 0;
let feedChecks = 0;
let feedQueries = 0;
let statusReads = 0;
let statusStatements = 0;
let statusStarts = 0;
let landed = 0;
let cursor: string | null = null;
let lastSql = -Infinity;
const began = performance.now();
for (let minute = 0; minute < minutes; minute++) {
  now = new Date(start.getTime() + minute * 60_000);
  // An auto-stopping warehouse: idle for AUTO_STOP_MINUTES, it stops.
  if (minute - lastSql >= AUTO_STOP_MINUTES && (await h.platform.readiness()).ready) {
    h.api.setWarehouseState(WAREHOUSE_ID, 'STOPPED');
  }
  if (minute % 2 === 0)
    landed += (await runIngest({ platform: h.platform, clock, logger: h.logger, source })).batches.length;
  if (minute % 10 === 0) {
    await runScoreJob();
    inferenceRuns++;
  }
  if (minute % 5 === 0) {
    const [sqlBefore, startsBefore] = [h.warehouse.statements.length, h.api.warehouseStarts(WAREHOUSE_ID)];
    await h.platform.status(now);
    statusReads++;
    statusStatements += h.warehouse.statements.length - sqlBefore;
    statusStarts += h.api.warehouseStarts(WAREHOUSE_ID) - startsBefore;
    if (h.warehouse.statements.length > sqlBefore) lastSql = minute;
  }
  const before = h.warehouse.statements.length;
  const rows = await h.platform.scoredSince(cursor, 5_000);
  feedChecks++;
  if (h.warehouse.statements.length > before) {
    feedQueries++;
    lastSql = minute;
  }
  cursor = rows.at(-1)?.scored_at ?? cursor;
}
const seconds = (performance.now() - began) / 1000;
const starts = h.api.warehouseStarts(WAREHOUSE_ID);
console.log(
  `bench/warehouse: simulated ${minutes} minutes with the default schedules: ${inferenceRuns} inference runs, ` +
    `${feedChecks} feed checks → ${feedQueries} feed queries (${(feedQueries / Math.max(1, inferenceRuns)).toFixed(2)} per run; target ≤ 1); ` +
    `${statusReads} status reads → ${statusStatements} SQL while running, ${statusStarts} warehouse starts (target 0); ` +
    `${starts} warehouse starts in all (auto-stop ${AUTO_STOP_MINUTES} min); ${landed} landing files; ${seconds.toFixed(1)} s`,
);
await h.close();
process.exit(0);
