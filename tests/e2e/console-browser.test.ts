import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumMissing } from '../support/chromium.js';
import { type CliProcess, spawnNpmStart } from '../support/cli-process.js';
import { freePort } from '../support/free-port.js';

/**
 * The local console in a real browser: Debian's chromium driven by playwright-core, against the
 * product started the way a new user starts it (`npm start` on an empty data folder, simulator
 * source, no credentials). Each step leaves a screenshot in test-artifacts/console/.
 */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));
const missing = chromiumMissing;

let dir: string;
let product: (CliProcess & { stop(signal: NodeJS.Signals): void }) | undefined;
let browser: Browser | undefined;
let url: string;

beforeAll(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'crm-console-e2e-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const port = await freePort();
  product = spawnNpmStart({
    DATA_DIR: join(dir, 'data'),
    MARKET_SOURCE: 'simulator',
    SIMULATOR_HISTORY_HOURS: '12',
    PORT: String(port),
    LOG_LEVEL: 'warn',
  });
  const line = await product.waitFor(/^console: http:\/\/127\.0\.0\.1:\d+ /, 'stdout', 180_000);
  url = (/^console: (\S+)/.exec(line) as RegExpExecArray)[1] as string;
  expect(url).toBe(`http://127.0.0.1:${port}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  if (product) {
    product.stop('SIGINT');
    await product.exited;
    // npm passes the interrupt on and ends by it; the product itself stops cleanly
    expect(product.stdout(), product.stderr()).toMatch(
      /SIGINT: stopping; waiting for the jobs in flight\nStopped cleanly\.\n$/,
    );
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

async function openPage(options: { width?: number; height?: number; user?: string } = {}): Promise<Page> {
  const context = await (browser as Browser).newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
    ...(options.width && options.width < 500 ? { isMobile: true, hasTouch: true } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(`${url}/${options.user ? `?user=${options.user}` : ''}`);
  await page.locator('#conn[data-state="live"]').waitFor();
  return page;
}

const problemsOf = (page: Page) => (page as Page & { problems?: string[] }).problems ?? [];
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

/** Sends a slash command from the composer, as a person types it. */
async function send(page: Page, text: string): Promise<void> {
  await page.locator('#command').fill(text);
  await page.locator('#command').press('Enter');
  await expect.poll(() => page.locator('#composer-status').textContent()).toMatch(/answered in \d+ ms/);
}

/** The ts of every channel message shown (ephemeral ones aside), oldest first. */
const channelTs = (page: Page) =>
  page
    .locator('#messages article.msg:not(.ephemeral)')
    .evaluateAll((nodes) => nodes.map((n) => (n as unknown as { dataset: { ts: string } }).dataset.ts));

describe('the local console in a browser', () => {
  it('shows the first anomaly with its chart, answers /crypto top, and runs a confirmed retrain in a thread', async (ctx) => {
    if (missing) ctx.skip(missing);
    const page = await openPage();

    // the feed's first anomaly message (data incidents from the simulator's stalls may come first), its chart loaded
    const first = page
      .locator('#messages article.msg:not(.ephemeral)')
      .filter({ hasText: /anomalous window|assets (fell|rose|moved)/ })
      .first();
    await first.waitFor({ timeout: 180_000 });
    const chart = first.locator('img.bk-image-img');
    await chart.scrollIntoViewIfNeeded();
    await expect
      .poll(() => chart.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), {
        timeout: 30_000,
      })
      .toBeGreaterThan(0);
    expect(await first.locator('.bk-header').textContent()).toMatch(/anomal/);
    await shot(page, '01-first-anomaly');

    // /crypto top: the leaderboard, only visible to the user who asked
    await send(page, '/crypto top');
    const top = page.locator('article.msg.ephemeral', { hasText: 'Top anomalies' }).last();
    await top.waitFor();
    expect(await top.textContent()).toMatch(/Leaderboard/);
    expect(await top.locator('.md-pre').first().textContent()).toMatch(/asset\s+anomalies\s+mean score/);
    expect(await top.locator('.ephemeral-note').textContent()).toMatch(/Only visible to you/);
    await top.locator('img.bk-image-img').scrollIntoViewIfNeeded();
    await expect
      .poll(() =>
        top
          .locator('img.bk-image-img')
          .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
      )
      .toBeGreaterThan(0);
    await shot(page, '02-crypto-top');

    // /crypto retrain as ops-alice: a button, its confirmation dialog, then a thread to success
    expect(await page.locator('#user-select').inputValue()).toBe('U0OPS01');
    await send(page, '/crypto retrain');
    const ask = page.locator('article.msg.ephemeral', { hasText: 'Retrain the anomaly model?' }).last();
    await ask.locator('button.bk-button', { hasText: 'Retrain now' }).click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('h2').textContent()).toBe('Retrain the model?');
    await shot(page, '03-retrain-confirm');
    await dialog.locator('#confirm-ok').click();
    const root = page.locator('#messages article.msg', { hasText: 'Model retrain asked for by @ops-alice' });
    await root.locator('.thread-summary').waitFor();
    // the confirmation became a link to the thread (a Slack permalink), which opens it here
    const started = page.locator('article.msg.ephemeral', { hasText: 'Retrain started' }).last();
    await started.locator('a.md-link', { hasText: 'see its thread' }).click();
    expect(page.url()).toBe(`${url}/?user=U0OPS01`);
    const thread = page.locator('#thread-messages');
    await thread.locator('.bk-header', { hasText: /Model v\d+ trained/ }).waitFor({ timeout: 120_000 });
    expect(await thread.textContent()).toMatch(/Champion moved: v\d+ → v\d+\./);
    expect(await thread.locator('.msg-edited').count()).toBeGreaterThan(0); // updated in place
    await shot(page, '04-retrain-thread');
    expect(problemsOf(page)).toEqual([]);
  }, 420_000);

  it('refuses a slash command that needs ops to a console user who is not ops', async (ctx) => {
    if (missing) ctx.skip(missing);
    const page = await openPage();
    await page.locator('#user-select').selectOption('U0VIEW01');
    await page.locator('#conn[data-state="live"]').waitFor();
    expect(await page.locator('#user-groups').textContent()).toBe('not in any user group');
    await send(page, '/crypto retrain');
    const refusal = page.locator('article.msg.ephemeral', { hasText: 'Only the ops team' }).last();
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/Only the ops team can retrain the model/);
    expect(await page.locator('button', { hasText: 'Retrain now' }).count()).toBe(0);
    await shot(page, '05-viewer-refused');
    expect(problemsOf(page)).toEqual([]);
  }, 120_000);

  it('shows the same history after a reload, threads included', async (ctx) => {
    if (missing) ctx.skip(missing);
    const page = await openPage();
    await page.locator('#messages article.msg').first().waitFor();
    const before = await channelTs(page);
    expect(before.length).toBeGreaterThanOrEqual(2);
    const replies = await page.locator('#messages .thread-count').allTextContents();
    await page.reload();
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.locator('#messages article.msg').first().waitFor();
    const after = await channelTs(page);
    // the feed may have posted since; everything shown before is still there, in the same order
    expect(after.filter((ts) => before.includes(ts))).toEqual(before);
    expect(await page.locator('#messages .thread-count').allTextContents()).toEqual(
      expect.arrayContaining(replies),
    );
    await shot(page, '06-after-reload');
  }, 120_000);

  it('fits a phone screen: no sideways scrolling, channels behind the menu', async (ctx) => {
    if (missing) ctx.skip(missing);
    const page = await openPage({ width: 390, height: 844 });
    await page.locator('#messages article.msg').first().waitFor();
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await page.locator('#sidebar').boundingBox()).toMatchObject({ x: expect.any(Number) });
    expect((await page.locator('#sidebar').boundingBox())?.x ?? 0).toBeLessThan(0);
    await shot(page, '07-phone');
    await page.locator('#menu').click();
    await expect.poll(async () => (await page.locator('#sidebar').boundingBox())?.x).toBe(0);
    await shot(page, '08-phone-menu');
  }, 120_000);
});
