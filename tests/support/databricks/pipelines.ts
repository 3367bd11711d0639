import { randomUUID } from 'node:crypto';
import type { pipelines as dlt } from '@databricks/sdk-experimental';
import {
  ApiError,
  type Ctx,
  clone,
  doesNotExist,
  invalid,
  type JsonObject,
  ok,
  optBool,
  optInt,
  optString,
  pageOffset,
  paginate,
  type Route,
  route,
} from './core.js';
import { filterEvents, filterPipelines } from './pipeline-filters.js';
import { answer, wire } from './wire.js';

/**
 * Pipelines API 2.0 (Lakeflow Declarative Pipelines): create, list with `filter=name LIKE '…'`,
 * get, edit (PUT replaces the whole spec), delete, stop, updates (start, list, get) and events.
 *
 * Facts this follows (Databricks REST reference, pipelines/v2): list answers `statuses`, takes
 * `max_results` (default 25, above 100 is an error) and one filter, `name LIKE '<pattern>'` (with
 * `%` wildcards) or `notebook='<path>'`; composite filters are not supported. Create answers
 * `{pipeline_id, effective_settings}` and, unless `allow_duplicate_names`, fails when another
 * pipeline has the name. Starting an update while one is active fails and leaves the active one
 * running. Update states: CREATED, WAITING_FOR_RESOURCES, INITIALIZING, SETTING_UP_TABLES,
 * RUNNING, then COMPLETED, FAILED or CANCELED. `latest_updates[].creation_time` is an ISO string,
 * `update.creation_time` epoch milliseconds. A missing pipeline is 404 RESOURCE_DOES_NOT_EXIST.
 */

export type UpdateResult = 'COMPLETED' | 'FAILED';

export type UpdateHandler = (
  pipeline: { pipeline_id: string; spec: JsonObject },
  update: { update_id: string; full_refresh: boolean },
) => Promise<UpdateResult> | UpdateResult;

type UpdateState =
  | 'CREATED'
  | 'WAITING_FOR_RESOURCES'
  | 'INITIALIZING'
  | 'SETTING_UP_TABLES'
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELED';

const STEPS: UpdateState[] = [
  'CREATED',
  'WAITING_FOR_RESOURCES',
  'INITIALIZING',
  'SETTING_UP_TABLES',
  'RUNNING',
];
const DONE: UpdateState[] = ['COMPLETED', 'FAILED', 'CANCELED'];

