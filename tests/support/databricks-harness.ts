import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/clock.js';
import type { DatabricksSettings } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import {
  createDatabricksPlatform,
  type DatabricksPlatform,
  type DatabricksPlatformDeps,
} from '../../src/platform/databricks/platform.js';
import { JOB_NAMES } from '../../src/platform/databricks/resources.js';
import { createDatabricksRest } from '../../src/platform/databricks/rest.js';
import {
  createWarehouse,
  type Warehouse as WarehouseClient,
} from '../../src/platform/databricks/warehouse.js';
import { openDb } from '../../src/platform/local/db.js';
import { migrate } from '../../src/platform/local/migrations.js';
import { type DatabricksEmulator, startDatabricksEmulator } from './databricks-emulator.js';
import { runScoring } from './databricks-scoring.js';
import { testConfig } from './lakehouse.js';
import { memoryLogger } from './memory-logger.js';
import { startWarehouse, type Warehouse } from './warehouse/server.js';

export const WAREHOUSE_ID = 'abc123def4567890';
export const MODEL = 'workspace.crypto.crypto_anomaly_iforest';
/** The volume the harness's settings name, where landing/, feed/ and serving/ are. */
export const VOLUME_ROOT = '/Volumes/workspace/crypto/landing';

/**
 * The Databricks platform against loopback emulators: the REST APIs (Jobs, Pipelines, Workspace,
 * Files, Unity Catalog, MLflow, warehouses) and a TLS SQL warehouse the real `@databricks/sql`
 * driver talks to, backed by DuckDB with the lakehouse tables in workspace.crypto. Jobs "run" by
 * the test's handlers: training registers a model version (as 03_train_iforest does), scoring
 * writes anomalies (as 04_infer_iforest does).
 */
export interface DatabricksHarness {
  api: DatabricksEmulator;
  warehouse: Warehouse;
  settings: DatabricksSettings;
  platform: DatabricksPlatform;
  sql: WarehouseClient;
  logs: string[];
  logger: Logger;
  /** What the next training run does (RUNNING: it never ends). */
  trainOutcome: 'SUCCESS' | 'FAILED' | 'RUNNING';
  /** The next training runs' exit value (dbutils.notebook.exit of 03_train_iforest); none when unset. */
  trainExit?: Record<string, unknown>;
  /**
   * Which windows a scoring run finds anomalous; by default bitcoin's windows ending at :05, :25
   * and :45 past each hour (about one a run). Set to () => false for a run without anomalies.
   */
  anomalous(asset: string, windowEnd: Date): boolean;
  /**
   * Another platform on the same emulators, with none of the first one's memory (a restarted bot);
   * it shares the SQL client, which the harness closes.
   */
  newPlatform(overrides?: Partial<DatabricksPlatformDeps>): DatabricksPlatform;
  /** Runs the crypto-risk-score job once through the Jobs API and waits for it to end. */
  runScoreJob(): Promise<number>;
  close(): Promise<void>;
}

