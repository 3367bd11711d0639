/**
 * bench/console-abuse: the console under abuse while the bot, in the same process as in
 * `crypto-risk console`, answers slash commands. The abuse: 6 concurrent posts of 48 MB to the
 * console (each refused at 1 MiB with 413) and 2,000 live-update streams opened and left idle
 * (4 per user are held, the rest refused with 429). Meanwhile signed slash commands go to the bot's
 * Request URL as bench/ack.ts sends them, timed to their ack.
 *
 * The load runs in a child process, so that neither its event loop nor its memory is the bot's:
 * the RSS measured is the bot's process only (the peak while under abuse, less the RSS before).
 * Prints one line: ack p50/p99 (target p99 < 100 ms), RSS growth (target < 50 MB), over-limit
 * requests refused.
 * Usage: npm run bench:console-abuse [-- --commands 400 --concurrency 10 --streams 2000 --posts 6]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDeliveryLog } from '../src/chat/delivery-log.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createLocalPlatform } from '../src/platform/local/platform.js';
import { createSlackBot } from '../src/slack/bot.js';
import { DEFAULT_LIVE_LIMITS } from '../src/slack/local-slack/console/live-events.js';
import { DEFAULT_USERS, startLocalSlack } from '../src/slack/local-slack/index.js';

const BOT_TOKEN = 'xoxb-bench';
const SECRET = 'bench-secret';
/** The signed post both load generators make (a CommonJS file, required by path in their own thread). */
const SIGNED_POST = fileURLToPath(new URL('./timed-post.cjs', import.meta.url));
const TEXTS = ['help', 'status', 'top 5 24h', 'models'];
const POST_BYTES = 48 * 1024 * 1024;

