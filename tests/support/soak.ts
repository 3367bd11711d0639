import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cron from 'node-cron';
import { createIncidentWatch } from '../../src/chat/data-incidents.js';
import { createDeliveryLog } from '../../src/chat/delivery-log.js';
import type { FeedOutlet } from '../../src/chat/port.js';
import { fixedClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createApp } from '../../src/main.js';
import type { ScoredWindow } from '../../src/platform/port.js';
import { FEED_EVENT_TYPE } from '../../src/slack/feed-outlet.js';
import { spawnNpmStart } from './cli-process.js';
import { freePort } from './free-port.js';

/**
 * A long run of `npm start` on the market simulator (the soak test and bench/soak.ts): the product
 * as a new user starts it (the build, then `node dist/cli.js run`, the embedded lakehouse and the
 * console), on a data folder of its own, with the simulated clock SIMULATOR_SPEED times faster than
 * the wall clock. The schedules stay on the wall clock (node-cron; src/jobs/scheduler.ts), so ten
 * minutes at speed 120 are 20 simulated hours of market data with ten minutes' worth of job runs.
 *
 * While it runs: the resident memory of the product's node process (VmRSS in /proc, every
 * `sampleMs`), grouped by simulated hour from the end of the first round. At the end: the feed
 * channel as the console shows it, then, after a clean stop, the job runs and the scored windows
 * read back from the data folder, compared with what the schedules and the feed's rules imply.
 */
export interface SoakOptions {
  /** Wall-clock minutes from the end of the first round. */
  minutes: number;
  /** SIMULATOR_SPEED. */
  speed: number;
  sampleMs?: number;
  /** Each line the product prints, and the soak's own progress. */
  onLine?: (line: string) => void;
}

export interface JobCount {
  job: string;
  /** Runs recorded (job_runs), the first round's included; the feed's from the metrics endpoint. */
  ran: number | undefined;
  /** Scheduled triggers in the run, the first round's run added: at least `min`, at most `max`. */
  min: number;
  max: number;
  /** Triggers the scheduler skipped because the job was still running (logged; it never overlaps). */
  skipped: number;
  failed: number;
}

export interface SoakResult {
  /** Simulated hours the run reached after the first round. */
  hours: number;
  /** Median VmRSS (MB) of each simulated hour's samples, in order. */
  hourlyRssMb: number[];
  firstHourMb: number;
  lastHourMb: number;
  samples: number;
  jobs: JobCount[];
  /** Lines the product printed for a failed job run. */
  failedLines: string[];
  /** Alerting windows the feed had to post (not muted, not of a data incident, young enough). */
  expected: string[];
  /** How many times each window (asset|window_end) appeared in a feed message of the channel. */
  delivered: Map<string, number>;
  /** Feed messages in the channel; messages the page did not show (older than it lists). */
  feedMessages: number;
  notShown: number;
  /** Every message of the channel (incidents, replies), and their average size as JSON. */
  channelMessages: number;
  bytesPerMessage: number;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  stdout: string;
  stderr: string;
}

const FEED_CHANNEL = 'C0CRYPTO1';
const OPS_USER = 'U0OPS01';
/** The feed does not post windows older than this when it first sees them (src/chat/feed.ts). */
const FEED_MAX_AGE_MS = 24 * 3_600_000;
/** Slack of the schedule comparison at both ends (the start seen in stdout, the stop signal). */
const EDGE_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** VmRSS of a process in MB, or undefined once it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * The product's node process under `npm start`: in npm's process group (spawnNpmStart starts npm
 * as a group leader), running dist/cli.js.
 */
function appPid(group: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: the fields after the last ')' are space-separated
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== group) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline.some((arg) => arg.endsWith('dist/cli.js')) && cmdline.includes('run')) return Number(entry);
    } catch {
      // the process ended while being read
    }
  }
  return undefined;
}

/**
 * Wall-clock times (ms) of a cron schedule's next `count` triggers from now (UTC, as the scheduler
 * runs it: node-cron's own reckoning).
 */
export function nextTriggers(expression: string, count: number): number[] {
  const task = cron.createTask(expression, () => undefined, { timezone: 'UTC' });
  try {
    return task.getNextRuns(count).map((d) => d.getTime());
  } finally {
    task.destroy();
  }
}

const between = (times: readonly number[], from: number, to: number) =>
  times.filter((t) => t >= from && t <= to);

