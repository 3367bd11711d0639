import { z } from 'zod';

/**
 * One market observation in the shape of a CoinGecko `/coins/markets` element. Only the fields
 * the pipeline reads are typed; every other field is kept as it came (loose object), and any
 * field may be null, as in CoinGecko's own responses.
 */
export const marketRecordSchema = z.looseObject({
  id: z.string(),
  symbol: z.string().nullish(),
  name: z.string().nullish(),
  current_price: z.number().nullish(),
  total_volume: z.number().nullish(),
  last_updated: z.string().nullish(),
});
export type MarketRecord = z.infer<typeof marketRecordSchema>;

/** Where a record came from. Simulated data is labelled as such wherever it is shown. */
export type SourceKind = 'coingecko' | 'simulator' | 'replay';

/** A line of a landing file: the record plus the stamps the ingest job adds. */
export type LandingRecord = MarketRecord & { ingest_ts: string; ingest_source: SourceKind };

/** An event the simulator injected: the ground truth that detection is scored against. */
export interface SimEvent {
  asset: string;
  kind: 'jump' | 'flash_crash' | 'volume_spike' | 'frozen_feed';
  /** First affected tick, ISO-8601 UTC. */
  start: string;
  /** Last affected tick, ISO-8601 UTC (inclusive). */
  end: string;
  /** Size of the event: relative price move (jump, flash crash), volume multiple (spike), 0 (frozen). */
  magnitude: number;
}

/** Coin ids as CoinGecko spells them: lower case letters, digits and dashes. */
export const coinIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,79}$/, 'a CoinGecko coin id: lower-case letters, digits and dashes');
