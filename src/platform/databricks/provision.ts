import type { DatabricksSettings } from '../../config.js';
import type { Logger } from '../../log.js';
import type { PlanItem, ProvisionResult } from '../port.js';
import type { JobSettings, PipelineSpec, Resources } from './resources.js';
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
        await rest.post('/api/2.1/unity-catalog/schemas', {
          catalog_name: settings.catalog,
          name: settings.schema,
          comment: 'crypto-risk-monitor: landing volume, pipeline tables, anomalies, model',
        });
      }
    }
    if (await exists(`/api/2.1/unity-catalog/volumes/${volumeName}`)) {
      note({ kind: 'volume', name: volumeName, action: 'unchanged' });
    } else {
      note({ kind: 'volume', name: volumeName, action: 'create' });
      if (apply) {
        await rest.post('/api/2.1/unity-catalog/volumes', {
          catalog_name: settings.catalog,
          schema_name: settings.schema,
          name: settings.volume,
          volume_type: 'MANAGED',
          comment: 'crypto-risk-monitor: landing files (JSONL, one per ingest batch)',
        });
      }
    }

    // The workspace folder, notebooks and helper files.
    const folders = [
      ...new Set(resources.assets.map((a) => a.path.slice(0, a.path.lastIndexOf('/')))),
    ].sort();
    for (const folder of folders) {
      const present = await exists(`/api/2.0/workspace/get-status?path=${encodeURIComponent(folder)}`);
      note({ kind: 'folder', name: folder, action: present ? 'unchanged' : 'create' });
      if (apply && !present)
        await rest.post('/api/2.0/workspace/mkdirs', { path: folder }, { idempotent: true });
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
        await rest.post(
          '/api/2.0/workspace/import',
          {
            path: asset.path,
            content: Buffer.from(asset.content).toString('base64'),
            overwrite: true,
            ...(asset.kind === 'notebook' ? { format: 'SOURCE', language: 'PYTHON' } : { format: 'AUTO' }),
          },
          { idempotent: true },
        );
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
      const diff = differences(pick(current.spec ?? {}, resources.pipeline), resources.pipeline);
      note({
        kind: 'pipeline',
        name: resources.pipeline.name,
        action: diff ? 'update' : 'unchanged',
        detail: diff,
      });
      if (apply && diff)
        await rest.put(`/api/2.0/pipelines/${pipelineId}`, { ...resources.pipeline, id: pipelineId });
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
      const diff = differences(pick(found.settings, wanted), wanted);
      note({ kind: 'job', name: wanted.name, action: diff ? 'update' : 'unchanged', detail: diff });
      if (apply && diff) {
        await rest.post(
          '/api/2.2/jobs/reset',
          { job_id: found.job_id, new_settings: wanted },
          { idempotent: true },
        );
      }
    }
    return { applied: apply, items };
  }

  return { plan: () => run(false), apply: () => run(true) };
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

/** The fields of `actual` that the wanted definition sets (the workspace adds its own). */
function pick<T extends object>(actual: Partial<T> & Record<string, unknown>, wanted: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(wanted)) out[key] = (actual as Record<string, unknown>)[key];
  return out as Partial<T>;
}

/** Names the top-level fields that differ (compared as canonical JSON), or undefined. */
function differences(actual: object, wanted: object): string | undefined {
  const changed = Object.keys(wanted).filter(
    (key) =>
      canonical((actual as Record<string, unknown>)[key]) !==
      canonical((wanted as Record<string, unknown>)[key]),
  );
  return changed.length > 0 ? `differs in ${changed.join(', ')}` : undefined;
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** Workspace export may differ in trailing whitespace only. */
function normalise(text: string): string {
  return text.replace(/\r\n/g, '\n').trimEnd();
}