/** Runs the soak; the data folder is a temporary one, removed at the end. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-soak-'));
  try {
    return await soakIn(dir, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function soakIn(dir: string, options: SoakOptions): Promise<SoakResult> {
  const { speed, minutes } = options;
  const sampleMs = options.sampleMs ?? 3_000;
  const say = options.onLine ?? (() => undefined);
  const port = await freePort();
  const metricsPort = await freePort();
  const env: Record<string, string> = {
    DATA_DIR: join(dir, 'data'),
    MARKET_SOURCE: 'simulator',
    SIMULATOR_SPEED: String(speed),
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  };
  const product = spawnNpmStart(env);
  let printed = 0;
  const echo = setInterval(() => {
    const lines = product.stdout().split('\n');
    for (const line of lines.slice(printed, -1)) say(line);
    printed = Math.max(printed, lines.length - 1);
  }, 1_000);
  try {
    // The build and the first round (backfill, first model, scoring, feed) on a busy machine.
    await firstRoundDone(product);
    const schedulerStart = Date.now();
    const config = loadConfig({ env, cwd: dir });
    const schedules: Record<string, string> = {
      ingest: config.schedule.ingest,
      pipeline: config.schedule.pipeline,
      infer: config.schedule.infer,
      train: config.schedule.train,
      feed: config.schedule.feed,
    };
    // The triggers to come, for schedules as often as every minute, past the end and the wait after it.
    const triggers = new Map(
      Object.entries(schedules).map(([job, expression]) => [job, nextTriggers(expression, minutes + 15)]),
    );
    const triggersOf = (job: string) => triggers.get(job) ?? [];
    const pid = appPid(product.child.pid as number);
    if (pid === undefined) throw new Error('the product’s node process was not found under npm start');
    const hourMs = 3_600_000 / speed;
    const end = schedulerStart + minutes * 60_000;
    const samples: Array<{ at: number; mb: number }> = [];
    while (Date.now() < end) {
      const mb = rssMb(pid);
      if (mb === undefined) throw new Error(`the product ended early:\n${product.stderr().slice(-2000)}`);
      samples.push({ at: Date.now(), mb });
      await sleep(Math.min(sampleMs, Math.max(0, end - Date.now())));
    }

    // The last inference of the run (SCHEDULE_INFER) and the feed cycle after it: the windows it
    // scored are posted at the next feed trigger, so the run ends after that, not in between.
    const lastInfer = between(triggersOf('infer'), schedulerStart, end).at(-1);
    if (lastInfer !== undefined) await feedCaughtUp(product, lastInfer, say);

    const feedRuns = await metricRuns(metricsPort, 'feed');
    const channel = await consoleChannel(port);
    const stopAt = Date.now();
    product.stop('SIGINT');
    const exit = await product.exited;
    say(`stopped: ${JSON.stringify(exit)}`);

    const hours = Math.floor((end - schedulerStart) / hourMs);
    const hourlyRssMb: number[] = [];
    for (let h = 0; h < hours; h++) {
      const from = schedulerStart + h * hourMs;
      const inHour = samples.filter((s) => s.at >= from && s.at < from + hourMs).map((s) => s.mb);
      hourlyRssMb.push(median(inHour));
    }

    const after = await readBack(env, dir);
    // The scheduler's warning, a JSON log line on standard error (LOG_FORMAT=json).
    const skippedOf = (job: string) =>
      product
        .stderr()
        .split('\n')
        .filter((l) => l.includes(`"msg":"${job} is still running; this trigger is skipped"`)).length;
    const jobs: JobCount[] = Object.keys(schedules).map((job) => {
      const sure = between(triggersOf(job), schedulerStart + EDGE_MS, stopAt - EDGE_MS).length;
      // nextTriggers counts from the moment after the start: a trigger just before it is not listed
      const maybe = between(triggersOf(job), schedulerStart, stopAt + EDGE_MS).length + 1;
      // The first round runs every job once; training only when there is no model (an empty folder).
      return {
        job,
        ran: job === 'feed' ? feedRuns : (after.runs.get(job)?.ran ?? 0),
        min: 1 + sure,
        max: 1 + maybe,
        skipped: skippedOf(job),
        failed: after.runs.get(job)?.failed ?? 0,
      };
    });

    // What the feed had to post: alerting windows, not of a data incident (feed.ts, data-incidents.ts),
    // no older than the feed's age limit when the first round's feed saw them; no silences were set.
    const cutoff = Date.parse(after.firstInferAt) - FEED_MAX_AGE_MS + 10 * 60_000;
    const expected = after.windows
      .filter((w) => w.is_anomaly && !after.ofIncident(w) && Date.parse(w.window_end) >= cutoff)
      .map((w) => `${w.asset}|${w.window_end}`)
      .sort();
    return {
      hours,
      hourlyRssMb,
      firstHourMb: hourlyRssMb[0] ?? Number.NaN,
      lastHourMb: hourlyRssMb.at(-1) ?? Number.NaN,
      samples: samples.length,
      jobs,
      failedLines: product
        .stdout()
        .split('\n')
        .filter((l) => / FAILED: /.test(l)),
      expected,
      delivered: channel.delivered,
      feedMessages: channel.feedMessages,
      notShown: channel.notShown,
      channelMessages: channel.channelMessages,
      bytesPerMessage: channel.bytesPerMessage,
      exit,
      stdout: product.stdout(),
      stderr: product.stderr(),
    };
  } finally {
    clearInterval(echo);
    killGroup(product);
  }
}

/**
 * The build and the first round (backfill, first model, scoring, feed), up to 10 minutes on a busy
 * machine; a build or start that fails ends npm, and that ends the wait at once, with its output.
 */
