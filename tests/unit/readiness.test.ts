import { describe, expect, it } from 'vitest';
import { createJobHealth } from '../../src/jobs/job-health.js';
import { createMetrics } from '../../src/metrics.js';
import { createReadiness, readyzAnswer } from '../../src/readiness.js';

describe('readiness', () => {
  it('names each failing check with its sentence, and answers 503 until all are ok', async () => {
    let storage = false;
    const readiness = createReadiness({
      checks: {
        async storage() {
          if (!storage) throw new Error('the bot store does not answer (IO Error)\nstack…');
        },
        async platform() {},
      },
      cacheMs: 0,
    });
    expect(readyzAnswer(await readiness.report())).toEqual({
      status: 503,
      body: {
        status: 'not ready',
        failing: ['storage'],
        checks: { storage: 'the bot store does not answer (IO Error)', platform: 'ok' },
      },
    });
    storage = true;
    expect(readyzAnswer(await readiness.report({ 'slack auth': async () => {} }))).toEqual({
      status: 200,
      body: { status: 'ready', checks: { storage: 'ok', platform: 'ok', 'slack auth': 'ok' } },
    });
  });

  it('fails a check that does not answer in time, and keeps each answer for cacheMs', async () => {
    let now = 0;
    let calls = 0;
    const readiness = createReadiness({
      checks: {
        platform: () => {
          calls++;
          return new Promise<void>(() => {});
        },
      },
      timeoutMs: 20,
      cacheMs: 1_000,
      now: () => now,
    });
    expect((await readiness.report()).checks).toEqual({ platform: 'no answer within 20 ms' });
    await readiness.report();
    expect(calls).toBe(1);
    now = 1_001;
    await readiness.report();
    expect(calls).toBe(2);
  });

  it('job health: a job is failing once it failed more than the allowed runs in a row; a success resets it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const jobs = createJobHealth(metrics);
    for (let i = 0; i < 3; i++) jobs.finished('ingest', false, 0.1);
    jobs.finished('pipeline', true, 0.2);
    expect(jobs.failing(3)).toEqual([]);
    jobs.finished('ingest', false, 0.1);
    expect(jobs.failing(3)).toEqual([{ job: 'ingest', runs: 4 }]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('crypto_risk_job_runs_total{job="ingest",result="failed"} 4');
    expect(text).toContain('crypto_risk_job_consecutive_failures{job="ingest"} 4');
    jobs.finished('ingest', true, 0.1);
    expect(jobs.failing(3)).toEqual([]);
    expect(await metrics.registry.metrics()).toContain(
      'crypto_risk_job_consecutive_failures{job="ingest"} 0',
    );
  });
});
