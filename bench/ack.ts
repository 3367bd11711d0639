/**
 * bench/ack: 500 `/crypto` slash commands at concurrency 25 against the bot over loopback, with a
 * platform that takes 5 s per call: the time until the bot's ack (what Slack waits for, at most
 * 3,000 ms), after 50 unmeasured warm-up commands. Prints one line: p50 and p99.
 *
 * --mode http (default): signed HTTP requests to the bot's Request URL; the ack is its HTTP answer.
 * --mode socket: the bot in Socket Mode, connected to the local Slack; each command goes as an
 * envelope over that connection and the ack is the bot's ack message.
 *
 * Either way the load comes from a worker thread, so that sending and measuring do not share the
 * bot's event loop (Slack's servers are elsewhere too): over HTTP a plain load generator posts to
 * the bot; in Socket Mode the whole local Slack runs in the worker, and each time runs from sending
 * the envelope to receiving its ack.
 *
 * --mode teams: the Teams bot (bench/ack-teams.ts): Bot Framework activities with connector tokens
 * to its /api/messages, chat messages and then Action.Execute invokes; the ack is its HTTP answer.
 *
 * --burst: the feed posts a burst of 200 new anomalies (20 assets) into a channel that answers 429s
 * (three injected, then Slack's ~1 post per second per channel), and the commands are sent from its
 * first 429 on, while it waits them out and goes on posting: the line adds whether every anomaly
 * was delivered exactly once, and how long the burst took.
 * Usage: npm run bench:ack [-- --mode socket|teams --burst --requests 500 --concurrency 25 --delay 5000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createDeliveryLog } from '../src/chat/delivery-log.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createLocalPlatform } from '../src/platform/local/platform.js';
import { createSlackBot } from '../src/slack/bot.js';
import { type LocalSlack, startLocalSlack } from '../src/slack/local-slack/index.js';
import { slowPlatform } from '../tests/support/slow-platform.js';
import { type LoadResult, runTeamsAck } from './ack-teams.js';

const BOT_TOKEN = 'xoxb-bench';
const SECRET = 'bench-secret';
/** The load generator (a CommonJS file run as a worker thread: bench/load-worker.cjs). */
const LOAD_WORKER = fileURLToPath(new URL('./load-worker.cjs', import.meta.url));
const APP_TOKEN = 'xapp-1-A0CRYPTO-1000000000000-62656e6368';
const TEXTS = ['status', 'top 10 24h', 'chart bitcoin', 'help', 'top 5 7d bitcoin'];
const WARMUP = 50;

/** The burst runs into these before Slack's own per-channel limit. */
const BURST_FAULTS = [1, 2, 1].map((retryAfter) => ({ kind: 'rate_limited' as const, retryAfter }));
const BURST_ASSETS = 20;
const BURST_WINDOWS = 200;

/** The `asset|window_end` of every window the feed's messages in #crypto-alerts announced. */
function feedWindows(slack: LocalSlack): string[] {
  return slack
    .channelMessages('C0CRYPTO1')
    .flatMap((m) => (m.metadata?.event_payload.windows ?? []) as Array<{ asset: string; window_end: string }>)
    .map((w) => `${w.asset}|${w.window_end}`);
}

if (!isMainThread && workerData?.role === 'local-slack') {
  await runLocalSlackWorker();
} else {
  await main();
}

/**
 * Socket Mode's worker: the local Slack (Web API, apps.connections.open, the WebSocket), and the
 * load: each command is an envelope on the bot's connection, timed from sending it to its ack.
 */
