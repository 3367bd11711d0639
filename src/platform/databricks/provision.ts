import { randomUUID } from 'node:crypto';
import type { DatabricksSettings } from '../../config.js';
import type { Logger } from '../../log.js';
import type { PlanItem, ProvisionResult } from '../port.js';
import { dashboardPath, publishedDashboardUrl } from './dashboard.js';
import {
  type DashboardSpec,
  JOB_NAMES,
  type JobSettings,
  MODEL_NAME,
  type PipelineSpec,
  type Resources,
  runNowBody,
  type WorkspaceAsset,
} from './resources.js';
import { DatabricksError, type DatabricksRest } from './rest.js';

interface JobListing {
  jobs?: Array<{ job_id: number; settings: JobSettings & Record<string, unknown> }>;
  has_more?: boolean;
  next_page_token?: string;
}

/**
 * Reconciles the workspace with the declarative definition (resources.ts): schema and volume
 * (Unity Catalog REST, so that no SQL warehouse has to start), the workspace folder, notebooks and
 * helper files (Workspace import), the pipeline (create, or edit by name) and the jobs (create, or
 * reset by name). `plan` changes nothing; `apply` makes the workspace match and is idempotent: a
 * second apply finds everything unchanged, and drift (e.g. a schedule edited in the UI) is put back.
 * Jobs are created only after a fresh look-up by name, so a create whose answer was lost is never
 * repeated into a duplicate.
 */
