/**
 * The price chart: an asset's 5-minute window average price as a line over time, anomalous windows
 * as red points, a title and a subtitle. Vega-Lite spec → Vega view → SVG → PNG (resvg).
 *
 * Everything is self-contained at run time: inline data only, time in UTC whatever the process time
 * zone, and the DejaVu fonts shipped by the `dejavu-fonts-ttf` package (resvg draws no text at all
 * when it has no font, and system fonts are never loaded).
 *
 * Speed (a day of 5-minute windows, 1440 × 640: ~59 ms before, ~26 ms now on the same loaded
 * machine; `npm run bench:chart`): Vega views are kept per spec shape and fed new data, text is
 * drawn from kept glyph outlines (text-outlines.ts) and the PNG is encoded by zlib (png.ts).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { formatTime } from '../domain/format.js';
import type { ChartInput, ChartPoint } from '../domain/reply.js';
import { encodePng } from './png.js';
import { createTextOutliner } from './text-outlines.js';

export interface PngOptions {
  /** Device pixels per CSS pixel (default 2: a 1440 × 640 image). */
  scale?: number;
}

/** Size of the whole image in CSS pixels (title and axes included). */
export const CHART_WIDTH = 720;
export const CHART_HEIGHT = 320;
export const FONT_FAMILY = 'DejaVu Sans';
export const NO_DATA_TEXT = 'No data in this period';

const COLOR = {
  line: '#2563eb',
  anomaly: '#dc2626',
  title: '#111827',
  text: '#374151',
  muted: '#6b7280',
  grid: '#e5e7eb',
  axis: '#9ca3af',
};

const MAX_TEXT = 200;
const TITLE_SIZE = 17;
const SUBTITLE_SIZE = 13;
const LABEL_SIZE = 12;
const TITLE_OFFSET = 10;
/** Width kept free for the legend at the right end of the subtitle row. */
const LEGEND_ROOM = 90;
/** Space between the plot and the title block (covers the top label's and markers' overhang). */
const HEADROOM = 10;
const MAX_SCALE = 8;
/** With fewer points than this the line also shows small dots (a sparse line is hard to read). */
const SPARSE_POINTS = 48;

/** A marker label's font size and widest text (px): a few words, never over half the plot. */
const MARKER_LABEL_SIZE = 12;
const LABEL_WIDTH = 260;

interface Row {
  /** Epoch milliseconds (UTC); the numbers are what the chart reads, never a local-time string. */
  t: number;
  /** `null` breaks the line (a gap in the data). */
  price: number | null;
}

/**
 * Advance widths of printable ASCII (U+0020–U+007E) in DejaVu Sans and DejaVu Sans Bold, in
 * hundredths of an em, read from the TTFs' `hmtx` tables.
 */
const ASCII_WIDTHS = {
  regular: parseWidths(
    '32,40,46,84,64,95,78,27,39,39,50,84,32,36,32,34,64,64,64,64,64,64,64,64,64,64,34,34,84,84,84,53,100,68,69,70,77,63,58,77,75,29,29,66,56,86,75,79,60,79,69,63,61,73,68,99,69,61,69,39,34,39,84,50,50,61,63,55,63,62,35,63,63,28,28,58,28,97,63,61,63,63,41,52,39,63,59,82,59,59,52,64,34,64,84',
  ),
  bold: parseWidths(
    '35,46,52,84,70,100,87,31,46,46,52,84,38,42,38,37,70,70,70,70,70,70,70,70,70,70,40,40,84,84,84,58,100,77,76,73,83,68,68,82,84,37,37,77,64,100,84,85,73,85,77,72,68,81,77,110,77,72,73,46,37,46,84,50,50,67,72,59,72,68,44,72,71,34,34,67,34,104,71,69,72,72,49,60,48,71,65,92,65,65,58,71,37,71,84',
  ),
};

function parseWidths(list: string): number[] {
  return list.split(',').map((w) => Number(w) / 100);
}

/**
 * Width of `text` in DejaVu Sans, in CSS px (advance widths, no kerning): exact for ASCII, a fair
 * guess for the rest. Vega without a canvas guesses 0.8 em a character, far too wide for DejaVu:
 * axis labels would get needless room, titles would be cut short and tick labels thinned out.
 */
export function estimateTextWidth(text: string, fontSize: number, bold = false): number {
  const table = bold ? ASCII_WIDTHS.bold : ASCII_WIDTHS.regular;
  let em = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    const ascii = code >= 0x20 && code <= 0x7e ? table[code - 0x20] : undefined;
    if (ascii !== undefined) em += ascii;
    else if (ch === '·') em += bold ? 0.38 : 0.32;
    else if (ch === '–') em += 0.5;
    else if (code >= 0x2e80 || ch === '—' || ch === '…') em += 1;
    else em += bold ? 0.75 : 0.68;
  }
  return em * fontSize;
}

