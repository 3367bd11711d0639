import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';
import { compile } from 'vega-lite';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChartInput, ChartPoint } from '../../src/domain/reply.js';
import {
  CHART_HEIGHT,
  CHART_WIDTH,
  chartFontFiles,
  estimateTextWidth,
  NO_DATA_TEXT,
  priceChartSpec,
  renderChartPng,
  renderChartSvg,
} from '../../src/render/chart.js';
import {
  countPixels,
  type DecodedPng,
  decodePng,
  findPixels,
  isPng,
  pixelAt,
  type Rgba,
} from '../support/png.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART_MODULE = pathToFileURL(`${ROOT}src/render/chart.ts`).href;
const FIVE_MIN = 300_000;

/** A seeded random walk of 5-minute windows; `anomalies` are indexes flagged (and spiked). */
function series(options: {
  start: string;
  count: number;
  base: number;
  anomalies?: number[];
  seed?: number;
}): ChartPoint[] {
  const flagged = new Set(options.anomalies ?? []);
  let state = options.seed ?? 7;
  const random = () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
  const t0 = Date.parse(options.start);
  let price = options.base;
  return Array.from({ length: options.count }, (_, i) => {
    price *= 1 + (random() - 0.5) * 0.004;
    const spike = flagged.has(i) ? 1.015 : 1;
    return {
      window_end: new Date(t0 + (i + 1) * FIVE_MIN).toISOString(),
      price_avg: price * spike,
      is_anomaly: flagged.has(i),
      anomaly_score: flagged.has(i) ? 0.71 : 0.42,
    };
  });
}

const DAY_OF_BTC: ChartInput = {
  asset: 'bitcoin',
  symbol: 'btc',
  points: series({ start: '2025-01-07T00:00:00Z', count: 288, base: 95_000, anomalies: [40, 144, 230] }),
  subtitle: 'last 24h · 3 anomalies · SIMULATED DATA',
};
const NO_ANOMALIES: ChartInput = {
  ...DAY_OF_BTC,
  points: DAY_OF_BTC.points.map((p) => ({ ...p, is_anomaly: false, anomaly_score: null })),
};
/** 22:00Z on Jan 7 to 02:00Z on Jan 8: the date and the hours differ in most time zones. */
const ACROSS_MIDNIGHT: ChartInput = {
  asset: 'ethereum',
  symbol: 'eth',
  points: series({ start: '2025-01-07T21:55:00Z', count: 49, base: 3_300, anomalies: [12] }),
};

const isRed = (p: Rgba) => p.r > 180 && p.g < 90 && p.b < 90;
/** Text is dark grey to near-black on white; the price line is blue and the grid light grey. */
const isDark = (p: Rgba) => p.r < 130 && p.g < 130 && p.b < 140 && Math.abs(p.r - p.b) < 40;

/** The contents of the SVG's `<text>` elements, entities decoded. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => decodeEntities(m[1] ?? ''));
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * A strict-enough XML well-formedness check: every tag is `<name attr="…">`, `</name>` or
 * `<name …/>` and they nest; text never holds a raw `<` or a bare `&`; attribute values are quoted
 * and hold no raw `<`. Returns the problems found.
 */
function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const entity = /^&(?:[a-z]+|#\d+|#x[0-9a-f]+);/i;
  let i = 0;
  const checkText = (text: string, at: number) => {
    for (let k = text.indexOf('&'); k >= 0; k = text.indexOf('&', k + 1)) {
      if (!entity.test(text.slice(k))) problems.push(`bare & at ${at + k}`);
    }
  };
  while (i < xml.length) {
    const open = xml.indexOf('<', i);
    const text = xml.slice(i, open < 0 ? xml.length : open);
    checkText(text, i);
    if (text.includes('>')) problems.push(`raw > in text at ${i}`);
    if (open < 0) break;
    if (xml.startsWith('<?', open) || xml.startsWith('<!--', open)) {
      const end = xml.indexOf(xml.startsWith('<?', open) ? '?>' : '-->', open);
      if (end < 0) return [...problems, `unterminated declaration at ${open}`];
      i = end + 2;
      continue;
    }
    const tag = /^<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/.exec(xml.slice(open));
    if (!tag) return [...problems, `malformed tag at ${open}: ${xml.slice(open, open + 60)}`];
    const [whole, closing, name = '', attrs = '', selfClosing] = tag;
    checkText(attrs, open);
    if (closing) {
      const top = stack.pop();
      if (top !== name) problems.push(`</${name}> closes <${top}> at ${open}`);
    } else if (!selfClosing) stack.push(name);
    i = open + whole.length;
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  return problems;
}

function renderInTimeZone(input: ChartInput, timeZone: string): Promise<string> {
  const script = `
    const { renderChartSvg } = await import(${JSON.stringify(CHART_MODULE)});
    process.stdout.write(await renderChartSvg(JSON.parse(process.env.CHART_INPUT)));
  `;
  return promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', TZ: timeZone, CHART_INPUT: JSON.stringify(input) },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30_000,
  }).then((r) => r.stdout);
}

