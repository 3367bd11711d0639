import { afterEach, describe, expect, it } from 'vitest';
import { JOB_NAMES, PIPELINE_NAME } from '../../src/platform/databricks/resources.js';
import { type DatabricksHarness, startDatabricksHarness } from '../support/databricks-harness.js';

let h: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const MUTATING = /^(POST|PUT|DELETE|PATCH) /;
const mutatingCalls = (harness: DatabricksHarness, since: number) =>
  harness.api.calls
    .slice(since)
    .filter((c) => MUTATING.test(`${c.method} `) && !c.path.startsWith('/oidc'))
    .map((c) => `${c.method} ${c.path}`);

describe('provisioning a Databricks workspace', () => {
  it('plans everything on an empty workspace, applies it, and a second apply changes nothing', async () => {
    h = await startDatabricksHarness();
    const plan = await h.platform.provision(false);
    expect(plan.applied).toBe(false);
    expect(plan.items.every((i) => i.action === 'create')).toBe(true);
    expect(plan.items.map((i) => i.kind)).toEqual(
      expect.arrayContaining(['schema', 'volume', 'folder', 'notebook', 'file', 'pipeline', 'job']),
    );
    expect(h.api.jobs()).toEqual([]); // a plan changes nothing

    const applied = await h.platform.provision(true);
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
    const again = await h.platform.provision(true);
    expect(again.items.every((i) => i.action === 'unchanged')).toBe(true);
    expect(mutatingCalls(h, before)).toEqual([]);
  });

  it('corrects drift: a schedule edited in the UI is put back; a changed notebook is re-imported', async () => {
    h = await startDatabricksHarness();
    await h.platform.provision(true);
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
    const plan = await h.platform.provision(false);
    const changed = plan.items.filter((i) => i.action !== 'unchanged');
    expect(changed.map((i) => [i.kind, i.name, i.action])).toEqual([
      ['notebook', '/Shared/crypto-risk-monitor/notebooks/03_train_iforest', 'update'],
      ['job', JOB_NAMES.train, 'update'],
    ]);
    expect(changed[1]?.detail).toMatch(/schedule/);
    await h.platform.provision(true);
    const fixed = h.api.jobs().find((j) => j.settings.name === JOB_NAMES.train)?.settings as {
      schedule: unknown;
    };
    expect(fixed.schedule).toEqual({
      quartz_cron_expression: '0 0 3 * * ?',
      timezone_id: 'UTC',
      pause_status: 'UNPAUSED',
    });
    expect((await h.platform.provision(false)).items.every((i) => i.action === 'unchanged')).toBe(true);
  });

  it('recovers from a 429 mid-apply and from a create whose answer was lost, without duplicate jobs', async () => {
    h = await startDatabricksHarness();
    h.api.fault(
      'POST /api/2.2/jobs/create',
      { kind: 'status', status: 429, retryAfter: 1 },
      { kind: 'lose_answer' },
    );
    const applied = await h.platform.provision(true);
    expect(applied.items.filter((i) => i.kind === 'job').map((i) => i.action)).toEqual([
      'create',
      'create',
      'create',
    ]);
    const names = h.api.jobs().map((j) => j.settings.name);
    expect(names.sort()).toEqual(Object.values(JOB_NAMES).sort()); // three jobs, none twice
    expect((await h.platform.provision(false)).items.every((i) => i.action === 'unchanged')).toBe(true);
  });
});
