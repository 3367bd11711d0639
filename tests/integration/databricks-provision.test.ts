import { afterEach, describe, expect, it } from 'vitest';
import { differencesOf } from '../../src/platform/databricks/provision.js';
import { JOB_NAMES, PIPELINE_NAME } from '../../src/platform/databricks/resources.js';
import { type DatabricksHarness, MODEL, startDatabricksHarness } from '../support/databricks-harness.js';
import { until } from '../support/until.js';

let h: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const MUTATING = /^(POST|PUT|DELETE|PATCH) /;
/** A call to the emulated REST API as a user (or the UI) would make it. */
async function call<T = Record<string, unknown>>(
  harness: DatabricksHarness,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${harness.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${harness.api.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBe(200);
  return (await res.json()) as T;
}

interface ReadTask {
  task_key: string;
  depends_on?: Array<{ task_key: string }>;
  notebook_task?: { notebook_path: string };
  [key: string]: unknown;
}
interface ReadJob {
  job_id: number;
  settings: { name: string; tasks: ReadTask[]; schedule: Record<string, unknown>; [key: string]: unknown };
}

/** The job as `jobs/get` answers it (with the defaults the workspace fills in). */
async function readJob(harness: DatabricksHarness, name: string): Promise<ReadJob> {
  const id = harness.api.jobs().find((j) => j.settings.name === name)?.job_id;
  return call<ReadJob>(harness, 'GET', `/api/2.2/jobs/get?job_id=${id}`);
}

const mutatingCalls = (harness: DatabricksHarness, since: number) =>
  harness.api.calls
    .slice(since)
    .filter((c) => MUTATING.test(`${c.method} `) && !c.path.startsWith('/oidc'))
    .map((c) => `${c.method} ${c.path}`);

describe('provisioning a Databricks workspace', () => {
  it('plans everything on an empty workspace, applies it, and a second apply changes nothing', async () => {
    h = await startDatabricksHarness();
    const plan = await h.platform.deployment.provision(false);
    expect(plan.applied).toBe(false);
    expect(plan.items.every((i) => i.action === 'create')).toBe(true);
    expect(plan.items.map((i) => i.kind)).toEqual(
      expect.arrayContaining(['schema', 'volume', 'folder', 'notebook', 'file', 'pipeline', 'job']),
    );
    expect(h.api.jobs()).toEqual([]); // a plan changes nothing

    const applied = await h.platform.deployment.provision(true);
    expect(applied.items.filter((i) => i.action !== 'create')).toEqual([]);
    expect(
      h.api
        .jobs()
        .map((j) => j.settings.name)
        .sort(),
    ).toEqual(Object.values(JOB_NAMES).sort());
    expect(h.api.pipelines().map((p) => p.spec.name)).toEqual([PIPELINE_NAME]);
    const infer = h.api.workspaceObject('/Shared/crypto-risk-monitor/notebooks/04_infer_iforest');
    expect(infer?.object_type).toBe('NOTEBOOK');
    expect(
      h.api.workspaceObject('/Shared/crypto-risk-monitor/lib/crypto_risk/features.py')?.object_type,
    ).toBe('FILE');
    const score = h.api.jobs().find((j) => j.settings.name === JOB_NAMES.score)?.settings as {
      schedule: unknown;
      max_concurrent_runs: number;
      tasks: Array<{ pipeline_task?: { pipeline_id: string } }>;
    };
    expect(score.max_concurrent_runs).toBe(1);
    expect(score.schedule).toEqual({
      quartz_cron_expression: '0 0/10 * * * ?',
      timezone_id: 'UTC',
      pause_status: 'UNPAUSED',
    });
    expect(score.tasks[0]?.pipeline_task?.pipeline_id).toBe(h.api.pipelines()[0]?.pipeline_id);

    const before = h.api.calls.length;
    const again = await h.platform.deployment.provision(true);
    expect(again.items.every((i) => i.action === 'unchanged')).toBe(true);
    expect(mutatingCalls(h, before)).toEqual([]);
  });

  it('corrects drift: a schedule edited in the UI is put back; a changed notebook is re-imported', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    const train = h.api.jobs().find((j) => j.settings.name === JOB_NAMES.train);
    await fetch(`${h.api.url}/api/2.2/jobs/reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        job_id: train?.job_id,
        new_settings: {
          ...train?.settings,
          schedule: {
            quartz_cron_expression: '0 0 12 * * ?',
            timezone_id: 'Europe/Paris',
            pause_status: 'PAUSED',
          },
        },
      }),
    });
    await fetch(`${h.api.url}/api/2.0/workspace/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        path: '/Shared/crypto-risk-monitor/notebooks/03_train_iforest',
        format: 'SOURCE',
        language: 'PYTHON',
        overwrite: true,
        content: Buffer.from('# Databricks notebook source\nprint("edited by hand")\n').toString('base64'),
      }),
    });
    const plan = await h.platform.deployment.provision(false);
    const changed = plan.items.filter((i) => i.action !== 'unchanged');
    expect(changed.map((i) => [i.kind, i.name, i.action])).toEqual([
      ['notebook', '/Shared/crypto-risk-monitor/notebooks/03_train_iforest', 'update'],
      ['job', JOB_NAMES.train, 'update'],
    ]);
    expect(changed[1]?.detail).toMatch(/schedule/);
    await h.platform.deployment.provision(true);
    const fixed = h.api.jobs().find((j) => j.settings.name === JOB_NAMES.train)?.settings as {
      schedule: unknown;
    };
    expect(fixed.schedule).toEqual({
      quartz_cron_expression: '0 0 3 * * ?',
      timezone_id: 'UTC',
      pause_status: 'UNPAUSED',
    });
    expect((await h.platform.deployment.provision(false)).items.every((i) => i.action === 'unchanged')).toBe(
      true,
    );
  });

  it('recovers from a 429 mid-apply and from a create whose answer was lost, without duplicate jobs', async () => {
    h = await startDatabricksHarness();
    h.api.fault(
      'POST /api/2.2/jobs/create',
      { kind: 'status', status: 429, retryAfter: 1 },
      { kind: 'lose_answer' },
    );
    const applied = await h.platform.deployment.provision(true);
    const jobNames: string[] = Object.values(JOB_NAMES);
    expect(
      applied.items.filter((i) => i.kind === 'job' && jobNames.includes(i.name)).map((i) => i.action),
    ).toEqual(['create', 'create', 'create']);
    const names = h.api.jobs().map((j) => j.settings.name);
    expect(names.sort()).toEqual(Object.values(JOB_NAMES).sort()); // three jobs, none twice
    expect((await h.platform.deployment.provision(false)).items.every((i) => i.action === 'unchanged')).toBe(
      true,
    );
  });

  it('reads back a workspace that fills in defaults and reorders tasks, and a second apply makes no call that changes anything', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    // The premise: what the workspace answers is not what the provisioner sent.
    const score = await readJob(h, JOB_NAMES.score);
    expect(score.settings.tasks.map((t) => t.task_key)).toEqual(['infer', 'refresh_pipeline']);
    expect(score.settings.tasks[0]).toMatchObject({
      run_if: 'ALL_SUCCESS',
      timeout_seconds: 0,
      email_notifications: {},
      webhook_notifications: {},
      max_retries: 0,
    });
    expect(score.settings).toMatchObject({
      format: 'MULTI_TASK',
      timeout_seconds: 0,
      webhook_notifications: {},
    });
    const pipelineId = h.api.pipelines()[0]?.pipeline_id;
    const pipeline = await call<{ spec: Record<string, unknown> }>(
      h,
      'GET',
      `/api/2.0/pipelines/${pipelineId}`,
    );
    expect(pipeline.spec).toMatchObject({ edition: 'ADVANCED', photon: false, channel: 'CURRENT' });

    const before = h.api.calls.length;
    const again = await h.platform.deployment.provision(true);
    expect(again.items.filter((i) => i.action !== 'unchanged')).toEqual([]);
    expect(mutatingCalls(h, before)).toEqual([]);
  });

  it('finds real drift among the defaults: a removed task, a changed notebook path, an added task, a changed pipeline setting', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    // Edited as the UI does: it sends back the settings it read, defaults included.
    const score = await readJob(h, JOB_NAMES.score);
    await call(h, 'POST', '/api/2.2/jobs/reset', {
      job_id: score.job_id,
      new_settings: {
        ...score.settings,
        tasks: score.settings.tasks
          .filter((t) => t.task_key !== 'refresh_pipeline')
          .map(({ depends_on: _dropped, ...t }) => t),
      },
    });
    const train = await readJob(h, JOB_NAMES.train);
    await call(h, 'POST', '/api/2.2/jobs/reset', {
      job_id: train.job_id,
      new_settings: {
        ...train.settings,
        tasks: train.settings.tasks.map((t) => ({
          ...t,
          notebook_task: { ...t.notebook_task, notebook_path: '/Users/someone/03_train_copy' },
        })),
      },
    });
    const ingest = await readJob(h, JOB_NAMES.ingest);
    await call(h, 'POST', '/api/2.2/jobs/reset', {
      job_id: ingest.job_id,
      new_settings: {
        ...ingest.settings,
        tasks: [
          ...ingest.settings.tasks,
          { task_key: 'extra', notebook_task: { notebook_path: '/Users/someone/x' } },
        ],
      },
    });
    const pipelineId = h.api.pipelines()[0]?.pipeline_id ?? '';
    const pipeline = await call<{ spec: Record<string, unknown> }>(
      h,
      'GET',
      `/api/2.0/pipelines/${pipelineId}`,
    );
    await call(h, 'PUT', `/api/2.0/pipelines/${pipelineId}`, {
      ...pipeline.spec,
      configuration: { ...(pipeline.spec.configuration as object), 'crypto_risk.volume': 'elsewhere' },
    });

    const plan = await h.platform.deployment.provision(false);
    const changed = Object.fromEntries(
      plan.items.filter((i) => i.action !== 'unchanged').map((i) => [i.name, `${i.action}: ${i.detail}`]),
    );
    expect(Object.keys(changed).sort()).toEqual([...Object.values(JOB_NAMES), PIPELINE_NAME].sort());
    expect(changed[JOB_NAMES.score]).toMatch(/tasks\[refresh_pipeline\] \(missing\)/);
    expect(changed[JOB_NAMES.score]).toMatch(/tasks\[infer\]\.depends_on/);
    expect(changed[JOB_NAMES.train]).toMatch(/tasks\[train\]\.notebook_task\.notebook_path/);
    expect(changed[JOB_NAMES.ingest]).toMatch(/tasks\[extra\] \(extra\)/);
    expect(changed[PIPELINE_NAME]).toMatch(/configuration/);

    await h.platform.deployment.provision(true);
    expect((await readJob(h, JOB_NAMES.score)).settings.tasks.map((t) => t.task_key)).toEqual([
      'infer',
      'refresh_pipeline',
    ]);
    expect((await readJob(h, JOB_NAMES.train)).settings.tasks[0]?.notebook_task?.notebook_path).toBe(
      '/Shared/crypto-risk-monitor/notebooks/03_train_iforest',
    );
    expect((await readJob(h, JOB_NAMES.ingest)).settings.tasks.map((t) => t.task_key)).toEqual(['ingest']);
    expect(h.api.pipelines()[0]?.spec.configuration).toMatchObject({ 'crypto_risk.volume': 'landing' });
    expect((await h.platform.deployment.provision(false)).items.every((i) => i.action === 'unchanged')).toBe(
      true,
    );
  });

  it('imports notebooks as NOTEBOOKs (SOURCE, PYTHON) and the helpers as workspace FILEs (AUTO)', async () => {
    h = await startDatabricksHarness();
    const applied = await h.platform.deployment.provision(true);
    const imports = h.api
      .callsTo('POST /api/2.0/workspace/import')
      .map((c) => c.body as Record<string, unknown>);
    const notebooks = applied.items.filter((i) => i.kind === 'notebook').map((i) => i.name);
    const helpers = applied.items.filter((i) => i.kind === 'file').map((i) => i.name);
    expect(notebooks).toHaveLength(4);
    expect(helpers).toEqual(
      expect.arrayContaining([expect.stringMatching(/\/lib\/crypto_risk\/__init__\.py$/)]),
    );
    for (const path of notebooks) {
      expect(
        imports.find((b) => b.path === path),
        path,
      ).toMatchObject({ format: 'SOURCE', language: 'PYTHON' });
      expect(h.api.workspaceObject(path), path).toMatchObject({
        object_type: 'NOTEBOOK',
        language: 'PYTHON',
      });
    }
    for (const path of helpers) {
      const body = imports.find((b) => b.path === path);
      expect(body, path).toMatchObject({ format: 'AUTO' });
      expect(body, path).not.toHaveProperty('language');
      expect(h.api.workspaceObject(path)?.object_type, path).toBe('FILE');
    }
  });
});

