import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { spawnCli } from '../support/cli-process.js';
import { createTestLakehouse, type TestLakehouse, tick } from '../support/lakehouse.js';

let lake: TestLakehouse | undefined;
let dir: string | undefined;
afterEach(async () => {
  await lake?.close();
  lake = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const at = (m: number, s = 0) =>
  `2025-01-07T00:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.000Z`;
const minutes = (from: number, to: number, s = 0) =>
  Array.from({ length: to - from }, (_, i) => tick('bitcoin', at(from + i, s), 100 + from + i, 1));

describe('rewinding a watermark (local platform)', () => {
  it('Silver and Gold rewound: a late row comes back in once, an emitted window is never emitted twice', async () => {
    const l = await createTestLakehouse('2025-01-07T00:30:30Z');
    lake = l;
    const rewind = l.platform.engine.rewindWatermark?.bind(l.platform);
    if (!rewind) throw new Error('the local platform rewinds watermarks');
    // minutes 0–9 and 20–29: the windows 00:10 and 00:15 never get a row
    await l.land([...minutes(0, 10), ...minutes(20, 30)]);
    await l.platform.engine.runPipeline();
    const emitted = await l.table<{ window_start: string }>(
      'SELECT window_start FROM metrics_gold ORDER BY 1',
    );
    expect(emitted.map((w) => w.window_start)).toEqual([at(0), at(5), at(20)]);

    // late for both stages now
    l.setNow('2025-01-07T00:31:00Z');
    await l.land([tick('bitcoin', at(5, 30), 1, 1), tick('bitcoin', at(12, 30), 2, 1)]);
    expect((await l.platform.engine.runPipeline()).silver).toMatchObject({ rows_out: 1, dropped_late: 1 });

    const now = l.clock.now();
    expect(await rewind('silver', '2025-01-07T00:00:00Z', now)).toEqual({
      stage: 'silver',
      from: '2025-01-07T00:09:00.000Z',
      to: '2025-01-07T00:00:00.000Z',
    });
    expect(await rewind('gold', '2025-01-07T00:04:00Z', now)).toEqual({
      stage: 'gold',
      from: '2025-01-07T00:27:00.000Z',
      to: '2025-01-07T00:04:00.000Z',
    });
    const status = await l.platform.reads.status(now);
    expect(status.watermarks).toEqual({
      silver: '2025-01-07T00:00:00.000Z',
      gold: '2025-01-07T00:04:00.000Z',
    });

    // the same rows again, plus two for the window 00:10 and one that closes it
    l.setNow('2025-01-07T00:32:00Z');
    await l.land([
      tick('bitcoin', at(5, 30), 1, 1), // now in Silver; its window 00:05 is emitted: late for Gold
      tick('bitcoin', at(11, 30), 5, 1),
      tick('bitcoin', at(12, 30), 2, 1), // in Silver already: a duplicate
      tick('bitcoin', at(13, 30), 3, 1),
      tick('bitcoin', at(17, 30), 4, 1),
    ]);
    const run = await l.platform.engine.runPipeline();
    expect(run.failed).toBeUndefined();
    expect(run.silver).toMatchObject({ rows_in: 5, rows_out: 4, dropped_duplicate: 1, dropped_late: 0 });
    expect(run.gold).toMatchObject({ rows_in: 4, rows_out: 3, dropped_late: 1, windows_emitted: 1 });
    expect(
      await l.table(
        `SELECT window_start, ticks::INTEGER AS ticks, price_min, price_max FROM metrics_gold
         WHERE window_start IN (TIMESTAMP '2025-01-07 00:05:00', TIMESTAMP '2025-01-07 00:10:00') ORDER BY 1`,
      ),
    ).toEqual([
      { window_start: at(5), ticks: 5, price_min: 105, price_max: 109 },
      { window_start: at(10), ticks: 2, price_min: 3, price_max: 5 },
    ]);
    expect(
      await l.table(`SELECT count(*)::INTEGER AS n FROM prices_silver WHERE event_ts = '${at(12, 30)}'`),
    ).toEqual([{ n: 1 }]);
  });

  it('refuses a time in the future, an unparsable one, one not earlier, a stage without a watermark; changes nothing', async () => {
    const l = await createTestLakehouse('2025-01-07T00:30:30Z');
    lake = l;
    const rewind = l.platform.engine.rewindWatermark?.bind(l.platform);
    if (!rewind) throw new Error('the local platform rewinds watermarks');
    const now = l.clock.now();
    await expect(rewind('silver', '2025-01-07T00:00:00Z', now)).rejects.toThrow(/no watermark yet/);
    await l.land(minutes(0, 30));
    await l.platform.engine.runPipeline();
    const before = await l.table('SELECT * FROM pipeline_watermarks ORDER BY stage');
    for (const [stage, time, message] of [
      ['silver', '2025-01-07T00:31:00Z', /in the future/],
      ['gold', '2026-01-01', /in the future/],
      ['silver', 'yesterday', /ISO-8601 UTC/],
      ['silver', '2025-01-07T00:00:00+02:00', /ISO-8601 UTC/],
      ['silver', '2025-02-30T00:00:00Z', /ISO-8601 UTC/],
      ['silver', '2025-01-07T00:09:00Z', /not later/],
      ['gold', '2025-01-07T00:28:00Z', /not later/],
      ['bronze', '2025-01-07T00:00:00Z', /silver and gold/],
    ] as const) {
      const refused = await rewind(stage as 'silver', time, now).catch((e: unknown) => e);
      expect(refused, `${stage} ${time}`).toBeInstanceOf(UserError);
      expect((refused as UserError).exitCode).toBe(2);
      expect((refused as UserError).message).toMatch(message);
    }
    expect(await l.table('SELECT * FROM pipeline_watermarks ORDER BY stage')).toEqual(before);
  });
});

describe('crypto-risk pipeline --rewind (command line, as a separate process)', () => {
  const NOW = '--now=2025-01-07T01:00:00Z';
  const run = async (args: string[]) => {
    const proc = spawnCli(args, {
      DATA_DIR: join(dir as string, 'data'),
      MARKET_SOURCE: 'simulator',
      SIMULATOR_HISTORY_HOURS: '1',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
    const { code } = await proc.exited;
    return { code, stdout: proc.stdout(), stderr: proc.stderr() };
  };
  const watermarks = async () => JSON.parse((await run(['status', NOW, '--json'])).stdout).watermarks;

  it('rewinds with an audit line (who, what, old → new); a bad time is a usage error that changes nothing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-rewind-'));
    expect((await run(['ingest', NOW])).code).toBe(0);
    expect((await run(['pipeline', NOW])).code).toBe(0);
    const before = await watermarks();
    expect(before.silver).toBe('2025-01-07T00:40:00.000Z');

    const who = userInfo().username;
    for (const args of [
      ['silver', '2025-01-07T02:00:00Z'],
      ['silver', 'soon'],
      ['silver'],
      ['platinum', '2025-01-07T00:00:00Z'],
    ]) {
      const refused = await run(['pipeline', '--rewind', ...args, NOW]);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`audit: ${who} pipeline rewind ${args.join(' ')}: refused`));
    }
    expect(await watermarks()).toEqual(before);

    const ok = await run(['pipeline', '--rewind', 'silver', '2025-01-07T00:15:00Z', NOW]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /silver watermark went from 2025-01-07T00:40:00.000Z back to 2025-01-07T00:15:00.000Z/,
    );
    expect(ok.stderr).toContain(
      `audit: ${who} pipeline rewind silver 2025-01-07T00:15:00Z: silver watermark 2025-01-07T00:40:00.000Z → 2025-01-07T00:15:00.000Z`,
    );
    expect(await watermarks()).toEqual({ ...before, silver: '2025-01-07T00:15:00.000Z' });
  });
});
