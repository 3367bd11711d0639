import type { Label } from '../../domain/labels.js';
import { sqlFile } from '../../sql-files.js';
import { createLabelReads } from '../label-reads.js';
import type { Db } from './db.js';

/** The labels from the channel in the lakehouse's `labels` table (sql/local/migrations/003_labels.sql). */
export function createLocalLabels(db: Db) {
  // The same queries as the SQL warehouse's (src/platform/label-reads.ts); instants bound as ISO text.
  const reads = createLabelReads((file, params) =>
    db.all(
      sqlFile(file),
      Object.fromEntries(
        Object.entries(params).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
      ),
    ),
  );
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

    /** Each person once, with their latest label of any of these windows (sql/queries/label_counts.sql). */
    counts: reads.counts,

    /** Labels of the scored windows per model version that scored them (sql/queries/label_precision.sql). */
    precision: reads.precision,
  };
}
