import type { DroppedRecords } from '../domain/results.js';

/** Lines kept in `sample`, and the longest one. */
const SAMPLE_SIZE = 5;
const SAMPLE_CHARS = 120;
/** Distinct reasons kept; further ones are counted under "other". */
const MAX_REASONS = 20;

export function noDrops(): DroppedRecords {
  return { count: 0, reasons: {}, sample: [] };
}

/**
 * Counts `n` drops (one by default) under `reason`, the kind of problem; `where` says which record
 * (an index) and `detail` shows what was wrong, for the sample.
 */
export function countDrop(
  drops: DroppedRecords,
  where: string,
  problem: { reason: string; detail?: string },
  n = 1,
): void {
  drops.count += n;
  const known = problem.reason in drops.reasons || Object.keys(drops.reasons).length < MAX_REASONS;
  const key = known ? problem.reason : 'other';
  drops.reasons[key] = (drops.reasons[key] ?? 0) + n;
  if (drops.sample.length < SAMPLE_SIZE) {
    drops.sample.push(shorten(`${where}: ${problem.detail ?? problem.reason}`, SAMPLE_CHARS));
  }
}

/** Adds `more` into `into` (counts, reasons and what fits of the sample). */
export function addDrops(into: DroppedRecords, more: DroppedRecords): void {
  into.count += more.count;
  for (const [reason, n] of Object.entries(more.reasons)) {
    const known = reason in into.reasons || Object.keys(into.reasons).length < MAX_REASONS;
    const key = known ? reason : 'other';
    into.reasons[key] = (into.reasons[key] ?? 0) + n;
  }
  for (const line of more.sample) if (into.sample.length < SAMPLE_SIZE) into.sample.push(line);
}

/** A value as a short, printable string for a reason: control characters escaped, long text cut. */
export function describeValue(value: unknown, max = 24): string {
  if (typeof value === 'string') return JSON.stringify(shorten(value, max));
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return shorten(String(value), max);
}

function shorten(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return flat.length > max ? `${flat.slice(0, max)}…(${text.length} chars)` : flat;
}