interface TextItem {
  fontSize?: number | string | null;
  fontWeight?: number | string | null;
  limit?: number | null;
}
interface VegaTextMetrics {
  width: (item: TextItem, text?: unknown) => number;
}

/**
 * Makes Vega measure text with the DejaVu widths. `textMetrics.width` is Vega's hook for a custom
 * measure (vl-convert uses it the same way); it is shared by every Vega view in the process, and
 * all of them render with DejaVu here. The width of a text with a `limit` is that of the cut text.
 */
function useDejaVuMetrics(): void {
  const metrics = (vega as unknown as { textMetrics?: VegaTextMetrics }).textMetrics;
  if (!metrics || metrics.width === dejaVuWidth) return;
  metrics.width = dejaVuWidth;
}

function dejaVuWidth(item: TextItem, text?: unknown): number {
  const size = item.fontSize == null ? 11 : Number(item.fontSize) || 0;
  const weight = item.fontWeight;
  const bold = weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
  const width = estimateTextWidth(text == null ? '' : String(text).trim(), size, bold);
  const limit = Number(item.limit);
  return limit > 0 ? Math.min(width, limit) : width;
}

/**
 * One line of plain text that fits `maxWidth`: control characters and line breaks become spaces,
 * pictographic emoji (DejaVu has no glyphs for them: they would be empty boxes) are dropped, and
 * a text too long is cut with `…`.
 */
