/**
 * bench/chart: the bot's price chart (renderChartPng: one day of 5-minute windows, 288 points, a few
 * anomaly markers, one of them labelled, scale 2) against the same compiled Vega spec drawn by an
 * already open headless Chromium page (`view.toImageURL('png', 2)`, vega loaded from node_modules
 * into the page: nothing is downloaded). Every render is a different day (real Bitstamp BTC/USD
 * minutes from ../shared/data averaged into 5-minute windows, sliding one hour a render; a seeded
 * random walk when that file is absent), so no cache keyed by the input answers for the renderer.
 * Both are timed as the bot would see them, to a PNG Buffer: the project from its input (with the
 * Vega-Lite compile when the spec's shape is new), the page from the compiled spec (compiled
 * beforehand, untimed) through `page.evaluate` and the data URL decoded. The page's own time
 * (parse, view, toImageURL, measured inside it) is printed too. Both are warmed up on the first days, then run in turns of ten.
 * Prints one summary line; the issue's target: the project ≥ 2× faster and under 40 ms median.
 * Usage: npm run bench:chart [-- --renders 30 --warmup 5]
 */
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { compile } from 'vega-lite';
import type { ChartInput } from '../src/domain/reply.js';
import type { PricePoint } from '../src/platform/port.js';
import { priceChartSpec, renderChartPng } from '../src/render/chart.js';
import { priceChartInput } from '../src/render/price-chart.js';
import { CHROMIUM, CHROMIUM_ARGS, chromiumMissing } from '../tests/support/chromium.js';
import { readMinutes } from './detection-inject.js';

const { values: args } = parseArgs({
  options: { renders: { type: 'string', default: '30' }, warmup: { type: 'string', default: '5' } },
});
const renders = Number(args.renders);
const warmup = Number(args.warmup);
const DAY = 288;
const FIVE_MIN_S = 300;
const REAL_CSV = '../shared/data/btcusd_bitstamp_1min_part1.csv';
const realCsv = fileURLToPath(new URL(`../${REAL_CSV}`, import.meta.url));

if (chromiumMissing) {
  console.log(`chart: skipped (${chromiumMissing})`);
  process.exit(0);
}

const windows = await fiveMinuteWindows(DAY + (warmup + renders) * 12);
const inputs = Array.from({ length: warmup + renders }, (_, i) =>
  dayInput(windows.slice(i * 12, i * 12 + DAY)),
);

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><html><body></body></html>');
  const vegaDir = dirname(createRequire(import.meta.url).resolve('vega/vega-schema.json'));
  await page.addScriptTag({ content: await readFile(join(vegaDir, 'vega.min.js'), 'utf8') });

  const projectRender = async (input: ChartInput): Promise<number> => {
    const started = performance.now();
    const png = await renderChartPng(input, { scale: 2 });
    if (png.length < 1000) throw new Error('no PNG from the project');
    return performance.now() - started;
  };
  const pageRender = async (vgSpec: unknown): Promise<{ total: number; inside: number }> => {
    const started = performance.now();
    const answer = await page.evaluate(async (spec) => {
      const vega = (globalThis as unknown as { vega: VegaGlobal }).vega;
      const t0 = performance.now();
      const view = new vega.View(vega.parse(spec), { renderer: 'none' });
      const url = await view.toImageURL('png', 2);
      view.finalize();
      return { url, ms: performance.now() - t0 };
    }, vgSpec);
    const png = Buffer.from(answer.url.slice(answer.url.indexOf(',') + 1), 'base64');
    if (png.length < 1000) throw new Error('no PNG from the page');
    return { total: performance.now() - started, inside: answer.ms };
  };

  const specs = inputs.map((input) => compile(priceChartSpec(input)).spec);
  for (const [i, input] of inputs.slice(0, warmup).entries()) {
    await projectRender(input);
    await pageRender(specs[i]);
  }
  // In blocks of ten, taking turns: neither side's leftover work (the browser's own GC and
  // compositing) lands in the other's timings, and a change in the machine's load hits both.
  const project: number[] = [];
  const page_: number[] = [];
  /** The page's own time, without the round trip (spec in, data URL out). */
  const inPage: number[] = [];
  for (let from = warmup; from < inputs.length; from += 10) {
    const block = inputs.slice(from, from + 10);
    for (const input of block) project.push(await projectRender(input));
    for (const [k] of block.entries()) {
      const { total, inside } = await pageRender(specs[from + k]);
      page_.push(total);
      inPage.push(inside);
    }
  }
  const ours = stats(project);
  const theirs = stats(page_);
  const ratio = theirs.median / ours.median;
  const met = ratio >= 2 && ours.median < 40;
  console.log(
    `chart: project median ${ours.median.toFixed(1)} ms (p90 ${ours.p90.toFixed(1)}) vs open Chromium page ` +
      `median ${theirs.median.toFixed(1)} ms (p90 ${theirs.p90.toFixed(1)}): ` +
      `${ratio >= 1 ? `${ratio.toFixed(1)}× faster` : `${(1 / ratio).toFixed(1)}× slower`}; ` +
      `target ≥2× and <40 ms: ${met ? 'met' : 'not met'} (${renders} renders each, ${windows.source}; ` +
      `inside the page alone median ${stats(inPage).median.toFixed(1)} ms)`,
  );
} finally {
  await browser.close();
}

