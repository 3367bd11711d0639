import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabricksSettings, ModelSettings } from '../../config.js';
import { DASHBOARD } from '../../domain/dashboard.js';
import { packageRoot } from '../../sql-files.js';
import type { DatabricksJobSchedule } from '../port.js';
import { dashboardPath, serializedDashboard } from './dashboard.js';

/**
 * The one declarative definition of what runs on Databricks: the workspace folder with the
 * notebooks and their Python helpers, the Lakeflow Declarative Pipeline, and the jobs, in the
 * shapes of the Pipelines API and Jobs API 2.2. The provisioner reconciles the workspace against
 * it; `databricks/databricks.yml` describes the same for the Databricks CLI (a test holds them
 * together). Schedules are quartz cron in UTC; every job runs at most once at a time.
 */

/**
 * The names the bot creates and looks up (jobs/list `name`, pipelines `name LIKE`), exactly as the
 * bundle's default target `prod` (mode: production) deploys them. The bundle's `dev` target
 * (mode: development) prefixes every job and pipeline name with `[dev <short name>] `
 * (https://docs.databricks.com/dev-tools/bundles/deployment-modes.html) and pauses the schedules:
 * a personal copy for working on the notebooks, which the bot deliberately does not find or
 * operate. tests/unit/databricks-definition.test.ts holds the bundle's targets to this.
 */
export const PIPELINE_NAME = 'crypto-risk-lakehouse';
export const JOB_NAMES = {
  ingest: 'crypto-risk-ingest',
  score: 'crypto-risk-score',
  train: 'crypto-risk-train',
} as const;
export const MODEL_NAME = 'crypto_anomaly_iforest';
export const CHAMPION_ALIAS = 'champion';

export interface WorkspaceAsset {
  /** Workspace path (a notebook has no .py at the end; a file keeps its name). */
  path: string;
  kind: 'notebook' | 'file';
  /** The content as it is deployed. */
  content: string;
}

export interface PipelineSpec {
  name: string;
  catalog: string;
  schema: string;
  serverless: boolean;
  continuous: boolean;
  development: boolean;
  channel: string;
  libraries: Array<{ notebook: { path: string } }>;
  configuration: Record<string, string>;
}

export interface JobTask {
  task_key: string;
  depends_on?: Array<{ task_key: string }>;
  notebook_task?: { notebook_path: string; source: 'WORKSPACE' };
  pipeline_task?: { pipeline_id: string; full_refresh: boolean };
}

export interface JobSettings {
  name: string;
  max_concurrent_runs: number;
  schedule: { quartz_cron_expression: string; timezone_id: string; pause_status: 'PAUSED' | 'UNPAUSED' };
  parameters: Array<{ name: string; default: string }>;
  tasks: JobTask[];
  tags: Record<string, string>;
}

/**
 * The AI/BI dashboard as the Lakeview API creates it (https://docs.databricks.com/api/workspace/lakeview/create:
 * `display_name`, `parent_path`, `serialized_dashboard`, `warehouse_id`); its workspace object is
 * `<parent_path>/<display_name>.lvdash.json`, where the provisioner finds it.
 */
export interface DashboardSpec {
  display_name: string;
  parent_path: string;
  serialized_dashboard: string;
  warehouse_id: string;
}

export interface Resources {
  workspaceDir: string;
  assets: WorkspaceAsset[];
  pipeline: PipelineSpec;
  /** The jobs, once the pipeline's id is known (the score job refreshes the pipeline). */
  jobs(pipelineId: string): JobSettings[];
  modelName: string;
  /** The dashboard and its workspace path. */
  dashboard: { spec: DashboardSpec; path: string };
}

const NOTEBOOKS = ['01_ingest_prices', '02_dlt_pipeline', '03_train_iforest', '04_infer_iforest'] as const;

/** The Python helper modules the notebooks import (every .py file of databricks/lib/crypto_risk). */
function helpers(): string[] {
  return readdirSync(join(packageRoot(), 'databricks', 'lib', 'crypto_risk'))
    .filter((name) => name.endsWith('.py'))
    .sort();
}

/** Reads a deployable file of the repository (databricks/…). */
function source(...parts: string[]): string {
  return readFileSync(join(packageRoot(), 'databricks', ...parts), 'utf8');
}

/** Each Databricks job's schedule (Quartz, UTC). */
export type JobSchedules = Record<'ingest' | 'score' | 'train', DatabricksJobSchedule>;

/**
 * The schedules of the defaults (SCHEDULE_INGEST, SCHEDULE_INFER, SCHEDULE_TRAIN as Quartz): the
 * ingest job paused (the bot ingests: Free Edition limits egress and a 2-minute job burns quota),
 * scoring every 10 minutes, training daily at 03:00 UTC.
 */
