import { existsSync, lstatSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { statusCommand } from '../../src/commands/status.js';
import type { PipelineRun } from '../../src/platform/port.js';
import { INCIDENT_EVENT_TYPE } from '../../src/slack/feed-outlet.js';
import { spawnCli } from '../support/cli-process.js';
import { createTestLakehouse, type TestLakehouse, tick } from '../support/lakehouse.js';
import { CHANNEL, type Harness, onlyOneAnomaly, startHarness } from '../support/slack-bot-harness.js';
import { until } from '../support/until.js';

let lake: TestLakehouse | undefined;
let dir: string | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  await lake?.close();
  lake = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const HOUR = 'date=2025-01-07/hour=00';

/**
 * Three files around a bad entry: bitcoin at 00:00 and 00:01 before it, 00:10 after it (which
 * closes the 00:00 window). The bad entry sorts between them.
 */
async function landAround(l: TestLakehouse, bad: (path: string) => Promise<void>, badName: string) {
  l.setNow('2025-01-07T00:02:00Z');
  const before = await l.land([
    tick('bitcoin', '2025-01-07T00:00:00.000Z', 100),
    tick('bitcoin', '2025-01-07T00:01:00.000Z', 102),
  ]);
  const name = `${HOUR}/${badName}`;
  await mkdir(join(l.landingDir, HOUR), { recursive: true });
  await bad(join(l.landingDir, name));
  l.setNow('2025-01-07T00:10:00Z');
  const after = await l.land([tick('bitcoin', '2025-01-07T00:10:00.000Z', 110)]);
  expect([before, name, after].sort()).toEqual([before, name, after]);
  return { before, name, after };
}

async function expectGoodFilesThrough(l: TestLakehouse, run: PipelineRun, good: string[]) {
  expect(run.files).toBe(good.length);
  expect(await l.table('SELECT DISTINCT source_file FROM prices_bronze ORDER BY 1')).toEqual(
    good.map((source_file) => ({ source_file })),
  );
  expect(await l.table('SELECT count(*) AS n FROM prices_silver')).toEqual([{ n: 3 }]);
  expect(await l.table('SELECT window_start, ticks, price_avg FROM metrics_gold')).toEqual([
    { window_start: '2025-01-07T00:00:00.000Z', ticks: 2, price_avg: 101 },
  ]);
  // Batch numbers count the committed files only: dense, one per file, the metrics agreeing.
  const files = await l.table<{ file: string; batch_no: number }>(
    'SELECT file, batch_no FROM pipeline_files ORDER BY batch_no',
  );
  expect(files).toEqual(good.map((file, i) => ({ file, batch_no: i + 1 })));
  expect(await l.table('SELECT DISTINCT batch_no, file FROM pipeline_metrics ORDER BY batch_no')).toEqual(
    files.map(({ file, batch_no }) => ({ batch_no, file })),
  );
}

/** Runs 2 and 3 retry the bad entry; the third failure moves it aside, with its reason beside it. */
async function expectRetriedThenQuarantined(l: TestLakehouse, name: string, reason: RegExp) {
  const failure = () =>
    l.table<{ attempts: number; last_error: string }>(
      `SELECT attempts, last_error FROM landing_failures WHERE file = '${name}'`,
    );
  expect(await failure()).toEqual([{ attempts: 1, last_error: expect.stringMatching(reason) }]);
  let status = await l.platform.reads.status(l.clock.now());
  expect(status.quarantine).toMatchObject({
    quarantined: 0,
    failing: 1,
    newest: { file: name, quarantined: false },
  });

  l.setNow('2025-01-07T00:20:00Z');
  const second = await l.platform.engine.runPipeline();
  expect(second).toMatchObject({ files: 0, failed: 1, quarantined: 0 });
  expect(await failure()).toEqual([{ attempts: 2, last_error: expect.stringMatching(reason) }]);

  l.setNow('2025-01-07T00:30:00Z');
  const third = await l.platform.engine.runPipeline();
  expect(third).toMatchObject({ files: 0, failed: 1, quarantined: 1 });
  expect(await failure()).toEqual([]);
  const moved = join(l.landingDir, '_quarantine', name);
  expect(lstatSync(moved)).toBeTruthy();
  expect(existsSync(join(l.landingDir, name)) || isLink(join(l.landingDir, name))).toBe(false);
  const recorded = JSON.parse(await readFile(`${moved}.reason.json`, 'utf8'));
  expect(recorded).toEqual({
    file: name,
    reason: expect.stringMatching(reason),
    attempts: 3,
    first_failed_at: '2025-01-07T00:10:00.000Z',
    last_failed_at: '2025-01-07T00:30:00.000Z',
    quarantined_at: '2025-01-07T00:30:00.000Z',
  });
  expect(await l.platform.engine.quarantined()).toEqual([recorded]);

  status = await l.platform.reads.status(l.clock.now());
  expect(status.quarantine).toEqual({
    quarantined: 1,
    failing: 0,
    newest: { file: name, reason: recorded.reason, at: recorded.quarantined_at, quarantined: true },
  });
  const landing = status.stages.find((s) => s.stage === 'landing');
  expect(landing?.counters.pending_files).toBe(0);
  const reply = await statusCommand({ platform: l.platform, now: l.clock.now() });
  expect(reply.notes?.join('\n')).toMatch(/1 landing file\(s\) quarantined, 0 failing.*quarantine retry/s);

  // The next runs skip it, and new files go through with the next batch number.
  l.setNow('2025-01-07T00:40:00Z');
  const next = await l.land([tick('bitcoin', '2025-01-07T00:40:00.000Z', 120)]);
  const fourth = await l.platform.engine.runPipeline();
  expect(fourth.files).toBe(1);
  expect(fourth.failed).toBeUndefined();
  expect(await l.table(`SELECT batch_no FROM pipeline_files WHERE file = '${next}'`)).toEqual([
    { batch_no: 3 },
  ]);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

describe('local pipeline: a bad landing entry is isolated, not a stuck pipeline', () => {
  it('ignores a directory named like a landing file: the files around it go through, nothing is pending', async () => {
    lake = await createTestLakehouse();
    const l = lake;
    const { before, name, after } = await landAround(l, (p) => mkdir(p), '20250107T000300000Z-000-x.jsonl');
    const run = await l.platform.engine.runPipeline();
    await expectGoodFilesThrough(l, run, [before, after]);
    expect(run.failed).toBeUndefined();
    const status = await l.platform.reads.status(l.clock.now());
    expect(status.stages.find((s) => s.stage === 'landing')?.counters).toEqual({
      files: 2,
      pending_files: 0,
    });
    expect(status.quarantine).toMatchObject({ quarantined: 0, failing: 0 });
    expect(lstatSync(join(l.landingDir, name)).isDirectory()).toBe(true); // left alone
  });

  it('a symbolic link to a directory (EISDIR) is retried on 3 runs, then quarantined', async () => {
    lake = await createTestLakehouse();
    const l = lake;
    const target = join(l.dir, 'some-dir');
    await mkdir(target);
    const { before, name, after } = await landAround(
      l,
      (p) => symlink(target, p),
      '20250107T000300000Z-000-x.jsonl',
    );
    const run = await l.platform.engine.runPipeline();
    expect(run).toMatchObject({ failed: 1, quarantined: 0 });
    await expectGoodFilesThrough(l, run, [before, after]);
    await expectRetriedThenQuarantined(l, name, /^cannot be read: EISDIR/);
  });

  it('a dangling symbolic link (ENOENT) is retried on 3 runs, then quarantined', async () => {
    lake = await createTestLakehouse();
    const l = lake;
    const { before, name, after } = await landAround(
      l,
      (p) => symlink(join(l.dir, 'gone.jsonl'), p),
      '20250107T000300000Z-000-dangling.jsonl',
    );
    const run = await l.platform.engine.runPipeline();
    await expectGoodFilesThrough(l, run, [before, after]);
    await expectRetriedThenQuarantined(l, name, /^cannot be read: ENOENT: no such file or directory/);
    expect(JSON.stringify(await l.platform.engine.quarantined())).not.toContain(l.dir); // no machine paths
  });

  it('a file that breaks the engine fails its group: its files are tried one at a time, the good ones commit', async () => {
    lake = await createTestLakehouse();
    const l = lake;
    // Silver's table made stricter than the pipeline expects (as a Delta table can carry a
    // constraint): a record without a symbol breaks the INSERT, and the group's transaction fails.
    await l.platform.db.run('ALTER TABLE prices_silver ALTER COLUMN symbol SET NOT NULL');
    const name = `${HOUR}/20250107T000100000Z-000-breaks.jsonl`;
    const { symbol: _, ...noSymbol } = tick('bitcoin', '2025-01-07T00:00:30.000Z', 1);
    await l.landRaw([JSON.stringify(noSymbol)], name);
    l.setNow('2025-01-07T00:02:00Z');
    const a = await l.land([
      tick('bitcoin', '2025-01-07T00:00:00.000Z', 100),
      tick('bitcoin', '2025-01-07T00:01:00.000Z', 102),
    ]);
    l.setNow('2025-01-07T00:10:00Z');
    const c = await l.land([tick('bitcoin', '2025-01-07T00:10:00.000Z', 110)]);
    expect([name, a, c].sort()).toEqual([name, a, c]);

    const run = await l.platform.engine.runPipeline();
    expect(run).toMatchObject({ failed: 1, quarantined: 0 });
    await expectGoodFilesThrough(l, run, [a, c]);
    expect(await l.table(`SELECT attempts, last_error FROM landing_failures`)).toEqual([
      {
        attempts: 1,
        last_error: expect.stringMatching(/^its micro-batch failed in the engine: Constraint Error/),
      },
    ]);
    // Nothing of it reached any table: its transaction was rolled back whole.
    expect(await l.table(`SELECT count(*) AS n FROM prices_bronze WHERE source_file = '${name}'`)).toEqual([
      { n: 0 },
    ]);

    // With the constraint lifted the same file goes through on the next run, with the next batch
    // number (its row is in Silver, too late for Gold), and its failure record goes.
    await l.platform.db.run('ALTER TABLE prices_silver ALTER COLUMN symbol DROP NOT NULL');
    l.setNow('2025-01-07T00:20:00Z');
    const next = await l.platform.engine.runPipeline();
    expect(next).toMatchObject({ files: 1, silver: { rows_out: 1 }, gold: { dropped_late: 1 } });
    expect(next.failed).toBeUndefined();
    expect(await l.table('SELECT count(*) AS n FROM landing_failures')).toEqual([{ n: 0 }]);
    expect(await l.table(`SELECT batch_no FROM pipeline_files WHERE file = '${name}'`)).toEqual([
      { batch_no: 3 },
    ]);
  });

  it('a file that failed once and then reads fine goes through, and its failure record goes', async () => {
    lake = await createTestLakehouse();
    const l = lake;
    const gone = join(l.dir, 'later.jsonl');
    const { name } = await landAround(l, (p) => symlink(gone, p), '20250107T000300000Z-000-later.jsonl');
    expect((await l.platform.engine.runPipeline()).failed).toBe(1);
    await writeFile(gone, `${JSON.stringify({ ...tick('ethereum', '2025-01-07T00:09:00.000Z', 3000) })}\n`);
    const run = await l.platform.engine.runPipeline();
    expect(run.files).toBe(1);
    expect(run.failed).toBeUndefined();
    expect(await l.table('SELECT count(*) AS n FROM landing_failures')).toEqual([{ n: 0 }]);
    expect(await l.table(`SELECT batch_no FROM pipeline_files WHERE file = '${name}'`)).toEqual([
      { batch_no: 3 },
    ]);
  });
});

describe('quarantine after a crash between its steps', () => {
  it('neither loses nor doubles a file, whichever step the crash came after', async () => {
    lake = await createTestLakehouse('2025-01-07T00:10:00Z');
    const l = lake;
    const name = `${HOUR}/20250107T000300000Z-000-dangling.jsonl`;
    await mkdir(join(l.landingDir, HOUR), { recursive: true });
    await symlink(join(l.dir, 'gone.jsonl'), join(l.landingDir, name));
    await l.platform.engine.runPipeline();
    await l.platform.engine.runPipeline();
    const moved = join(l.landingDir, '_quarantine', name);

    // A crash after the reason file was written, before the move: the reason alone is no entry.
    await mkdir(dirname(moved), { recursive: true });
    await writeFile(`${moved}.reason.json`, '{"file":"stale"}\n');
    expect(await l.platform.engine.quarantined()).toEqual([]);
    expect((await l.platform.reads.status(l.clock.now())).quarantine).toMatchObject({
      quarantined: 0,
      failing: 1,
    });
    // The next run fails it again and completes the move, with a fresh reason.
    expect(await l.platform.engine.runPipeline()).toMatchObject({ failed: 1, quarantined: 1 });
    expect(await l.platform.engine.quarantined()).toEqual([
      expect.objectContaining({ file: name, attempts: 3 }),
    ]);

    // A crash after the move, before the failure row went: the row does not count as failing.
    await l.platform.db.run(
      `INSERT INTO landing_failures VALUES (:file, 3, 'x', TIMESTAMP '2025-01-07 00:10:00', TIMESTAMP '2025-01-07 00:10:00')`,
      { file: name },
    );
    expect((await l.platform.reads.status(l.clock.now())).quarantine).toMatchObject({
      quarantined: 1,
      failing: 0,
    });
    expect(await l.platform.engine.runPipeline()).toMatchObject({ files: 0 });
    expect(await l.platform.engine.quarantined()).toHaveLength(1);

    // Retry clears the row first: it starts again from its first attempt.
    await l.platform.engine.retryQuarantined(name);
    expect(await l.table('SELECT count(*) AS n FROM landing_failures')).toEqual([{ n: 0 }]);
    expect(isLink(join(l.landingDir, name))).toBe(true);
    expect(isLink(moved)).toBe(false);
    expect(await l.platform.engine.quarantined()).toEqual([]);
    expect(await l.platform.engine.runPipeline()).toMatchObject({ failed: 1, quarantined: 0 });
    expect(await l.table('SELECT attempts FROM landing_failures')).toEqual([{ attempts: 1 }]);
  });
});

describe('crypto-risk quarantine (command line, as a separate process)', () => {
  const NOW = '--now=2025-01-07T01:00:00Z';

  async function run(args: string[]) {
    const proc = spawnCli(args, {
      DATA_DIR: join(dir as string, 'data'),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
    const { code } = await proc.exited;
    return { code, stdout: proc.stdout(), stderr: proc.stderr() };
  }

  it('lists the quarantined file, refuses names outside the quarantine, and retries it back into the pipeline', async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-quarantine-'));
    const landing = join(dir, 'data', 'landing');
    const name = `${HOUR}/20250107T000300000Z-000-dangling.jsonl`;
    const target = join(dir, 'arrives-later.jsonl');
    await mkdir(dirname(join(landing, name)), { recursive: true });
    await symlink(target, join(landing, name));

    for (const attempt of [1, 2, 3]) {
      const pipeline = await run(['pipeline', NOW, '--json']);
      expect(pipeline.code, pipeline.stderr).toBe(0);
      expect(JSON.parse(pipeline.stdout)).toMatchObject({
        files: 0,
        failed: 1,
        quarantined: attempt === 3 ? 1 : 0,
      });
    }

    const list = await run(['quarantine', 'list', NOW]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(name);
    expect(list.stdout).toMatch(/ENOENT/);
    expect(list.stdout).toMatch(/\b3\b/);
    expect(list.stderr).toMatch(/audit: \S+ quarantine list: 1 file\(s\)/);
    const json = JSON.parse((await run(['quarantine', 'list', NOW, '--json'])).stdout);
    expect(json.files).toEqual([
      expect.objectContaining({ file: name, attempts: 3, quarantined_at: '2025-01-07T01:00:00.000Z' }),
    ]);

    const status = JSON.parse((await run(['status', NOW, '--json'])).stdout);
    expect(status.quarantine).toMatchObject({ quarantined: 1, failing: 0, newest: { file: name } });

    const quarantined = join(landing, '_quarantine', name);
    for (const [given, message] of [
      ['../../crypto.duckdb', /outside the quarantine/],
      [`${HOUR}/../../../x.jsonl`, /outside the quarantine/],
      ['/etc/passwd', /path inside the quarantine/],
      [`${HOUR}/not-there.jsonl`, /is not in the quarantine/],
      [`${name}.reason.json`, /is a reason file/],
    ] as const) {
      const refused = await run(['quarantine', 'retry', given, NOW]);
      expect(refused.code, given).toBe(2);
      expect(refused.stderr).toMatch(message);
      expect(refused.stderr).toMatch(/Nothing was changed/);
      expect(refused.stderr).toMatch(/audit: \S+ quarantine retry .*: refused/);
      expect(isLink(quarantined)).toBe(true);
      expect(existsSync(`${quarantined}.reason.json`)).toBe(true);
    }

    // The cause is fixed (the link's target arrives): retry puts it back, the next run takes it.
    await writeFile(target, `${JSON.stringify(tick('bitcoin', '2025-01-07T00:03:00.000Z', 100))}\n`);
    const retry = await run(['quarantine', 'retry', `_quarantine/${name}`, NOW]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toMatch(/is back in landing/);
    expect(retry.stderr).toMatch(
      new RegExp(`audit: \\S+ quarantine retry ${name.replace(/[.]/g, '\\.')}: moved back`),
    );
    expect(isLink(join(landing, name))).toBe(true);
    expect(isLink(quarantined) || existsSync(`${quarantined}.reason.json`)).toBe(false);
    expect((await run(['quarantine', 'retry', name, NOW])).code).toBe(2); // not there any more

    const again = await run(['pipeline', NOW, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ files: 1, bronze: { rows_in: 1 } });
    expect(JSON.parse(again.stdout).failed).toBeUndefined();
  }, 120_000);
});

describe('the feed announces a quarantined landing file once, as a data incident', () => {
  async function quarantineOne(
    l: TestLakehouse,
    name = `date=2025-02-01/hour=00/20250201T000000000Z-000-dangling.jsonl`,
  ): Promise<string> {
    await mkdir(dirname(join(l.landingDir, name)), { recursive: true });
    await symlink(join(l.dir, 'gone.jsonl'), join(l.landingDir, name));
    for (let i = 0; i < 3; i++) await l.platform.engine.runPipeline();
    expect((await l.platform.engine.quarantined()).map((q) => q.file)).toEqual([name]);
    return name;
  }
  const incidents = () =>
    (h as Harness).slack
      .channelMessages(CHANNEL)
      .filter((m) => m.metadata?.event_type === INCIDENT_EVENT_TYPE);

  it('posts one message to the feed channel, nothing on the next cycle, nothing after a restart', async () => {
    h = await startHarness({ hours: 3 });
    await onlyOneAnomaly(h.lake);
    const name = await quarantineOne(h.lake);
    const result = await h.bot.feed.runOnce();
    expect(result.incidents).toBe(1);
    const posted = incidents();
    expect(posted).toHaveLength(1);
    expect(posted[0]?.text).toMatch(
      new RegExp(
        `^⚠️ Data incident: a landing file was quarantined: Landing file ${name.replace(/[.]/g, '\\.')} was quarantined after 3 failed pipeline run\\(s\\): cannot be read: ENOENT`,
      ),
    );
    const shown = JSON.stringify(posted[0]?.blocks);
    expect(shown).toContain('The pipeline carries on with the next files');
    expect(shown).toContain(`crypto-risk quarantine retry ${name}`);
    expect((await h.bot.feed.runOnce()).incidents).toBeUndefined();
    const restarted = await h.make(h.lake.platform);
    expect((await restarted.feed.runOnce()).incidents).toBeUndefined();
    expect(incidents()).toEqual(posted);
  });

  it('a file named to mention the channel is announced escaped: no mention, no link', async () => {
    h = await startHarness({ hours: 3 });
    await onlyOneAnomaly(h.lake);
    await h.bot.feed.runOnce();
    const name = await quarantineOne(
      h.lake,
      'date=2025-02-01/hour=00/20250201T000000000Z-000-<!channel> <@U0OPS01> <mailto:x@evil.example|click>.jsonl',
    );
    await h.bot.feed.runOnce();
    const [posted] = incidents();
    const escaped =
      'date=2025-02-01/hour=00/20250201T000000000Z-000-&lt;!channel&gt; &lt;@U0OPS01&gt; &lt;mailto:x@evil.example|click&gt;.jsonl';
    expect(posted?.text).toContain(escaped);
    expect(JSON.stringify(posted?.blocks)).toContain(escaped);
    expect(JSON.stringify([posted?.text, posted?.blocks])).not.toMatch(/<[!@]|<mailto:/);
    expect((await h.lake.platform.engine.quarantined()).map((q) => q.file)).toEqual([name]);
  });

  it('after a crash between posting and recording, a restarted feed finds the announcement instead of posting it again', async () => {
    h = await startHarness({ hours: 3 });
    await onlyOneAnomaly(h.lake);
    await h.bot.feed.runOnce(); // the anomaly goes out first; only the incident is left
    await quarantineOne(h.lake);
    h.slack.fault('chat.postMessage', { kind: 'stall', ms: 3_000 });
    const crashed = h.bot.feed.runOnce();
    await until(() => incidents().length > 0);
    const posted = incidents();
    expect([...(await h.log.incidents(CHANNEL)).values()]).toEqual(['pending']);
    const restarted = await h.make(h.lake.platform);
    expect((await restarted.feed.runOnce()).incidents).toBeUndefined();
    expect(incidents()).toEqual(posted);
    expect([...(await h.log.incidents(CHANNEL)).values()]).toEqual(['posted']);
    await crashed.catch(() => undefined);
  });
});