interface VegaGlobal {
  parse: (spec: unknown) => unknown;
  View: new (
    runtime: unknown,
    options: { renderer: string },
  ) => { toImageURL: (type: string, scale: number) => Promise<string>; finalize: () => void };
}

function stats(ms: number[]): { median: number; p90: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { median: at(0.5), p90: at(0.9) };
}

interface Windows extends Array<{ endS: number; price: number }> {
  source: string;
}

/** `count` consecutive 5-minute window averages of the real BTC closes, or of a random walk. */
async function fiveMinuteWindows(count: number): Promise<Windows> {
  const real = await access(realCsv).then(
    () => true,
    () => false,
  );
  const out = [] as unknown as Windows;
  if (real) {
    const sums = new Map<number, { sum: number; n: number }>();
    for (const m of await readMinutes(realCsv)) {
      const end = (Math.floor(m.timestamp / FIVE_MIN_S) + 1) * FIVE_MIN_S;
      const w = sums.get(end) ?? { sum: 0, n: 0 };
      w.sum += m.close;
      w.n += 1;
      sums.set(end, w);
    }
    for (const [endS, w] of sums) out.push({ endS, price: w.sum / w.n });
    out.sort((a, b) => a.endS - b.endS);
    if (out.length >= count) {
      out.length = count;
      out.source = 'real BTC/USD windows';
      return out;
    }
    console.error(`bench/chart: ${REAL_CSV} is too short; using a seeded random walk`);
    out.length = 0;
  } else {
    console.error(`bench/chart: ${REAL_CSV} is not there; using a seeded random walk`);
  }
  let state = 42;
  let price = 95_000;
  const t0 = Date.parse('2025-01-07T00:00:00Z') / 1000;
  for (let i = 0; i < count; i++) {
    state = (state * 16807) % 2147483647;
    price *= 1 + (state / 2147483647 - 0.5) * 0.004;
    out.push({ endS: t0 + (i + 1) * FIVE_MIN_S, price });
  }
  out.source = 'synthetic random walk';
  return out;
}

/**
 * A day as the bot charts it (priceChartInput, the worst marker labelled): the windows whose move
 * from the previous one is over 4× the day's median move are anomalies (at most 5, the largest).
 */
function dayInput(day: ReadonlyArray<{ endS: number; price: number }>): ChartInput {
  const moves = day.map((w, i) => Math.abs(w.price / (day[i - 1]?.price ?? w.price) - 1));
  const median = [...moves].sort((a, b) => a - b)[moves.length >> 1] ?? 0;
  const flagged = moves
    .map((move, i) => ({ move, i }))
    .filter((m) => m.move > 4 * median)
    .sort((a, b) => b.move - a.move)
    .slice(0, 5);
  const score = new Map(flagged.map((m, rank) => [m.i, 0.6 + rank * 0.02]));
  const points: PricePoint[] = day.map((w, i) => ({
    window_end: new Date(w.endS * 1000).toISOString(),
    price_avg: w.price,
    is_anomaly: score.has(i),
    anomaly_score: score.get(i) ?? 0.45,
  }));
  const input = priceChartInput({ asset: 'bitcoin', symbol: 'btc', simulated: false, points }, 86_400_000);
  // The label as shortReason writes a return reason, e.g. `return −0.42% 6.1×`.
  const worst = flagged[0];
  const label = worst
    ? `return ${(day[worst.i]?.price ?? 0) < (day[worst.i - 1]?.price ?? 0) ? '−' : '+'}${(worst.move * 100).toFixed(2)}% ${(worst.move / median).toFixed(1)}×`
    : '';
  return { ...input, points: points.map((p, i) => (i === worst?.i ? { ...p, label } : p)) };
}
