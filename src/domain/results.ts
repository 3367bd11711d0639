/** What the bot's own jobs return (their one-line summaries are in summaries.ts). */

/**
 * A tally of source records dropped before landing: how many, how many for each reason, and a short
 * sample of what was wrong. Bad data is dropped and counted one record at a time, so one bad record
 * never costs its batch; the sample is bounded and never holds a whole record (a hostile answer
 * could put anything in one).
 */
export interface DroppedRecords {
  count: number;
  /** Count per reason, e.g. `{ "current_price is not a number": 3 }`. */
  reasons: Record<string, number>;
  /** The first few drops, each `where: reason`, each line short. */
  sample: string[];
}

/** One ingest run: what landed, from which source, and what was dropped before landing. */
export interface IngestResult {
  source: string;
  simulated: boolean;
  batches: Array<{ label: string; file: string; records: number }>;
  records: number;
  events: number;
  /** Source records dropped before landing (malformed, not asked for, beyond a cap): counts and a short sample. */
  dropped: DroppedRecords;
}

/** One cycle of the anomaly feed. */
export interface FeedResult {
  /** Messages posted, windows they announced, messages updated after a re-score. */
  posted: number;
  windows: number;
  updated: number;
  /** Pending deliveries found in the channel after a restart (posted before a crash). */
  recovered: number;
  /** Data incidents announced (landing files quarantined), when there were any. */
  incidents?: number;
}
