/**
 * bench/ack: 500 signed `/crypto` slash commands at concurrency 25 against the bot over loopback,
 * with a platform that takes 5 s per call: the time until the bot's HTTP answer (the ack Slack
 * waits for, at most 3,000 ms), after 50 unmeasured warm-up commands. Prints one line: p50 and p99.
 * Usage: npm run bench:ack [-- --requests 500 --concurrency 25 --delay 5000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createLocalPlatform } from '../src/platform/local/platform.js';
import type { Platform } from '../src/platform/port.js';
import { createSlackBot } from '../src/slack/bot.js';
import { createDeliveryLog } from '../src/slack/delivery-log.js';
import { startLocalSlack } from '../src/slack/local-slack/index.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '25' },
    delay: { type: 'string', default: '5000' },
  },
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const delayMs = Number(values.delay);

/** The load generator: signs each body as Slack does and posts it, timing the answer. Plain JS. */
const LOAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHmac } = require('node:crypto');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: workerData.concurrency });
const url = new URL(workerData.url);
function send(body) {
  return new Promise((resolve) => {
    const ts = Math.floor(Date.now() / 1000);
    const signature = 'v0=' + createHmac('sha256', workerData.secret).update('v0:' + ts + ':' + body).digest('hex');
    const started = performance.now();
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: {
      'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body),
      'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}
(async () => {
  // Warm-up (not measured): the first requests of a fresh process pay for JIT and lazy setup.
  await Promise.all(workerData.warmup.map((body) => send(body)));
  const times = [];
  let failed = 0;
  let next = 0;
  const began = performance.now();
  await Promise.all(Array.from({ length: workerData.concurrency }, async () => {
    while (next < workerData.bodies.length) {
      const r = await send(workerData.bodies[next++]);
      if (r.status !== 200) failed++;
      times.push(r.ms);
    }
  }));
  parentPort.postMessage({ times, failed, wallMs: performance.now() - began });
})();
`;

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
const slow = new Proxy(local, {
  get(target, property, receiver) {
    const value = Reflect.get(target, property, receiver);
    if (typeof value !== 'function') return value;
    return async (...args: unknown[]) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return value.apply(target, args);
    };
  },
}) as Platform;

const slack = await startLocalSlack({ signingSecret: 'bench-secret', botToken: 'xoxb-bench' });
const log = createDeliveryLog(local.db);
await log.init();
const bot = await createSlackBot({
  settings: {
    botToken: 'xoxb-bench',
    signingSecret: 'bench-secret',
    apiUrl: slack.apiUrl,
    feedChannel: 'crypto-alerts',
    opsUsers: [],
  },
  port: 0,
  platform: slow,
  log,
  clock,
  logger,
});
await bot.start();
slack.setBotEventsUrl(`http://127.0.0.1:${bot.port()}/slack/events`);

// The load comes from a worker thread, so that sending and measuring do not share the bot's event
// loop (Slack's servers are elsewhere too). Bodies carry real response_urls of the local workspace.
const texts = ['status', 'top 10 24h', 'chart bitcoin', 'help', 'top 5 7d bitcoin'];
const bodies = Array.from({ length: requests }, (_, i) =>
  slack.slashCommandBody({
    userId: 'U0VIEW01',
    channelId: 'C0CRYPTO1',
    text: texts[i % texts.length] as string,
  }),
);
const load = new Worker(LOAD, {
  eval: true,
  workerData: {
    url: `http://127.0.0.1:${bot.port()}/slack/events`,
    secret: 'bench-secret',
    bodies,
    warmup: Array.from({ length: 50 }, (_, i) =>
      slack.slashCommandBody({
        userId: 'U0VIEW01',
        channelId: 'C0CRYPTO1',
        text: texts[i % texts.length] as string,
      }),
    ),
    concurrency,
  },
});
const { times, failed, wallMs } = await new Promise<{ times: number[]; failed: number; wallMs: number }>(
  (resolve, reject) => {
    load.once('message', resolve);
    load.once('error', reject);
  },
);
times.sort((a, b) => a - b);
const pct = (p: number) =>
  times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] as number;
console.log(
  `bench/ack: ${requests} signed slash commands at concurrency ${concurrency}, platform ${delayMs} ms per call: ` +
    `ack p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${(times.at(-1) as number).toFixed(1)} ms ` +
    `(target p99 < 100 ms; Slack allows 3,000); ${failed} non-200; ${(requests / (wallMs / 1000)).toFixed(0)} commands/s`,
);
// The answers go on in the background (each platform call takes delayMs); stop without waiting for them.
await bot.stop().catch(() => undefined);
await slack.close();
await local.close().catch(() => undefined);
await rm(dir, { recursive: true, force: true });
process.exit(0);
