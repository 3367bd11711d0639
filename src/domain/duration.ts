import { z } from 'zod';

const UNITS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** A look-back such as `90m`, `24h`, `7d` or `2w` (at most 90 days), in milliseconds. */
export const durationSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^\d{1,4}[mhdw]$/, { error: 'must be a duration like 90m, 24h, 7d or 2w' })
  .transform((text) => Number(text.slice(0, -1)) * UNITS[text.slice(-1) as keyof typeof UNITS])
  .refine((ms) => ms > 0 && ms <= 90 * UNITS.d, { error: 'must be a duration from 1m to 90d' });

/** `24h`, `7d`, `90m`: days from two days up, else hours, else minutes. */
export function formatDurationSpec(ms: number): string {
  if (ms % UNITS.d === 0 && ms >= 2 * UNITS.d) return `${ms / UNITS.d}d`;
  if (ms % UNITS.h === 0) return `${ms / UNITS.h}h`;
  return `${Math.round(ms / UNITS.m)}m`;
}