export function createProvisioner(deps: {
  rest: DatabricksRest;
  settings: DatabricksSettings;
  resources: Resources;
  logger: Logger;
}) {
  const { rest, settings, resources, logger } = deps;
  const schemaName = `${settings.catalog}.${settings.schema}`;
  const volumeName = `${schemaName}.${settings.volume}`;
  const modelName = `${schemaName}.${MODEL_NAME}`;

  async function exists(path: string): Promise<boolean> {
    try {
      await rest.get(path);
      return true;
    } catch (err) {
      if (err instanceof DatabricksError && err.status === 404) return false;
      throw err;
    }
  }

  async function workspaceContent(path: string): Promise<string | undefined> {
    try {
      const res = await rest.get<{ content?: string }>('/api/2.0/workspace/export', {
        path,
        format: 'SOURCE',
      });
      return Buffer.from(res.content ?? '', 'base64').toString('utf8');
    } catch (err) {
      if (err instanceof DatabricksError && err.status === 404) return undefined;
      throw err;
    }
  }

  async function findPipeline(): Promise<{ pipeline_id: string } | undefined> {
    const res = await rest.get<{ statuses?: Array<{ pipeline_id: string; name: string }> }>(
      '/api/2.0/pipelines',
      {
        filter: `name LIKE '${resources.pipeline.name}'`,
        max_results: 100,
      },
    );
    return res.statuses?.find((p) => p.name === resources.pipeline.name);
  }

  async function findJob(
    name: string,
  ): Promise<{ job_id: number; settings: JobSettings & Record<string, unknown> } | undefined> {
    const res = await rest.get<JobListing>('/api/2.2/jobs/list', { name, limit: 100, expand_tasks: true });
    return res.jobs?.find((j) => j.settings.name === name);
  }

  async function run(apply: boolean): Promise<ProvisionResult> {
    const items: PlanItem[] = [];
    const note = (item: PlanItem) => {
      items.push(item);
      logger.info({ ...item, apply }, `provision: ${item.kind} ${item.name}: ${item.action}`);
    };

    // Schema and volume (the default catalog `workspace` exists; Free Edition may forbid creating one).
    if (await exists(`/api/2.1/unity-catalog/schemas/${schemaName}`)) {
      note({ kind: 'schema', name: schemaName, action: 'unchanged' });
    } else {
      note({ kind: 'schema', name: schemaName, action: 'create' });
      if (apply) {
        await rest.post('/api/2.1/unity-catalog/schemas', requestBodies.createSchema(settings));
      }
    }
    if (await exists(`/api/2.1/unity-catalog/volumes/${volumeName}`)) {
      note({ kind: 'volume', name: volumeName, action: 'unchanged' });
    } else {
      note({ kind: 'volume', name: volumeName, action: 'create' });
      if (apply) {
        await rest.post('/api/2.1/unity-catalog/volumes', requestBodies.createVolume(settings));
      }
    }

    // The volume's labels/ folder (Files API, https://docs.databricks.com/api/workspace/files/createdirectory):
    // the pipeline's Auto Loader reads it (02_dlt_pipeline.py `labels`) and fails on a missing path,
    // and the bot writes its first file there only at the first click.
    const labelsFolder = `/Volumes/${settings.catalog}/${settings.schema}/${settings.volume}/labels`;
    const labelsPresent = await exists(`/api/2.0/fs/directories${labelsFolder}`);
    note({ kind: 'folder', name: labelsFolder, action: labelsPresent ? 'unchanged' : 'create' });
    if (apply && !labelsPresent) await rest.put(`/api/2.0/fs/directories${labelsFolder}`, undefined);

    // The workspace folder, notebooks and helper files.
    const folders = [
      ...new Set(resources.assets.map((a) => a.path.slice(0, a.path.lastIndexOf('/')))),
    ].sort();
    for (const folder of folders) {
      const present = await exists(`/api/2.0/workspace/get-status?path=${encodeURIComponent(folder)}`);
      note({ kind: 'folder', name: folder, action: present ? 'unchanged' : 'create' });
      if (apply && !present)
        await rest.post('/api/2.0/workspace/mkdirs', requestBodies.mkdirs(folder), { idempotent: true });
    }
    for (const asset of resources.assets) {
      const current = await workspaceContent(asset.path);
      const same = current !== undefined && normalise(current) === normalise(asset.content);
      note({
        kind: asset.kind,
        name: asset.path,
        action: current === undefined ? 'create' : same ? 'unchanged' : 'update',
      });
      if (apply && !same) {
        await rest.post('/api/2.0/workspace/import', requestBodies.importAsset(asset), { idempotent: true });
      }
    }

    // The pipeline: create, or edit by name when its spec differs.
    let pipelineId = (await findPipeline())?.pipeline_id;
    if (!pipelineId) {
      note({ kind: 'pipeline', name: resources.pipeline.name, action: 'create' });
      if (apply) {
        pipelineId = await createOnce(
          () =>
            rest
              .post<{ pipeline_id: string }>('/api/2.0/pipelines', resources.pipeline)
              .then((r) => r.pipeline_id),
          async () => (await findPipeline())?.pipeline_id,
        );
      }
    } else {
      const current = await rest.get<{ spec?: Partial<PipelineSpec> }>(`/api/2.0/pipelines/${pipelineId}`);
      const diff = differences(current.spec ?? {}, resources.pipeline);
      note({
        kind: 'pipeline',
        name: resources.pipeline.name,
        action: diff ? 'update' : 'unchanged',
        detail: diff,
      });
      if (apply && diff)
        await rest.put(
          `/api/2.0/pipelines/${pipelineId}`,
          requestBodies.editPipeline(resources.pipeline, pipelineId),
        );
    }

    // The jobs: create, or reset by name when their settings differ (drift included).
    for (const wanted of resources.jobs(pipelineId ?? '<the pipeline, once created>')) {
      const found = await findJob(wanted.name);
      if (!found) {
        note({ kind: 'job', name: wanted.name, action: 'create' });
        if (apply) {
          await createOnce(
            () => rest.post<{ job_id: number }>('/api/2.2/jobs/create', wanted).then((r) => r.job_id),
            async () => (await findJob(wanted.name))?.job_id,
          );
        }
        continue;
      }
      const diff = differences(found.settings, wanted);
      note({ kind: 'job', name: wanted.name, action: diff ? 'update' : 'unchanged', detail: diff });
      if (apply && diff) {
        await rest.post('/api/2.2/jobs/reset', requestBodies.resetJob(found.job_id, wanted), {
          idempotent: true,
        });
      }
    }
    // The dashboard: see reconcileDashboard.
    note(await reconcileDashboard(apply));
    // The first model: see firstTraining.
    const first = await firstTraining(apply);
    if (first) note(first);
    return { applied: apply, items };
  }

  /**
   * The AI/BI dashboard at `<workspace dir>/<name>.lvdash.json`, found by path (get-status answers
   * a dashboard with object_type DASHBOARD and its dashboard_id as resource_id,
   * https://docs.databricks.com/dashboards/tutorials/workspace-lakeview-api). Absent: created, then
   * published. Present: its draft is read (Lakeview get) and compared with the definition, the
   * serialized content as JSON projected onto the generated shape (the service may add defaults of
   * its own, as jobs/get does), plus the display name and the warehouse; any difference is drift,
   * put back by an update (PATCH). The published version is then read (get published): it is
   * published again when the draft was written, when it was never published, when it runs on another
   * warehouse or with embedded credentials, or when the draft changed after it was published (someone
   * published their own edit, then edited the draft back). Otherwise nothing is written.
   *
   * Published without embedded credentials (`embed_credentials: false`; the API's default is true,
   * https://docs.databricks.com/api/workspace/lakeview/publish): every viewer's queries run as that
   * viewer, so the dashboard shows only what the viewer may SELECT, and the identity that provisions
   * (which can write the schema and run the jobs) is never lent to whoever opens a shared link.
   */
  async function reconcileDashboard(apply: boolean): Promise<PlanItem> {
    const { path, spec } = resources.dashboard;
    const item = (action: PlanItem['action'], detail?: string): PlanItem => ({
      kind: 'dashboard',
      name: path,
      action,
      ...(detail ? { detail } : {}),
    });
    const found = await findDashboardId(rest, path);
    if (!found) {
      if (apply) {
        const id = await createOnce(
          () =>
            rest
              .post<{ dashboard_id?: string }>(
                '/api/2.0/lakeview/dashboards',
                requestBodies.createDashboard(spec),
              )
              .then((r) => {
                if (!r.dashboard_id) throw new Error('Lakeview create answered without a dashboard_id');
                return r.dashboard_id;
              }),
          () => findDashboardId(rest, path),
        );
        await publish(id, spec);
        return item('create', `published: ${publishedDashboardUrl(settings.host, id)}`);
      }
      return item('create');
    }
    const draft = await rest.get<LakeviewDashboard>(`/api/2.0/lakeview/dashboards/${found}`);
    const drift = dashboardDrift(draft, spec);
    const published = await getPublished(found);
    const republish = drift.length > 0 ? undefined : publishReason(draft, published, spec);
    if (drift.length === 0 && !republish) return item('unchanged');
    if (apply) {
      if (drift.length > 0) {
        await rest.patch(`/api/2.0/lakeview/dashboards/${found}`, requestBodies.updateDashboard(spec));
      }
      await publish(found, spec);
    }
    return item(
      'update',
      drift.length > 0 ? `differs in ${drift.join(', ')}` : `publish again: ${republish}`,
    );
  }

  async function getPublished(id: string): Promise<PublishedDashboard | undefined> {
    try {
      return await rest.get<PublishedDashboard>(`/api/2.0/lakeview/dashboards/${id}/published`);
    } catch (err) {
      if (err instanceof DatabricksError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Publishing the same draft twice gives the same published dashboard: safe to retry. */
  async function publish(id: string, spec: DashboardSpec): Promise<void> {
    await rest.post(`/api/2.0/lakeview/dashboards/${id}/published`, requestBodies.publishDashboard(spec), {
      idempotent: true,
    });
  }

  /** Whether the Unity Catalog model has a version (a model may exist with none). */
  async function hasModelVersion(): Promise<boolean> {
    const modelPath = `/api/2.1/unity-catalog/models/${modelName}`;
    // Get a registered model: a missing one is 404 RESOURCE_DOES_NOT_EXIST
    // (https://docs.databricks.com/api/uc-registered-models/v1/get-registered-model).
    if (!(await exists(modelPath))) return false;
    // List model versions: a page may be empty and still carry a next_page_token; only its absence
    // ends the list (https://docs.databricks.com/api/uc-registered-models/v1/list-model-versions).
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      let page: { model_versions?: unknown[]; next_page_token?: string };
      try {
        page = await rest.get(`${modelPath}/versions`, {
          max_results: 1,
          ...(pageToken ? { page_token: pageToken } : {}),
        });
      } catch (err) {
        if (err instanceof DatabricksError && err.status === 404) return false; // deleted meanwhile
        throw err;
      }
      if ((page.model_versions ?? []).length > 0) return true;
      pageToken = page.next_page_token || undefined;
      if (pageToken !== undefined) {
        if (seen.has(pageToken)) throw new Error(`the model versions list repeated page token ${pageToken}`);
        seen.add(pageToken);
      }
    } while (pageToken !== undefined);
    return false;
  }

  /**
   * On a workspace where the model has no version yet, the scoring job has nothing to score with
   * until the daily training run: apply starts the training job once (run-now, after the jobs
   * exist). A second apply starts nothing while that run is active (runs/list `active_only`:
   * QUEUED, PENDING, RUNNING, TERMINATING, https://docs.databricks.com/api/workspace/jobs/listruns)
   * or once a version exists. The idempotency token makes a retried run-now return the same run
   * instead of starting a second one (https://docs.databricks.com/api/workspace/jobs/runnow), as
   * retrain does.
   */
  async function firstTraining(apply: boolean): Promise<PlanItem | undefined> {
    const name = `${JOB_NAMES.train} (first run)`;
    const job = await findJob(JOB_NAMES.train);
    // The active run is read before the versions: a training run registers its version before it
    // ends, so a run that ends between the two reads is seen with its version, never as neither.
    const running = job
      ? (
          await rest.get<{ runs?: FirstRun[] }>('/api/2.2/jobs/runs/list', {
            job_id: job.job_id,
            active_only: true,
            limit: 1,
          })
        ).runs?.[0]
      : undefined;
    if (await hasModelVersion()) return undefined;
    if (running) {
      return {
        kind: 'job',
        name,
        action: 'unchanged',
        detail: `no model yet: the first training run ${running.run_id} is ${describeRun(running)}`,
      };
    }
    if (!apply) {
      return {
        kind: 'job',
        name,
        action: 'create',
        detail: 'train: start the first training run (no model yet)',
      };
    }
    if (!job) {
      return {
        kind: 'job',
        name,
        action: 'unchanged',
        detail: `no model yet: ${JOB_NAMES.train} is not listed yet; apply again to start the first training run`,
      };
    }
    const started = await rest.post<{ run_id: number }>(
      '/api/2.2/jobs/run-now',
      runNowBody(job.job_id, randomUUID()),
      { idempotent: true },
    );
    const run = await rest
      .get<FirstRun>('/api/2.2/jobs/runs/get', { run_id: started.run_id })
      .catch(() => ({ run_id: started.run_id }) as FirstRun);
    return {
      kind: 'job',
      name,
      action: 'create',
      detail: `train: started the first training run ${started.run_id} (${describeRun(run)})`,
    };
  }

  return { plan: () => run(false), apply: () => run(true) };
}

/** The Lakeview Dashboard object as get answers it (https://docs.databricks.com/api/workspace/lakeview/get). */
interface LakeviewDashboard {
  dashboard_id?: string;
  display_name?: string;
  serialized_dashboard?: string;
  warehouse_id?: string;
  update_time?: string;
}

/** The PublishedDashboard object (https://docs.databricks.com/api/workspace/lakeview/getpublished). */
interface PublishedDashboard {
  display_name?: string;
  warehouse_id?: string;
  embed_credentials?: boolean;
  revision_create_time?: string;
}

/**
 * The dashboard_id of the AI/BI dashboard at a workspace path (get-status: object_type DASHBOARD,
 * resource_id the dashboard_id, https://docs.databricks.com/dashboards/tutorials/workspace-lakeview-api),
 * or undefined when the path is free. Another kind of object there is an error: the provisioner
 * would otherwise create a second one beside it.
 */
export async function findDashboardId(rest: DatabricksRest, path: string): Promise<string | undefined> {
  let status: { object_type?: string; resource_id?: string };
  try {
    status = await rest.get('/api/2.0/workspace/get-status', { path });
  } catch (err) {
    if (err instanceof DatabricksError && err.status === 404) return undefined;
    throw err;
  }
  if (status.object_type !== 'DASHBOARD' || !status.resource_id) {
    throw new Error(
      `${path} is a ${status.object_type ?? 'workspace object'}, not an AI/BI dashboard: move or delete it, then apply again`,
    );
  }
  return status.resource_id;
}

/**
 * The published dashboard's address (`<host>/dashboardsv3/<id>/published`), or undefined while it
 * is not provisioned or not published: for status and the chat command.
 */
export async function publishedDashboardAddress(
  rest: DatabricksRest,
  settings: Pick<DatabricksSettings, 'host' | 'workspaceDir'>,
): Promise<string | undefined> {
  const id = await findDashboardId(rest, dashboardPath(settings.workspaceDir));
  if (!id) return undefined;
  try {
    await rest.get(`/api/2.0/lakeview/dashboards/${id}/published`);
  } catch (err) {
    if (err instanceof DatabricksError && err.status === 404) return undefined;
    throw err;
  }
  return publishedDashboardUrl(settings.host, id);
}

/** The fields of the draft that differ from the definition (`serialized_dashboard.pages[overview]…`). */
export function dashboardDrift(draft: LakeviewDashboard, spec: DashboardSpec): string[] {
  const drift: string[] = [];
  if (draft.display_name !== spec.display_name) drift.push('display_name');
  if (draft.warehouse_id !== spec.warehouse_id) drift.push('warehouse_id');
  let content: unknown;
  try {
    content = JSON.parse(draft.serialized_dashboard ?? '');
  } catch {
    return [...drift, 'serialized_dashboard (not JSON)'];
  }
  const changed = differencesOf(content, JSON.parse(spec.serialized_dashboard));
  return [...drift, ...changed.map((p) => `serialized_dashboard.${p}`)];
}

/** Why the published dashboard must be published again, or undefined when it is current. */
function publishReason(
  draft: LakeviewDashboard,
  published: PublishedDashboard | undefined,
  spec: DashboardSpec,
): string | undefined {
  if (!published) return 'never published';
  if (published.warehouse_id !== spec.warehouse_id) return `published on warehouse ${published.warehouse_id}`;
  if (published.embed_credentials !== false) return 'published with embedded credentials';
  const edited = Date.parse(draft.update_time ?? '');
  const revised = Date.parse(published.revision_create_time ?? '');
  if (Number.isFinite(edited) && Number.isFinite(revised) && edited > revised) {
    return 'the draft changed after it was published';
  }
  return undefined;
}

interface FirstRun {
  run_id: number;
  state?: { life_cycle_state?: string };
  run_page_url?: string;
}

/** A run's life cycle state and page, as runs/get and runs/list answer them. */
function describeRun(run: FirstRun): string {
  const state = (run.state?.life_cycle_state ?? 'PENDING').toLowerCase().replace(/_/g, ' ');
  return run.run_page_url ? `${state}: ${run.run_page_url}` : state;
}

/**
 * A create that is not idempotent: if it fails in a way that may hide a success (a lost answer),
 * look the object up before reporting the failure, and never send the create twice.
 */
async function createOnce<T>(create: () => Promise<T>, lookUp: () => Promise<T | undefined>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    const found = await lookUp().catch(() => undefined);
    if (found !== undefined) return found;
    throw err;
  }
}

/**
 * Compares the projection of `actual` onto the wanted shape with the wanted value, recursively,
 * and names the paths that differ (`tasks[infer].notebook_task.notebook_path`): only the fields
 * the definition sets count. The workspace fills in defaults on read (Jobs API 2.2 `jobs/get`:
 * `run_if`, `timeout_seconds`, `email_notifications`, `webhook_notifications`, `max_retries`,
 * `format`, `queue`…, https://docs.databricks.com/api/workspace/jobs/get; Pipelines API
 * `GET /api/2.0/pipelines/{id}`: `edition`, `photon`…,
 * https://docs.databricks.com/api/workspace/pipelines/get), and those are not drift.
 *
 * - Arrays of objects that all have a `task_key` (tasks, depends_on) or a `name` (job parameters)
 *   are matched by that key, not by position: the order the API returns tasks in is not
 *   documented (the Databricks CLI and the Terraform provider sort them by task_key,
 *   databricks/cli#3212). A wanted element that is not there is drift (`(missing)`), and so is one
 *   the definition lacks (`(extra)`: a task added by hand). Other arrays compare by position.
 * - A field the answer leaves out counts as its zero value when that is what the definition wants
 *   (false, 0, "", [], {}): the API's JSON is proto3's, which may omit a field at its zero value
 *   ("Empty lists are omitted", as the Jobs API does).
 */
export function differencesOf(actual: unknown, wanted: unknown, path = ''): string[] {
  if (actual === undefined && isZero(wanted)) return [];
  if (Array.isArray(wanted) && Array.isArray(actual)) {
    const key = arrayKey(wanted);
    if (!key) {
      if (actual.length !== wanted.length) return [path];
      return wanted.flatMap((w, i) => differencesOf(actual[i], w, `${path}[${i}]`));
    }
    const byKey = new Map(actual.map((a) => [keyOf(a, key), a] as const));
    const wantedKeys = new Set(wanted.map((w) => keyOf(w, key)));
    return [
      ...wanted.flatMap((w) => {
        const at = `${path}[${keyOf(w, key)}]`;
        return byKey.has(keyOf(w, key))
          ? differencesOf(byKey.get(keyOf(w, key)), w, at)
          : [`${at} (missing)`];
      }),
      ...actual.filter((a) => !wantedKeys.has(keyOf(a, key))).map((a) => `${path}[${keyOf(a, key)}] (extra)`),
    ];
  }
  if (isRecord(wanted) && isRecord(actual)) {
    return Object.keys(wanted).flatMap((k) => differencesOf(actual[k], wanted[k], path ? `${path}.${k}` : k));
  }
  return canonical(actual) === canonical(wanted) ? [] : [path || '(the whole value)'];
}

/** Names the fields where `actual`, projected onto the wanted shape, differs; or undefined. */
function differences(actual: unknown, wanted: object): string | undefined {
  const changed = differencesOf(actual, wanted);
  return changed.length > 0 ? `differs in ${changed.join(', ')}` : undefined;
}

function isZero(value: unknown): boolean {
  if (value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return isRecord(value) && Object.keys(value).length === 0;
}

function arrayKey(items: unknown[]): 'task_key' | 'name' | undefined {
  if (items.length === 0 || !items.every(isRecord)) return undefined;
  if (items.every((i) => typeof i.task_key === 'string')) return 'task_key';
  if (items.every((i) => typeof i.name === 'string')) return 'name';
  return undefined;
}

function keyOf(item: unknown, key: string): string {
  return isRecord(item) ? String(item[key]) : JSON.stringify(item);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function canonical(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
          )
        : v,
    ) ?? 'undefined'
  );
}