describe('provisioning the first model', () => {
  const FIRST_RUN = `${JOB_NAMES.train} (first run)`;
  const runNows = (harness: DatabricksHarness) => harness.api.callsTo('POST /api/2.2/jobs/run-now');

  /** Training runs that stay running until the test lets them register a version and finish. */
  function holdTrainingRuns(harness: DatabricksHarness): () => void {
    const waiting: Array<() => void> = [];
    harness.api.onRun((job) =>
      job.settings.name === JOB_NAMES.train
        ? new Promise((resolve) =>
            waiting.push(() => {
              harness.api.registerModelVersion(MODEL, { alias: 'champion' });
              resolve('SUCCESS');
            }),
          )
        : 'SUCCESS',
    );
    return () => {
      for (const finish of waiting.splice(0)) finish();
    };
  }

  it('on an empty workspace, apply starts exactly one training run after the jobs exist; a second apply starts none', async () => {
    h = await startDatabricksHarness();
    const finish = holdTrainingRuns(h);
    const plan = await h.platform.deployment.provision(false);
    expect(plan.items.find((i) => i.name === FIRST_RUN)).toMatchObject({
      kind: 'job',
      action: 'create',
      detail: expect.stringMatching(/^train: start the first training run/),
    });
    expect(runNows(h)).toEqual([]); // a plan starts nothing

    const applied = await h.platform.deployment.provision(true);
    const trainJob = h.api.jobs().find((j) => j.settings.name === JOB_NAMES.train);
    expect(runNows(h)).toHaveLength(1);
    const body = runNows(h)[0]?.body as { job_id?: number; idempotency_token?: string };
    expect(body.job_id).toBe(trainJob?.job_id);
    expect(body.idempotency_token).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.api.runs().filter((r) => r.job_id === trainJob?.job_id)).toHaveLength(1);
    const started = applied.items.find((i) => i.name === FIRST_RUN);
    expect(started).toMatchObject({ action: 'create' });
    expect(started?.detail).toMatch(/^train: started the first training run \d+/);
    // The run was started after every job was created (the jobs come first in the result too).
    const lastJobCreate = h.api.calls.findLastIndex(
      (c) => c.method === 'POST' && c.path === '/api/2.2/jobs/create',
    );
    const runNowAt = h.api.calls.findIndex((c) => c.method === 'POST' && c.path === '/api/2.2/jobs/run-now');
    expect(runNowAt).toBeGreaterThan(lastJobCreate);
    expect(applied.items.at(-1)?.name).toBe(FIRST_RUN);

    // While that run is active: nothing is started, and the plan says what it is doing.
    const before = h.api.calls.length;
    const again = await h.platform.deployment.provision(true);
    expect(again.items.every((i) => i.action === 'unchanged')).toBe(true);
    expect(again.items.find((i) => i.name === FIRST_RUN)?.detail).toMatch(
      /^no model yet: the first training run \d+ is (queued|pending|running)/,
    );
    expect(mutatingCalls(h, before)).toEqual([]);

    // Once a version exists: no first-run line at all, and still nothing started.
    finish();
    await until(() => h?.api.runs().every((r) => r.life_cycle_state === 'TERMINATED') ?? false);
    const after = h.api.calls.length;
    const third = await h.platform.deployment.provision(true);
    expect(third.items.find((i) => i.name === FIRST_RUN)).toBeUndefined();
    expect(mutatingCalls(h, after)).toEqual([]);
    expect(runNows(h)).toHaveLength(1);
  });

  it('treats a registered model with no version as no model, and starts nothing when a version exists', async () => {
    h = await startDatabricksHarness();
    holdTrainingRuns(h);
    await call(h, 'POST', '/api/2.1/unity-catalog/models', {
      catalog_name: 'workspace',
      schema_name: 'crypto',
      name: 'crypto_anomaly_iforest',
    });
    const plan = await h.platform.deployment.provision(false);
    expect(plan.items.find((i) => i.name === FIRST_RUN)?.action).toBe('create');

    h.api.registerModelVersion(MODEL, { alias: 'champion' });
    const applied = await h.platform.deployment.provision(true);
    expect(applied.items.find((i) => i.name === FIRST_RUN)).toBeUndefined();
    expect(runNows(h)).toEqual([]);
  });
});