function fitText(text: string, maxWidth: number, fontSize: number, bold = false): string {
  const flat = text
    .replace(/[\u{1F000}-\u{1FAFF}]|\u{FE0F}|\u{200D}/gu, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
    .replace(/[\u0000-\u001f\u007f-\u009f\s]+/gu, ' ')
    .trim();
  const all = Array.from(flat);
  if (all.length <= MAX_TEXT && estimateTextWidth(flat, fontSize, bold) <= maxWidth) return flat;
  let chars = all.slice(0, MAX_TEXT);
  while (chars.length > 0 && estimateTextWidth(`${chars.join('')}…`, fontSize, bold) > maxWidth) {
    chars = chars.slice(0, -1);
  }
  return `${chars.join('').trimEnd()}…`;
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;
}

/** `2025-01-07 22:00 – 23:55 UTC`, or with both dates when the range spans midnight. */
function utcRange(first: number, last: number): string {
  const [a, b] = [first, last].map((ms) => formatTime(new Date(ms).toISOString()).replace(/ UTC$/, ''));
  const end = a?.slice(0, 10) === b?.slice(0, 10) ? b?.slice(11) : b;
  return a === b ? `${a} UTC` : `${a} – ${end} UTC`;
}

/** A marker's label (ChartPoint.label), placed where it stays inside the plot. */
interface Label {
  t: number;
  price: number;
  text: string;
  align: 'left' | 'right';
  /** Above the marker, or below it when the marker is near the top of the plot. */
  above: boolean;
}

interface Prepared {
  rows: Row[];
  anomalies: Row[];
  labels: Label[];
  first: number;
  last: number;
  min: number;
  max: number;
}

/** Valid points in time order, with a `null` price inserted where the series has a gap. */
function prepare(points: readonly ChartPoint[]): Prepared | null {
  const valid = points
    .map((p) => ({
      t: Date.parse(p.window_end),
      price: p.price_avg,
      anomaly: p.is_anomaly === true,
      label: p.label?.trim() ?? '',
    }))
    .filter((p) => Number.isFinite(p.t) && typeof p.price === 'number' && Number.isFinite(p.price))
    .sort((a, b) => a.t - b.t);
  const head = valid[0];
  const tail = valid[valid.length - 1];
  if (!head || !tail) return null;

  const steps: number[] = [];
  for (let i = 1; i < valid.length; i++) {
    const step = (valid[i]?.t ?? 0) - (valid[i - 1]?.t ?? 0);
    if (step > 0) steps.push(step);
  }
  steps.sort((a, b) => a - b);
  const typical = steps[Math.floor(steps.length / 2)] ?? 0;

  const rows: Row[] = [];
  const anomalies: Row[] = [];
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let previous: number | null = null;
  for (const p of valid) {
    if (previous !== null && typical > 0 && p.t - previous > 3 * typical) {
      rows.push({ t: Math.round((previous + p.t) / 2), price: null });
    }
    rows.push({ t: p.t, price: p.price });
    if (p.anomaly) anomalies.push({ t: p.t, price: p.price });
    min = Math.min(min, p.price);
    max = Math.max(max, p.price);
    previous = p.t;
  }
  const labels: Label[] = valid
    .filter((p) => p.anomaly && p.label !== '')
    .map((p) => ({
      t: p.t,
      price: p.price,
      text: fitText(p.label, LABEL_WIDTH, MARKER_LABEL_SIZE, true),
      align: tail.t > head.t && (p.t - head.t) / (tail.t - head.t) > 0.6 ? 'right' : 'left',
      above: !(max > min && (p.price - min) / (max - min) > 0.75),
    }));
  return { rows, anomalies, labels, first: head.t, last: tail.t, min, max };
}

function defaultTitle(input: ChartInput): string {
  const symbol = input.symbol?.trim();
  const name = symbol ? `${input.asset} (${symbol.toUpperCase()})` : input.asset;
  return `${name} · 5-min average price (USD)`;
}

function defaultSubtitle(data: Prepared | null): string {
  if (!data) return 'no price windows';
  const windows = data.rows.filter((r) => r.price !== null).length;
  return [
    utcRange(data.first, data.last),
    plural(windows, 'window'),
    plural(data.anomalies.length, 'anomaly', 'anomalies'),
  ].join(' · ');
}

/**
 * The y axis number format. Cents for prices under $1000 when the ticks are at least a few cents
 * apart ($184.50); otherwise `$,f` without a precision, for which Vega derives the digits from the
 * tick step: $96,500 · $3,305 · $0.352 · $0.0000217, and never two equal labels.
 */
function priceFormat(data: Prepared): string {
  const roughStep = (data.max - data.min) / 12;
  return Math.max(Math.abs(data.min), Math.abs(data.max)) < 1000 && roughStep >= 0.01 ? '$,.2f' : '$,f';
}

/**
 * x labels in UTC: `HH:MM` within a day, `Mon DD` at midnight (the ticks of multi-day ranges).
 * A pure expression over the tick value: no input text ever reaches it.
 */
const X_LABEL_EXPR =
  "utchours(datum.value) === 0 && utcminutes(datum.value) === 0 ? utcFormat(datum.value, '%b %d') : utcFormat(datum.value, '%H:%M')";

const CONFIG = {
  font: FONT_FAMILY,
  background: 'white',
  padding: { left: 10, right: 18, top: 12, bottom: 8 },
  view: { stroke: null },
  title: {
    font: FONT_FAMILY,
    fontSize: TITLE_SIZE,
    fontWeight: 'bold',
    color: COLOR.title,
    anchor: 'start',
    limit: CHART_WIDTH - 30,
    subtitleFont: FONT_FAMILY,
    subtitleFontSize: SUBTITLE_SIZE,
    subtitleColor: COLOR.muted,
    subtitlePadding: 5,
    offset: TITLE_OFFSET,
  },
  axis: {
    labelFont: FONT_FAMILY,
    titleFont: FONT_FAMILY,
    labelFontSize: LABEL_SIZE,
    titleFontSize: LABEL_SIZE,
    titleFontWeight: 'normal',
    labelColor: COLOR.text,
    titleColor: COLOR.muted,
    gridColor: COLOR.grid,
    domainColor: COLOR.axis,
    tickColor: COLOR.axis,
  },
  axisX: { grid: false, tickSize: 4, labelPadding: 4, titlePadding: 8 },
  axisY: { domain: false, ticks: false, labelPadding: 8 },
  legend: {
    labelFont: FONT_FAMILY,
    titleFont: FONT_FAMILY,
    labelFontSize: LABEL_SIZE,
    labelColor: COLOR.text,
  },
  text: { font: FONT_FAMILY },
} as const;

/** The Vega-Lite spec of the chart (inline data, fixed 720 × 320 size, UTC time). */
export function priceChartSpec(input: ChartInput): TopLevelSpec {
  const data = prepare(input.points);
  const legend = data !== null && data.anomalies.length > 0;
  const room = CHART_WIDTH - 30;
  const title = {
    text: fitText(input.title ?? defaultTitle(input), room, TITLE_SIZE, true),
    subtitle: fitText(
      input.subtitle ?? defaultSubtitle(data),
      legend ? room - LEGEND_ROOM : room,
      SUBTITLE_SIZE,
    ),
  };
  const base = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: { type: 'fit', contains: 'padding' },
    title,
    config: CONFIG,
  } as const;

  if (!data) {
    return {
      ...base,
      data: { values: [{}] },
      mark: {
        type: 'text',
        text: NO_DATA_TEXT,
        fontSize: 15,
        color: COLOR.muted,
        x: { expr: 'width / 2' },
        y: { expr: 'height / 2' },
        align: 'center',
        baseline: 'middle',
      },
    } as TopLevelSpec;
  }

  // A single instant or a flat price would give a degenerate scale: widen it around the value.
  const HOUR = 3_600_000;
  const xDomain = data.first === data.last ? { domain: [data.first - HOUR, data.last + HOUR] } : {};
  const pad = Math.abs(data.max) * 0.005 || 1;
  const yDomain = data.min === data.max ? { domain: [data.min - pad, data.max + pad] } : {};

  const x = {
    field: 't',
    type: 'temporal',
    title: 'time (UTC)',
    scale: { type: 'utc', ...xDomain },
    axis: { labelExpr: X_LABEL_EXPR, tickCount: 8, labelFlush: true, labelOverlap: true },
  } as const;
  const y = {
    field: 'price',
    type: 'quantitative',
    title: null,
    scale: { zero: false, nice: true, ...yDomain },
    axis: { format: priceFormat(data), tickCount: 6, labelOverlap: true },
  } as const;

  const line = {
    data: { values: data.rows },
    mark: {
      type: 'line',
      color: COLOR.line,
      strokeWidth: 2,
      strokeJoin: 'round',
      strokeCap: 'round',
      invalid: 'break-paths-filter-domains',
      ...(data.rows.length < SPARSE_POINTS ? { point: { filled: true, size: 18, color: COLOR.line } } : {}),
    },
    encoding: { x, y },
  };
  // An invisible rule just above the plot: the title sits a fixed distance above it whatever the
  // top axis label or marker overhang, so the legend (placed relative to the plot) lines up with
  // the subtitle in every chart.
  const spacer = {
    data: { values: [{}] },
    mark: { type: 'rule', strokeOpacity: 0, strokeWidth: 1 },
    encoding: { x: { value: 0 }, x2: { value: 1 }, y: { value: -HEADROOM }, y2: { value: -HEADROOM } },
  };
  const layers: object[] = [line, spacer];
  if (legend) {
    layers.push({
      data: { values: data.anomalies },
      mark: { type: 'point', filled: true, size: 80, opacity: 1, stroke: 'white', strokeWidth: 1.5 },
      encoding: {
        x,
        y,
        color: {
          datum: 'anomaly',
          type: 'nominal',
          scale: { range: [COLOR.anomaly] },
          legend: {
            title: null,
            // In the subtitle's row, right-aligned: never over the data.
            orient: 'none',
            legendX: { expr: `width - ${LEGEND_ROOM - 16}` },
            legendY: -(HEADROOM + TITLE_OFFSET + 15),
            symbolSize: 80,
            symbolStrokeColor: 'white',
            symbolStrokeWidth: 1.5,
          },
        },
      },
    });
  }
  for (const label of data.labels) {
    layers.push({
      data: { values: [label] },
      mark: {
        type: 'text',
        fontSize: MARKER_LABEL_SIZE,
        fontWeight: 'bold',
        color: COLOR.anomaly,
        align: label.align,
        baseline: label.above ? 'bottom' : 'top',
        dx: label.align === 'left' ? 8 : -8,
        dy: label.above ? -8 : 8,
      },
      encoding: { x, y, text: { field: 'text', type: 'nominal' } },
    });
  }
  return { ...base, layer: layers } as TopLevelSpec;
}

