import type { LabelCounts, LabelPrecision } from '../domain/labels.js';
import type { QueryExecutor } from './lakehouse-reads.js';

/**
 * The reads of the channel's labels both platforms answer from the same SQL
 * (sql/queries/label_counts.sql, label_precision.sql) over the `labels` table: the embedded DuckDB
 * one (sql/local/migrations/003_labels.sql) or the pipeline's on Databricks
 * (databricks/notebooks/02_dlt_pipeline.py), each one row per person per window.
 */
export function createLabelReads(query: QueryExecutor) {
  return {
    /** Each person once, with their latest label of any of these windows. */
    async counts(windows: ReadonlyArray<{ asset: string; window_end: string }>): Promise<LabelCounts> {
      if (windows.length === 0) return { real: 0, noise: 0, people: 0 };
      const keys = new Set(windows.map((w) => key(w.asset, w.window_end)));
      const ends = windows.map((w) => Date.parse(w.window_end));
      const rows = await query<{
        asset: string;
        window_end: string;
        labeller: string;
        label: string;
        labelled_at: string;
      }>('queries/label_counts', {
        assets: [...new Set(windows.map((w) => w.asset))].sort().join(','),
        since: new Date(ends.reduce((a, b) => Math.min(a, b))),
        until: new Date(ends.reduce((a, b) => Math.max(a, b))),
      });
      // The query selects by assets and a time range; the message's own windows are kept here.
      const latest = new Map<string, { label: string; at: number }>();
      for (const r of rows) {
        if (!keys.has(key(r.asset, r.window_end))) continue;
        const at = Date.parse(r.labelled_at);
        const seen = latest.get(r.labeller);
        if (!seen || at > seen.at) latest.set(r.labeller, { label: r.label, at });
      }
      const labels = [...latest.values()];
      return {
        real: labels.filter((l) => l.label === 'real').length,
        noise: labels.filter((l) => l.label === 'noise').length,
        people: labels.length,
      };
    },

    /** Labels of the scored windows (joined to anomalies) per model version that scored them. */
    async precision(): Promise<LabelPrecision[]> {
      const rows = await query<{
        model_version: number;
        windows: number;
        real_labels: number | null;
        noise_labels: number | null;
      }>('queries/label_precision', {});
      return rows.map((r) => {
        const real = Number(r.real_labels ?? 0);
        const noise = Number(r.noise_labels ?? 0);
        return {
          model_version: Number(r.model_version),
          windows: Number(r.windows),
          real,
          noise,
          precision: real + noise > 0 ? real / (real + noise) : null,
        };
      });
    },
  };
}

/** A window's key whatever the instant's spelling (`…:00Z`, `…:00.000Z`). */
function key(asset: string, windowEnd: string): string {
  return `${asset}|${new Date(windowEnd).toISOString()}`;
}
