import { describe, expect, it } from 'vitest';
import { acceleratedClock } from '../../src/clock.js';
import { createScheduler } from '../../src/jobs/scheduler.js';
import { silentLogger } from '../../src/log.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A job that takes `ms` and records how many copies of it ran at once. */
function slowJob(ms: number) {
  const stats = { runs: 0, active: 0, maxActive: 0, finished: 0 };
  return {
    stats,
    run: async () => {
      stats.runs++;
      stats.active++;
      stats.maxActive = Math.max(stats.maxActive, stats.active);
      await sleep(ms);
      stats.active--;
      stats.finished++;
    },
  };
}

describe('scheduler', () => {
  it('never runs a job twice at once: a trigger while it runs is skipped', async () => {
    const job = slowJob(200);
    const scheduler = createScheduler([{ name: 'pipeline', cron: '0 0 1 1 *', run: job.run }], {
      logger: silentLogger(),
    });
    const [first, second] = await Promise.all([scheduler.runNow('pipeline'), scheduler.runNow('pipeline')]);
    expect([first, second]).toEqual([true, false]);
    expect(job.stats).toMatchObject({ runs: 1, maxActive: 1 });
    expect(await scheduler.runNow('pipeline')).toBe(true); // free again afterwards
    await scheduler.stop();
  });

  it('skips cron triggers that come while the job still runs, and stop() waits for it', async () => {
    const job = slowJob(1_500);
    const other = slowJob(10);
    const scheduler = createScheduler(
      [
        { name: 'slow', cron: '* * * * * *', run: job.run }, // every second
        { name: 'quick', cron: '* * * * * *', run: other.run },
      ],
      { logger: silentLogger() },
    );
    scheduler.start();
    await sleep(3_300);
    await scheduler.stop();
    expect(job.stats.maxActive).toBe(1);
    expect(job.stats.runs).toBeGreaterThanOrEqual(1);
    expect(job.stats.runs).toBeLessThanOrEqual(2); // three or four triggers, at most two could start
    expect(job.stats.active).toBe(0); // stop() waited for the run in flight
    expect(job.stats.finished).toBe(job.stats.runs);
    expect(other.stats.runs).toBeGreaterThanOrEqual(3); // other jobs are not held up
    const runsAtStop = job.stats.runs + other.stats.runs;
    await sleep(1_200);
    expect(job.stats.runs + other.stats.runs).toBe(runsAtStop); // nothing runs after stop
  });

  it('keeps going after a job fails', async () => {
    let calls = 0;
    const scheduler = createScheduler(
      [
        {
          name: 'ingest',
          cron: '0 0 1 1 *',
          run: async () => {
            calls++;
            throw new Error('CoinGecko could not be reached');
          },
        },
      ],
      { logger: silentLogger() },
    );
    expect(await scheduler.runNow('ingest')).toBe(true);
    expect(await scheduler.runNow('ingest')).toBe(true);
    expect(calls).toBe(2);
    await scheduler.stop();
  });
});

describe('accelerated clock', () => {
  it('runs the given number of times faster than the wall clock from its origin', async () => {
    const origin = new Date('2025-01-07T00:00:00Z');
    const clock = acceleratedClock(600, origin);
    await sleep(200);
    const elapsed = clock.now().getTime() - origin.getTime();
    expect(elapsed).toBeGreaterThanOrEqual(600 * 190);
    expect(elapsed).toBeLessThan(600 * 1_000);
  });
});