async function runLocalSlackWorker(): Promise<void> {
  const port = parentPort as NonNullable<typeof parentPort>;
  const { requests, concurrency } = workerData as { requests: number; concurrency: number };
  const slack: LocalSlack = await startLocalSlack({
    signingSecret: SECRET,
    botToken: BOT_TOKEN,
    appToken: APP_TOKEN,
  });
  const command = (i: number) =>
    slack.slashCommand({
      userId: 'U0VIEW01',
      channelId: 'C0CRYPTO1',
      text: TEXTS[i % TEXTS.length] as string,
    });
  port.on('message', async (message: { type: string }) => {
    if (message.type === 'close') {
      await slack.close();
      port.postMessage({ type: 'closed' });
      return;
    }
    if (message.type === 'burst') {
      slack.fault('chat.postMessage', ...BURST_FAULTS);
      port.postMessage({ type: 'faulted' });
      return;
    }
    if (message.type === 'first-429') {
      await until429(() => slack.calls);
      port.postMessage({ type: 'first-429' });
      return;
    }
    if (message.type === 'feed') {
      port.postMessage({ type: 'feed', windows: feedWindows(slack) });
      return;
    }
    if (message.type !== 'go') return;
    if (slack.socketMode.openConnections() !== 1) throw new Error('bench/ack: the bot is not connected');
    // Warm-up (not measured): the first requests of a fresh process pay for JIT and lazy setup.
    await Promise.all(Array.from({ length: WARMUP }, (_, i) => command(i).catch(() => undefined)));
    const times: number[] = [];
    let failed = 0;
    let next = 0;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests) {
          const i = next++;
          const started = performance.now();
          const ok = await command(i).then(
            (r) => r.status === 200,
            () => false,
          );
          times.push(performance.now() - started);
          if (!ok) failed++;
        }
      }),
    );
    const result: LoadResult = { times, failed, wallMs: performance.now() - began };
    port.postMessage({ type: 'result', ...result });
  });
  port.postMessage({ type: 'ready', apiUrl: slack.apiUrl });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'http' },
      requests: { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '25' },
      delay: { type: 'string', default: '5000' },
      burst: { type: 'boolean', default: false },
    },
  });
  const mode = values.mode;
  const burst = values.burst;
  if (mode !== 'http' && mode !== 'socket' && mode !== 'teams')
    throw new Error('bench/ack: --mode must be http, socket or teams');
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const delayMs = Number(values.delay);
  if (mode === 'teams') {
    const { messages, invokes, starts } = await runTeamsAck({ requests, concurrency, delayMs });
    const line = (r: LoadResult) => {
      const t = [...r.times].sort((a, b) => a - b);
      const pct = (p: number) => t[Math.min(t.length - 1, Math.ceil((p / 100) * t.length) - 1)] as number;
      return `p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${(t.at(-1) as number).toFixed(1)} ms, ${r.failed} failed`;
    };
    console.log(
      `bench/ack (teams): ${requests} activities at concurrency ${concurrency}, platform ${delayMs} ms per call: ` +
        `messages ${line(messages)}; Action.Execute invokes ${line(invokes)} (${starts} retrain started); ` +
        'target p99 < 100 ms for both',
    );
    process.exit(0);
  }

  const dir = await mkdtemp(join(tmpdir(), 'bench-ack-'));
  const config = loadConfig({ env: {}, cwd: dir });
  const logger = silentLogger();
  const clock = { now: () => new Date() };
  const local = await createLocalPlatform({
    dbPath: ':memory:',
    landingDir: join(dir, 'landing'),
    model: config.model,
    clock,
    logger,
  });
  /** Every platform call waits `delayMs` first: a slow warehouse. */
  const slow = slowPlatform(local, delayMs).platform;

  const log = createDeliveryLog(local.db);
  await log.init();
  if (burst) {
    // 200 anomalous windows of the last hours, new to the feed.
    await local.db.run(
      `INSERT INTO anomalies
       SELECT 'asset-' || (i % ${BURST_ASSETS}), 'A' || (i % ${BURST_ASSETS}),
         date_trunc('minute', CAST(:now AS TIMESTAMP)) - INTERVAL 3 HOUR + INTERVAL (i // ${BURST_ASSETS} * 5) MINUTE,
         100, 1, 0.01, 1000, 0, -0.1 - i / 1000, 1, 1, CAST(:now AS TIMESTAMP)
       FROM range(${BURST_WINDOWS}) AS t(i)`,
      { now: new Date().toISOString() },
    );
  }
  const makeBot = (apiUrl: string, socket: boolean) =>
    createSlackBot({
      settings: {
        botToken: BOT_TOKEN,
        ...(socket ? { appToken: APP_TOKEN } : { signingSecret: SECRET }),
        apiUrl,
        feed: { channel: 'crypto-alerts' },
        opsUsers: [],
      },
      port: 0,
      platform: slow,
      log,
      clock,
      logger,
    });

  let result: LoadResult;
  let stop: () => Promise<void>;
  let burstResult: { ms: number; posted: number; windows: string[] } | undefined;
  if (mode === 'http') {
    const slack = await startLocalSlack({ signingSecret: SECRET, botToken: BOT_TOKEN });
    const bot = await makeBot(slack.apiUrl, false);
    await bot.start();
    slack.setBotEventsUrl(`http://127.0.0.1:${bot.port()}/slack/events`);
    // Bodies carry real response_urls of the local workspace.
    const body = (i: number) =>
      slack.slashCommandBody({
        userId: 'U0VIEW01',
        channelId: 'C0CRYPTO1',
        text: TEXTS[i % TEXTS.length] as string,
      });
    if (burst) slack.fault('chat.postMessage', ...BURST_FAULTS);
    const feedRun = burst ? timed(() => bot.feed.runOnce()) : undefined;
    const round = () => {
      const load = new Worker(LOAD_WORKER, {
        workerData: {
          url: `http://127.0.0.1:${bot.port()}/slack/events`,
          auth: { secret: SECRET },
          bodies: Array.from({ length: requests }, (_, i) => body(i)),
          warmup: Array.from({ length: WARMUP }, (_, i) => body(i)),
          concurrency,
        },
      });
      return new Promise<LoadResult>((resolve, reject) => {
        load.once('message', resolve);
        load.once('error', reject);
      });
    };
    if (feedRun) await until429(() => slack.calls);
    result = await round();
    if (feedRun) burstResult = { ...(await feedRun), windows: feedWindows(slack) };
    stop = async () => {
      await bot.stop().catch(() => undefined);
      await slack.close();
    };
  } else {
    // This file again, as the worker that is Slack (tsx's loader registered there first).
    const slackWorker = new Worker(
      `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`,
      { eval: true, execArgv: [], workerData: { role: 'local-slack', requests, concurrency } },
    );
    const replies: Array<(message: Record<string, unknown>) => void> = [];
    slackWorker.on('message', (message: Record<string, unknown>) => replies.shift()?.(message));
    const failed = new Promise<never>((_, reject) => slackWorker.once('error', reject));
    const reply = () =>
      Promise.race([failed, new Promise<Record<string, unknown>>((resolve) => replies.push(resolve))]);
    const ready = await reply();
    const bot = await makeBot(ready.apiUrl as string, true);
    await bot.start();
    if (burst) {
      slackWorker.postMessage({ type: 'burst' });
      await reply();
    }
    const feedRun = burst ? timed(() => bot.feed.runOnce()) : undefined;
    if (feedRun) {
      slackWorker.postMessage({ type: 'first-429' });
      await reply();
    }
    slackWorker.postMessage({ type: 'go' });
    result = (await reply()) as unknown as LoadResult;
    if (feedRun) {
      const done = await feedRun;
      slackWorker.postMessage({ type: 'feed' });
      burstResult = { ...done, windows: (await reply()).windows as string[] };
    }
    stop = async () => {
      await bot.stop().catch(() => undefined);
      slackWorker.postMessage({ type: 'close' });
      await reply();
      await slackWorker.terminate();
    };
  }

  const { times, failed, wallMs } = result;
  const sent = times.length;
  times.sort((a, b) => a - b);
  const pct = (p: number) =>
    times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] as number;
  const what =
    mode === 'http' ? 'signed slash commands over HTTP' : 'slash commands as Socket Mode envelopes';
  let alongside = '';
  if (burstResult) {
    const unique = new Set(burstResult.windows);
    const duplicates = burstResult.windows.length - unique.size;
    const missing = BURST_WINDOWS - unique.size;
    alongside =
      `; feed burst alongside: ${BURST_WINDOWS} anomalies in ${burstResult.posted} messages through ${BURST_FAULTS.length} injected 429s and the channel's rate limit, ` +
      `${duplicates === 0 && missing === 0 ? 'each delivered exactly once' : `${duplicates} duplicated, ${missing} missing`}, ` +
      `burst ${(burstResult.ms / 1000).toFixed(1)} s`;
  }
  console.log(
    `bench/ack (${mode}${burstResult ? ', feed burst' : ''}): ${sent} ${what} at concurrency ${concurrency}, platform ${delayMs} ms per call: ` +
      `ack p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${(times.at(-1) as number).toFixed(1)} ms ` +
      `(target p99 < 100 ms; Slack allows 3,000); ${failed} failed; ${(sent / (wallMs / 1000)).toFixed(0)} commands/s${alongside}`,
  );
  // The answers go on in the background (each platform call takes delayMs); stop without waiting for them.
  await stop();
  await local.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
}

/** Waits until Slack has answered the feed a 429: the commands are sent from then on, during the burst. */
async function until429(calls: () => LocalSlack['calls']): Promise<void> {
  while (!calls().some((c) => c.method === 'chat.postMessage' && c.status === 429)) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs the feed once and times it. */
async function timed(run: () => Promise<{ posted: number }>): Promise<{ ms: number; posted: number }> {
  const started = performance.now();
  const { posted } = await run();
  return { ms: performance.now() - started, posted };
}