/**
 * Vega views of the last few chart shapes, reused. A shape is the spec with its inline data taken
 * out: charts that differ only in their points (the same asset's next day, or the next hour) share
 * a view, and each render binds its rows to it as named data sets (`view.data`; Vega re-runs the
 * dataflow as it does for streaming data). Measured on 288-point charts, of a 45 ms render: the
 * Vega-Lite compile and Vega parse took ~9 ms and a new View ~11 ms more to run and write the SVG
 * (it compiles every expression of the spec to a fresh function); a reused view takes ~5 ms.
 * The SVG is the same as a new view's but for the order of some elements within a mark (checked
 * on 106 charts, also rendered concurrently). Renders on one view take turns (`turn`), as a view
 * holds one data set at a time. A kept view is ~2 MB of heap (operators, last rows, scenegraph):
 * at most VIEWS_KEPT are kept (least recently used finalized first), all let go after IDLE_MS
 * without a chart.
 */
const VIEWS_KEPT = 4;
const IDLE_MS = 60_000;

interface Kept {
  view: vega.View;
  /** The last render queued on this view (settled or not); the next one starts after it. */
  turn: Promise<unknown>;
}
const views = new Map<string, Kept>();
let idle: NodeJS.Timeout | undefined;

function drop(key: string, kept: Kept): void {
  views.delete(key);
  void kept.turn.finally(() => kept.view.finalize());
}

