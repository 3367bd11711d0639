import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatabricksEmulator, startDatabricksEmulator } from '../support/databricks-emulator.js';

// Every check goes through real HTTP with plain fetch, the way a client would.

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  json: Json;
  headers: Headers;
  bytes: Buffer;
}

let emu: DatabricksEmulator;

beforeEach(async () => {
  emu = await startDatabricksEmulator({
    runMs: 30,
    updateMs: 30,
    startMs: 300,
    warehouses: [{ id: 'wh1', name: 'Starter', state: 'STOPPED' }],
  });
});

afterEach(async () => {
  await emu.close();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  init: { token?: string | null; raw?: Buffer } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? emu.token : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string | Uint8Array | undefined;
  if (init.raw) {
    payload = new Uint8Array(init.raw);
    headers['content-type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${emu.url}${path}`, { method, headers, body: payload });
  const bytes = Buffer.from(await res.arrayBuffer());
  const isJson = res.headers.get('content-type')?.includes('json') ?? false;
  return {
    status: res.status,
    json: isJson && bytes.length > 0 ? (JSON.parse(bytes.toString('utf8')) as Json) : {},
    headers: res.headers,
    bytes,
  };
}

const get = (path: string) => call('GET', path);
const post = (path: string, body: unknown = {}) => call('POST', path, body);

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runState(runId: unknown): Promise<Json> {
  const { json } = await get(`/api/2.2/jobs/runs/get?run_id=${String(runId)}`);
  return json;
}

async function untilTerminal(runId: unknown): Promise<Json> {
  return waitFor(async () => {
    const run = await runState(runId);
    return (run.status as Json).state === 'TERMINATED' ? run : undefined;
  });
}

describe('authentication', () => {
  it('answers 401 without credentials and 403 for an unknown token, in the captured shapes', async () => {
    const missing = await call('GET', '/api/2.2/jobs/list', undefined, { token: null });
    expect(missing.status).toBe(401);
    expect(missing.json.message).toMatch(/Credential was not sent/);
    const unknown = await call('GET', '/api/2.2/jobs/list', undefined, { token: 'dapi-nope' });
    expect(unknown.status).toBe(403);
    expect(unknown.json).toEqual({ error_code: 403, message: 'Invalid access token.' });
  });

  it('issues OAuth M2M tokens that work until they expire', async () => {
    const basic = Buffer.from(`${emu.clientId}:${emu.clientSecret}`).toString('base64');
    const res = await fetch(`${emu.url}/oidc/v1/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=all-apis',
    });
    expect(res.status).toBe(200);
    const token = (await res.json()) as Json;
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'all-apis' });
    expect(emu.oauthTokensIssued()).toBe(1);
    expect(
      (await call('GET', '/api/2.2/jobs/list', undefined, { token: String(token.access_token) })).status,
    ).toBe(200);

    emu.expireOAuthTokens();
    expect(
      (await call('GET', '/api/2.2/jobs/list', undefined, { token: String(token.access_token) })).status,
    ).toBe(403);

    const wrong = await fetch(`${emu.url}/oidc/v1/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${emu.clientId}:nope`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=all-apis',
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    expect(emu.oauthTokensIssued()).toBe(1);
  });

  it('rejects a token once its configured lifetime has passed', async () => {
    const short = await startDatabricksEmulator({ tokenLifetimeSeconds: 1 });
    try {
      const res = await fetch(`${short.url}/oidc/v1/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'all-apis',
          client_id: short.clientId,
          client_secret: short.clientSecret,
        }),
      });
      const { access_token } = (await res.json()) as { access_token: string };
      const list = () =>
        fetch(`${short.url}/api/2.2/jobs/list`, { headers: { authorization: `Bearer ${access_token}` } });
      expect((await list()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await list()).status).toBe(403);
    } finally {
      await short.close();
    }
  });

  it('answers unknown routes with 404 ENDPOINT_NOT_FOUND', async () => {
    const res = await get('/api/2.0/nothing/here');
    expect(res.status).toBe(404);
    expect(res.json.error_code).toBe('ENDPOINT_NOT_FOUND');
    const malformed = await fetch(`${emu.url}/api/2.2/jobs/create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${emu.token}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error_code: 'MALFORMED_REQUEST' });
  });
});

describe('Jobs API 2.2', () => {
  it('creates (not idempotently), lists by exact name with pages, resets and gets', async () => {
    const settings = {
      name: 'crypto-infer',
      tasks: [{ task_key: 'infer', notebook_task: { notebook_path: '/x' } }],
    };
    const a = await post('/api/2.2/jobs/create', settings);
    const b = await post('/api/2.2/jobs/create', settings);
    await post('/api/2.2/jobs/create', { name: 'crypto-infer-2' });
    expect(a.json.job_id).not.toBe(b.json.job_id);
    expect(emu.jobs()).toHaveLength(3);

    const byName = await get('/api/2.2/jobs/list?name=CRYPTO-INFER');
    expect((byName.json.jobs as Json[]).map((j) => j.job_id)).toEqual([a.json.job_id, b.json.job_id]);
    expect((byName.json.jobs as Json[])[0]?.settings).not.toHaveProperty('tasks');
    const expanded = await get('/api/2.2/jobs/list?name=crypto-infer&expand_tasks=true');
    expect((expanded.json.jobs as Array<{ settings: Json }>)[0]?.settings.tasks).toHaveLength(1);

    const page1 = await get('/api/2.2/jobs/list?limit=2');
    expect(page1.json).toMatchObject({ has_more: true });
    const page2 = await get(`/api/2.2/jobs/list?limit=2&page_token=${String(page1.json.next_page_token)}`);
    expect(page2.json.jobs).toHaveLength(1);
    expect(page2.json.has_more).toBe(false);
    expect((await get('/api/2.2/jobs/list?limit=101')).status).toBe(400);
    expect((await get('/api/2.2/jobs/list?name=absent')).json).toEqual({ has_more: false });

    await post('/api/2.2/jobs/reset', {
      job_id: a.json.job_id,
      new_settings: { name: 'renamed', max_concurrent_runs: 2 },
    });
    const got = await get(`/api/2.2/jobs/get?job_id=${String(a.json.job_id)}`);
    expect(got.json.settings).toMatchObject({ name: 'renamed', max_concurrent_runs: 2 });
    expect(got.json.settings).not.toHaveProperty('tasks');

    const missing = await get('/api/2.2/jobs/get?job_id=42');
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: 'Job 42 does not exist.',
    });

    const { json: started } = await post('/api/2.2/jobs/run-now', { job_id: b.json.job_id });
    const finished = await untilTerminal(started.run_id);
    const tasks = finished.tasks as Json[];
    expect(tasks.map((t) => t.task_key)).toEqual(['infer']);
    expect(tasks[0]?.run_id).not.toBe(started.run_id);
    expect(tasks[0]?.state).toMatchObject({ life_cycle_state: 'TERMINATED', result_state: 'SUCCESS' });
  });

  it('runs through PENDING/RUNNING to TERMINATED, honouring idempotency tokens and job parameters', async () => {
    const seen: Array<Record<string, string>> = [];
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    emu.onRun(async (job, run) => {
      expect(job.settings.name).toBe('train');
      seen.push(run.job_parameters);
      await gate;
      return 'SUCCESS' as const;
    });
    const { json: job } = await post('/api/2.2/jobs/create', {
      name: 'train',
      parameters: [{ name: 'features', default: 'default' }],
    });
    const body = { job_id: job.job_id, job_parameters: { features: 'seed' }, idempotency_token: 'retrain-1' };
    const first = await post('/api/2.2/jobs/run-now', body);
    const again = await post('/api/2.2/jobs/run-now', body);
    expect(again.json).toEqual(first.json);
    expect(first.json.number_in_job).toBe(first.json.run_id);
    expect(emu.runs()).toHaveLength(1);

    const early = await runState(first.json.run_id);
    expect(['PENDING', 'RUNNING']).toContain((early.state as Json).life_cycle_state);
    expect(early.end_time).toBe(0);
    open();

    const done = await untilTerminal(first.json.run_id);
    expect(done.state).toMatchObject({ life_cycle_state: 'TERMINATED', result_state: 'SUCCESS' });
    expect(done.status).toMatchObject({
      state: 'TERMINATED',
      termination_details: { code: 'SUCCESS', type: 'SUCCESS' },
    });
    expect(done.job_parameters).toEqual([{ name: 'features', default: 'default', value: 'seed' }]);
    expect(done.tasks).toBeUndefined();
    expect(done.run_page_url).toContain(`#job/${String(job.job_id)}/run/${String(first.json.run_id)}`);
    expect(Number(done.end_time)).toBeGreaterThanOrEqual(Number(done.start_time));
    expect(seen).toEqual([{ features: 'seed' }]);

    expect((await post('/api/2.2/jobs/run-now', { ...body, idempotency_token: 'x'.repeat(65) })).status).toBe(
      400,
    );
  });

  it('reports failed runs and queues or skips runs over max_concurrent_runs', async () => {
    let release: (r: 'SUCCESS' | 'FAILED') => void = () => {};
    emu.onRun(() => new Promise((resolve) => (release = resolve)));
    const { json: queued } = await post('/api/2.2/jobs/create', { name: 'q' });
    const r1 = await post('/api/2.2/jobs/run-now', { job_id: queued.job_id });
    const r2 = await post('/api/2.2/jobs/run-now', { job_id: queued.job_id });
    await waitFor(async () =>
      ((await runState(r1.json.run_id)).state as Json).life_cycle_state === 'RUNNING' ? true : undefined,
    );
    const waiting = await runState(r2.json.run_id);
    expect(waiting.state).toMatchObject({ life_cycle_state: 'QUEUED' });
    expect(waiting.status).toMatchObject({
      state: 'QUEUED',
      queue_details: { code: 'MAX_CONCURRENT_RUNS_REACHED' },
    });

    release('FAILED');
    const failed = await untilTerminal(r1.json.run_id);
    expect(failed.state).toMatchObject({ life_cycle_state: 'TERMINATED', result_state: 'FAILED' });
    expect(failed.status).toMatchObject({ termination_details: { code: 'RUN_EXECUTION_ERROR' } });
    await waitFor(async () =>
      ((await runState(r2.json.run_id)).state as Json).life_cycle_state === 'RUNNING' ? true : undefined,
    );
    release('SUCCESS');
    expect((await untilTerminal(r2.json.run_id)).state).toMatchObject({ result_state: 'SUCCESS' });

    const { json: noQueue } = await post('/api/2.2/jobs/create', { name: 'nq', queue: { enabled: false } });
    const s1 = await post('/api/2.2/jobs/run-now', { job_id: noQueue.job_id });
    const s2 = await post('/api/2.2/jobs/run-now', { job_id: noQueue.job_id });
    const skipped = await runState(s2.json.run_id);
    expect(skipped.state).toMatchObject({ life_cycle_state: 'SKIPPED' });
    expect(skipped.status).toMatchObject({
      state: 'TERMINATED',
      termination_details: { code: 'MAX_CONCURRENT_RUNS_EXCEEDED' },
    });
    await waitFor(async () =>
      ((await runState(s1.json.run_id)).state as Json).life_cycle_state === 'RUNNING' ? true : undefined,
    );
    release('SUCCESS');
    await untilTerminal(s1.json.run_id);
  });

  it('lists runs newest first with active/completed filters, limit checks and cancel', async () => {
    emu.onRun(() => new Promise(() => {}));
    const { json: job } = await post('/api/2.2/jobs/create', { name: 'l', max_concurrent_runs: 5 });
    expect((await get(`/api/2.2/jobs/runs/list?job_id=${String(job.job_id)}`)).json).toEqual({
      has_more: false,
    });
    const ids: unknown[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await post('/api/2.2/jobs/run-now', { job_id: job.job_id })).json.run_id);
    await post('/api/2.2/jobs/runs/cancel', { run_id: ids[0] });

    const all = await get(`/api/2.2/jobs/runs/list?job_id=${String(job.job_id)}`);
    expect((all.json.runs as Json[]).map((r) => r.run_id)).toEqual([...ids].reverse());
    const active = await get(`/api/2.2/jobs/runs/list?job_id=${String(job.job_id)}&active_only=true`);
    expect((active.json.runs as Json[]).map((r) => r.run_id)).toEqual([ids[2], ids[1]]);
    const completed = await get(`/api/2.2/jobs/runs/list?job_id=${String(job.job_id)}&completed_only=true`);
    expect(completed.json.runs).toEqual([
      expect.objectContaining({ state: expect.objectContaining({ result_state: 'CANCELED' }) }),
    ]);

    const paged = await get(`/api/2.2/jobs/runs/list?job_id=${String(job.job_id)}&limit=2`);
    expect(paged.json).toMatchObject({ has_more: true });
    expect((await get('/api/2.2/jobs/runs/list?limit=25')).status).toBe(200);
    expect((await get('/api/2.2/jobs/runs/list?limit=26')).status).toBe(400);
    expect((await get('/api/2.2/jobs/runs/list?limit=-1')).status).toBe(400);
    expect((await get('/api/2.2/jobs/runs/list?active_only=true&completed_only=true')).status).toBe(400);
  });
});

