import type { Label, LabelCounts, LabelPrecision } from '../../domain/labels.js';
import type { Db } from './db.js';

const ISO = '%Y-%m-%dT%H:%M:%S.%gZ';

/** The labels from the channel in the lakehouse's `labels` table (sql/local/migrations/003_labels.sql). */
export function createLocalLabels(db: Db) {
  return {
    /** One row per person per window: a person's new label replaces their old one. */
    async record(labels: readonly Label[]): Promise<void> {
      if (labels.length === 0) return;
      await db.run(
        `INSERT OR REPLACE INTO labels (asset, window_end, "user", label, model_version, labelled_at)
         SELECT l.asset, CAST(l.window_end AS TIMESTAMP), l."user", l.label, l.model_version,
           CAST(l.labelled_at AS TIMESTAMP)
         FROM (SELECT unnest(from_json(:labels, '[{"asset":"VARCHAR","window_end":"VARCHAR","user":"VARCHAR",
           "label":"VARCHAR","model_version":"INTEGER","labelled_at":"VARCHAR"}]')) AS l)`,
        { labels: JSON.stringify(labels) },
      );
    },

    /** Each person once, with their latest label of any of these windows. */
    async counts(windows: ReadonlyArray<{ asset: string; window_end: string }>): Promise<LabelCounts> {
      if (windows.length === 0) return { real: 0, noise: 0, people: 0 };
      const [row] = await db.all<{ real: number; noise: number; people: number }>(
        `SELECT count(*) FILTER (WHERE label = 'real') AS real, count(*) FILTER (WHERE label = 'noise') AS noise,
           count(*) AS people
         FROM (
           SELECT "user", arg_max(label, labelled_at) AS label FROM labels
           WHERE (asset || '|' || strftime(window_end, '${ISO}')) IN (SELECT unnest(CAST(:keys AS VARCHAR[])))
           GROUP BY "user")`,
        { keys: windows.map((w) => `${w.asset}|${new Date(w.window_end).toISOString()}`) },
      );
      return {
        real: Number(row?.real ?? 0),
        noise: Number(row?.noise ?? 0),
        people: Number(row?.people ?? 0),
      };
    },

    /** Labels of the scored windows (joined to anomalies) per model version that scored them. */
    async precision(): Promise<LabelPrecision[]> {
      const rows = await db.all<Omit<LabelPrecision, 'precision'>>(
        `SELECT l.model_version, count(DISTINCT (l.asset, l.window_end)) AS windows,
           count(*) FILTER (WHERE l.label = 'real') AS real, count(*) FILTER (WHERE l.label = 'noise') AS noise
         FROM labels AS l JOIN anomalies AS a USING (asset, window_end)
         GROUP BY l.model_version ORDER BY l.model_version DESC`,
      );
      return rows.map((r) => {
        const real = Number(r.real);
        const noise = Number(r.noise);
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