/** The load: plain JS in a process of its own; reports over IPC. */
const LOAD = `
const net = require('node:net');
const http = require('node:http');
process.once('message', async (w) => {
  const { signedPost } = require(w.signedPost);
  const console_ = new URL(w.consoleUrl);
  const host = console_.host;
  const port = Number(console_.port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: w.concurrency });
  const bot = new URL(w.botUrl);
  const command = (body) => signedPost(agent, bot, w.secret, body);
  /** Resolves with the status code of a raw request's answer (0: closed without one). */
  function rawStatus(socket) {
    return new Promise((resolve) => {
      let got = '';
      socket.on('data', (d) => {
        got += d.toString('latin1');
        const m = /^HTTP\\/1\\.1 (\\d{3})/.exec(got);
        if (m) resolve(Number(m[1]));
      });
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(0));
    });
  }
  const streams = [];
  function openStream(i) {
    const socket = net.connect(port, '127.0.0.1');
    streams.push(socket);
    socket.write('GET /console/events?user=' + w.users[i % w.users.length] + ' HTTP/1.1\\r\\nhost: ' + host + '\\r\\naccept: text/event-stream\\r\\n\\r\\n');
    return rawStatus(socket);
  }
  function bigPost() {
    const socket = net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    socket.write('POST /console/command HTTP/1.1\\r\\nhost: ' + host + '\\r\\ncontent-type: application/json\\r\\ncontent-length: ' + w.postBytes + '\\r\\n\\r\\n');
    const status = rawStatus(socket);
    let answered = false;
    let sent = 0;
    status.then(() => { answered = true; });
    // Sends the whole body unless answered first, as fast as the socket takes it.
    const pump = () => {
      while (!answered && !socket.destroyed && sent < w.postBytes) {
        sent += chunk.length;
        if (!socket.write(chunk)) { socket.once('drain', pump); return; }
      }
    };
    socket.once('connect', pump);
    return status.then((code) => { socket.destroy(); return { code, sent }; });
  }
  // Warm-up (not measured).
  await Promise.all(w.warmup.map((b) => command(b)));
  process.send({ type: 'warm' });
  await new Promise((resolve) => process.once('message', resolve));
  const times = [];
  let failed = 0;
  let next = 0;
  const commands = Promise.all(Array.from({ length: w.concurrency }, async () => {
    while (next < w.bodies.length) {
      const r = await command(w.bodies[next++]);
      if (r.status !== 200) failed++;
      times.push(r.ms);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }));
  const posts = Promise.all(Array.from({ length: w.posts }, () => bigPost()));
  const streamCodes = [];
  for (let i = 0; i < w.streams; i += 100) {
    streamCodes.push(...(await Promise.all(Array.from({ length: Math.min(100, w.streams - i) }, (_, k) => openStream(i + k)))));
  }
  const postResults = await posts;
  await commands;
  process.send({ type: 'result', times, failed, streamCodes, posts: postResults });
  await new Promise((resolve) => process.once('message', resolve));
  for (const s of streams) s.destroy();
  process.exit(0);
});
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      commands: { type: 'string', default: '400' },
      concurrency: { type: 'string', default: '10' },
      streams: { type: 'string', default: '2000' },
      posts: { type: 'string', default: '6' },
    },
  });
  const dir = await mkdtemp(join(tmpdir(), 'bench-console-abuse-'));
  const config = loadConfig({ env: {}, cwd: dir });
  const logger = silentLogger();
  const clock = { now: () => new Date() };
  const platform = await createLocalPlatform({
    dbPath: ':memory:',
    landingDir: join(dir, 'landing'),
    model: config.model,
    clock,
    logger,
  });
  const log = createDeliveryLog(platform.db);
  await log.init();
  // The console's Slack and the bot in one process, as `crypto-risk console` runs them.
  const slack = await startLocalSlack({ signingSecret: SECRET, botToken: BOT_TOKEN });
  const bot = await createSlackBot({
    settings: {
      botToken: BOT_TOKEN,
      signingSecret: SECRET,
      apiUrl: slack.apiUrl,
      feed: { channel: 'crypto-alerts' },
      opsUsers: [],
    },
    port: 0,
    platform,
    log,
    clock,
    logger,
  });
  await bot.start();
  slack.setBotEventsUrl(`http://127.0.0.1:${bot.port()}/slack/events`);
  const body = (i: number) =>
    slack.slashCommandBody({
      userId: 'U0VIEW01',
      channelId: 'C0CRYPTO1',
      text: TEXTS[i % TEXTS.length] as string,
    });

  const load = spawn(process.execPath, ['-e', LOAD], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: Array<(m: Record<string, unknown>) => void> = [];
  load.on('message', (m: Record<string, unknown>) => messages.shift()?.(m));
  const next = () => new Promise<Record<string, unknown>>((resolve) => messages.push(resolve));
  const commands = Number(values.commands);
  const streams = Number(values.streams);
  const posts = Number(values.posts);
  load.send({
    consoleUrl: slack.baseUrl,
    botUrl: `http://127.0.0.1:${bot.port()}/slack/events`,
    secret: SECRET,
    signedPost: SIGNED_POST,
    users: DEFAULT_USERS.map((u) => u.id),
    bodies: Array.from({ length: commands }, (_, i) => body(i)),
    warmup: Array.from({ length: 40 }, (_, i) => body(i)),
    concurrency: Number(values.concurrency),
    streams,
    posts,
    postBytes: POST_BYTES,
  });
  await next();
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 20);
  load.send({ type: 'go' });
  const result = (await next()) as unknown as {
    times: number[];
    failed: number;
    streamCodes: number[];
    posts: Array<{ code: number; sent: number }>;
  };
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  load.send({ type: 'close' });
  await new Promise((resolve) => load.once('exit', resolve));
  await bot.stop().catch(() => undefined);
  await slack.close();
  await platform.close();
  await rm(dir, { recursive: true, force: true });

  const times = [...result.times].sort((a, b) => a - b);
  const pct = (p: number) =>
    times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] ?? NaN;
  const held = Math.min(streams, DEFAULT_USERS.length * DEFAULT_LIVE_LIMITS.perUser);
  const overLimit = posts + (streams - held);
  const refused =
    result.posts.filter((p) => p.code === 413).length + result.streamCodes.filter((c) => c === 429).length;
  const accepted = result.streamCodes.filter((c) => c === 200).length;
  const maxSent = result.posts.reduce((max, p) => Math.max(max, p.sent), 0);
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  console.log(
    `console abuse (${posts} × 48 MB posts, ${streams} live-update streams, ${held} held idle): ` +
      `ack p50 ${pct(50).toFixed(1)} ms / p99 ${pct(99).toFixed(1)} ms over ${times.length} signed slash commands (${result.failed} failed; target p99 < 100 ms), ` +
      `RSS growth ${mb(rssPeak - rssBefore)} MB (target < 50 MB), ` +
      `over-limit requests refused ${refused}/${overLimit} (streams accepted ${accepted}, largest post sent before its 413: ${mb(maxSent)} MB)`,
  );
}

await main();