describe('Pipelines API', () => {
  it('creates, lists with a LIKE filter, refuses duplicate names and edits by replacing the spec', async () => {
    const spec = {
      name: 'crypto-risk-medallion',
      catalog: 'workspace',
      schema: 'crypto',
      serverless: true,
      development: true,
    };
    const created = await post('/api/2.0/pipelines', spec);
    const id = String(created.json.pipeline_id);
    expect(created.json.effective_settings).toMatchObject({ ...spec, id });
    expect((await post('/api/2.0/pipelines', spec)).status).toBe(409);
    await post('/api/2.0/pipelines', { name: 'other' });

    const listed = await get(`/api/2.0/pipelines?filter=${encodeURIComponent("name LIKE '%risk%'")}`);
    expect(listed.json.statuses).toEqual([
      {
        pipeline_id: id,
        name: spec.name,
        state: 'IDLE',
        creator_user_name: 'tester@example.com',
        run_as_user_name: 'tester@example.com',
      },
    ]);
    expect(
      (await get(`/api/2.0/pipelines?filter=${encodeURIComponent("name LIKE 'nothing%'")}`)).json,
    ).toEqual({});
    expect((await get('/api/2.0/pipelines?max_results=101')).status).toBe(400);

    expect(
      (
        await call('PUT', `/api/2.0/pipelines/${id}`, {
          name: spec.name,
          catalog: 'workspace',
          schema: 'other',
        })
      ).status,
    ).toBe(200);
    const got = await get(`/api/2.0/pipelines/${id}`);
    // What was sent replaces the spec; a read adds the documented defaults (pipelines.ts, readBack).
    expect(got.json.spec).toEqual({
      id,
      name: spec.name,
      catalog: 'workspace',
      schema: 'other',
      development: true,
      continuous: false,
      channel: 'CURRENT',
      edition: 'ADVANCED',
      photon: false,
      serverless: false,
    });
    expect(got.json).toMatchObject({ state: 'IDLE', health: 'HEALTHY' });
    expect(typeof got.json.last_modified).toBe('number');
    expect((await get('/api/2.0/pipelines/no-such-id')).json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect((await call('DELETE', `/api/2.0/pipelines/${id}`)).status).toBe(200);
    expect(emu.pipelines().map((p) => p.spec.name)).toEqual(['other']);
  });

  it('runs updates through their states to COMPLETED or FAILED, with events', async () => {
    let open: () => void = () => {};
    const gate = new Promise<'COMPLETED'>((resolve) => (open = () => resolve('COMPLETED')));
    emu.onUpdate(() => gate);
    const id = String((await post('/api/2.0/pipelines', { name: 'p' })).json.pipeline_id);
    const { json: started } = await post(`/api/2.0/pipelines/${id}/updates`, { full_refresh: true });
    const updateId = String(started.update_id);
    expect((await post(`/api/2.0/pipelines/${id}/updates`, {})).status).toBe(409);
    expect((await get(`/api/2.0/pipelines/${id}`)).json.state).toBe('RUNNING');
    open();
    const seen = new Set<string>();
    const done = await waitFor(async () => {
      const { json } = await get(`/api/2.0/pipelines/${id}/updates/${updateId}`);
      const update = json.update as Json;
      seen.add(String(update.state));
      return update.state === 'COMPLETED' ? update : undefined;
    });
    expect(done).toMatchObject({ update_id: updateId, full_refresh: true, cause: 'API_CALL' });
    expect(seen.has('COMPLETED')).toBe(true);
    const status = await get(`/api/2.0/pipelines/${id}`);
    expect((status.json.latest_updates as Json[])[0]).toMatchObject({
      update_id: updateId,
      state: 'COMPLETED',
    });
    expect(typeof (status.json.latest_updates as Json[])[0]?.creation_time).toBe('string');

    const events = (await get(`/api/2.0/pipelines/${id}/events`)).json.events as Json[];
    expect(events[0]).toMatchObject({
      event_type: 'update_progress',
      level: 'INFO',
      details: { update_progress: { state: 'COMPLETED' } },
    });
    expect(
      events
        .map((e) => (e.details as Json).update_progress)
        .filter(Boolean)
        .map((p) => (p as Json).state),
    ).toEqual([
      'COMPLETED',
      'RUNNING',
      'SETTING_UP_TABLES',
      'INITIALIZING',
      'WAITING_FOR_RESOURCES',
      'CREATED',
    ]);
    expect(typeof events[0]?.timestamp).toBe('string');

    emu.onUpdate(() => 'FAILED');
    const failedId = String((await post(`/api/2.0/pipelines/${id}/updates`, {})).json.update_id);
    await waitFor(async () => {
      const { json } = await get(`/api/2.0/pipelines/${id}/updates/${failedId}`);
      return (json.update as Json).state === 'FAILED' ? true : undefined;
    });
    const errors = await get(`/api/2.0/pipelines/${id}/events?filter=${encodeURIComponent("level='ERROR'")}`);
    expect(errors.json.events).toHaveLength(1);
    expect((errors.json.events as Json[])[0]).toMatchObject({
      origin: { update_id: failedId },
      level: 'ERROR',
    });
    expect((await get(`/api/2.0/pipelines/${id}`)).json).toMatchObject({
      state: 'FAILED',
      health: 'UNHEALTHY',
    });
  });
});

describe('Workspace API', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('imports into existing folders, refuses to overwrite unless asked, and exports the source', async () => {
    const path = '/Shared/crypto-risk/notebooks/infer';
    const body = { path, format: 'SOURCE', language: 'PYTHON', content: b64('print(1)\n'), overwrite: false };
    const orphan = await post('/api/2.0/workspace/import', body);
    expect(orphan.status).toBe(404);
    expect(orphan.json).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });

    expect((await post('/api/2.0/workspace/mkdirs', { path: '/Shared/crypto-risk/notebooks' })).status).toBe(
      200,
    );
    expect((await post('/api/2.0/workspace/import', body)).status).toBe(200);
    const again = await post('/api/2.0/workspace/import', body);
    expect(again.status).toBe(400);
    expect(again.json.error_code).toBe('RESOURCE_ALREADY_EXISTS');
    expect(
      (await post('/api/2.0/workspace/import', { ...body, content: b64('print(2)\n'), overwrite: true }))
        .status,
    ).toBe(200);
    expect((await post('/api/2.0/workspace/import', { ...body, language: undefined })).status).toBe(400);

    const status = await get(`/api/2.0/workspace/get-status?path=${encodeURIComponent(path)}`);
    expect(status.json).toMatchObject({ object_type: 'NOTEBOOK', path, language: 'PYTHON' });
    expect(typeof status.json.object_id).toBe('number');
    const exported = await get(`/api/2.0/workspace/export?path=${encodeURIComponent(path)}&format=SOURCE`);
    expect(Buffer.from(String(exported.json.content), 'base64').toString()).toBe(
      '# Databricks notebook source\nprint(2)\n',
    );
    expect(emu.workspaceObject(path)?.content?.toString()).toBe('print(2)\n');

    await post('/api/2.0/workspace/import', {
      path: '/Shared/crypto-risk/notebooks/train.py',
      format: 'AUTO',
      content: b64('# Databricks notebook source\nprint(3)\n'),
    });
    await post('/api/2.0/workspace/import', {
      path: '/Shared/crypto-risk/conf.json',
      format: 'AUTO',
      content: b64('{}'),
    });
    expect(emu.workspaceObject('/Workspace/Shared/crypto-risk/notebooks/train')).toMatchObject({
      object_type: 'NOTEBOOK',
      language: 'PYTHON',
    });
    expect(emu.workspaceObject('/Shared/crypto-risk/conf.json')).toMatchObject({ object_type: 'FILE' });

    const listed = await get('/api/2.0/workspace/list?path=/Shared/crypto-risk/notebooks');
    expect((listed.json.objects as Json[]).map((o) => o.path)).toEqual([
      '/Shared/crypto-risk/notebooks/infer',
      '/Shared/crypto-risk/notebooks/train',
    ]);
    expect((await get('/api/2.0/workspace/get-status?path=/nope')).json.error_code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    expect((await post('/api/2.0/workspace/delete', { path: '/Shared/crypto-risk' })).json.error_code).toBe(
      'DIRECTORY_NOT_EMPTY',
    );
    expect(
      (await post('/api/2.0/workspace/delete', { path: '/Shared/crypto-risk', recursive: true })).status,
    ).toBe(200);
    expect(emu.workspaceObject(path)).toBeUndefined();
  });
});

