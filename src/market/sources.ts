import { basename } from 'node:path';
import type { MarketSourceSetting } from '../config.js';
import type { DroppedRecords } from '../domain/results.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../platform/port.js';
import type { CoinGeckoClient } from './coingecko.js';
import { noDrops } from './drops.js';
import type { MarketRecord, SimEvent, SourceKind } from './record.js';
import { type OhlcvFile, ohlcvToRecord, readOhlcvCsv } from './replay.js';
import {
  assetSpecFor,
  createSimulator,
  type MarketSimulator,
  restoreSimulator,
  type SimulatorState,
} from './simulator.js';

/** A batch a source wants landed, and what to remember once it has landed. */
export interface SourceBatch {
  label: 'backfill' | 'snapshot' | 'history' | 'ticks' | 'replay';
  records: MarketRecord[];
  /** Ground truth of simulated events in this batch. */
  events: SimEvent[];
  /** Source records dropped while making this batch (malformed, not asked for, beyond a cap). */
  dropped?: DroppedRecords;
  /** Persists the source's progress; called only after the batch is safely landed. */
  commit(): Promise<void>;
}

export interface MarketSource {
  readonly kind: SourceKind;
  readonly simulated: boolean;
  /** For people: which source this is, e.g. "market simulator (seed 42): SIMULATED data". */
  readonly description: string;
  /** Everything new up to `now`, as batches to land in order; fetches all before returning any. */
  poll(now: Date): Promise<SourceBatch[]>;
}

export interface SourceDeps {
  state: StateStore;
  logger: Logger;
  assets: readonly string[];
  coingecko: CoinGeckoClient;
  simulator: { seed: number; tickSeconds: number; historyHours: number };
}

/** CoinGecko: the first poll backfills the last 24 h per coin, then every poll takes a snapshot. */
export function coinGeckoSource(deps: Pick<SourceDeps, 'state' | 'assets' | 'coingecko'>): MarketSource {
  const BACKFILLED = 'coingecko.backfilled';
  return {
    kind: 'coingecko',
    simulated: false,
    description: 'CoinGecko /coins/markets',
    async poll() {
      const snapshotDrops = noDrops();
      const snapshot = await deps.coingecko.markets(deps.assets, snapshotDrops);
      const batches: SourceBatch[] = [];
      if (!(await deps.state.get<boolean>(BACKFILLED))) {
        const history: MarketRecord[] = [];
        const historyDrops = noDrops();
        for (const record of snapshot) {
          // One by one, not push(...points): a long answer must not meet the call-stack limit.
          for (const point of await deps.coingecko.marketChart(record, 1, historyDrops)) history.push(point);
        }
        batches.push({
          label: 'backfill',
          records: history,
          events: [],
          dropped: historyDrops,
          commit: () => deps.state.set(BACKFILLED, true),
        });
      }
      batches.push({
        label: 'snapshot',
        records: snapshot,
        events: [],
        dropped: snapshotDrops,
        commit: async () => {},
      });
      return batches;
    },
  };
}

/** Records in one simulator or replay batch at most: a long history lands in several bounded files. */
export const MAX_BATCH_RECORDS = 50_000;

/**
 * The market simulator, one seeded stream per asset. The first poll of an asset produces its
 * history (SIMULATOR_HISTORY_HOURS back from now); later polls continue it up to now. After a stop
 * longer than that history, the ticks before it are passed without being kept (the streams stay
 * exactly as they would have been), so a catch-up lands at most the configured history, in
 * batches of at most MAX_BATCH_RECORDS records, each committing its progress.
 */
export function simulatorSource(
  deps: Pick<SourceDeps, 'state' | 'assets' | 'simulator'> & { logger?: Logger },
): MarketSource {
  const { seed, tickSeconds, historyHours } = deps.simulator;
  const key = (asset: string) => `simulator.${seed}.${tickSeconds}.${asset}`;
  return {
    kind: 'simulator',
    simulated: true,
    description: `market simulator (seed ${seed}): SIMULATED data`,
    async poll(now) {
      const earliest = now.getTime() - historyHours * 3600_000;
      const sims: Array<[string, MarketSimulator]> = [];
      const carried: SimEvent[] = [];
      let fresh = false;
      let skipped = 0;
      for (const asset of deps.assets) {
        const saved = await deps.state.get<SimulatorState>(key(asset));
        fresh ||= saved === undefined;
        const sim = saved
          ? restoreSimulator(saved)
          : createSimulator({ seed, tickSeconds, assets: [assetSpecFor(asset)], start: new Date(earliest) });
        const passed = sim.skip(new Date(earliest - 1));
        skipped += passed.ticks;
        for (const event of passed.events) carried.push(event);
        sims.push([key(asset), sim]);
      }
      if (skipped > 0) {
        deps.logger?.warn(
          { skippedTicks: skipped, historyHours },
          `the simulator was stopped longer than SIMULATOR_HISTORY_HOURS (${historyHours} h): ` +
            `passed ${skipped} older tick(s) without landing them`,
        );
      }
      // Windows of whole ticks holding at most MAX_BATCH_RECORDS records over all assets.
      const windowTicks = Math.max(1, Math.floor(MAX_BATCH_RECORDS / Math.max(1, sims.length)));
      const windowMs = windowTicks * tickSeconds * 1000;
      const batches: SourceBatch[] = [];
      for (let from = earliest; from <= now.getTime(); from += windowMs) {
        const until = new Date(Math.min(from + windowMs - 1, now.getTime()));
        const records: MarketRecord[] = [];
        const events: SimEvent[] = batches.length === 0 ? carried : [];
        const states: Array<[string, SimulatorState]> = [];
        for (const [k, sim] of sims) {
          const out = sim.advance(until);
          for (const record of out.records) records.push(record);
          for (const event of out.events) events.push(event);
          states.push([k, sim.state()]);
        }
        if (records.length === 0) continue;
        records.sort((a, b) => String(a.last_updated).localeCompare(String(b.last_updated)));
        const commit = async () => {
          for (const [k, state] of states) await deps.state.set(k, state);
        };
        batches.push({ label: fresh ? 'history' : 'ticks', records, events, commit });
      }
      return batches;
    },
  };
}