async function firstRoundDone(product: ReturnType<typeof spawnNpmStart>): Promise<void> {
  const ended = product.exited.then(({ code, signal }) => {
    throw new Error(
      `npm start ended (${code ?? signal}) before its first round was done:\n${product.stdout().slice(-3000)}\n${product.stderr().slice(-3000)}`,
    );
  });
  await Promise.race([
    product.waitFor(/ first round done; the jobs now run on their schedules$/, 'stdout', 600_000),
    ended,
  ]);
  ended.catch(() => undefined);
}

/** Ends what is left of npm's process group (after a failure); nothing when it is gone already. */
function killGroup(product: ReturnType<typeof spawnNpmStart>): void {
  try {
    product.stop('SIGKILL');
  } catch {
    // the group has ended
  }
}

/** Waits for the inference triggered at `trigger` to print its line, then for the feed's next cycle. */
async function feedCaughtUp(
  product: ReturnType<typeof spawnNpmStart>,
  trigger: number,
  say: (line: string) => void,
): Promise<void> {
  const inferLine = /^\d\d:\d\d:\d\d infer: /;
  const before = product
    .stdout()
    .split('\n')
    .filter((l) => inferLine.test(l)).length;
  const deadline = Math.max(Date.now(), trigger) + 300_000;
  while (Date.now() < deadline) {
    const lines = product
      .stdout()
      .split('\n')
      .filter((l) => inferLine.test(l));
    // the line of this trigger's run: printed after the trigger (a run that scored nothing prints none)
    if (Date.now() > trigger && lines.length > before) break;
    if (Date.now() > trigger + 120_000) break;
    await sleep(500);
  }
  // The feed triggers every minute; the cycle after the scoring posts what it scored.
  const nextMinute = Math.ceil((Date.now() + 1) / 60_000) * 60_000;
  say(`waiting for the feed cycle after the last inference (${new Date(nextMinute).toISOString()})`);
  await sleep(Math.max(0, nextMinute - Date.now()) + 20_000);
}

/** Runs of a job counted by the metrics endpoint (crypto_risk_job_runs_total), if it serves them. */
async function metricRuns(port: number, job: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let total: number | undefined;
    for (const line of text.split('\n')) {
      const match = /^crypto_risk_job_runs_total\{(.*)\} (\d+)/.exec(line);
      if (match && (match[1] ?? '').includes(`job="${job}"`)) total = (total ?? 0) + Number(match[2]);
    }
    return total;
  } catch {
    return undefined;
  }
}

interface FeedPayload {
  windows?: Array<{ asset: string; window_end: string }>;
}

