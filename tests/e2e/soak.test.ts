import { describe, expect, it } from 'vitest';
import { runSoak, type SoakResult } from '../support/soak.js';

/**
 * The soak: `npm start` as a new user runs it (the build, then `node dist/cli.js run`: embedded
 * lakehouse, console, market simulator) for 10 minutes at SIMULATOR_SPEED=120, 20 simulated hours,
 * on a data folder of its own and a free port (tests/support/soak.ts). `npm start` itself, so the
 * build is part of what is checked; the product's node process is found under npm's process group
 * for its memory. About 11 minutes with the build; the timeout (30 minutes) leaves room for a busy 2-core machine
 * running other suites in parallel: nothing below depends on how fast it runs, only on what the
 * product did (job runs read back, the channel read over HTTP, memory per simulated hour).
 */

const MINUTES = 10;
const SPEED = 120;

describe('a long run of npm start (soak)', () => {
  let result: SoakResult;

  it(
    `runs ${MINUTES} minutes at ${SPEED}× on the simulator and stops cleanly`,
    async () => {
      result = await runSoak({ minutes: MINUTES, speed: SPEED });
      // SIGINT reaches npm and the product (one process group): the product stops cleanly, npm
      // ends by the signal (or with 0)
      expect(result.stdout, result.stderr.slice(-3000)).toMatch(/Stopped cleanly\.\n$/);
      expect([0, 'SIGINT']).toContain(result.exit.code ?? result.exit.signal);
      // 10 minutes at 120× are 20 simulated hours after the first round
      expect(result.hours).toBe((MINUTES * 60 * SPEED) / 3600);
    },
    30 * 60_000,
  );

  it('ran every job on its schedule, and none failed', () => {
    expect(result, 'the run above did not finish').toBeDefined();
    expect(result.failedLines).toEqual([]);
    for (const job of result.jobs) {
      expect(job.failed, `${job.job}: failed runs`).toBe(0);
      // the feed's runs come from the metrics endpoint when `run` serves it; the others from job_runs
      if (job.job === 'feed' && job.ran === undefined) continue;
      // a trigger that comes while the job still runs is skipped (logged): the job never overlaps
      expect(
        job.ran,
        `${job.job}: runs (scheduled ${job.min}–${job.max}, skipped ${job.skipped})`,
      ).toBeGreaterThanOrEqual(job.min - job.skipped);
      expect(job.ran, `${job.job}: runs (scheduled ${job.min}–${job.max})`).toBeLessThanOrEqual(job.max);
    }
    // at speed 120 the schedules still run in wall-clock time: ingest every 2 minutes, the pipeline
    // every minute, inference every 10; the first round ran each once (and trained the first model)
    const ran = (job: string) => result.jobs.find((j) => j.job === job)?.ran ?? 0;
    expect(ran('ingest')).toBeGreaterThanOrEqual(5);
    expect(ran('pipeline')).toBeGreaterThanOrEqual(9);
    expect(ran('infer')).toBeGreaterThanOrEqual(2);
    expect(ran('train')).toBeGreaterThanOrEqual(1);
  });

  it('posted every alerting window to the console channel exactly once', () => {
    expect(result, 'the run above did not finish').toBeDefined();
    expect(result.notShown, 'the console page listed every feed message').toBe(0);
    expect(result.expected.length).toBeGreaterThan(0);
    const missing = result.expected.filter((key) => !result.delivered.has(key));
    // what the feed said it did, to tell a lost post from a window it never took up
    const feedLines = result.stdout
      .split('\n')
      .filter((l) => / (feed|infer|train)[: ]/.test(l))
      .slice(-60);
    expect(missing, `alerting windows never posted; the last runs:\n${feedLines.join('\n')}`).toEqual([]);
    const repeated = [...result.delivered].filter(([, n]) => n !== 1).map(([key, n]) => `${key} ×${n}`);
    expect(repeated, 'windows posted more than once').toEqual([]);
  });

  it('keeps its resident memory flat: the last simulated hour within 10 % of the first', () => {
    expect(result, 'the run above did not finish').toBeDefined();
    expect(result.samples).toBeGreaterThan(100);
    // growth is what a leak shows; a process that gives memory back (V8 shrinking its heap after
    // the first round's garbage) is flat enough
    expect(
      result.lastHourMb,
      `median RSS per simulated hour (MB): ${result.hourlyRssMb.map((m) => m.toFixed(0)).join(' ')}`,
    ).toBeLessThanOrEqual(result.firstHourMb * 1.1);
  });
});
