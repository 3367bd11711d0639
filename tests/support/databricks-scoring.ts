import type { Db } from '../../src/platform/local/db.js';
import { sqlFile } from '../../src/sql-files.js';

/**
 * The crypto-risk-score job (pipeline refresh, then 04_infer_iforest) as the Databricks harness
 * runs it, over the warehouse emulator's tables: the pipeline appends the 5-minute Gold windows up
 * to `now`, inference scores the windows not scored yet into `anomalies`, and then publishes what
 * databricks/lib/crypto_risk/publish.py writes in the volume: a feed file with the run's new
 * anomalous windows and their assets' last 24 h of prices (none when the run found no anomaly), and
 * the serving snapshot (24 h and 7 d leaderboards, the 50 most anomalous windows per asset, every
 * asset's last 7 days). The exit value names the feed file, as the notebook's does. The shapes are
 * those of tests/fixtures/databricks/, which the Python helpers build and the bot's reader parses.
 */
export interface ScoringOptions {
  now: Date;
  modelName: string;
  modelVersion: number;
  /** Which new windows the "model" finds anomalous. */
  anomalous(asset: string, windowEnd: Date): boolean;
  /** Writes a file in the volume (relative to the volume root), as the notebook does. */
  write(path: string, data: Buffer): void;
}

const ASSETS = [
  { asset: 'bitcoin', symbol: 'btc', price: 65_000 },
  { asset: 'ethereum', symbol: 'eth', price: 3_200 },
];
const FIVE_MINUTES = 300_000;
const ISO = `strftime(%s, '%Y-%m-%dT%H:%M:%S.%gZ')`;
const iso = (column: string) => ISO.replace('%s', column);