/** Workspace export may differ in trailing whitespace only. */
function normalise(text: string): string {
  return text.replace(/\r\n/g, '\n').trimEnd();
}

/**
 * The bodies the provisioner sends (create schema / volume, workspace mkdirs / import, pipeline
 * edit, job reset; pipeline create and job create send resources.ts's definitions as they are).
 * Exported so that tests/unit/databricks-wire-types.test.ts types them against Databricks' wire models.
 */
export const requestBodies = {
  createSchema: (settings: Pick<DatabricksSettings, 'catalog' | 'schema'>) => ({
    catalog_name: settings.catalog,
    name: settings.schema,
    comment: 'crypto-risk-monitor: landing volume, pipeline tables, anomalies, model',
  }),
  createVolume: (settings: Pick<DatabricksSettings, 'catalog' | 'schema' | 'volume'>) => ({
    catalog_name: settings.catalog,
    schema_name: settings.schema,
    name: settings.volume,
    volume_type: 'MANAGED' as const,
    comment: 'crypto-risk-monitor: landing files (JSONL, one per ingest batch)',
  }),
  mkdirs: (path: string) => ({ path }),
  importAsset: (asset: WorkspaceAsset) => ({
    path: asset.path,
    content: Buffer.from(asset.content).toString('base64'),
    overwrite: true,
    ...(asset.kind === 'notebook'
      ? { format: 'SOURCE' as const, language: 'PYTHON' as const }
      : { format: 'AUTO' as const }),
  }),
  editPipeline: (pipeline: PipelineSpec, id: string) => ({ ...pipeline, id }),
  createDashboard: (spec: DashboardSpec) => ({ ...spec }),
  /** Update: the fields the definition sets (parent_path moves nothing; the path finds it). */
  updateDashboard: (spec: DashboardSpec) => ({
    display_name: spec.display_name,
    serialized_dashboard: spec.serialized_dashboard,
    warehouse_id: spec.warehouse_id,
  }),
  publishDashboard: (spec: DashboardSpec) => ({ embed_credentials: false, warehouse_id: spec.warehouse_id }),
  resetJob: (jobId: number, settings: JobSettings) => ({ job_id: jobId, new_settings: settings }),
};
