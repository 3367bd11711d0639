/**
 * A scored window's stored fields, defined once: field → DuckDB column type (`NOT NULL` where the
 * field is never null). The feed keeps these fields of each window it delivers (the bot store's
 * feed_windows has them in this order, after its channel and delivery_id), and the TypeScript types
 * of a delivered and a scored window are derived from here.
 *
 * Adding a field: add it at the end here, select it in sql/queries/scored_since.sql, and add it to
 * feed_windows in a new step of sql/bot/migrations (`ALTER TABLE feed_windows ADD COLUMN`).
 */
export const WINDOW_COLUMNS = {
  asset: 'VARCHAR NOT NULL',
  window_end: 'TIMESTAMP NOT NULL',
  symbol: 'VARCHAR',
  price_avg: 'DOUBLE',
  ret_window: 'DOUBLE',
  anomaly_score: 'DOUBLE NOT NULL',
  is_anomaly: 'BOOLEAN NOT NULL',
  model_version: 'INTEGER NOT NULL',
  simulated: 'BOOLEAN NOT NULL',
  /** Why the window is unusual: a JSON array of reasons, most telling first (src/model/reasons.ts). */
  reasons: 'VARCHAR',
  /** A data problem next to the window (`gap`, `frozen`): not announced as a market anomaly. */
  data_issue: 'VARCHAR',
} as const;

type Columns = typeof WINDOW_COLUMNS;

/** The TypeScript value of a DuckDB type as the project reads it (timestamps as ISO-8601 strings). */
type ValueOf<T extends string> = T extends 'VARCHAR' | 'TIMESTAMP'
  ? string
  : T extends 'DOUBLE' | 'INTEGER'
    ? number
    : T extends 'BOOLEAN'
      ? boolean
      : never;

type FieldOf<T extends string> = T extends `${infer Base} NOT NULL` ? ValueOf<Base> : ValueOf<T> | null;

/** A window's stored fields (what the feed delivers and keeps). */
export type StoredWindow = { -readonly [K in keyof Columns]: FieldOf<Columns[K]> };

/** A window scored (or re-scored) at `scored_at` (ISO-8601 UTC): the feed's input. */
export type ScoredWindow = StoredWindow & { scored_at: string };

export const WINDOW_FIELDS = Object.keys(WINDOW_COLUMNS) as Array<keyof Columns>;

/** The stored fields of a window, without anything else it carries. */
export function storedWindow(w: StoredWindow): StoredWindow {
  return Object.fromEntries(WINDOW_FIELDS.map((f) => [f, w[f]])) as StoredWindow;
}

/** The column type without its constraint (`DOUBLE NOT NULL` → `DOUBLE`). */
export function baseType(column: string): string {
  return column.replace(/ NOT NULL$/, '');
}
