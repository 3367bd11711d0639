/** The only source of "now" in the product, so that tests and `--now` can set it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function fixedClock(at: Date): Clock {
  return { now: () => new Date(at.getTime()) };
}

/** ISO-8601 in UTC with milliseconds, e.g. 2025-01-07T00:01:00.000Z. */
export function iso(d: Date): string {
  return d.toISOString();
}
