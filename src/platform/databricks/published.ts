import { z } from 'zod';
import type { AnomalyRow, LeaderboardRow, PriceSeries, TopResult } from '../port.js';

/**
 * What the scoring job's inference notebook publishes in the volume for the bot, read through the
 * Files API so that neither the feed nor the common answers need the SQL warehouse
 * (databricks/lib/crypto_risk/publish.py writes them; tests/fixtures/databricks/ holds one of each,
 * built by the Python helpers and parsed here by the tests):
 *
 * - a feed file per run, `feed/<instant>.json`, named in the run's exit value: the run's new and
 *   re-scored windows that are or were anomalous (at most 200, the rest counted), with each of their
 *   assets' last 24 h of 5-minute prices for the chart;
 * - the serving snapshot, `serving/snapshot.json`, replaced every run: the 24 h and 7 d leaderboards
 *   with the 50 most anomalous windows per asset, and every asset's last 7 days of prices.
 *
 * Anything that does not match these schemas is refused as a whole (and logged by the caller): a
 * half-understood file never reaches the channel.
 */

const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());
const finite = z.number().finite();

const seriesSchema = z
  .object({
    symbol: z.string().nullable(),
    simulated: z.boolean(),
    window_end: z.array(instant),
    price_avg: z.array(finite.nullable()),
    anomaly_score: z.array(finite.nullable()),
    is_anomaly: z.array(z.boolean()),
  })
  .refine(
    (s) =>
      [s.price_avg, s.anomaly_score, s.is_anomaly].every((column) => column.length === s.window_end.length),
    { error: 'the columns of a series differ in length' },
  );
export type PublishedSeries = z.infer<typeof seriesSchema>;

const modelSchema = z.object({ name: z.string(), version: z.number().int() });

/** A scored window as the snapshot lists it; the feed file's add the flag and when it was scored. */
const windowSchema = z.object({
  asset: z.string(),
  symbol: z.string().nullable(),
  window_end: instant,
  price_avg: finite.nullable(),
  ret_window: finite.nullable(),
  anomaly_score: finite,
  model_version: z.number().int(),
  simulated: z.boolean(),
  // Files published before reasons were kept have neither field.
  reasons: z.string().nullable().default(null),
  data_issue: z.string().nullable().default(null),
});
const feedWindowSchema = windowSchema.extend({
  is_anomaly: z.boolean(),
  scored_at: instant,
});

export const feedFileSchema = z.object({
  format: z.literal('crypto-risk-feed'),
  version: z.literal(1),
  scored_at: instant,
  model: modelSchema,
  windows: z.array(feedWindowSchema),
  omitted_windows: z.number().int().nonnegative(),
  series: z.record(z.string(), seriesSchema),
});
export type FeedFile = z.infer<typeof feedFileSchema>;

const periodSchema = z.object({
  since: instant,
  until: instant,
  scored_windows: z.number().int().nonnegative(),
  leaderboard: z.array(
    z.object({
      asset: z.string(),
      symbol: z.string().nullable(),
      anomalies: z.number().int().nonnegative(),
      windows_scored: z.number().int().nonnegative(),
      mean_score: finite.nullable(),
      last_event: instant.nullable(),
      simulated: z.boolean(),
    }),
  ),
  windows: z.array(windowSchema),
});

export const snapshotSchema = z.object({
  format: z.literal('crypto-risk-serving'),
  version: z.literal(1),
  generated_at: instant,
  model: modelSchema,
  periods: z.object({ '24h': periodSchema, '7d': periodSchema }),
  windows_per_asset: z.number().int().positive(),
  series: z.record(z.string(), seriesSchema),
});
export type ServingSnapshot = z.infer<typeof snapshotSchema>;

/** The periods the snapshot holds leaderboards for, by length. */
export const SNAPSHOT_PERIODS: ReadonlyMap<number, '24h' | '7d'> = new Map([
  [24 * 3_600_000, '24h'],
  [7 * 24 * 3_600_000, '7d'],
]);
/** The span of the snapshot's series. */
export const SNAPSHOT_SERIES_MS = 7 * 24 * 3_600_000;
/** The span of a feed file's series. */
export const FEED_SERIES_MS = 24 * 3_600_000;
/** Where the snapshot is in the volume, and the names feed files may have (checked before any read). */
export const SNAPSHOT_PATH = 'serving/snapshot.json';
export const FEED_FILE = /^feed\/\d{8}T\d{9}Z\.json$/;

/** Parses a published file; a sentence naming the first problem when it does not match. */
export function parsePublished<T>(schema: z.ZodType<T>, bytes: Buffer, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`${what} is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${what} does not match its format: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** A published series within (since, until], as the chart reads it (windows without a price left out). */
export function seriesWithin(
  asset: string,
  series: PublishedSeries,
  since: Date,
  until: Date,
  asOf: string,
): PriceSeries {
  const points: PriceSeries['points'] = [];
  for (let i = 0; i < series.window_end.length; i++) {
    const at = Date.parse(series.window_end[i] as string);
    const price = series.price_avg[i];
    if (at <= since.getTime() || at > until.getTime() || price === null || price === undefined) continue;
    points.push({
      window_end: series.window_end[i] as string,
      price_avg: price,
      is_anomaly: series.is_anomaly[i] === true,
      anomaly_score: series.anomaly_score[i] ?? null,
    });
  }
  return { asset, symbol: series.symbol, simulated: series.simulated, points, as_of: asOf };
}

/** `top` for one of the snapshot's periods: its leaderboard and windows, for one asset or all. */
export function snapshotTop(
  snapshot: ServingSnapshot,
  period: '24h' | '7d',
  query: { limit: number; asset?: string },
): TopResult {
  const p = snapshot.periods[period];
  const mine = <R extends { asset: string }>(rows: R[]) =>
    query.asset === undefined ? rows : rows.filter((r) => r.asset === query.asset);
  const leaderboard: LeaderboardRow[] = mine(p.leaderboard);
  const windows: AnomalyRow[] = mine(p.windows).slice(0, query.limit);
  return {
    leaderboard: leaderboard.filter((r) => r.anomalies > 0),
    windows,
    scored_windows: leaderboard.reduce((n, r) => n + r.windows_scored, 0),
    as_of: snapshot.generated_at,
  };
}