export async function startDatabricksHarness(
  options: { warehouseState?: string; auth?: 'token' | 'oauth'; clock?: Clock } = {},
): Promise<DatabricksHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-databricks-'));
  const clock = options.clock ?? { now: () => new Date() };
  const api = await startDatabricksEmulator({
    clock: () => clock.now().getTime(),
    warehouses: [
      { id: WAREHOUSE_ID, name: 'Serverless Starter Warehouse', state: options.warehouseState ?? 'STOPPED' },
    ],
    startMs: 100,
    runMs: 50,
  });
  const warehouse = await startWarehouse({ warehouseId: WAREHOUSE_ID });
  await migrate(warehouse.db, 'local');
  const caFile = join(dir, 'warehouse-ca.pem');
  writeFileSync(caFile, warehouse.caCert);
  const settings: DatabricksSettings = {
    host: api.url,
    auth:
      options.auth === 'oauth'
        ? { kind: 'oauth', clientId: api.clientId, clientSecret: api.clientSecret }
        : { kind: 'token', token: api.token },
    warehouseId: WAREHOUSE_ID,
    catalog: 'workspace',
    schema: 'crypto',
    volume: 'landing',
    workspaceDir: '/Shared/crypto-risk-monitor',
    sqlCaCert: caFile,
    sqlTimeoutSeconds: 60,
  };
  const { logger, lines: logs } = memoryLogger('debug');
  const config = testConfig();
  const rest = createDatabricksRest({ settings, logger, retryBaseDelayMs: 10 });
  const sql = createWarehouse({
    settings,
    rest,
    logger,
    pollMs: 50,
    endpoint: { host: warehouse.host, port: warehouse.port },
  });
  const newPlatform = (overrides: Partial<DatabricksPlatformDeps> = {}) =>
    createDatabricksPlatform({
      settings,
      model: config.model,
      assets: config.market.assets,
      rest,
      warehouse: sql,
      clock,
      logger,
      pollMs: 50,
      // Each platform gets a throw-away store; the bot tests that restart keep their own file.
      openBotStore: () => openDb(':memory:'),
      schedule: config.schedule,
      ...overrides,
    });
  const platform = newPlatform();

  const harness: DatabricksHarness = {
    api,
    warehouse,
    settings,
    platform,
    sql,
    logs,
    logger,
    trainOutcome: 'SUCCESS',
    newPlatform,
    anomalous: (asset, end) => asset === 'bitcoin' && end.getUTCMinutes() % 20 === 5,
    async runScoreJob() {
      const jobId = api.jobs().find((j) => j.settings.name === JOB_NAMES.score)?.job_id;
      if (jobId === undefined) throw new Error('no crypto-risk-score job: provision first');
      const res = await fetch(`${api.url}/api/2.2/jobs/run-now`, {
        method: 'POST',
        headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ job_id: jobId }),
      });
      const { run_id } = (await res.json()) as { run_id: number };
      while (api.runs().find((r) => r.run_id === run_id)?.life_cycle_state !== 'TERMINATED') {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return run_id;
    },
    async close() {
      await platform.close();
      await warehouse.close();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };

  api.onRun(async (job, run) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (job.settings.name === JOB_NAMES.train) {
      if (harness.trainOutcome === 'FAILED') return 'FAILED';
      if (harness.trainOutcome === 'RUNNING') return new Promise(() => {});
      api.registerModelVersion(MODEL, {
        runId: `mlflow-${run.run_id}`,
        params: {
          feature_set: 'default',
          trees: '200',
          contamination: '0.02',
          seed: '42',
          max_samples: '256',
          assets: 'bitcoin,ethereum',
        },
        metrics: {
          rows: 2016,
          train_rows: 1612,
          holdout_rows: 404,
          train_mean: 0.12,
          train_std: 0.03,
          holdout_mean: 0.11,
          holdout_std: 0.04,
          train_flagged_share: 0.02,
          holdout_flagged_share: 0.025,
          offset: -0.55,
        },
        alias: 'champion',
      });
      return harness.trainExit
        ? { result: 'SUCCESS', outputs: { t: JSON.stringify(harness.trainExit) } }
        : 'SUCCESS';
    }
    if (job.settings.name === JOB_NAMES.score) {
      // As 04_infer_iforest: new windows scored into anomalies, the feed file and snapshot published.
      const exitValue = await runScoring(warehouse.db, {
        now: clock.now(),
        modelName: MODEL,
        modelVersion: 1,
        anomalous: (asset, end) => harness.anomalous(asset, end),
        write: (path, data) => api.writeVolumeFile(`${VOLUME_ROOT}/${path}`, data),
      });
      return { result: 'SUCCESS', outputs: { infer: exitValue } };
    }
    return 'SUCCESS';
  });
  return harness;
}

/** Gold windows and scores in the warehouse, as the pipeline and inference would have made them. */
/** A job created the way provisioning would (name is what the platform looks up). */
export async function createJob(harness: DatabricksHarness, name: string): Promise<number> {
  const res = await fetch(`${harness.api.url}/api/2.2/jobs/create`, {
    method: 'POST',
    headers: { authorization: `Bearer ${harness.api.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name,
      max_concurrent_runs: 1,
      tasks: [{ task_key: 't', notebook_task: { notebook_path: '/x' } }],
    }),
  });
  return ((await res.json()) as { job_id: number }).job_id;
}

export async function seedLakehouse(warehouse: Warehouse, now: Date): Promise<void> {
  const end = new Date(Math.floor(now.getTime() / 300_000) * 300_000).toISOString();
  await warehouse.db.run(
    `INSERT INTO metrics_gold
     SELECT a.asset, a.symbol, CAST(:end AS TIMESTAMP) - INTERVAL ((i + 1) * 5) MINUTE, CAST(:end AS TIMESTAMP) - INTERVAL (i * 5) MINUTE,
       a.price * (1 + 0.01 * sin(i / 5)), a.price * 0.001, a.price * 0.99, a.price * 1.01, 1e6, 0.02, 5, 'coingecko',
       CAST(:end AS TIMESTAMP)
     FROM (VALUES ('bitcoin', 'btc', 65000.0), ('ethereum', 'eth', 3200.0)) AS a(asset, symbol, price), range(288) AS t(i)`,
    { end },
  );
  await warehouse.db.run(
    `INSERT INTO anomalies
     SELECT asset, symbol, window_end, price_avg, price_vol, ret_window, vol_sum, 0.0,
       CASE WHEN hash(asset || window_end::VARCHAR) % 29 = 0 THEN -0.08 ELSE 0.12 END,
       CASE WHEN hash(asset || window_end::VARCHAR) % 29 = 0 THEN 1 ELSE 0 END, 1, CAST(:end AS TIMESTAMP),
       NULL, NULL
     FROM metrics_gold`,
    { end },
  );
}