const decoded = new Map<ChartInput, Promise<DecodedPng>>();
function png(input: ChartInput): Promise<DecodedPng> {
  let p = decoded.get(input);
  if (!p) {
    p = renderChartPng(input).then(decodePng);
    decoded.set(input, p);
  }
  return p;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('priceChartSpec', () => {
  it('is a fixed-size layered chart on UTC time with a non-zero price scale', () => {
    const spec = priceChartSpec(DAY_OF_BTC) as unknown as Record<string, unknown>;
    expect(spec.width).toBe(CHART_WIDTH);
    expect(spec.height).toBe(CHART_HEIGHT);
    expect(spec.autosize).toEqual({ type: 'fit', contains: 'padding' });
    const vg = compile(priceChartSpec(DAY_OF_BTC)).spec;
    const x = vg.scales?.find((s) => s.name === 'x');
    const y = vg.scales?.find((s) => s.name === 'y');
    expect(x?.type).toBe('utc');
    expect(y).toMatchObject({ type: 'linear', zero: false });
    // No local-time formatting or time units anywhere in the compiled spec.
    const text = JSON.stringify(vg);
    expect(text).not.toMatch(/\btimeFormat\(|"type":\s*"time"|\b(?:hours|minutes|date|month|day)\(datum/);
    expect(text).toContain('utcFormat(datum.value');
  });

  it('uses DejaVu Sans for every piece of text', () => {
    const config = JSON.stringify(compile(priceChartSpec(DAY_OF_BTC)).spec.config);
    for (const key of ['font', 'labelFont', 'titleFont', 'subtitleFont']) {
      expect(config).toContain(`"${key}":"DejaVu Sans"`);
    }
  });

  it('picks a price format for the magnitude and the spread of the prices', () => {
    const format = (base: number) => {
      const spec = priceChartSpec({
        asset: 'a',
        points: series({ start: '2025-01-07T00:00:00Z', count: 288, base }),
      }) as unknown as { layer: Array<{ encoding?: { y?: { axis?: { format?: string } } } }> };
      return spec.layer[0]?.encoding?.y?.axis?.format;
    };
    expect(format(95_000)).toBe('$,f'); // Vega derives the digits from the tick step: $96,500
    expect(format(185)).toBe('$,.2f'); // cents
    expect(format(0.35)).toBe('$,f'); // ticks a tenth of a cent apart: $0.352
  });

  it('marks a gap in the windows so the line breaks there', () => {
    const points = series({ start: '2025-01-07T00:00:00Z', count: 60, base: 185 }).filter(
      (_, i) => i < 20 || i >= 35,
    );
    const spec = priceChartSpec({ asset: 'solana', points }) as unknown as {
      layer: Array<{ data?: { values?: Array<{ price: number | null }> } }>;
    };
    const rows = spec.layer[0]?.data?.values ?? [];
    expect(rows.filter((r) => r.price === null)).toHaveLength(1);
    expect(rows.filter((r) => r.price !== null)).toHaveLength(45);
  });
});

describe('renderChartPng', () => {
  it('is a valid PNG of 720 × 320 CSS px at the requested scale', async () => {
    const buffer = await renderChartPng(DAY_OF_BTC);
    expect(isPng(buffer)).toBe(true);
    const image = decodePng(buffer);
    expect([image.width, image.height]).toEqual([1440, 640]);
    expect(image.filters.every((f) => f >= 0 && f <= 4)).toBe(true);

    const one = decodePng(await renderChartPng(DAY_OF_BTC, { scale: 1 }));
    expect([one.width, one.height]).toEqual([720, 320]);
  });

  it('has a white background', async () => {
    const image = await png(DAY_OF_BTC);
    const corners = [
      [0, 0],
      [image.width - 1, 0],
      [0, image.height - 1],
      [image.width - 1, image.height - 1],
    ] as const;
    for (const [x, y] of corners) {
      expect(
        countPixels(image, (p) => p.r === 255 && p.g === 255 && p.b === 255 && p.a === 255, {
          x0: x,
          y0: y,
          x1: x + 1,
          y1: y + 1,
        }),
      ).toBe(1);
    }
  });

  it('draws its text: the title, the y labels and the x labels are there', async () => {
    const image = await png(DAY_OF_BTC);
    // Title block: the top 100 rows, left half (the legend sits at the right end).
    expect(countPixels(image, isDark, { x0: 0, y0: 0, x1: 720, y1: 100 })).toBeGreaterThan(1500);
    // y labels: the strip left of the plot, below the title block.
    expect(countPixels(image, isDark, { x0: 0, y0: 130, x1: 110, y1: 560 })).toBeGreaterThan(400);
    // x labels and the axis title: the band under the plot.
    expect(countPixels(image, isDark, { x0: 150, y0: 560, x1: 1440, y1: 640 })).toBeGreaterThan(600);
  });

  it('marks the anomalies with red points, where they are', async () => {
    const red = findPixels(await png(DAY_OF_BTC), isRed);
    expect(red.length).toBeGreaterThan(300);
    // Markers in the plot (below the title block): three of them, at 14 %, 50 % and 80 % of the time axis.
    const inPlot = red.filter((p) => p.y > 110);
    expect(inPlot.length).toBeGreaterThan(200);
    const columns = (from: number, to: number) => inPlot.filter((p) => p.x >= from && p.x < to).length;
    expect(columns(220, 380)).toBeGreaterThan(40);
    expect(columns(680, 860)).toBeGreaterThan(40);
    expect(columns(1080, 1260)).toBeGreaterThan(40);
  });

  it('has no red at all without anomalies', async () => {
    expect(countPixels(await png(NO_ANOMALIES), isRed)).toBeLessThan(5);
  });

  it('renders an empty period as a "No data in this period" chart', async () => {
    const input: ChartInput = {
      asset: 'bitcoin',
      symbol: 'btc',
      points: [],
      subtitle: 'last 24h · SIMULATED DATA',
    };
    const svg = await renderChartSvg(input);
    expect(svgTexts(svg)).toContain(NO_DATA_TEXT);
    const image = decodePng(await renderChartPng(input));
    expect([image.width, image.height]).toEqual([1440, 640]);
    expect(countPixels(image, isDark, { x0: 0, y0: 0, x1: 1440, y1: 100 })).toBeGreaterThan(500);
    // The message, in the middle.
    const middle = { x0: 400, y0: 250, x1: 1040, y1: 400 };
    expect(countPixels(image, (p) => p.r < 200 && p.g < 200 && p.b < 200, middle)).toBeGreaterThan(300);
    expect(countPixels(image, isRed)).toBe(0);
  });

  it('treats points it cannot plot as absent', async () => {
    const input: ChartInput = {
      asset: 'bitcoin',
      points: [
        { window_end: 'not a date', price_avg: 1, is_anomaly: true },
        { window_end: '2025-01-07T00:05:00Z', price_avg: Number.NaN, is_anomaly: true },
      ],
    };
    expect(svgTexts(await renderChartSvg(input))).toContain(NO_DATA_TEXT);
  });

  it('renders a single window and a flat price', async () => {
    const single: ChartInput = {
      asset: 'cardano',
      points: [{ window_end: '2025-01-07T22:00:00Z', price_avg: 0.9, is_anomaly: true }],
    };
    const flat: ChartInput = {
      asset: 'tether',
      points: series({ start: '2025-01-07T00:00:00Z', count: 30, base: 1 }).map((p) => ({
        ...p,
        price_avg: 1,
      })),
    };
    for (const input of [single, flat]) {
      const svg = await renderChartSvg(input);
      const labels = svgTexts(svg).filter((t) => t.startsWith('$'));
      expect(labels.length).toBeGreaterThan(1);
      expect(new Set(labels).size).toBe(labels.length);
      const image = decodePng(await renderChartPng(input));
      expect(image.width).toBe(1440);
    }
  });

  it('rejects a scale that is not a sensible positive number', async () => {
    for (const scale of [0, -1, Number.NaN, 100]) {
      await expect(renderChartPng(DAY_OF_BTC, { scale })).rejects.toThrow(RangeError);
    }
  });

  it('renders 288 windows', async () => {
    const started = performance.now();
    const buffer = await renderChartPng(DAY_OF_BTC);
    expect(decodePng(buffer).height).toBe(640);
    console.info(`chart: 288 points to a 2× PNG in ${Math.round(performance.now() - started)} ms`);
  });
});

describe('renderChartSvg', () => {
  it('labels the time axis in UTC', async () => {
    const texts = svgTexts(await renderChartSvg(ACROSS_MIDNIGHT));
    expect(texts).toContain('time (UTC)');
    // 22:00Z … 02:00Z: midnight UTC is labelled with the date, the hours around it in UTC.
    expect(texts).toEqual(expect.arrayContaining(['23:00', 'Jan 08', '01:00']));
    expect(texts).not.toContain('00:00');
    // The default subtitle gives the range in UTC too.
    expect(texts).toContain('2025-01-07 22:00 – 2025-01-08 02:00 UTC · 49 windows · 1 anomaly');
  });

  it('is the same SVG whatever the time zone of the process', async () => {
    const here = await renderChartSvg(ACROSS_MIDNIGHT);
    const [newYork, kolkata] = await Promise.all([
      renderInTimeZone(ACROSS_MIDNIGHT, 'America/New_York'),
      renderInTimeZone(ACROSS_MIDNIGHT, 'Asia/Kolkata'),
    ]);
    expect(newYork).toBe(here);
    expect(kolkata).toBe(here);
  });

  it('has sensible, distinct price labels from cents to six figures', async () => {
    for (const [base, pattern] of [
      [95_000, /^\$\d{2},\d{3}$/],
      [3_300, /^\$\d,\d{3}$/],
      [185, /^\$\d{3}\.\d{2}$/],
      [0.35, /^\$0\.\d{3,4}$/],
      [0.0000215, /^\$0\.0000\d{3,4}$/],
    ] as const) {
      const svg = await renderChartSvg({
        asset: 'a',
        points: series({ start: '2025-01-07T00:00:00Z', count: 288, base }),
      });
      const labels = svgTexts(svg).filter((t) => t.startsWith('$'));
      expect(labels.length, `labels for ${base}`).toBeGreaterThanOrEqual(3);
      expect(new Set(labels).size, `distinct labels for ${base}: ${labels.join(' ')}`).toBe(labels.length);
      for (const label of labels) expect(label, `label for ${base}`).toMatch(pattern);
    }
  });

  it('keeps hostile text as text and stays well-formed', async () => {
    const hostile: ChartInput = {
      asset: '<script>alert("asset")</script> & co',
      symbol: '"><img src=x onerror=alert(1)>',
      points: series({ start: '2025-01-07T00:00:00Z', count: 60, base: 50, anomalies: [5] }),
      title: `Ti<tle> & "quotes" 'single' ]]> <!-- \u0000\u0007 line\nbreak 🚀🔥 ${'W'.repeat(80)}`,
      subtitle: '<svg onload=alert(1)> &amp; &#x3C; 😀',
    };
    const svg = await renderChartSvg(hostile);
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).not.toMatch(/<script|<img|<svg onload|<!-- /i);
    const texts = svgTexts(svg);
    const title = texts.find((t) => t.startsWith('Ti<tle>'));
    expect(title).toMatch(/^Ti<tle> & "quotes" 'single' \]\]> <!-- line break W+…$/);
    expect(texts).toContain('<svg onload=alert(1)> &amp; &#x3C;');

    const withDefaultTitle = await renderChartSvg({ ...hostile, title: undefined });
    expect(xmlProblems(withDefaultTitle)).toEqual([]);
    // The default title is built from the asset and the symbol: kept as text, cut to fit.
    expect(svgTexts(withDefaultTitle).find((t) => t.startsWith('<script>'))).toMatch(
      /^<script>alert\("asset"\)<\/script> & co \("><IMG SRC=X .*…$/,
    );

    const image = decodePng(await renderChartPng(hostile));
    expect(image.width).toBe(1440);
  });

  it('keeps a long title on one line inside the image', async () => {
    const title = `bitcoin ${'very long title '.repeat(20)}`;
    const spec = priceChartSpec({ ...DAY_OF_BTC, title }) as { title: { text: string } };
    expect(spec.title.text.endsWith('…')).toBe(true);
    expect(estimateTextWidth(spec.title.text, 17, true)).toBeLessThanOrEqual(CHART_WIDTH - 30);
    // Vega measures with the same DejaVu widths, so it draws the title as cut (its own 0.8 em a
    // character guess would cut it again, much shorter).
    expect(svgTexts(await renderChartSvg({ ...DAY_OF_BTC, title }))).toContain(spec.title.text);
    // The plot keeps its width: the x axis line is as long as without the long title.
    const axisLine = (svg: string) =>
      /class="mark-rule role-axis-domain"[^>]*><line [^>]*x2="([\d.]+)"/.exec(svg)?.[1];
    const plain = axisLine(await renderChartSvg(DAY_OF_BTC));
    expect(Number(plain)).toBeGreaterThan(550);
    expect(axisLine(await renderChartSvg({ ...DAY_OF_BTC, title }))).toBe(plain);
  });

  it('compiles and renders without warnings', async () => {
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    for (const input of [DAY_OF_BTC, NO_ANOMALIES, ACROSS_MIDNIGHT, { asset: 'x', points: [] }]) {
      await renderChartSvg(input);
    }
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });
});

/** An RGBA PNG whose row y is stored with filter type `filterOf(y)` (the encoder side, for the decoder's test). */
function encodePng(width: number, height: number, rgba: Uint8Array, filterOf: (y: number) => number): Buffer {
  const stride = width * 4;
  const raw = Buffer.alloc(height * (stride + 1));
  const at = (y: number, i: number) => (y < 0 || i < 0 ? 0 : (rgba[y * stride + i] ?? 0));
  for (let y = 0; y < height; y++) {
    const filter = filterOf(y);
    raw[y * (stride + 1)] = filter;
    for (let i = 0; i < stride; i++) {
      const [x, a, b, c] = [at(y, i), at(y, i - 4), at(y - 1, i), at(y - 1, i - 4)];
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const predicted = [0, a, b, (a + b) >>> 1, paeth][filter] ?? 0;
      raw[y * (stride + 1) + 1 + i] = (x - predicted) & 0xff;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('the PNG test decoder', () => {
  it('undoes every filter type (resvg itself only writes some of them)', () => {
    const [width, height] = [7, 10];
    const rgba = Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 37 + (i >> 3) * 11) & 0xff);
    const image = decodePng(encodePng(width, height, rgba, (y) => y % 5));
    expect(image.filters).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    expect(Buffer.from(image.rgba).equals(Buffer.from(rgba))).toBe(true);
    expect(pixelAt(image, 1, 2)).toEqual({
      r: rgba[(2 * width + 1) * 4],
      g: rgba[(2 * width + 1) * 4 + 1],
      b: rgba[(2 * width + 1) * 4 + 2],
      a: rgba[(2 * width + 1) * 4 + 3],
    });
  });

  it('refuses a damaged PNG', async () => {
    const good = await renderChartPng(DAY_OF_BTC, { scale: 1 });
    const damaged = Buffer.from(good);
    damaged[40] = (damaged[40] ?? 0) ^ 0xff; // inside the first IDAT chunk
    expect(() => decodePng(damaged)).toThrow(/CRC/);
    expect(() => decodePng(good.subarray(0, good.length - 20))).toThrow();
    expect(() => decodePng(Buffer.from('not a png at all'))).toThrow(/signature/);
  });
});

describe('fonts', () => {
  it('come from the dejavu-fonts-ttf package', () => {
    const files = chartFontFiles();
    expect(files.map((f) => f.split('/').slice(-3).join('/'))).toEqual([
      'dejavu-fonts-ttf/ttf/DejaVuSans.ttf',
      'dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf',
    ]);
    for (const file of files) expect(existsSync(file)).toBe(true);
  });

  it('are measured close to their real widths', () => {
    // DejaVu Sans: digits 0.636 em, colon 0.337 em; bold W 1.103 em.
    expect(estimateTextWidth('00:00', 12)).toBeCloseTo((4 * 0.636 + 0.337) * 12, 0);
    expect(estimateTextWidth('W', 10, true)).toBeCloseTo(11.03, 0);
  });
});
