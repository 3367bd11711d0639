import type { jobs as Wire } from '@databricks/sdk-experimental';
import {
  type Ctx,
  clone,
  invalid,
  isObject,
  type JsonObject,
  nextId,
  ok,
  optBool,
  optInt,
  optObject,
  optString,
  pageOffset,
  paginate,
  type Route,
  reqInt,
  route,
} from './core.js';
import { answer, wire } from './wire.js';

/**
 * Jobs API 2.2: jobs (create, reset, update, get, list, delete) and runs (run-now, runs/get,
 * runs/list, runs/cancel), with runs that move through their states over time.
 *
 * Facts this follows (Databricks docs, "Updating from Jobs API 2.1 to 2.2" and "Jobs queueing and
 * concurrency settings"): jobs created with 2.2 queue by default (`queue.enabled` false turns it
 * off); max_concurrent_runs defaults to 1 and 0 skips every new run; a run over the limit is
 * QUEUED when queueing is on, else SKIPPED. `number_in_job` equals `run_id`. runs/list `limit` is
 * 1..25 (0 = the maximum), jobs/list `limit` 1..100, default 20 for both. The jobs/list `name`
 * filter is exact and case-insensitive. A missing job answers 400 INVALID_PARAMETER_VALUE
 * "Job N does not exist." (the SDKs remap exactly that answer to RESOURCE_DOES_NOT_EXIST).
 * Empty lists are omitted from answers (`{"has_more": false}`), as proto3 JSON does.
 */

export type RunResult = 'SUCCESS' | 'FAILED';

export interface JobSettings {
  [key: string]: unknown;
  name?: string;
}

/** How a run ended, optionally with the exit values (`dbutils.notebook.exit`) of its tasks by task_key. */
export type RunOutcome = RunResult | { result: RunResult; outputs?: Record<string, string> };

export type RunHandler = (
  job: { job_id: number; settings: JobSettings },
  run: { run_id: number; job_parameters: Record<string, string> },
) => Promise<RunOutcome> | RunOutcome;

type LifeCycle = 'QUEUED' | 'PENDING' | 'RUNNING' | 'TERMINATED' | 'SKIPPED' | 'INTERNAL_ERROR';

export interface RunSnapshot {
  run_id: number;
  job_id: number;
  job_parameters: Record<string, string>;
  life_cycle_state: LifeCycle;
  result_state?: 'SUCCESS' | 'FAILED' | 'CANCELED';
}

interface JobRecord {
  job_id: number;
  settings: JobSettings;
  created_time: number;
}

interface RunRecord extends RunSnapshot {
  run_name: string;
  idempotency_token?: string;
  tasks: Array<{ task_key: string; run_id: number }>;
  /** Exit values by task run id, once the run has ended. */
  outputs: Map<number, string>;
  start_time: number;
  running_since?: number;
  end_time: number;
  state_message: string;
  termination?: { code: Wire.TerminationCodeCode; type: Wire.TerminationTypeType; message: string };
  timer?: NodeJS.Timeout;
}

export interface JobsOptions {
  runMs: number;
  /** life_cycle_state of a failed run; Databricks has been seen to report INTERNAL_ERROR there. */
  failedLifeCycleState: 'TERMINATED' | 'INTERNAL_ERROR';
}

const ACTIVE: LifeCycle[] = ['QUEUED', 'PENDING', 'RUNNING'];
const EXECUTING: LifeCycle[] = ['PENDING', 'RUNNING'];
const FAILED_MESSAGE = 'Workload failed, see run output for details';