/**
 * Replay of an OHLCV CSV as one asset: every row up to `now` not landed before, a batch per UTC day
 * (a day of more than MAX_BATCH_RECORDS rows in several, never splitting one timestamp).
 */
export function replaySource(
  deps: Pick<SourceDeps, 'state' | 'logger'>,
  file: string,
  asset: string,
): MarketSource {
  const key = `replay.${file}@${asset}`;
  const spec = assetSpecFor(asset);
  let parsed: OhlcvFile | undefined;
  return {
    kind: 'replay',
    simulated: false,
    description: `replay of ${basename(file)} as ${asset}`,
    async poll(now) {
      parsed ??= await readOhlcvCsv(file);
      if (parsed.badLines.length > 0) {
        deps.logger.warn(
          { file, lines: parsed.badLines.slice(0, 20), count: parsed.badLines.length },
          'replay rows without a numeric timestamp were skipped',
        );
      }
      const done = (await deps.state.get<number>(key)) ?? Number.NEGATIVE_INFINITY;
      const limit = now.getTime() / 1000;
      const rows = parsed.rows.filter((r) => r.timestamp > done && r.timestamp <= limit);
      const chunks: Array<typeof rows> = [];
      let chunk: typeof rows = [];
      let chunkDay = '';
      for (const row of rows) {
        const day = new Date(row.timestamp * 1000).toISOString().slice(0, 10);
        const last = chunk.at(-1);
        const full = chunk.length >= MAX_BATCH_RECORDS && last?.timestamp !== row.timestamp;
        if (chunk.length > 0 && (day !== chunkDay || full)) {
          chunks.push(chunk);
          chunk = [];
        }
        chunkDay = day;
        chunk.push(row);
      }
      if (chunk.length > 0) chunks.push(chunk);
      return chunks.map((dayRows) => ({
        label: 'replay' as const,
        records: dayRows.map((r) => ohlcvToRecord(r, { id: asset, symbol: spec.symbol, name: spec.name })),
        events: [],
        commit: () => deps.state.set(key, (dayRows.at(-1) as { timestamp: number }).timestamp),
      }));
    },
  };
}

/**
 * Picks the source a setting names. `auto` is decided once per data folder and remembered, so that
 * real and simulated prices never mix in one lakehouse: CoinGecko when it answers, else the
 * simulator, said plainly.
 */
export async function resolveSource(
  setting: MarketSourceSetting,
  deps: SourceDeps,
): Promise<{ source: MarketSource; notice?: string }> {
  switch (setting.kind) {
    case 'coingecko':
      return { source: coinGeckoSource(deps) };
    case 'simulator':
      return { source: simulatorSource(deps) };
    case 'replay':
      return { source: replaySource(deps, setting.file, setting.asset) };
    case 'auto': {
      const KEY = 'market_source.auto';
      const decided = await deps.state.get<{ kind: 'coingecko' | 'simulator'; reason?: string }>(KEY);
      if (decided?.kind === 'coingecko') return { source: coinGeckoSource(deps) };
      if (decided?.kind === 'simulator') {
        return {
          source: simulatorSource(deps),
          notice:
            'MARKET_SOURCE=auto chose the simulator for this data folder earlier (CoinGecko was unreachable); ' +
            'prices are SIMULATED. Use a new DATA_DIR with MARKET_SOURCE=coingecko for real prices.',
        };
      }
      try {
        await deps.coingecko.ping();
        await deps.state.set(KEY, { kind: 'coingecko' });
        return { source: coinGeckoSource(deps) };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        await deps.state.set(KEY, { kind: 'simulator', reason });
        return {
          source: simulatorSource(deps),
          notice: `${reason.replace(/\.$/, '')}. Using the market simulator instead: prices are SIMULATED.`,
        };
      }
    }
  }
}
