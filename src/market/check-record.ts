import { describeValue } from './drops.js';
import { coinIdSchema, type MarketRecord } from './record.js';

/** Why a value cannot land: `reason` is the kind of problem (counted), `detail` shows the value (sampled). */
export interface Problem {
  reason: string;
  detail: string;
}

/**
 * Checks one element of a `/coins/markets` answer on its own, so a bad element is dropped without
 * its batch. A record lands when it is an object whose `id` is a CoinGecko coin id that was asked
 * for, whose prices and volumes are null or finite numbers ≥ 0, and whose texts are null or
 * strings. Every other field is kept as it came, as in `marketRecordSchema`.
 */
export function checkMarketRecord(
  raw: unknown,
  wanted?: ReadonlySet<string>,
): { record: MarketRecord } | { problem: Problem } {
  const fail = (reason: string, detail = reason) => ({ problem: { reason, detail } });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return fail('record is not an object', `the record is ${describeValue(raw)}, not an object`);
  }
  const r = raw as Record<string, unknown>;
  if (r.id === undefined || r.id === null) return fail('id is missing');
  if (typeof r.id !== 'string') return fail('id is not a string', `id is ${describeValue(r.id)}`);
  if (!coinIdSchema.safeParse(r.id).success) {
    return fail('id is not a CoinGecko coin id', `id ${describeValue(r.id)} is not a coin id`);
  }
  if (wanted && !wanted.has(r.id))
    return fail('id was not requested', `id ${describeValue(r.id)} was not requested`);
  for (const field of ['current_price', 'total_volume'] as const) {
    const problem = amountProblem(r[field], field);
    if (problem) return { problem };
  }
  for (const field of ['symbol', 'name', 'last_updated'] as const) {
    const value = r[field];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      return fail(`${field} is not a string`, `${field} is ${describeValue(value)}`);
    }
  }
  return { record: r as MarketRecord };
}

/** Why a price or volume cannot land, or undefined when it can: null (absent) or a finite number ≥ 0. */
export function amountProblem(value: unknown, field: string): Problem | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') {
    return { reason: `${field} is not a number`, detail: `${field} is ${describeValue(value)}` };
  }
  // JSON has no NaN, but 1e999 parses to Infinity.
  if (!Number.isFinite(value)) return { reason: `${field} is not finite`, detail: `${field} is ${value}` };
  if (value < 0) return { reason: `${field} is negative`, detail: `${field} is ${describeValue(value)}` };
  return undefined;
}
