/** The only source of "now" in the product, so that tests and `--now` can set it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function fixedClock(at: Date): Clock {
  return { now: () => new Date(at.getTime()) };
}

/**
 * A clock that runs `speed` times faster than the wall clock from `origin` on: the accelerated
 * simulator demo. Every job sees the same simulated time.
 */
export function acceleratedClock(speed: number, origin: Date = new Date()): Clock {
  const wallStart = Date.now();
  return { now: () => new Date(origin.getTime() + (Date.now() - wallStart) * speed) };
}
