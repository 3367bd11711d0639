/**
 * A data incident the feed found in the data itself: ingestion stale (nothing landed for more than
 * three ingest intervals), an asset's price frozen, or a gap in an asset's Gold windows. Kept in the
 * bot's store (sql/bot/migrations/005_data_incidents.sql), announced in the feed and listed by
 * `status` while open. Timestamps are ISO-8601 UTC.
 */
export interface DataIncident {
  id: string;
  kind: 'stale' | 'frozen' | 'gap';
  /** Null for stale ingestion (every asset). */
  asset: string | null;
  /** When the data stopped, froze or went missing. */
  since: string;
  /** The sentence the announcement and status show. */
  detail: string;
  opened_at: string;
  recovered_at: string | null;
  /** What the recovery looked like, in a sentence. */
  recovery: string | null;
}