/** Lets go of the kept views and text outlines once no chart has been drawn for IDLE_MS. */
function releaseWhenIdle(): void {
  if (idle) idle.refresh();
  else {
    idle = setTimeout(() => {
      idle = undefined;
      for (const [key, kept] of views) drop(key, kept);
      outlines.clear();
    }, IDLE_MS);
    idle.unref();
  }
}

interface Shape {
  key: string;
  spec: TopLevelSpec;
  /** The inline data sets taken out of the spec, by the name the shape gives them instead. */
  data: Array<[string, unknown[]]>;
}

/** The spec with every inline `data: { values }` replaced by `data: { name }`. */
function shapeOf(spec: TopLevelSpec): Shape {
  const data: Array<[string, unknown[]]> = [];
  const named = (unit: Record<string, unknown>): Record<string, unknown> => {
    const inline = unit.data as { values?: unknown[] } | undefined;
    if (!inline?.values) return unit;
    const name = `inline_${data.length}`;
    data.push([name, inline.values]);
    return { ...unit, data: { name } };
  };
  const top = named(spec as unknown as Record<string, unknown>);
  const layer = top.layer as Array<Record<string, unknown>> | undefined;
  const shape = (layer ? { ...top, layer: layer.map(named) } : top) as unknown as TopLevelSpec;
  return { key: JSON.stringify(shape), spec: shape, data };
}

function keptView(shape: Shape): Kept {
  let kept = views.get(shape.key);
  if (kept) views.delete(shape.key);
  else {
    const view = new vega.View(vega.parse(compile(shape.spec).spec), { renderer: 'none' });
    kept = { view, turn: Promise.resolve() };
  }
  views.set(shape.key, kept);
  for (const [key, oldest] of views) {
    if (views.size <= VIEWS_KEPT) break;
    drop(key, oldest);
  }
  releaseWhenIdle();
  return kept;
}

/** The chart as an SVG document (text escaped by Vega; fonts named `DejaVu Sans`). */
export async function renderChartSvg(input: ChartInput): Promise<string> {
  const shape = shapeOf(priceChartSpec(input));
  const kept = keptView(shape);
  const render = kept.turn.then(() => {
    useDejaVuMetrics();
    for (const [name, values] of shape.data) kept.view.data(name, values);
    // The size for `autosize: fit` is worked out again from the new labels, as in a new view.
    kept.view.resize();
    return kept.view.toSVG();
  });
  // A view that failed is not reused: the next chart of its shape gets a new one.
  kept.turn = render.catch(() => {
    if (views.get(shape.key) === kept) views.delete(shape.key);
  });
  return render;
}

let fontFiles: string[] | undefined;

/** The DejaVu TTFs of the `dejavu-fonts-ttf` package (resolved once, checked to exist). */
export function chartFontFiles(): string[] {
  if (!fontFiles) {
    const root = path.dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json'));
    const files = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((name) => path.join(root, 'ttf', name));
    for (const file of files) {
      if (!existsSync(file))
        throw new Error(`chart font not found: ${file} (is dejavu-fonts-ttf installed?)`);
    }
    fontFiles = files;
  }
  return fontFiles;
}

/** The chart as a PNG, `scale` device pixels per CSS pixel (default 2: 1440 × 640). */
export async function renderChartPng(input: ChartInput, options: PngOptions = {}): Promise<Buffer> {
  const scale = options.scale ?? 2;
  if (!Number.isFinite(scale) || scale <= 0 || scale > MAX_SCALE) {
    throw new RangeError(`chart scale must be > 0 and ≤ ${MAX_SCALE}, got ${scale}`);
  }
  const svg = outlines.draw(await renderChartSvg(input));
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: chartFont(),
  });
  const image = resvg.render();
  return encodePng(image.width, image.height, image.pixels);
}

let font: ResvgRenderOptions['font'];

/** resvg's fonts: the two DejaVu files only (no system font is looked up). */
function chartFont(): ResvgRenderOptions['font'] {
  font ??= {
    fontFiles: chartFontFiles(),
    loadSystemFonts: false,
    defaultFontFamily: FONT_FAMILY,
    sansSerifFamily: FONT_FAMILY,
  };
  return font;
}

/** Outlines of the last 128 texts drawn (~1 MB at most; let go with the views when idle). */
const outlines = createTextOutliner({ font: chartFont, kept: 128 });