/** The feed channel as the console's page reads it: each window's appearances in feed messages. */
async function consoleChannel(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/console/state?user=${OPS_USER}`);
  const body = (await res.json()) as {
    messages: Record<
      string,
      Array<{ metadata?: { event_type: string; event_payload: FeedPayload }; thread_ts?: string; ts: string }>
    >;
    olderNotShown?: Record<string, number>;
  };
  const messages = (body.messages[FEED_CHANNEL] ?? []).filter(
    (m) => m.metadata?.event_type === FEED_EVENT_TYPE && (m.thread_ts === undefined || m.thread_ts === m.ts),
  );
  const delivered = new Map<string, number>();
  for (const m of messages) {
    for (const w of m.metadata?.event_payload.windows ?? []) {
      const key = `${w.asset}|${w.window_end}`;
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
    }
  }
  const all = body.messages[FEED_CHANNEL] ?? [];
  return {
    delivered,
    feedMessages: messages.length,
    notShown: body.olderNotShown?.[FEED_CHANNEL] ?? 0,
    channelMessages: all.length,
    bytesPerMessage: all.length > 0 ? Buffer.byteLength(JSON.stringify(all)) / all.length : 0,
  };
}

/**
 * The data folder after the stop, through the product's own reads: job runs and scored windows
 * with `crypto-risk sql`'s read-only SQL, and which windows belong to a data incident by the feed's
 * own rule (createIncidentWatch's ofIncidents, with the bot's delivery log for stale spells).
 */
async function readBack(env: Record<string, string>, dir: string) {
  const config = loadConfig({ env, cwd: dir });
  const logger = silentLogger();
  const app = await createApp(config, { clock: fixedClock(new Date()), logger });
  try {
    const { reads } = app.platform;
    const runs = new Map<string, { ran: number; failed: number }>();
    const jobRows = await reads.readOnlySql(
      `SELECT job, count(*) AS ran, count(*) FILTER (WHERE result = 'failed') AS failed FROM job_runs GROUP BY job`,
      100,
    );
    for (const row of jobRows.rows) {
      runs.set(String(row.job), { ran: Number(row.ran), failed: Number(row.failed) });
    }
    const first = await reads.readOnlySql(
      `SELECT min(started_at) AS at FROM job_runs WHERE job = 'infer'`,
      1,
    );
    const firstInferAt = String(first.rows[0]?.at);
    // Every scored window at once: the cursor is a scored_at, which a whole run's windows share.
    const windows: ScoredWindow[] = await reads.scoredSince(null, 10_000_000);
    const newest = windows.reduce((a, w) => (w.window_end.localeCompare(a) > 0 ? w.window_end : a), '');
    const store = await app.platform.botStore();
    const log = createDeliveryLog(store);
    await log.init();
    const watch = createIncidentWatch({
      platform: app.platform,
      outlet: undefined as unknown as FeedOutlet,
      log,
      clock: fixedClock(new Date(newest || Date.now())),
      logger,
    });
    const ofIncident = await watch.ofIncidents(windows);
    return { runs, firstInferAt: toIso(firstInferAt), windows, ofIncident };
  } finally {
    await app.close();
  }
}

/** A timestamp as the lakehouse returns it ("2026-12-03 16:50:17.000" or ISO) to ISO-8601 UTC. */
function toIso(text: string): string {
  return text.includes('T') ? text : `${text.replace(' ', 'T')}Z`;
}

/**
 * Idle resident memory of `npm start` (the embedded default, the console, the simulator in real
 * time): the median VmRSS from `settleSeconds` to `settleSeconds + sampleSeconds` after the first
 * round (by then V8 has given back the first round's garbage; the jobs of the minute still run).
 */
export async function measureIdleRss(
  options: { settleSeconds?: number; sampleSeconds?: number; onLine?: (line: string) => void } = {},
): Promise<{ medianMb: number; samples: number[] }> {
  const settle = (options.settleSeconds ?? 60) * 1000;
  const span = (options.sampleSeconds ?? 60) * 1000;
  const dir = await mkdtemp(join(tmpdir(), 'crm-idle-'));
  const product = spawnNpmStart({
    DATA_DIR: join(dir, 'data'),
    MARKET_SOURCE: 'simulator',
    PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  });
  try {
    await firstRoundDone(product);
    const done = Date.now();
    const pid = appPid(product.child.pid as number);
    if (pid === undefined) throw new Error('the product’s node process was not found under npm start');
    await sleep(settle);
    const samples: number[] = [];
    while (Date.now() < done + settle + span) {
      const mb = rssMb(pid);
      if (mb === undefined) throw new Error(`the product ended early:\n${product.stderr().slice(-2000)}`);
      samples.push(mb);
      await sleep(2_000);
    }
    options.onLine?.(`idle RSS samples (MB): ${samples.map((m) => m.toFixed(0)).join(' ')}`);
    product.stop('SIGINT');
    await product.exited;
    return { medianMb: median(samples), samples };
  } finally {
    killGroup(product);
    await rm(dir, { recursive: true, force: true });
  }
}