export const DEFAULT_JOB_SCHEDULES: JobSchedules = {
  ingest: { quartz_cron_expression: '0 0/2 * * * ?', pause_status: 'PAUSED' },
  score: { quartz_cron_expression: '0 0/10 * * * ?', pause_status: 'UNPAUSED' },
  train: { quartz_cron_expression: '0 0 3 * * ?', pause_status: 'UNPAUSED' },
};

export function resources(
  settings: DatabricksSettings,
  model: ModelSettings,
  assets: readonly string[],
  schedules: JobSchedules = DEFAULT_JOB_SCHEDULES,
): Resources {
  const dir = settings.workspaceDir;
  const notebook = (name: (typeof NOTEBOOKS)[number]) => `${dir}/notebooks/${name}`;
  const modelName = `${settings.catalog}.${settings.schema}.${MODEL_NAME}`;
  const parameters = [
    { name: 'catalog', default: settings.catalog },
    { name: 'schema', default: settings.schema },
    { name: 'volume', default: settings.volume },
    { name: 'model_name', default: modelName },
    { name: 'alias', default: CHAMPION_ALIAS },
    { name: 'feature_set', default: model.featureSet },
    { name: 'contamination', default: String(model.contamination) },
    { name: 'trees', default: String(model.trees) },
    { name: 'seed', default: String(model.seed) },
    { name: 'lookback_days', default: String(Math.max(1, Math.round(model.lookbackMs / 86_400_000))) },
    { name: 'max_rows', default: String(model.maxRows) },
    { name: 'promotion', default: model.promotion },
    { name: 'assets', default: assets.join(',') },
  ];
  const tags = { app: 'crypto-risk-monitor' };
  const job = (name: string, schedule: DatabricksJobSchedule, tasks: JobTask[]): JobSettings => ({
    name,
    max_concurrent_runs: 1,
    schedule: {
      quartz_cron_expression: schedule.quartz_cron_expression,
      timezone_id: 'UTC',
      pause_status: schedule.pause_status,
    },
    parameters,
    tasks,
    tags,
  });
  const notebookTask = (key: string, name: (typeof NOTEBOOKS)[number], after?: string): JobTask => ({
    task_key: key,
    ...(after ? { depends_on: [{ task_key: after }] } : {}),
    notebook_task: { notebook_path: notebook(name), source: 'WORKSPACE' },
  });

  return {
    workspaceDir: dir,
    modelName,
    dashboard: {
      path: dashboardPath(dir),
      spec: {
        display_name: DASHBOARD.title,
        parent_path: dir,
        serialized_dashboard: serializedDashboard({ catalog: settings.catalog, schema: settings.schema }),
        warehouse_id: settings.warehouseId,
      },
    },
    assets: [
      ...NOTEBOOKS.map((name) => ({
        path: notebook(name),
        kind: 'notebook' as const,
        content: source('notebooks', `${name}.py`),
      })),
      ...helpers().map((name) => ({
        path: `${dir}/lib/crypto_risk/${name}`,
        kind: 'file' as const,
        content: source('lib', 'crypto_risk', name),
      })),
    ],
    pipeline: {
      name: PIPELINE_NAME,
      catalog: settings.catalog,
      schema: settings.schema,
      serverless: true,
      continuous: false,
      development: false,
      channel: 'CURRENT',
      libraries: [{ notebook: { path: notebook('02_dlt_pipeline') } }],
      configuration: {
        'crypto_risk.catalog': settings.catalog,
        'crypto_risk.schema': settings.schema,
        'crypto_risk.volume': settings.volume,
      },
    },
    jobs: (pipelineId) => [
      // Optional: the bot ingests (Free Edition limits egress and a 2-minute job burns quota).
      job(JOB_NAMES.ingest, schedules.ingest, [notebookTask('ingest', '01_ingest_prices')]),
      // The pipeline takes in the new landing files, then inference scores.
      job(JOB_NAMES.score, schedules.score, [
        { task_key: 'refresh_pipeline', pipeline_task: { pipeline_id: pipelineId, full_refresh: false } },
        notebookTask('infer', '04_infer_iforest', 'refresh_pipeline'),
      ]),
      job(JOB_NAMES.train, schedules.train, [notebookTask('train', '03_train_iforest')]),
    ],
  };
}

/**
 * The body of jobs/run-now: the token makes a retried call return the same run instead of starting
 * a second one (typed against Databricks' wire models in tests/unit/databricks-wire-types.test.ts).
 */
export const runNowBody = (jobId: number, idempotencyToken: string) => ({
  job_id: jobId,
  idempotency_token: idempotencyToken,
});
