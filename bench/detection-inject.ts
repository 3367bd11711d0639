/**
 * Injected price and volume events for bench/detection's real mode: real 1-minute OHLCV rows with
 * events of realistic size written into a span of them, and the ground truth of what was written.
 *
 * Sizes (log-uniform, so the small, hard ones are as common as the large ones):
 * - jump: a level shift of ±1.5–8 % from one minute on, which stays;
 * - flash_crash: −4 to −15 % over 3–8 minutes, falling to the bottom and back to the level before;
 * - volume_spike: the volume × 20–50 for 2–10 minutes, the price untouched.
 * Events are spread over the span one per slot (a random minute inside each equal slot, an hour
 * clear of the slot's edges), so two never overlap and each meets a settled trailing day.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { createRandom, type Random } from '../src/market/random.js';

export type InjectedKind = 'jump' | 'flash_crash' | 'volume_spike';

export interface InjectedEvent {
  asset: string;
  kind: InjectedKind;
  /** ISO instants of the first and the last minute the event changed. */
  start_ts: string;
  end_ts: string;
  /** The jump or the crash's bottom as a fraction, or the volume multiple. */
  magnitude: number;
}

/** One minute: unix seconds and the five numbers, as in the file. */
interface Minute {
  timestamp: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const COLUMNS = ['timestamp', 'open', 'high', 'low', 'close', 'volume'] as const;

/** Reads an OHLCV CSV (header row, the six columns); rows with a non-numeric cell are left out. */
export async function readMinutes(file: string): Promise<Minute[]> {
  const records: string[][] = parse(await readFile(file, 'utf8'), { bom: true, skip_empty_lines: true });
  const header = (records[0] ?? []).map((h) => h.trim().toLowerCase());
  const at = COLUMNS.map((c) => header.indexOf(c));
  if (at.some((i) => i < 0)) throw new Error(`${file} needs the columns ${COLUMNS.join(',')}`);
  const minutes: Minute[] = [];
  for (const cells of records.slice(1)) {
    const [timestamp, open, high, low, close, volume] = at.map((i) => Number(cells[i]));
    if (![timestamp, open, high, low, close, volume].every((n) => Number.isFinite(n))) continue;
    minutes.push({ timestamp, open, high, low, close, volume } as Minute);
  }
  return minutes.sort((a, b) => a.timestamp - b.timestamp);
}

/** The rows back as CSV text, header included. */
export function minutesToCsv(minutes: readonly Minute[]): string {
  const lines = minutes.map((m) => COLUMNS.map((c) => String(m[c])).join(','));
  return `${COLUMNS.join(',')}\n${lines.join('\n')}\n`;
}

const KIND_CYCLE: readonly InjectedKind[] = ['jump', 'flash_crash', 'jump', 'flash_crash', 'volume_spike'];
const SLOT_MARGIN_S = 3600;

/**
 * Writes `count` events into the minutes with timestamps in [from, to) (unix seconds), in place,
 * and returns them. Kinds come two jumps and two crashes to each volume spike, in a seeded order.
 */
export function injectEvents(
  minutes: Minute[],
  options: { asset: string; from: number; to: number; count: number; seed: string },
): InjectedEvent[] {
  const r = createRandom(options.seed);
  const kinds = shuffle(
    Array.from({ length: options.count }, (_, i) => KIND_CYCLE[i % KIND_CYCLE.length] as InjectedKind),
    r,
  );
  const index = new Map(minutes.map((m, i) => [m.timestamp, i]));
  const slot = (options.to - options.from) / options.count;
  const events: InjectedEvent[] = [];
  kinds.forEach((kind, k) => {
    const lo = options.from + k * slot + SLOT_MARGIN_S;
    const hi = options.from + (k + 1) * slot - SLOT_MARGIN_S;
    const wanted = Math.floor((lo + (hi - lo) * r.uniform()) / 60) * 60;
    const first = firstAtOrAfter(minutes, index, wanted);
    if (first === undefined) return;
    events.push(apply(minutes, first, kind, r, options.asset));
  });
  return events;
}

function apply(
  minutes: Minute[],
  first: number,
  kind: InjectedKind,
  r: Random,
  asset: string,
): InjectedEvent {
  const logUniform = (lo: number, hi: number) => lo * (hi / lo) ** r.uniform();
  const span = (n: number) => minutes.slice(first, Math.min(minutes.length, first + n));
  const iso = (m: Minute | undefined) => new Date((m as Minute).timestamp * 1000).toISOString();
  switch (kind) {
    case 'jump': {
      const magnitude = (r.uniform() < 0.5 ? -1 : 1) * logUniform(0.015, 0.08);
      for (const m of minutes.slice(first)) scalePrice(m, 1 + magnitude);
      return { asset, kind, start_ts: iso(minutes[first]), end_ts: iso(minutes[first]), magnitude };
    }
    case 'flash_crash': {
      const magnitude = -logUniform(0.04, 0.15);
      const length = 3 + Math.floor(6 * r.uniform());
      const bottom = Math.ceil(length / 2); // minutes falling, the bottom included
      const hit = span(length);
      hit.forEach((m, i) => {
        const depth = i < bottom ? (i + 1) / bottom : (length - i) / (length - bottom + 1);
        scalePrice(m, 1 + magnitude * depth);
      });
      return { asset, kind, start_ts: iso(hit[0]), end_ts: iso(hit.at(-1)), magnitude };
    }
    case 'volume_spike': {
      const magnitude = logUniform(20, 50);
      const hit = span(2 + Math.floor(9 * r.uniform()));
      for (const m of hit) m.volume *= magnitude;
      return { asset, kind, start_ts: iso(hit[0]), end_ts: iso(hit.at(-1)), magnitude };
    }
  }
}

function scalePrice(m: Minute, factor: number): void {
  m.open *= factor;
  m.high *= factor;
  m.low *= factor;
  m.close *= factor;
}

function firstAtOrAfter(minutes: Minute[], index: Map<number, number>, ts: number): number | undefined {
  const exact = index.get(ts);
  if (exact !== undefined) return exact;
  const i = minutes.findIndex((m) => m.timestamp >= ts);
  return i < 0 ? undefined : i;
}

/** Fisher–Yates with the seeded stream. */
function shuffle<T>(items: T[], r: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(r.uniform() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
