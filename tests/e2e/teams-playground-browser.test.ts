import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumMissing } from '../support/chromium.js';
import { type CliProcess, spawnNpmStart } from '../support/cli-process.js';
import { freePort } from '../support/free-port.js';

/**
 * Teams in two commands, on Microsoft's own client: `CHAT_SURFACE=teams npm start` on an empty data
 * folder (no credentials: the Teams endpoint on loopback without auth), Microsoft 365 Agents
 * Playground (from npm, offline) started against it, and Debian's chromium driven by
 * playwright-core typing into the Playground as its default user (the local ops user). Each step
 * leaves a screenshot in test-artifacts/teams/.
 */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/teams/', import.meta.url));
const PLAYGROUND_CLI = createRequire(import.meta.url).resolve('@microsoft/m365agentsplayground/cli.js');
const missing = chromiumMissing;

let dir: string;
let product: (CliProcess & { stop(signal: NodeJS.Signals): void }) | undefined;
let playground: ChildProcess | undefined;
let playgroundUrl: string;
let browser: Browser | undefined;

/** Starts the Playground against the bot's endpoint; resolves with its page's URL. */
async function startPlayground(endpoint: string, cwd: string): Promise<string> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [PLAYGROUND_CLI, '-e', endpoint, '-c', 'msteams', '-p', String(port), '--disable-telemetry'],
    {
      cwd,
      // No browser of its own (the test drives one); its log file in the temporary folder.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: cwd,
        TEAMSAPPTESTER_BROWSER: 'none',
        M365_AGENTS_PLAYGROUND_LOGFILE: join(cwd, 'playground.log'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  playground = child;
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Playground did not start: ${out}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Listening on (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Playground exited (${code}): ${out}`));
    });
  });
}

beforeAll(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'crm-teams-e2e-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const teamsPort = await freePort();
  product = spawnNpmStart({
    DATA_DIR: join(dir, 'data'),
    MARKET_SOURCE: 'simulator',
    SIMULATOR_HISTORY_HOURS: '12',
    PORT: String(await freePort()),
    CHAT_SURFACE: 'teams',
    TEAMS_PORT: String(teamsPort),
    LOG_LEVEL: 'warn',
  });
  const line = await product.waitFor(
    /^teams: messages on http:\/\/127\.0\.0\.1:\d+\/api\/messages/,
    'stdout',
    180_000,
  );
  const endpoint = (/(http:\/\/127\.0\.0\.1:\d+\/api\/messages)/.exec(line) as RegExpExecArray)[1] as string;
  expect(endpoint).toBe(`http://127.0.0.1:${teamsPort}/api/messages`);
  await mkdir(join(dir, 'playground'));
  playgroundUrl = await startPlayground(endpoint, join(dir, 'playground'));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  playground?.kill('SIGTERM');
  if (product) {
    product.stop('SIGINT');
    await product.exited;
    expect(product.stdout(), product.stderr()).toMatch(/Stopped cleanly\.\n$/);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

/** Types a message into the Playground's composer and sends it, as a person does. */
async function say(page: Page, text: string): Promise<void> {
  const box = page.locator('[contenteditable=true][role=textbox]');
  await box.click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** The newest Adaptive Card showing `text`. */
const card = (page: Page, text: string | RegExp): Locator =>
  page.locator('.ac-adaptiveCard', { hasText: text }).last();

describe('Teams in Microsoft 365 Agents Playground', () => {
  it('posts the feed in a team channel, answers top with a card and its chart, and runs a confirmed retrain to the updated progress card', async (ctx) => {
    if (missing) ctx.skip(missing);
    const context = await (browser as Browser).newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(playgroundUrl);
    await page.locator('[contenteditable=true][role=textbox]').waitFor();
    await shot(page, '01-playground');

    // Opening the team's General channel installs the app there: the feed posts its anomalies to it
    await page.getByText('General', { exact: true }).click();
    // (its data incidents from the simulator's stalls have no chart: the first anomaly card)
    const feed = card(page, /anomalous window|assets (fell|rose|moved)/);
    await feed.waitFor({ timeout: 150_000 });
    const feedChart = feed.locator('img').first();
    await feedChart.scrollIntoViewIfNeeded();
    await expect
      .poll(() => feedChart.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), {
        timeout: 30_000,
      })
      .toBeGreaterThan(100);
    await shot(page, '02-feed-in-general');

    // Commands in the personal chat
    await page.getByText('Personal Chat', { exact: true }).click();

    // top: the leaderboard card, its chart image served by the bot and loaded
    await say(page, 'top');
    const top = card(page, 'Top anomalies');
    await top.waitFor({ timeout: 120_000 });
    expect(await top.textContent()).toMatch(/Leaderboard/);
    const chart = top.locator('img').first();
    await chart.scrollIntoViewIfNeeded();
    await expect
      .poll(() => chart.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), {
        timeout: 30_000,
      })
      .toBeGreaterThan(100);
    expect(await chart.getAttribute('src')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/charts\/[0-9a-f]{64}\.png$/);
    await shot(page, '03-top');

    // retrain as the Playground's default user (the local ops user): confirm, then the card updates
    await say(page, 'retrain');
    const ask = card(page, 'Retrain the anomaly model?');
    await ask.waitFor();
    await ask.getByRole('button', { name: 'Retrain now' }).click();
    await ask.getByRole('button', { name: 'Retrain', exact: true }).click();
    await shot(page, '04-retrain-confirmed');
    const done = card(page, /Model v\d+ trained/);
    await done.waitFor({ timeout: 180_000 });
    expect(await done.textContent()).toMatch(/Champion moved: v\d+ → v\d+\./);
    expect(await done.textContent()).toMatch(/New version beside the champion before it/);
    // updated in place: the confirmation card itself became the outcome
    expect(await card(page, 'Retrain the anomaly model?').count()).toBe(0);
    await shot(page, '05-retrain-done');
    expect(problems).toEqual([]);
    await context.close();
  }, 420_000);
});