describe('Files API (volumes)', () => {
  it('puts, gets, lists and deletes files in a declared volume', async () => {
    const file = '/Volumes/workspace/crypto/landing/date=2025-01-22/hour=12/batch-1.jsonl';
    const data = Buffer.from('{"id":"bitcoin"}\n');
    expect((await call('PUT', `/api/2.0/fs/files${file}`, undefined, { raw: data })).status).toBe(404);

    emu.createVolume('workspace', 'crypto', 'landing');
    expect(
      (await call('PUT', `/api/2.0/fs/files${file}?overwrite=false`, undefined, { raw: data })).status,
    ).toBe(204);
    expect(
      (await call('PUT', `/api/2.0/fs/files${file}?overwrite=false`, undefined, { raw: data })).status,
    ).toBe(409);
    expect(emu.volumeFile(file)?.toString()).toBe(data.toString());
    expect(emu.callsTo('PUT /api/2.0/fs/files')[0]?.body).toEqual({ bytes: data.length });

    const got = await get(`/api/2.0/fs/files${file}`);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(data)).toBe(true);
    const head = await call('HEAD', `/api/2.0/fs/files${file}`);
    expect(head.headers.get('content-length')).toBe(String(data.length));

    const listed = await get('/api/2.0/fs/directories/Volumes/workspace/crypto/landing/date=2025-01-22');
    expect(listed.json.contents).toEqual([
      expect.objectContaining({
        name: 'hour=12',
        is_directory: true,
        path: '/Volumes/workspace/crypto/landing/date=2025-01-22/hour=12',
      }),
    ]);
    const inner = await get(
      '/api/2.0/fs/directories/Volumes/workspace/crypto/landing/date=2025-01-22/hour=12',
    );
    expect(inner.json.contents).toEqual([
      expect.objectContaining({ name: 'batch-1.jsonl', is_directory: false, file_size: data.length }),
    ]);
    expect((await call('PUT', '/api/2.0/fs/directories/Volumes/workspace/crypto/landing/a/b')).status).toBe(
      204,
    );
    expect((await get('/api/2.0/fs/directories/Volumes/workspace/crypto/landing/a/b')).json).toEqual({});

    expect((await call('DELETE', `/api/2.0/fs/files${file}`)).status).toBe(204);
    const gone = await get(`/api/2.0/fs/files${file}`);
    expect(gone.status).toBe(404);
    expect(gone.json.error_code).toBe('NOT_FOUND');
  });
});