interface UpdateRecord {
  update_id: string;
  state: UpdateState;
  creation_time: number;
  full_refresh: boolean;
  cause: dlt.UpdateInfoCause;
  validate_only: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * An event as the events list answers it: the SDK's PipelineEvent, plus `details`, which the REST
 * reference's PipelineEvent does not list but the documented event log schema has (a JSON object whose
 * shape depends on event_type, https://docs.databricks.com/aws/dlt/monitor-event-log-schema).
 */
type EventsPage = Omit<dlt.ListPipelineEventsResponse, 'events'> & {
  events?: Array<dlt.PipelineEvent & { details?: JsonObject }>;
};

export interface EventRecord {
  id: string;
  timestamp: number;
  level: 'INFO' | 'WARN' | 'ERROR';
  event_type: string;
  message: string;
  update_id: string;
  details: JsonObject;
  error?: dlt.ErrorDetail;
}

export interface PipelineRecord {
  pipeline_id: string;
  spec: JsonObject;
  last_modified: number;
  updates: UpdateRecord[];
  events: EventRecord[];
}

export function createPipelines(ctx: Ctx, options: { updateMs: number }) {
  const pipelines = new Map<string, PipelineRecord>();
  let handler: UpdateHandler = () =>
    new Promise<UpdateResult>((resolve) => ctx.timers.after(options.updateMs, () => resolve('COMPLETED')));

  function pipeline(id: string): PipelineRecord {
    const found = pipelines.get(id);
    if (!found) throw doesNotExist(`The specified pipeline ${id} was not found.`);
    return found;
  }

  const nameOf = (p: PipelineRecord) => String(p.spec.name ?? '');
  const active = (p: PipelineRecord) => p.updates.find((u) => !DONE.includes(u.state));
  const latest = (p: PipelineRecord) => [...p.updates].sort((a, b) => b.creation_time - a.creation_time);

  function state(p: PipelineRecord): dlt.PipelineState {
    if (active(p)) return 'RUNNING';
    return latest(p)[0]?.state === 'FAILED' ? 'FAILED' : 'IDLE';
  }

  function checkName(name: unknown, allowDuplicates: boolean, self?: string): void {
    if (allowDuplicates) return;
    const taken = [...pipelines.values()].find((p) => p.pipeline_id !== self && nameOf(p) === name);
    if (taken) {
      throw new ApiError(
        409,
        'RESOURCE_CONFLICT',
        `Pipeline with name '${String(name)}' already exists: ${taken.pipeline_id}.`,
      );
    }
  }

  function specFrom(body: JsonObject, id: string): JsonObject {
    const spec = clone(body);
    delete spec.allow_duplicate_names;
    delete spec.dry_run;
    delete spec.pipeline_id;
    delete spec.expected_last_modified;
    spec.id = id;
    spec.name ??= `Pipeline ${id}`;
    return spec;
  }

  function event(
    p: PipelineRecord,
    u: UpdateRecord,
    e: Omit<EventRecord, 'id' | 'timestamp' | 'update_id'>,
  ): void {
    p.events.push({ id: randomUUID(), timestamp: ctx.now(), update_id: u.update_id, ...e });
  }

  function progress(p: PipelineRecord, u: UpdateRecord, next: UpdateState, error?: string): void {
    u.state = next;
    event(p, u, {
      level: next === 'FAILED' ? 'ERROR' : 'INFO',
      event_type: 'update_progress',
      message: `Update ${u.update_id.slice(0, 6)} is ${next}.`,
      details: { update_progress: { state: next } },
      ...(error
        ? { error: { fatal: true, exceptions: [{ class_name: 'EmulatedUpdateFailure', message: error }] } }
        : {}),
    });
  }

  function advance(p: PipelineRecord, u: UpdateRecord, step: number): void {
    if (DONE.includes(u.state)) return;
    const next = STEPS[step];
    if (next === undefined) return;
    progress(p, u, next);
    if (next !== 'RUNNING') {
      u.timer = ctx.timers.after(5, () => advance(p, u, step + 1));
      return;
    }
    Promise.resolve()
      .then(() =>
        handler(
          { pipeline_id: p.pipeline_id, spec: clone(p.spec) },
          { update_id: u.update_id, full_refresh: u.full_refresh },
        ),
      )
      .then(
        (result) => {
          if (u.state === 'RUNNING')
            progress(p, u, result, result === 'FAILED' ? 'The update failed.' : undefined);
        },
        (err: unknown) => {
          if (u.state === 'RUNNING')
            progress(p, u, 'FAILED', err instanceof Error ? err.message : String(err));
        },
      );
  }

  function statusJson(p: PipelineRecord): dlt.PipelineStateInfo {
    const updates = latest(p).slice(0, 5);
    return wire<dlt.PipelineStateInfo>()({
      pipeline_id: p.pipeline_id,
      name: nameOf(p),
      state: state(p),
      creator_user_name: ctx.userName,
      run_as_user_name: ctx.userName,
      ...(updates.length > 0
        ? {
            latest_updates: updates.map((u) => ({
              update_id: u.update_id,
              state: u.state,
              creation_time: new Date(u.creation_time).toISOString(),
            })),
          }
        : {}),
    });
  }

  function updateJson(p: PipelineRecord, u: UpdateRecord): dlt.UpdateInfo {
    return wire<dlt.UpdateInfo>()({
      pipeline_id: p.pipeline_id,
      update_id: u.update_id,
      config: clone(p.spec) as dlt.PipelineSpec,
      cause: u.cause,
      state: u.state,
      creation_time: u.creation_time,
      full_refresh: u.full_refresh,
      validate_only: u.validate_only,
    });
  }

  const routes: Route[] = [
    route('POST', /^\/api\/2\.0\/pipelines$/, (req) => {
      const body = req.json();
      const id = randomUUID();
      const spec = specFrom(body, id);
      checkName(spec.name, optBool(body, 'allow_duplicate_names') ?? false);
      if (optBool(body, 'dry_run'))
        return answer<dlt.CreatePipelineResponse>()({ effective_settings: readBack(spec) });
      pipelines.set(id, { pipeline_id: id, spec, last_modified: ctx.now(), updates: [], events: [] });
      return answer<dlt.CreatePipelineResponse>()({ pipeline_id: id, effective_settings: readBack(spec) });
    }),
    route('GET', /^\/api\/2\.0\/pipelines$/, (req) => {
      const q = req.query;
      const max = optInt(q, 'max_results') ?? 25;
      if (max < 1 || max > 100) throw invalid(`max_results must be between 1 and 100, got ${max}.`);
      const match = filterPipelines(optString(q, 'filter'));
      const all = [...pipelines.values()]
        .filter(match)
        .sort((a, b) => a.pipeline_id.localeCompare(b.pipeline_id));
      const { page, next } = paginate(all, pageOffset(optString(q, 'page_token')), max);
      return answer<dlt.ListPipelinesResponse>()({
        ...(page.length > 0 ? { statuses: page.map(statusJson) } : {}),
        ...(next ? { next_page_token: next } : {}),
      });
    }),
    route('GET', /^\/api\/2\.0\/pipelines\/([^/]+)$/, (_req, [id = '']) => {
      const p = pipeline(id);
      const failed = latest(p)[0]?.state === 'FAILED';
      return answer<dlt.GetPipelineResponse>()({
        ...statusJson(p),
        spec: readBack(p.spec),
        health: failed ? ('UNHEALTHY' as const) : ('HEALTHY' as const),
        last_modified: p.last_modified,
        ...(failed ? { cause: 'The last update failed.' } : {}),
      });
    }),
    route('PUT', /^\/api\/2\.0\/pipelines\/([^/]+)$/, (req, [id = '']) => {
      const p = pipeline(id);
      const body = req.json();
      const claimed = optString(body, 'pipeline_id') ?? optString(body, 'id');
      if (claimed !== undefined && claimed !== id)
        throw invalid(`pipeline_id ${claimed} does not match the path.`);
      const spec = specFrom(body, id);
      checkName(spec.name, optBool(body, 'allow_duplicate_names') ?? false, id);
      p.spec = spec;
      p.last_modified = ctx.now();
      return ok({});
    }),
    route('DELETE', /^\/api\/2\.0\/pipelines\/([^/]+)$/, (_req, [id = '']) => {
      const p = pipeline(id);
      for (const u of p.updates) ctx.timers.cancel(u.timer);
      pipelines.delete(id);
      return ok({});
    }),
    route('POST', /^\/api\/2\.0\/pipelines\/([^/]+)\/stop$/, (_req, [id = '']) => {
      const p = pipeline(id);
      const u = active(p);
      if (u) {
        ctx.timers.cancel(u.timer);
        progress(p, u, 'CANCELED');
      }
      return ok({});
    }),
    route('POST', /^\/api\/2\.0\/pipelines\/([^/]+)\/updates$/, (req, [id = '']) => {
      const p = pipeline(id);
      const body = req.json();
      const running = active(p);
      if (running) {
        throw new ApiError(
          409,
          'RESOURCE_CONFLICT',
          `Cannot start a new update: update ${running.update_id} of pipeline ${id} is still active.`,
        );
      }
      const u: UpdateRecord = {
        update_id: randomUUID(),
        state: 'CREATED',
        creation_time: ctx.now(),
        full_refresh: optBool(body, 'full_refresh') ?? false,
        cause: (optString(body, 'cause') ?? 'API_CALL') as dlt.UpdateInfoCause,
        validate_only: optBool(body, 'validate_only') ?? false,
      };
      p.updates.push(u);
      event(p, u, {
        level: 'INFO',
        event_type: 'create_update',
        message: `Update ${u.update_id.slice(0, 6)} started by ${u.cause}.`,
        details: { create_update: { cause: u.cause, full_refresh: u.full_refresh } },
      });
      advance(p, u, 0);
      return answer<dlt.StartUpdateResponse>()({ update_id: u.update_id });
    }),
    route('GET', /^\/api\/2\.0\/pipelines\/([^/]+)\/updates$/, (req, [id = '']) => {
      const p = pipeline(id);
      const max = optInt(req.query, 'max_results') ?? 25;
      const { page, next } = paginate(latest(p), pageOffset(optString(req.query, 'page_token')), max);
      return answer<dlt.ListUpdatesResponse>()({
        ...(page.length > 0 ? { updates: page.map((u) => updateJson(p, u)) } : {}),
        ...(next ? { next_page_token: next } : {}),
      });
    }),
    route('GET', /^\/api\/2\.0\/pipelines\/([^/]+)\/updates\/([^/]+)$/, (_req, [id = '', updateId = '']) => {
      const p = pipeline(id);
      const u = p.updates.find((x) => x.update_id === updateId);
      if (!u) throw doesNotExist(`The specified update ${updateId} was not found.`);
      return answer<dlt.GetUpdateResponse>()({ update: updateJson(p, u) });
    }),
    route('GET', /^\/api\/2\.0\/pipelines\/([^/]+)\/events$/, (req, [id = '']) => {
      const p = pipeline(id);
      const q = req.query;
      const max = optInt(q, 'max_results') ?? 100;
      if (max < 1 || max > 1000) throw invalid(`max_results must be between 1 and 1000, got ${max}.`);
      const ascending = (q.getAll('order_by').join(',') || 'timestamp desc').toLowerCase().includes('asc');
      const match = filterEvents(optString(q, 'filter'));
      const all = p.events
        .map((e, i) => ({ e, i }))
        .filter(({ e }) => match(e))
        .sort((a, b) => (ascending ? 1 : -1) * (a.e.timestamp - b.e.timestamp || a.i - b.i))
        .map(({ e }) => e);
      const { page, next } = paginate(all, pageOffset(optString(q, 'page_token')), max);
      return answer<EventsPage>()({
        ...(page.length > 0
          ? {
              events: page.map((e) => ({
                id: e.id,
                origin: { pipeline_id: p.pipeline_id, pipeline_name: nameOf(p), update_id: e.update_id },
                timestamp: new Date(e.timestamp).toISOString(),
                message: e.message,
                level: e.level,
                event_type: e.event_type,
                maturity_level: 'STABLE',
                details: e.details,
                ...(e.error ? { error: e.error } : {}),
              })),
            }
          : {}),
        ...(next ? { next_page_token: next } : {}),
      });
    }),
  ];

  return {
    routes,
    onUpdate(h: UpdateHandler): void {
      handler = h;
    },
    pipelines: () =>
      [...pipelines.values()].map((p) => ({ pipeline_id: p.pipeline_id, spec: clone(p.spec) })),
  };
}

export type PipelinesArea = ReturnType<typeof createPipelines>;

/**
 * The spec as `GET /api/2.0/pipelines/{id}` answers it (and create's `effective_settings`): what
 * was sent plus the settings the service fills in. Defaults from the pipeline properties reference
 * (https://docs.databricks.com/delta-live-tables/properties.html; the API reference,
 * https://docs.databricks.com/api/workspace/pipelines/get, lists the same PipelineSpec fields):
 * `development` true ("The default value is true": a client that omits it gets a development
 * pipeline), `continuous` false, `channel` CURRENT, `edition` ADVANCED, `photon` false. Not stated
 * there, so the stricter choice (echoed on read, so a client must not take it for drift):
 * `serverless` false (classic compute unless asked).
 */
function readBack(stored: JsonObject): dlt.PipelineSpec {
  const spec = clone(stored);
  spec.development ??= true;
  spec.continuous ??= false;
  spec.channel ??= 'CURRENT';
  spec.edition ??= 'ADVANCED';
  spec.photon ??= false;
  spec.serverless ??= false;
  return spec;
}
