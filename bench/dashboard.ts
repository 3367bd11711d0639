/**
 * bench/dashboard: first paint of the console's Dashboard view with all its panels, on 7 days of
 * the 5 default assets, in Chromium (Debian's, driven by playwright-core).
 *
 * The product runs as `node dist/cli.js run` (after `npm run build`) on an empty data folder with
 * the simulator and SIMULATOR_HISTORY_HOURS=168; the bench waits for its first round of jobs (7
 * days landed, trained on and scored). Then it loads `/dashboard?hours=168` (the 7-day period) 5
 * times in one open Chromium, each load in a new browser context (an empty cache: a first visit),
 * and reloads each once (the libraries from the browser's cache: a return visit).
 *
 * "First paint with all panels": from the navigation's start (performance.timeOrigin) until the
 * page's `dashboard-ready` performance mark, which it sets once every panel has fetched its data
 * and either rendered its chart (Vega's runAsync resolved: the SVG is in the page) or its table,
 * or said it is empty. Prints one line: the first visits' median, min and max (target: under 1 s),
 * and the reloads' median.
 * Usage: npm run bench:dashboard [-- --loads 5 --hours 168]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, chromiumMissing } from '../tests/support/chromium.js';
import { freePort } from '../tests/support/free-port.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGET_MS = 1000;

const { values } = parseArgs({
  options: { loads: { type: 'string', default: '5' }, hours: { type: 'string', default: '168' } },
});
const loads = Number(values.loads);
const hours = Number(values.hours);

if (chromiumMissing) {
  console.log(`dashboard: skipped, ${chromiumMissing}`);
  process.exit(0);
}

const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) throw new Error('npm run build failed');

const dir = await mkdtemp(join(tmpdir(), 'crm-bench-dashboard-'));
const port = await freePort();
const product = spawn(process.execPath, ['dist/cli.js', 'run'], {
  cwd: ROOT,
  env: {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATA_DIR: join(dir, 'data'),
    MARKET_SOURCE: 'simulator',
    SIMULATOR_HISTORY_HOURS: String(hours),
    METRICS_PORT: 'off',
    PORT: String(port),
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let out = '';
product.stdout.on('data', (d: Buffer) => {
  out += d.toString();
});
product.stderr.on('data', (d: Buffer) => {
  out += d.toString();
});

async function waitFor(pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = out.split('\n').find((l) => pattern.test(l));
    if (line) return line;
    if (product.exitCode !== null) throw new Error(`the product stopped:\n${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${pattern}:\n${out.slice(-2000)}`);
}

const samples: number[] = [];
const reloads: number[] = [];

/** When the page set its `dashboard-ready` mark (ms from the navigation's start), and what it drew. */
async function measure(page: Page) {
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
  return page.evaluate(() => {
    const doc = (
      globalThis as unknown as {
        document: {
          querySelectorAll(s: string): { length: number };
          querySelector(s: string): { getAttribute(a: string): string | null } | null;
        };
      }
    ).document;
    return {
      ready: performance.getEntriesByName('dashboard-ready')[0]?.startTime ?? Number.NaN,
      drawn: doc.querySelectorAll('section.panel[data-state="drawn"]').length,
      rows: Number(
        doc
          .querySelector('section.panel[data-panel="price_with_anomaly_markers"]')
          ?.getAttribute('data-rows'),
      ),
    };
  });
}
let panels = 0;
let windows = 0;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const url = (/^console: (\S+)/.exec(await waitFor(/^console: http/, 300_000)) as RegExpExecArray)[1];
  await waitFor(/first round done/, 600_000);
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}/dashboard?hours=${hours}`);
    const first = await measure(page);
    // the same page reloaded: the libraries come from the browser's cache
    await page.reload();
    const again = await measure(page);
    if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
    samples.push(first.ready);
    reloads.push(again.ready);
    panels = Math.min(first.drawn, again.drawn);
    windows = first.rows;
    await context.close();
  }
} finally {
  await browser.close();
  product.kill('SIGINT');
  await new Promise((r) => product.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}

const sortedOf = (list: number[]) => [...list].sort((a, b) => a - b);
const sorted = sortedOf(samples);
const median = sorted[Math.floor(sorted.length / 2)] as number;
const reloadMedian = sortedOf(reloads)[Math.floor(reloads.length / 2)] as number;
const ms = (v: number) => `${Math.round(v)} ms`;
console.log(
  `dashboard: first paint with all ${panels} panels, ${hours / 24} days × 5 assets (${windows} windows in the price panel): ` +
    `median ${ms(median)} of ${samples.length} (min ${ms(sorted[0] as number)}, max ${ms(sorted.at(-1) as number)}), ` +
    `reloaded ${ms(reloadMedian)}; target < 1 s: ${median < TARGET_MS ? 'met' : 'NOT met'}`,
);
