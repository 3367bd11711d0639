import fc from 'fast-check';

/**
 * Random landing lines, good and hostile, and a reference model of the Silver verdicts of
 * sql/local/pipeline_batch.sql written independently in TypeScript: the property test
 * (tests/integration/pipeline-property.test.ts) and the fuzz bench (bench/fuzz.ts) run the real
 * pipeline and compare with it.
 *
 * The generator keeps to what both sides read alike: JSON.stringify output (no NaN literals),
 * ids padded with spaces only, times in the pipeline's ISO form or plainly invalid.
 */

export const BASE_MS = Date.parse('2025-01-07T00:00:00.000Z');
const MINUTE = 60_000;

/** One landing line before it is rendered at its run's time. */
export type LineSpec =
  | { kind: 'garbage'; text: string }
  | {
      kind: 'record';
      id: unknown;
      price: unknown;
      volume: unknown;
      /** `{ steps }`: this many 30-second steps from the run's time; otherwise the value itself. */
      event: unknown;
      ingest: 'now' | 'absent' | 'lying' | 'garbage';
    };

const MISSING = Symbol('missing');

export const lineSpec: fc.Arbitrary<LineSpec> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('not json', '[1,2]', '{"id":', '', '  ', 'null')
      .map((text) => ({ kind: 'garbage' as const, text })),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('record' as const),
      id: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('bitcoin', 'ethereum', ' Bitcoin ', 'SOL') },
        { weight: 1, arbitrary: fc.constantFrom<unknown>('', '   ', null, 42, MISSING) },
      ),
      price: fc.oneof(
        { weight: 8, arbitrary: fc.double({ min: 0.01, max: 1e6, noNaN: true }) },
        {
          weight: 2,
          arbitrary: fc.constantFrom<unknown>(
            -1,
            0,
            1e308,
            1e9,
            999_999_999.5,
            '100',
            true,
            null,
            [1],
            { usd: 1 },
            MISSING,
          ),
        },
      ),
      volume: fc.oneof(
        { weight: 8, arbitrary: fc.double({ min: 0, max: 1e12, noNaN: true }) },
        { weight: 2, arbitrary: fc.constantFrom<unknown>(null, MISSING, -1, 1e13, 1e300, 'x') },
      ),
      event: fc.oneof(
        { weight: 9, arbitrary: fc.integer({ min: -100, max: 30 }).map((steps) => ({ steps })) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<unknown>(
            '1970-01-01T00:00:00.000Z',
            '2030-01-01T00:00:00.000Z',
            'yesterday',
            '2025-13-01T00:00:00Z',
            null,
            12345,
          ),
        },
      ),
      ingest: fc.constantFrom('now', 'now', 'absent', 'lying', 'garbage') as fc.Arbitrary<
        'now' | 'absent' | 'lying' | 'garbage'
      >,
    }),
  },
);

/** A run: its files, each a list of lines. */
export const runSpec = fc.array(fc.array(lineSpec, { maxLength: 12 }), { minLength: 1, maxLength: 4 });

/** The time of run `r` (0-based): 30 minutes after the base, then every 10 minutes. */
export const runTime = (r: number) => new Date(BASE_MS + 30 * MINUTE + r * 10 * MINUTE);

/** The line's text at its run's time. */
export function render(spec: LineSpec, now: Date): string {
  if (spec.kind === 'garbage') return spec.text;
  const record: Record<string, unknown> = { symbol: 'x', name: 'X' };
  const put = (key: string, value: unknown) => {
    if (value !== MISSING) record[key] = value;
  };
  put('id', spec.id);
  put('current_price', spec.price);
  put('total_volume', spec.volume);
  const steps = (spec.event as { steps?: number } | null)?.steps;
  put(
    'last_updated',
    typeof steps === 'number' ? new Date(now.getTime() + steps * 30_000).toISOString() : spec.event,
  );
  if (spec.ingest === 'now') record.ingest_ts = now.toISOString();
  if (spec.ingest === 'lying') record.ingest_ts = '2030-01-01T00:00:00.000Z';
  if (spec.ingest === 'garbage') record.ingest_ts = 'garbage';
  record.ingest_source = 'replay';
  return JSON.stringify(record);
}

export interface SilverCounts {
  lines: number;
  rescued: number;
  rows_in: number;
  ok: number;
  missing: number;
  bounds: number;
  future: number;
  late: number;
  duplicate: number;
}

export const zeroCounts = (): SilverCounts => ({
  lines: 0,
  rescued: 0,
  rows_in: 0,
  ok: 0,
  missing: 0,
  bounds: 0,
  future: 0,
  late: 0,
  duplicate: 0,
});

/** What the model carries from run to run: the Silver watermark's event time and the keys kept. */
export interface ModelState {
  maxEvent: number | null;
  keys: Set<string>;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
function time(value: unknown): number | null {
  if (typeof value !== 'string' || !ISO.test(value)) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value.slice(0, 10) ? null : t;
}

/** One pipeline run over these files (their lines' texts) loaded at `load`: counts, and `state` advanced. */
export function modelRun(files: string[][], load: Date, state: ModelState): SilverCounts {
  const c = zeroCounts();
  const loadMs = load.getTime();
  type Row = { file: number; key: string; event: number };
  const valid: Row[] = [];
  for (const [file, lines] of files.entries()) {
    for (const line of lines) {
      const text = line.replace(/\r$/, '');
      if (line === '' || line === '\r') continue;
      c.lines++;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch {
        obj = undefined;
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        c.rescued++;
        continue;
      }
      c.rows_in++;
      const r = obj as Record<string, unknown>;
      const asset = typeof r.id === 'string' ? r.id.replace(/^ +| +$/g, '').toLowerCase() || null : null;
      const price = typeof r.current_price === 'number' ? r.current_price : null;
      const volume = typeof r.total_volume === 'number' ? r.total_volume : null;
      const event = time(r.last_updated);
      const ingest = time(r.ingest_ts);
      if (asset === null || price === null || event === null) c.missing++;
      else if (!(price > 0 && price < 1e9) || (volume !== null && !(volume >= 0 && volume < 1e13)))
        c.bounds++;
      else if (event > Math.min(ingest ?? loadMs, loadMs) + 10 * MINUTE) c.future++;
      else valid.push({ file, key: `${asset}|${new Date(event).toISOString()}`, event });
    }
  }
  // the watermark of each file: the latest valid event before it, this run's files and earlier runs
  const wmOf = new Map<number, number | null>();
  let running = state.maxEvent;
  for (let file = 0; file < files.length; file++) {
    wmOf.set(file, running === null ? null : running - 20 * MINUTE);
    for (const row of valid) if (row.file === file) running = Math.max(running ?? row.event, row.event);
  }
  const seen = new Set<string>();
  for (const row of valid) {
    const wm = wmOf.get(row.file) ?? null;
    if (wm !== null && row.event < wm) c.late++;
    else if (seen.has(row.key) || state.keys.has(row.key)) c.duplicate++;
    else {
      c.ok++;
      state.keys.add(row.key);
    }
    seen.add(row.key);
  }
  state.maxEvent = running;
  return c;
}