describe('Unity Catalog models and MLflow', () => {
  it('serves registered versions, aliases and the MLflow run behind them', async () => {
    const name = 'workspace.crypto.crypto_anomaly_iforest';
    expect((await get(`/api/2.1/unity-catalog/models/${name}`)).json.error_code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
    const v1 = emu.registerModelVersion(name, {
      runId: 'run1',
      metrics: { flagged_rate: 0.02 },
      params: { n_estimators: '200' },
      alias: 'champion',
    });
    const v2 = emu.registerModelVersion(name, { runId: 'run2', metrics: { flagged_rate: 0.015 } });
    expect([v1, v2]).toEqual([1, 2]);

    const model = await get(`/api/2.1/unity-catalog/models/${name}?include_aliases=true`);
    expect(model.json).toMatchObject({
      full_name: name,
      name: 'crypto_anomaly_iforest',
      catalog_name: 'workspace',
      schema_name: 'crypto',
      aliases: [{ alias_name: 'champion', version_num: 1 }],
    });
    expect((await get(`/api/2.1/unity-catalog/models/${name}`)).json).not.toHaveProperty('aliases');

    const versions = (await get(`/api/2.1/unity-catalog/models/${name}/versions`)).json
      .model_versions as Json[];
    expect(versions.map((v) => [v.version, v.run_id, v.status])).toEqual([
      [2, 'run2', 'READY'],
      [1, 'run1', 'READY'],
    ]);
    expect((await get(`/api/2.1/unity-catalog/models/${name}/versions/2`)).json).toMatchObject({
      model_name: 'crypto_anomaly_iforest',
      version: 2,
    });
    expect((await get(`/api/2.1/unity-catalog/models/${name}/versions/9`)).status).toBe(404);

    expect((await get(`/api/2.1/unity-catalog/models/${name}/aliases/champion`)).json).toMatchObject({
      version: 1,
      run_id: 'run1',
    });
    const set = await call('PUT', `/api/2.1/unity-catalog/models/${name}/aliases/champion`, {
      version_num: 2,
    });
    expect(set.json).toMatchObject({ alias_name: 'champion', version_num: 2 });
    expect((await get(`/api/2.1/unity-catalog/models/${name}/aliases/champion`)).json).toMatchObject({
      version: 2,
    });
    expect((await call('DELETE', `/api/2.1/unity-catalog/models/${name}/aliases/champion`)).status).toBe(200);
    expect((await get(`/api/2.1/unity-catalog/models/${name}/aliases/champion`)).status).toBe(404);

    const run = await get('/api/2.0/mlflow/runs/get?run_id=run1');
    expect(run.json.run).toMatchObject({
      info: { run_id: 'run1', status: 'FINISHED' },
      data: {
        metrics: [{ key: 'flagged_rate', value: 0.02, step: 0 }],
        params: [{ key: 'n_estimators', value: '200' }],
      },
    });
    expect((await get('/api/2.0/mlflow/runs/get?run_id=nope')).json.error_code).toBe(
      'RESOURCE_DOES_NOT_EXIST',
    );
  });
});

describe('SQL warehouses', () => {
  it('starts a stopped warehouse through STARTING to RUNNING and counts starts', async () => {
    expect((await get('/api/2.0/sql/warehouses/wh1')).json).toMatchObject({
      id: 'wh1',
      name: 'Starter',
      state: 'STOPPED',
    });
    expect((await post('/api/2.0/sql/warehouses/wh1/start')).json).toEqual({});
    expect((await get('/api/2.0/sql/warehouses/wh1')).json.state).toBe('STARTING');
    await post('/api/2.0/sql/warehouses/wh1/start');
    await waitFor(async () =>
      (await get('/api/2.0/sql/warehouses/wh1')).json.state === 'RUNNING' ? true : undefined,
    );
    expect(emu.warehouseStarts('wh1')).toBe(1);

    await post('/api/2.0/sql/warehouses/wh1/stop');
    expect((await get('/api/2.0/sql/warehouses/wh1')).json.state).toBe('STOPPING');
    emu.setWarehouseState('wh1', 'STOPPED');
    expect((await get('/api/2.0/sql/warehouses/wh1')).json.state).toBe('STOPPED');
    expect((await get('/api/2.0/sql/warehouses/nope')).status).toBe(404);
  });
});

describe('faults', () => {
  it('answers queued statuses in order, with Retry-After, then recovers', async () => {
    emu.fault(
      'POST /api/2.2/jobs/create',
      { kind: 'status', status: 429, retryAfter: 2 },
      { kind: 'status', status: 503 },
    );
    const limited = await post('/api/2.2/jobs/create', { name: 'x' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(limited.json.error_code).toBe('REQUEST_LIMIT_EXCEEDED');
    const unavailable = await post('/api/2.2/jobs/create', { name: 'x' });
    expect(unavailable.status).toBe(503);
    expect(unavailable.json.error_code).toBe('TEMPORARILY_UNAVAILABLE');
    expect((await get('/api/2.2/jobs/list')).status).toBe(200);
    expect((await post('/api/2.2/jobs/create', { name: 'x' })).status).toBe(200);
    expect(emu.jobs()).toHaveLength(1);
    expect(emu.callsTo('POST /api/2.2/jobs/create').map((c) => [c.status, c.fault])).toEqual([
      [429, 'status'],
      [503, 'status'],
      [200, undefined],
    ]);
  });

  it('resets connections without applying the request', async () => {
    emu.fault('*', { kind: 'reset' });
    await expect(post('/api/2.2/jobs/create', { name: 'x' })).rejects.toThrow();
    expect(emu.jobs()).toHaveLength(0);
    expect((await post('/api/2.2/jobs/create', { name: 'x' })).status).toBe(200);
  });

  it('lose_answer applies the change and then drops the connection', async () => {
    emu.fault('POST /api/2.2/jobs/create', { kind: 'lose_answer' });
    await expect(post('/api/2.2/jobs/create', { name: 'once' })).rejects.toThrow();
    expect(emu.jobs().map((j) => j.settings.name)).toEqual(['once']);
    const [lost] = emu.callsTo('POST /api/2.2/jobs/create');
    expect(lost).toMatchObject({ status: 200, fault: 'lose_answer', body: { name: 'once' } });
    const found = await get('/api/2.2/jobs/list?name=once');
    expect(found.json.jobs).toHaveLength(1);
  });

  it('delays answers and matches routes by method and path prefix', async () => {
    emu.fault('GET /api/2.0/sql/warehouses', { kind: 'delay', ms: 150 });
    emu.fault('POST /api/2.0/sql/warehouses$', { kind: 'reset' });
    const started = Date.now();
    expect((await post('/api/2.0/sql/warehouses/wh1/start')).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(150);
    const slow = Date.now();
    expect((await get('/api/2.0/sql/warehouses/wh1')).status).toBe(200);
    expect(Date.now() - slow).toBeGreaterThanOrEqual(140);
    expect(emu.callsTo('GET /api/2.0/sql/warehouses/wh1$')).toHaveLength(1);
    expect(emu.calls.every((c) => typeof c.at === 'number')).toBe(true);
  });
});