/** Runs the job once; its inference task's exit value. */
export async function runScoring(db: Db, options: ScoringOptions): Promise<string> {
  const { now } = options;
  const nowIso = now.toISOString();
  const lastEnd = Math.floor(now.getTime() / FIVE_MINUTES) * FIVE_MINUTES;

  // The pipeline: Gold windows after each asset's latest, up to now (the last hour on a first run).
  for (const a of ASSETS) {
    const [row] = await db.all<{ last: string | null }>(
      `SELECT ${iso('max(window_end)')} AS last FROM metrics_gold WHERE asset = :asset`,
      { asset: a.asset },
    );
    const from = row?.last ? Date.parse(row.last) + FIVE_MINUTES : lastEnd - 11 * FIVE_MINUTES;
    for (let end = from; end <= lastEnd; end += FIVE_MINUTES) {
      const price = a.price * (1 + 0.01 * Math.sin(end / 3_000_000));
      await db.run(
        `INSERT INTO metrics_gold VALUES (:asset, :symbol, CAST(:start AS TIMESTAMP), CAST(:end AS TIMESTAMP),
           :price, :vol, :min, :max, 1e6, 0.02, 5, 'coingecko', CAST(:now AS TIMESTAMP))`,
        {
          asset: a.asset,
          symbol: a.symbol,
          start: new Date(end - FIVE_MINUTES).toISOString(),
          end: new Date(end).toISOString(),
          price,
          vol: price * 0.001,
          min: price * 0.99,
          max: price * 1.01,
          now: nowIso,
        },
      );
    }
  }

  // Inference: every Gold window of the last 7 days not scored yet, MERGEd into anomalies.
  const unscored = await db.all<{ asset: string; window_end: string }>(
    `SELECT g.asset, ${iso('g.window_end')} AS window_end FROM metrics_gold AS g
     WHERE g.window_end > CAST(:week AS TIMESTAMP) AND g.window_end <= CAST(:now AS TIMESTAMP)
       AND NOT EXISTS (SELECT 1 FROM anomalies AS a WHERE a.asset = g.asset AND a.window_end = g.window_end)
     ORDER BY g.window_end, g.asset`,
    { week: new Date(now.getTime() - 7 * 86_400_000).toISOString(), now: nowIso },
  );
  for (const w of unscored) {
    const flagged = options.anomalous(w.asset, new Date(w.window_end));
    await db.run(
      `INSERT INTO anomalies
       SELECT asset, symbol, window_end, price_avg, price_vol, ret_window, vol_sum, 0.0,
         :score, :flag, :version, CAST(:now AS TIMESTAMP), NULL, NULL
       FROM metrics_gold WHERE asset = :asset AND window_end = CAST(:end AS TIMESTAMP)`,
      {
        asset: w.asset,
        end: w.window_end,
        score: flagged ? -0.08 : 0.12,
        flag: flagged ? 1 : 0,
        version: options.modelVersion,
        now: nowIso,
      },
    );
  }

  const model = { name: options.modelName, version: options.modelVersion };
  const windows = await db.all<FeedWindow>(
    `SELECT a.asset, a.symbol, ${iso('a.window_end')} AS window_end, a.price_avg, a.ret_window, a.anomaly_score,
       a.is_anomaly = 1 AS is_anomaly, a.model_version, ${iso('a.scored_at')} AS scored_at,
       coalesce(g.source, '') LIKE '%simulator%' AS simulated
     FROM anomalies AS a LEFT JOIN metrics_gold AS g ON g.asset = a.asset AND g.window_end = a.window_end
     WHERE a.scored_at = CAST(:now AS TIMESTAMP) AND a.is_anomaly = 1
     ORDER BY a.window_end, a.asset`,
    { now: nowIso },
  );
  let feedFile: string | null = null;
  if (windows.length > 0) {
    feedFile = `feed/${nowIso.replace(/[-:.]/g, '')}.json`;
    const assets = [...new Set(windows.map((w) => w.asset))];
    const feed = {
      format: 'crypto-risk-feed',
      version: 1,
      scored_at: nowIso,
      model,
      windows: windows.map((w) => ({
        ...w,
        is_anomaly: Boolean(w.is_anomaly),
        simulated: Boolean(w.simulated),
      })),
      omitted_windows: 0,
      series: await series(db, now, 86_400_000, assets),
    };
    options.write(feedFile, Buffer.from(JSON.stringify(feed)));
  }

  const periods: Record<string, unknown> = {};
  for (const [name, ms] of [
    ['24h', 86_400_000],
    ['7d', 7 * 86_400_000],
  ] as const) {
    const params = { since: new Date(now.getTime() - ms).toISOString(), until: nowIso, asset: null };
    const leaderboard = await db.all<Record<string, unknown>>(
      `SELECT asset, symbol, anomalies, windows_scored, mean_score, ${iso('last_event')} AS last_event, simulated
       FROM (${sqlFile('queries/top_leaderboard')})
       ORDER BY anomalies DESC, mean_score ASC NULLS LAST, asset`,
      params,
    );
    const top: Array<Record<string, unknown>> = [];
    for (const row of leaderboard) {
      const rows = await db.all<Record<string, unknown>>(
        `SELECT asset, symbol, ${iso('window_end')} AS window_end, price_avg, ret_window, anomaly_score, model_version, simulated
         FROM (${sqlFile('queries/top_windows')})`,
        { ...params, asset: String(row.asset), limit: 50 },
      );
      for (const one of rows) top.push(one);
    }
    top.sort(
      (a, b) =>
        Number(a.anomaly_score) - Number(b.anomaly_score) ||
        String(b.window_end).localeCompare(String(a.window_end)) ||
        String(a.asset).localeCompare(String(b.asset)),
    );
    periods[name] = {
      since: params.since,
      until: nowIso,
      scored_windows: leaderboard.reduce((n, r) => n + Number(r.windows_scored), 0),
      leaderboard: leaderboard.map((r) => ({
        ...r,
        anomalies: Number(r.anomalies),
        windows_scored: Number(r.windows_scored),
        simulated: Boolean(r.simulated),
      })),
      windows: top.map((w) => ({ ...w, simulated: Boolean(w.simulated) })),
    };
  }
  const everyAsset = (
    await db.all<{ asset: string }>(
      `SELECT DISTINCT asset FROM metrics_gold WHERE window_end > CAST(:week AS TIMESTAMP) ORDER BY asset`,
      { week: new Date(now.getTime() - 7 * 86_400_000).toISOString() },
    )
  ).map((r) => r.asset);
  const snapshot = {
    format: 'crypto-risk-serving',
    version: 1,
    generated_at: nowIso,
    model,
    periods,
    windows_per_asset: 50,
    series: await series(db, now, 7 * 86_400_000, everyAsset),
  };
  options.write('serving/snapshot.json', Buffer.from(JSON.stringify(snapshot)));

  return JSON.stringify({
    model: model.name,
    model_version: model.version,
    scored: unscored.length,
    inserted: unscored.length,
    updated: 0,
    new_anomalies: windows.length,
    feed_file: feedFile,
    feed_windows: windows.length,
    snapshot: 'serving/snapshot.json',
  });
}

interface FeedWindow {
  asset: string;
  window_end: string;
  is_anomaly: boolean;
  simulated: boolean;
}

/** Each asset's Gold windows in (now − spanMs, now] with their scores, as parallel columns. */
async function series(db: Db, now: Date, spanMs: number, assets: string[]) {
  const out: Record<string, unknown> = {};
  for (const asset of assets) {
    const points = await db.all<{
      symbol: string | null;
      source: string | null;
      window_end: string;
      price_avg: number;
      anomaly_score: number | null;
      is_anomaly: boolean;
    }>(
      `SELECT g.symbol, g.source, ${iso('g.window_end')} AS window_end, g.price_avg, a.anomaly_score,
         coalesce(a.is_anomaly, 0) = 1 AS is_anomaly
       FROM metrics_gold AS g LEFT JOIN anomalies AS a ON a.asset = g.asset AND a.window_end = g.window_end
       WHERE g.asset = :asset AND g.window_end > CAST(:since AS TIMESTAMP) AND g.window_end <= CAST(:now AS TIMESTAMP)
       ORDER BY g.window_end`,
      { asset, since: new Date(now.getTime() - spanMs).toISOString(), now: now.toISOString() },
    );
    out[asset] = {
      symbol: points.at(-1)?.symbol ?? null,
      simulated: points.some((p) => (p.source ?? '').includes('simulator')),
      window_end: points.map((p) => p.window_end),
      price_avg: points.map((p) => p.price_avg),
      anomaly_score: points.map((p) => p.anomaly_score),
      is_anomaly: points.map((p) => Boolean(p.is_anomaly)),
    };
  }
  return out;
}