describe('comparing what the workspace answers with what the provisioner sets', () => {
  const wanted = {
    name: 'j',
    schedule: { quartz_cron_expression: '0 0 3 * * ?', timezone_id: 'UTC', pause_status: 'UNPAUSED' },
    parameters: [
      { name: 'seed', default: '42' },
      { name: 'trees', default: '200' },
    ],
    tasks: [
      { task_key: 'refresh', pipeline_task: { pipeline_id: 'p', full_refresh: false } },
      { task_key: 'infer', depends_on: [{ task_key: 'refresh' }], notebook_task: { notebook_path: '/n' } },
    ],
  };
  const answered = {
    ...wanted,
    format: 'MULTI_TASK',
    email_notifications: {},
    parameters: [...wanted.parameters].reverse(),
    tasks: [
      { ...wanted.tasks[1], run_if: 'ALL_SUCCESS', timeout_seconds: 0, webhook_notifications: {} },
      { task_key: 'refresh', pipeline_task: { pipeline_id: 'p' }, run_if: 'ALL_SUCCESS', max_retries: 0 },
    ],
  };

  it('ignores the defaults the workspace adds, the order of tasks and parameters, and a zero value left out', () => {
    expect(differencesOf(answered, wanted)).toEqual([]);
  });

  it('names each real difference by its path, tasks and parameters by their key', () => {
    const edited = {
      ...answered,
      schedule: { ...answered.schedule, pause_status: 'PAUSED' },
      parameters: [{ name: 'seed', default: '7' }, answered.parameters[0]],
      tasks: [
        { ...answered.tasks[0], notebook_task: { notebook_path: '/elsewhere' } },
        { task_key: 'extra', notebook_task: { notebook_path: '/x' } },
      ],
    };
    expect(differencesOf(edited, wanted)).toEqual([
      'schedule.pause_status',
      'parameters[seed].default',
      'tasks[refresh] (missing)',
      'tasks[infer].notebook_task.notebook_path',
      'tasks[extra] (extra)',
    ]);
  });
});
