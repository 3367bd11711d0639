import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, chromiumMissing } from '../support/chromium.js';
import { type CliProcess, spawnNpmStart } from '../support/cli-process.js';
import { freePort } from '../support/free-port.js';

/**
 * The console's Dashboard view in a real browser (Debian's chromium driven by playwright-core)
 * against the product started as a new user starts it: `npm start` on an empty data folder, the
 * simulator, no credentials. The simulator runs 10× faster and the jobs every minute, so new windows
 * are scored while the page is open. The browser is in a time zone half an hour off UTC, so an axis
 * drawn in local time would show it. Each step leaves a screenshot in test-artifacts/dashboard/.
 */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/dashboard/', import.meta.url));
const missing = chromiumMissing;
const PANELS = [
  'price_with_anomaly_markers',
  'leaderboard_24h',
  'anomaly_rate',
  'score_distribution',
  'recent_anomalies',
];

let dir: string;
let product: (CliProcess & { stop(signal: NodeJS.Signals): void }) | undefined;
let browser: Browser | undefined;
let url: string;

beforeAll(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'crm-dashboard-e2e-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const port = await freePort();
  product = spawnNpmStart({
    DATA_DIR: join(dir, 'data'),
    MARKET_SOURCE: 'simulator',
    SIMULATOR_HISTORY_HOURS: '24',
    SIMULATOR_SPEED: '10',
    SCHEDULE_INGEST: '* * * * *',
    SCHEDULE_PIPELINE: '* * * * *',
    SCHEDULE_INFER: '* * * * *',
    METRICS_PORT: 'off',
    PORT: String(port),
    LOG_LEVEL: 'warn',
  });
  const line = await product.waitFor(/^console: http:\/\/127\.0\.0\.1:\d+ /, 'stdout', 180_000);
  url = (/^console: (\S+)/.exec(line) as RegExpExecArray)[1] as string;
  await product.waitFor(/first round done/, 'stdout', 180_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 400_000);

afterAll(async () => {
  await browser?.close();
  if (product) {
    product.stop('SIGINT');
    await product.exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

type Watched = Page & { problems: string[] };

async function newPage(options: BrowserContextOptions = {}): Promise<Watched> {
  const context = await (browser as Browser).newContext({
    viewport: { width: 1280, height: 900 },
    timezoneId: 'Asia/Kolkata',
    ...options,
  });
  const page = (await context.newPage()) as Watched;
  page.setDefaultTimeout(60_000);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(m.text());
  });
  return page;
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const panel = (page: Page, id: string) => page.locator(`section.panel[data-panel="${id}"]`);
const ready = (page: Page) => page.locator('body[data-ready="true"]').waitFor();

/** What each panel shows: its state, rows, and the marks drawn in its chart. */
async function panelsShown(page: Page) {
  return page.locator('section.panel').evaluateAll((nodes) =>
    nodes.map((n) => {
      const s = n as unknown as {
        dataset: Record<string, string>;
        querySelectorAll(sel: string): { length: number };
      };
      return {
        id: s.dataset.panel,
        state: s.dataset.state,
        rows: Number(s.dataset.rows),
        marks: s.querySelectorAll('svg .mark-line path, svg .mark-rect path, svg .mark-symbol path').length,
        tableRows: s.querySelectorAll('tbody tr').length,
      };
    }),
  );
}

describe('the Dashboard view in a browser', () => {
  it('opens from the console, draws every panel in UTC, follows the asset picker, and refreshes live', async (ctx) => {
    if (missing) ctx.skip(missing);
    const page = await newPage();
    await page.goto(`${url}/`);
    await page.locator('#conn[data-state="live"]').waitFor();
    await page.locator('#open-dashboard').click();
    await page.waitForURL(/\/dashboard/);
    await ready(page);
    await shot(page, '01-desktop');

    // every panel of the definition, drawn with marks (the table with rows)
    const shown = await panelsShown(page);
    expect(shown.map((p) => p.id)).toEqual(PANELS);
    for (const p of shown) {
      expect(p.state, p.id).toBe('drawn');
      expect(p.rows, p.id).toBeGreaterThan(0);
      if (p.id === 'recent_anomalies') expect(p.tableRows).toBe(p.rows);
      else expect(p.marks, p.id).toBeGreaterThan(0);
    }
    // the time axis in UTC: whole hours there are half hours in the browser's own zone
    const timeLabels = await panel(page, 'price_with_anomaly_markers')
      .locator('.role-axis-label text')
      .allTextContents();
    const times = timeLabels.filter((t) => /^\d\d [A-Z][a-z]{2} \d\d:\d\d$/.test(t));
    expect(times.length).toBeGreaterThan(2);
    for (const t of times) expect(t).toMatch(/:00$/);
    expect(await panel(page, 'recent_anomalies').locator('tbody td').first().textContent()).toMatch(/ UTC$/);

    // the period picker offers the definition's choices
    expect(
      await page
        .locator('#hours option')
        .evaluateAll((o) => o.map((x) => (x as unknown as { value: string }).value)),
    ).toEqual(['6', '24', '72', '168']);

    // the asset picker: the price panel follows it, and an anomalous asset shows red markers with reasons
    const anomalous = (await page.evaluate(async () => {
      const r = await fetch('/console/dashboard/data?panel=recent_anomalies');
      return ((await r.json()) as { rows: Array<{ asset: string }> }).rows[0]?.asset;
    })) as string;
    expect(anomalous).toBeTruthy();
    const current = await page.locator('#asset').inputValue();
    const other = (await page.locator('#asset option').allTextContents()).find(
      (a) => a !== current,
    ) as string;
    const renders = Number(await page.locator('body').getAttribute('data-renders'));
    await page.locator('#asset').selectOption(other);
    await expect.poll(() => page.locator('body').getAttribute('data-renders')).toBe(String(renders + 1));
    expect(await panel(page, 'price_with_anomaly_markers').locator('h2').textContent()).toBe(
      `Price with anomaly markers · ${other}`,
    );
    expect(page.url()).toContain(`asset=${other}`);
    if (anomalous !== other) {
      await page.locator('#asset').selectOption(anomalous);
      await expect
        .poll(() => panel(page, 'price_with_anomaly_markers').locator('h2').textContent())
        .toBe(`Price with anomaly markers · ${anomalous}`);
      await expect.poll(() => page.locator('body').getAttribute('data-renders')).toBe(String(renders + 2));
    }
    const markers = panel(page, 'price_with_anomaly_markers').locator('svg .mark-symbol path');
    expect(await markers.count()).toBeGreaterThan(0);
    expect(await markers.first().getAttribute('fill')).toBe('#d62728');
    // Vega's tooltip: the chart's title while a marker is under the pointer
    const box = await markers.first().boundingBox();
    expect(box).not.toBeNull();
    if (box) await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const tooltip = panel(page, 'price_with_anomaly_markers').locator('.chart [title]');
    await expect
      .poll(async () => ((await tooltip.count()) > 0 ? await tooltip.first().getAttribute('title') : ''))
      .toMatch(/Window end \(UTC\): \d{4}-\d\d-\d\d \d\d:\d\d UTC\n[\s\S]*\nWhy: \S/);
    await shot(page, '02-asset-picked');

    // live: a window scored by the next rounds of the jobs reloads the panels, not the page
    await page.evaluate(() => {
      (globalThis as unknown as { stayed: boolean }).stayed = true;
    });
    const version = await page.locator('body').getAttribute('data-version');
    const status = await page.locator('#dash-status').textContent();
    await expect
      .poll(() => page.locator('body').getAttribute('data-version'), { timeout: 240_000, interval: 2000 })
      .not.toBe(version);
    await expect
      .poll(() => page.locator('#dash-status').textContent(), { timeout: 240_000 })
      .not.toBe(status);
    expect(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(true);
    for (const p of await panelsShown(page)) expect(p.state, p.id).toBe('drawn');
    await shot(page, '03-refreshed');

    // and back to the channel
    await page.locator('#back').click();
    await page.locator('#conn[data-state="live"]').waitFor();
    expect(page.problems).toEqual([]);
  }, 420_000);

  it('shows the panels one under the other on a phone, without scrolling sideways', async (ctx) => {
    if (missing) ctx.skip(missing);
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await page.goto(`${url}/dashboard`);
    await ready(page);
    const widths = await page.evaluate(() => {
      const g = globalThis as unknown as {
        document: { documentElement: { scrollWidth: number } };
        innerWidth: number;
      };
      return [g.document.documentElement.scrollWidth, g.innerWidth];
    });
    expect(widths[0]).toBeLessThanOrEqual(widths[1] as number);
    const boxes = await page.locator('section.panel').evaluateAll((nodes) =>
      nodes.map((n) => {
        const r = (
          n as unknown as { getBoundingClientRect(): { x: number; y: number; right: number; bottom: number } }
        ).getBoundingClientRect();
        return { x: r.x, y: r.y, right: r.right, bottom: r.bottom };
      }),
    );
    expect(boxes).toHaveLength(PANELS.length);
    for (const [i, b] of boxes.entries()) {
      expect(b.x).toBe(boxes[0]?.x);
      expect(b.right).toBeLessThanOrEqual(390);
      if (i > 0) expect(b.y).toBeGreaterThanOrEqual(boxes[i - 1]?.bottom as number);
    }
    for (const p of await panelsShown(page)) {
      expect(p.state, p.id).toBe('drawn');
      expect(p.rows, p.id).toBeGreaterThan(0);
    }
    await shot(page, '04-phone');
    expect(page.problems).toEqual([]);
  }, 120_000);
});
