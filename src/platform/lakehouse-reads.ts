import type {
  AnomalyRow,
  LakehouseReads,
  LeaderboardRow,
  PricePoint,
  PriceSeries,
  ScoredWindow,
  TopQuery,
  TopResult,
} from './port.js';

/** A parameter of a shared read: instants as Dates, which each executor binds its own way. */
export type ReadParam = string | number | Date | null;

/**
 * Runs one of the SQL files in `sql/queries` (named without `.sql`) with named parameters: DuckDB
 * in this process, or the SQL warehouse. What differs between the platforms is only this.
 */
export type QueryExecutor = <T>(file: string, params: Record<string, ReadParam>) => Promise<T[]>;

/**
 * The reads both platforms answer from the same SQL (`sql/queries`), written once over an
 * executor. A platform that answers some reads another way first (Databricks' published files)
 * falls back to these.
 */
export type SharedReads = Pick<LakehouseReads, 'assets' | 'priceSeries' | 'topAnomalies' | 'scoredSince'> & {
  /** Anomalous windows that ended after `since` (for status). */
  anomaliesSince(since: Date): Promise<number>;
};

export function createSharedReads(query: QueryExecutor): SharedReads {
  return {
    async assets() {
      return (await query<{ asset: string }>('queries/assets', {})).map((r) => r.asset);
    },

    async priceSeries(asset: string, since: Date, until: Date): Promise<PriceSeries> {
      const points = await query<PricePoint & { symbol: string | null; source: string | null }>(
        'queries/price_series',
        { asset, since, until },
      );
      return {
        asset,
        symbol: points.at(-1)?.symbol ?? null,
        simulated: points.some((p) => (p.source ?? '').includes('simulator')),
        points: points.map((p) => ({
          window_end: p.window_end,
          price_avg: p.price_avg,
          is_anomaly: Boolean(p.is_anomaly),
          anomaly_score: p.anomaly_score,
          ...(p.is_anomaly && p.reasons ? { reasons: p.reasons } : {}),
        })),
      };
    },

    async topAnomalies(top: TopQuery): Promise<TopResult> {
      const params = { since: top.since, until: top.until, asset: top.asset ?? null };
      const leaderboard = await query<LeaderboardRow>('queries/top_leaderboard', params);
      const windows = await query<AnomalyRow>('queries/top_windows', { ...params, limit: top.limit });
      return {
        leaderboard: leaderboard
          .filter((r) => r.anomalies > 0)
          .map((r) => ({ ...r, simulated: Boolean(r.simulated) })),
        windows: windows.map((r) => ({ ...r, simulated: Boolean(r.simulated) })),
        scored_windows: leaderboard.reduce((n, r) => n + r.windows_scored, 0),
      };
    },

    async scoredSince(cursor: string | null, limit: number): Promise<ScoredWindow[]> {
      return query<ScoredWindow>('queries/scored_since', { cursor, limit });
    },

    async anomaliesSince(since: Date): Promise<number> {
      const [row] = await query<{ n: number }>('queries/anomalies_since', { since });
      return Number(row?.n ?? 0);
    },
  };
}