export function createJobs(ctx: Ctx, options: JobsOptions) {
  const jobs = new Map<number, JobRecord>();
  const runs = new Map<number, RunRecord>();
  const byToken = new Map<string, number>();
  let handler: RunHandler = () =>
    new Promise<RunResult>((resolve) => ctx.timers.after(options.runMs, () => resolve('SUCCESS')));

  function job(id: number): JobRecord {
    const found = jobs.get(id);
    if (!found) throw invalid(`Job ${id} does not exist.`);
    return found;
  }

  function run(id: number): RunRecord {
    const found = runs.get(id);
    if (!found) throw invalid(`Run ${id} does not exist.`);
    return found;
  }

  function normalise(settings: JsonObject): JobSettings {
    const s: JobSettings = clone(settings);
    s.name ??= 'Untitled';
    s.max_concurrent_runs ??= 1;
    s.format ??= 'MULTI_TASK';
    s.timeout_seconds ??= 0;
    s.email_notifications ??= {};
    s.queue ??= { enabled: true };
    const max = s.max_concurrent_runs;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > 1000) {
      throw invalid('max_concurrent_runs must be an integer between 0 and 1000.');
    }
    if (s.schedule !== undefined) checkSchedule(s.schedule);
    return s;
  }

  /**
   * CronSchedule (https://docs.databricks.com/api/workspace/jobs/create, `schedule`):
   * `quartz_cron_expression` and `timezone_id` are required, `pause_status` is PAUSED or UNPAUSED.
   * The expression is Quartz syntax (http://www.quartz-scheduler.org/documentation/quartz-2.3.0/tutorials/crontrigger.html):
   * 6 or 7 fields, and "you must currently use the '?' character in one of" day-of-month and
   * day-of-week. The reference does not list the checks the service makes; the stricter choice is
   * that an expression of another shape is refused with INVALID_PARAMETER_VALUE.
   */
  function checkSchedule(schedule: unknown): void {
    if (!isObject(schedule)) throw invalid('schedule must be an object.');
    const expr = schedule.quartz_cron_expression;
    if (typeof expr !== 'string') throw invalid('Missing required field: schedule.quartz_cron_expression');
    if (typeof schedule.timezone_id !== 'string' || schedule.timezone_id === '')
      throw invalid('Missing required field: schedule.timezone_id');
    const pause = schedule.pause_status;
    if (pause !== undefined && pause !== 'PAUSED' && pause !== 'UNPAUSED')
      throw invalid(`Invalid pause_status ${String(pause)}: must be PAUSED or UNPAUSED.`);
    const fields = expr.trim().split(/\s+/);
    const marks = [fields[3], fields[5]].filter((f) => f === '?').length;
    if (
      fields.length < 6 ||
      fields.length > 7 ||
      marks !== 1 ||
      !fields.every((f) => /^[0-9A-Z*?/,#LW-]+$/i.test(f))
    )
      throw invalid(`Invalid Quartz cron expression: ${expr}`);
  }

  const maxConcurrent = (s: JobSettings) => s.max_concurrent_runs as number;
  const queueing = (s: JobSettings) => !(isObject(s.queue) && s.queue.enabled === false);
  const executing = (jobId: number) =>
    [...runs.values()].filter((r) => r.job_id === jobId && EXECUTING.includes(r.life_cycle_state)).length;

  function terminate(r: RunRecord, result: 'SUCCESS' | 'FAILED' | 'CANCELED', message: string): void {
    ctx.timers.cancel(r.timer);
    r.end_time = ctx.now();
    r.result_state = result;
    r.state_message = message;
    r.life_cycle_state = result === 'FAILED' ? options.failedLifeCycleState : 'TERMINATED';
    r.termination =
      result === 'SUCCESS'
        ? { code: 'SUCCESS', type: 'SUCCESS', message: '' }
        : result === 'CANCELED'
          ? { code: 'USER_CANCELED', type: 'SUCCESS', message }
          : { code: 'RUN_EXECUTION_ERROR', type: 'CLIENT_ERROR', message };
    dequeue(r.job_id);
  }

  function begin(r: RunRecord): void {
    r.life_cycle_state = 'PENDING';
    r.state_message = '';
    r.timer = ctx.timers.after(Math.min(10, options.runMs), () => {
      if (r.life_cycle_state !== 'PENDING') return;
      r.life_cycle_state = 'RUNNING';
      r.running_since = ctx.now();
      const owner = jobs.get(r.job_id);
      const settings = owner ? clone(owner.settings) : { name: r.run_name };
      Promise.resolve()
        .then(() =>
          handler(
            { job_id: r.job_id, settings },
            { run_id: r.run_id, job_parameters: { ...r.job_parameters } },
          ),
        )
        .then(
          (outcome) => {
            if (r.life_cycle_state !== 'RUNNING') return;
            const result = typeof outcome === 'string' ? outcome : outcome.result;
            const outputs = typeof outcome === 'string' ? {} : (outcome.outputs ?? {});
            for (const t of r.tasks) {
              const value = outputs[t.task_key];
              if (value !== undefined) r.outputs.set(t.run_id, value);
            }
            if (result === 'SUCCESS') terminate(r, 'SUCCESS', '');
            else terminate(r, 'FAILED', FAILED_MESSAGE);
          },
          (err: unknown) => {
            if (r.life_cycle_state === 'RUNNING')
              terminate(r, 'FAILED', err instanceof Error ? err.message : String(err));
          },
        );
    });
  }

  function dequeue(jobId: number): void {
    const owner = jobs.get(jobId);
    const limit = owner ? maxConcurrent(owner.settings) : 1;
    const waiting = [...runs.values()]
      .filter((r) => r.job_id === jobId && r.life_cycle_state === 'QUEUED')
      .sort((a, b) => a.run_id - b.run_id);
    for (const r of waiting) {
      if (executing(jobId) >= limit) break;
      begin(r);
    }
  }

  function runJson(r: RunRecord, expandTasks: boolean): Wire.Run {
    const terminal = !ACTIVE.includes(r.life_cycle_state);
    const state: Wire.RunState = wire<Wire.RunState>()({
      life_cycle_state: r.life_cycle_state,
      state_message: r.state_message,
      user_cancelled_or_timedout: r.result_state === 'CANCELED',
      ...(r.result_state ? { result_state: r.result_state } : {}),
      ...(r.life_cycle_state === 'QUEUED' ? { queue_reason: r.state_message } : {}),
    });
    const status: Wire.RunStatus = wire<Wire.RunStatus>()({
      state: terminal ? 'TERMINATED' : (r.life_cycle_state as Wire.RunLifecycleStateV2State),
      ...(r.termination ? { termination_details: r.termination } : {}),
      ...(r.life_cycle_state === 'QUEUED'
        ? {
            queue_details: {
              code: 'MAX_CONCURRENT_RUNS_REACHED',
              message: 'Maximum concurrent runs reached.',
            },
          }
        : {}),
    });
    const owner = jobs.get(r.job_id);
    const defaults = new Map<string, string>();
    if (owner && Array.isArray(owner.settings.parameters)) {
      for (const p of owner.settings.parameters) {
        if (isObject(p) && typeof p.name === 'string') defaults.set(p.name, String(p.default ?? ''));
      }
    }
    const end = terminal ? r.end_time : 0;
    const json: Wire.Run = wire<Wire.Run>()({
      job_id: r.job_id,
      run_id: r.run_id,
      number_in_job: r.run_id,
      original_attempt_run_id: r.run_id,
      attempt_number: 0,
      creator_user_name: ctx.userName,
      run_name: r.run_name,
      run_type: 'JOB_RUN',
      trigger: 'ONE_TIME',
      state,
      status,
      start_time: r.start_time,
      end_time: end,
      setup_duration: 0,
      execution_duration: r.running_since ? (end || ctx.now()) - r.running_since : 0,
      cleanup_duration: 0,
      run_duration: terminal ? end - r.start_time : 0,
      run_page_url: `${ctx.url()}/?o=0#job/${r.job_id}/run/${r.run_id}`,
      job_parameters: Object.entries(r.job_parameters).map(([name, value]) => ({
        name,
        value,
        ...(defaults.has(name) ? { default: defaults.get(name) } : {}),
      })),
    });
    if (expandTasks && r.tasks.length > 0) {
      json.tasks = r.tasks.map((t) => ({ ...t, state, status }));
    }
    return json;
  }

  function jobJson(j: JobRecord, expandTasks: boolean): Wire.BaseJob {
    const settings = readBack(j.settings);
    if (!expandTasks) {
      delete settings.tasks;
      delete settings.job_clusters;
    }
    // The settings are the client's own (normalised, defaults filled in), echoed back as JobSettings.
    return wire<Wire.BaseJob>()({
      job_id: j.job_id,
      creator_user_name: ctx.userName,
      created_time: j.created_time,
      settings: settings as Wire.JobSettings,
    });
  }

  function limitOf(q: URLSearchParams | JsonObject, max: number, zeroMeansMax: boolean): number {
    const limit = optInt(q, 'limit') ?? 20;
    if (limit === 0) return zeroMeansMax ? max : 20;
    if (limit < 0 || limit > max) throw invalid(`Invalid limit ${limit}: must be between 1 and ${max}.`);
    return limit;
  }

  const routes: Route[] = [
    route('POST', /^\/api\/2\.2\/jobs\/create$/, (req) => {
      const settings = normalise(req.json());
      const j: JobRecord = { job_id: nextId(), settings, created_time: ctx.now() };
      jobs.set(j.job_id, j);
      return answer<Wire.CreateResponse>()({ job_id: j.job_id });
    }),
    route('POST', /^\/api\/2\.2\/jobs\/reset$/, (req) => {
      const body = req.json();
      const j = job(reqInt(body, 'job_id'));
      const next = optObject(body, 'new_settings');
      if (!next) throw invalid('Missing required field: new_settings');
      j.settings = normalise(next);
      return ok({});
    }),
    route('POST', /^\/api\/2\.2\/jobs\/update$/, (req) => {
      const body = req.json();
      const j = job(reqInt(body, 'job_id'));
      const merged: JsonObject = { ...j.settings, ...(optObject(body, 'new_settings') ?? {}) };
      const remove = body.fields_to_remove;
      if (Array.isArray(remove)) for (const f of remove) if (typeof f === 'string') delete merged[f];
      j.settings = normalise(merged);
      return ok({});
    }),
    route('POST', /^\/api\/2\.2\/jobs\/delete$/, (req) => {
      const id = reqInt(req.json(), 'job_id');
      job(id);
      jobs.delete(id);
      return ok({});
    }),
    route('GET', /^\/api\/2\.2\/jobs\/get$/, (req) =>
      answer<Wire.Job>()(jobJson(job(reqInt(req.query, 'job_id')), true)),
    ),
    route('GET', /^\/api\/2\.2\/jobs\/list$/, (req) => {
      const q = req.query;
      const limit = limitOf(q, 100, false);
      const name = optString(q, 'name')?.toLowerCase();
      const all = [...jobs.values()]
        .filter((j) => name === undefined || String(j.settings.name).toLowerCase() === name)
        .sort((a, b) => a.job_id - b.job_id);
      const offset = q.has('page_token') ? pageOffset(q.get('page_token') ?? '') : (optInt(q, 'offset') ?? 0);
      const { page, hasMore, next, prev } = paginate(all, offset, limit);
      const expand = optBool(q, 'expand_tasks') ?? false;
      return answer<Wire.ListJobsResponse>()({
        ...(page.length > 0 ? { jobs: page.map((j) => jobJson(j, expand)) } : {}),
        has_more: hasMore,
        ...(next ? { next_page_token: next } : {}),
        ...(prev ? { prev_page_token: prev } : {}),
      });
    }),
    route('POST', /^\/api\/2\.2\/jobs\/run-now$/, (req) => {
      const body = req.json();
      const j = job(reqInt(body, 'job_id'));
      const token = optString(body, 'idempotency_token');
      if (token !== undefined && token.length > 64)
        throw invalid('idempotency_token must be at most 64 characters.');
      if (token) {
        const existing = byToken.get(token);
        if (existing !== undefined && runs.has(existing))
          return answer<Wire.RunNowResponse>()({ run_id: existing, number_in_job: existing });
      }
      const params: Record<string, string> = {};
      if (Array.isArray(j.settings.parameters)) {
        for (const p of j.settings.parameters) {
          if (isObject(p) && typeof p.name === 'string') params[p.name] = String(p.default ?? '');
        }
      }
      const overrides = optObject(body, 'job_parameters') ?? {};
      for (const [k, v] of Object.entries(overrides)) params[k] = String(v);
      const tasks = (Array.isArray(j.settings.tasks) ? j.settings.tasks : []).map((t, i) => ({
        task_key: isObject(t) && typeof t.task_key === 'string' ? t.task_key : `task_${i}`,
        run_id: nextId(),
      }));
      const r: RunRecord = {
        run_id: nextId(),
        job_id: j.job_id,
        job_parameters: params,
        life_cycle_state: 'QUEUED',
        run_name: String(j.settings.name),
        tasks,
        outputs: new Map(),
        start_time: ctx.now(),
        end_time: 0,
        state_message: '',
        ...(token ? { idempotency_token: token } : {}),
      };
      runs.set(r.run_id, r);
      if (token) byToken.set(token, r.run_id);
      const limit = maxConcurrent(j.settings);
      if (limit > 0 && executing(j.job_id) < limit) begin(r);
      else if (limit > 0 && queueing(j.settings)) {
        r.state_message = `Queued due to reaching maximum concurrent runs of ${limit}.`;
      } else {
        const message = `Skipping this run because the limit of ${limit} maximum concurrent runs has been reached.`;
        r.life_cycle_state = 'SKIPPED';
        r.state_message = message;
        r.end_time = ctx.now();
        r.termination = { code: 'MAX_CONCURRENT_RUNS_EXCEEDED', type: 'CLIENT_ERROR', message };
      }
      return answer<Wire.RunNowResponse>()({ run_id: r.run_id, number_in_job: r.run_id });
    }),
    route('GET', /^\/api\/2\.2\/jobs\/runs\/get$/, (req) => {
      const r = run(reqInt(req.query, 'run_id'));
      return answer<Wire.Run>()(runJson(r, true));
    }),
    // Get the output for a single run (https://docs.databricks.com/api/workspace/jobs/getrunoutput):
    // the run id of one task; the parent run of a job with several tasks is refused. `notebook_output`
    // holds the value passed to dbutils.notebook.exit() (its first 5 MB) and is absent when the
    // notebook never called it, as while the task still runs.
    route('GET', /^\/api\/2\.2\/jobs\/runs\/get-output$/, (req) => {
      const id = reqInt(req.query, 'run_id');
      const parent = [...runs.values()].find((r) => r.tasks.some((t) => t.run_id === id));
      if (!parent) {
        const r = run(id);
        if (r.tasks.length > 1) {
          throw invalid(
            'Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead.',
          );
        }
        return answer<Wire.RunOutput>()({ metadata: runJson(r, false) });
      }
      const task = parent.tasks.find((t) => t.run_id === id) as { task_key: string; run_id: number };
      const result = parent.outputs.get(id);
      const LIMIT = 5 * 1024 * 1024;
      return answer<Wire.RunOutput>()({
        metadata: { ...runJson(parent, false), run_id: id, run_name: task.task_key },
        ...(result !== undefined
          ? {
              notebook_output: {
                result: result.slice(0, LIMIT),
                truncated: result.length > LIMIT,
              },
            }
          : {}),
      });
    }),
    route('GET', /^\/api\/2\.2\/jobs\/runs\/list$/, (req) => {
      const q = req.query;
      const activeOnly = optBool(q, 'active_only') ?? false;
      const completedOnly = optBool(q, 'completed_only') ?? false;
      if (activeOnly && completedOnly) throw invalid('active_only and completed_only cannot both be true.');
      const limit = limitOf(q, 25, true);
      const jobId = optInt(q, 'job_id');
      const from = optInt(q, 'start_time_from');
      const to = optInt(q, 'start_time_to');
      const all = [...runs.values()]
        .filter((r) => jobId === undefined || r.job_id === jobId)
        .filter((r) => !activeOnly || ACTIVE.includes(r.life_cycle_state))
        .filter((r) => !completedOnly || !ACTIVE.includes(r.life_cycle_state))
        .filter(
          (r) => (from === undefined || r.start_time >= from) && (to === undefined || r.start_time <= to),
        )
        .sort((a, b) => b.start_time - a.start_time || b.run_id - a.run_id);
      const offset = q.has('page_token') ? pageOffset(q.get('page_token') ?? '') : (optInt(q, 'offset') ?? 0);
      const { page, hasMore, next, prev } = paginate(all, offset, limit);
      const expand = optBool(q, 'expand_tasks') ?? false;
      return answer<Wire.ListRunsResponse>()({
        ...(page.length > 0 ? { runs: page.map((r) => runJson(r, expand)) } : {}),
        has_more: hasMore,
        ...(next ? { next_page_token: next } : {}),
        ...(prev ? { prev_page_token: prev } : {}),
      });
    }),
    route('POST', /^\/api\/2\.2\/jobs\/runs\/cancel$/, (req) => {
      const r = run(reqInt(req.json(), 'run_id'));
      if (ACTIVE.includes(r.life_cycle_state)) terminate(r, 'CANCELED', 'Run cancelled by user.');
      return ok({});
    }),
  ];

  return {
    routes,
    onRun(h: RunHandler): void {
      handler = h;
    },
    jobs: () => [...jobs.values()].map((j) => ({ job_id: j.job_id, settings: clone(j.settings) })),
    runs: (): RunSnapshot[] =>
      [...runs.values()].map((r) => ({
        run_id: r.run_id,
        job_id: r.job_id,
        job_parameters: { ...r.job_parameters },
        life_cycle_state: r.life_cycle_state,
        ...(r.result_state ? { result_state: r.result_state } : {}),
      })),
  };
}

export type JobsArea = ReturnType<typeof createJobs>;

/**
 * Settings as `jobs/get` and `jobs/list?expand_tasks=true` answer them: the stored settings with the
 * defaults the service fills in, so that a client comparing what it sent with what it reads back
 * meets them as it would on a real workspace.
 *
 * - Job level, Jobs API 2.2 reference (https://docs.databricks.com/api/workspace/jobs/get, the
 *   JobSettings defaults of https://docs.databricks.com/api/workspace/jobs/create): `timeout_seconds`
 *   0 (no timeout), `email_notifications` and `webhook_notifications` `{}` (empty lists, no
 *   notifications), `format` MULTI_TASK, `max_concurrent_runs` 1; `queue.enabled` true for jobs
 *   made with 2.2 ("Updating from Jobs API 2.1 to 2.2",
 *   https://docs.databricks.com/reference/jobs-api-updates.html); `schedule.pause_status`
 *   UNPAUSED when the schedule omits it (CronSchedule in the same reference).
 * - Task level (Task in the same reference): `run_if` ALL_SUCCESS, `timeout_seconds` 0,
 *   `email_notifications` `{}`, `webhook_notifications` `{}`; "the default behavior is to never
 *   retry", so `max_retries` 0, `min_retry_interval_millis` 0, `retry_on_timeout` false (the
 *   reference does not say whether a read echoes these; the stricter choice is that it does);
 *   `notebook_task.source` WORKSPACE (the default without `git_source`), `pipeline_task.full_refresh`
 *   false.
 * - Order: the reference does not say in which order `tasks` come back; the Databricks CLI and the
 *   Terraform provider sort them by `task_key` (databricks/cli#3212, "This is what terraform
 *   provider does"), so the stricter answer is task_key order, whatever order they were sent in:
 *   a client must match tasks by key, not by position.
 */
function readBack(stored: JobSettings): JobSettings {
  const s: JobSettings = clone(stored);
  s.timeout_seconds ??= 0;
  s.email_notifications ??= {};
  s.webhook_notifications ??= {};
  s.format ??= 'MULTI_TASK';
  s.max_concurrent_runs ??= 1;
  s.queue ??= { enabled: true };
  if (isObject(s.schedule)) s.schedule.pause_status ??= 'UNPAUSED';
  if (Array.isArray(s.tasks)) {
    s.tasks = s.tasks
      .map((t) => {
        if (!isObject(t)) return t;
        const task: JsonObject = { ...t };
        task.run_if ??= 'ALL_SUCCESS';
        task.timeout_seconds ??= 0;
        task.email_notifications ??= {};
        task.webhook_notifications ??= {};
        task.max_retries ??= 0;
        task.min_retry_interval_millis ??= 0;
        task.retry_on_timeout ??= false;
        if (isObject(task.notebook_task)) task.notebook_task = { source: 'WORKSPACE', ...task.notebook_task };
        if (isObject(task.pipeline_task)) task.pipeline_task = { full_refresh: false, ...task.pipeline_task };
        return task;
      })
      .sort((a, b) =>
        String(isObject(a) ? a.task_key : '').localeCompare(String(isObject(b) ? b.task_key : '')),
      );
  }
  return s;
}
