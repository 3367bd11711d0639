import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { runIngest } from '../../src/jobs/ingest.js';
import { silentLogger } from '../../src/log.js';
import { simulatorSource } from '../../src/market/sources.js';
import { isAlert } from '../../src/model/reasons.js';
import { createTestLakehouse, type TestLakehouse, testConfig } from '../support/lakehouse.js';

let lake: TestLakehouse;
afterEach(async () => {
  await lake?.close();
});

const START = '2025-02-01T00:00:00.000Z';

/** A lakehouse with `hours` of simulated history for five assets, through the pipeline. */
async function simulatedLake(hours: number, env: Record<string, string> = {}) {
  const config = testConfig({ SIMULATOR_HISTORY_HOURS: String(hours), ...env });
  lake = await createTestLakehouse(START, config.model);
  const logger = silentLogger();
  const source = simulatorSource({
    state: lake.platform.pipeline.state,
    assets: config.market.assets,
    simulator: config.market.simulator,
  });
  const step = async (iso: string) => {
    lake.setNow(iso);
    await runIngest({ platform: lake.platform, clock: lake.clock, logger, source });
    await lake.platform.engine.runPipeline();
  };
  await step(START);
  return { step };
}

const anomalies = () =>
  lake.table<{
    asset: string;
    window_end: string;
    model_version: number;
    anomaly_score: number;
    is_anomaly: number;
    scored_at: string;
    reasons: string | null;
  }>(
    'SELECT asset, window_end, model_version, anomaly_score, is_anomaly, scored_at, reasons FROM anomalies ORDER BY asset, window_end',
  );

describe('training', () => {
  it('refuses with a clear message and stores no model when there is too little data', async () => {
    await simulatedLake(1); // about 60 windows
    const error = await lake.platform.pipeline.train({ now: lake.clock.now() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(
      /^Too little data to train: \d+ Gold windows in .* No model was made\.$/,
    );
    expect((await lake.platform.pipeline.models()).versions).toEqual([]);
  });

  it('trains on the lookback ending at the clock, records the version, and promotes it (auto)', async () => {
    await simulatedLake(30, { TRAIN_LOOKBACK: '24h' });
    const result = await lake.platform.pipeline.train({ now: lake.clock.now() });
    expect(result.promoted).toBe(true);
    expect(result.previous_champion).toBeNull();
    expect(result.champion?.version).toBe(1);
    const v = result.version;
    expect(v).toMatchObject({
      version: 1,
      feature_set: 'default',
      aliases: ['champion'],
      params: { trees: 200, max_samples: 256, contamination: 0.005, seed: 42 },
      training: {
        since: '2025-01-31T00:00:00.000Z',
        until: START,
        assets: ['bitcoin', 'cardano', 'dogecoin', 'ethereum', 'solana'],
      },
    });
    // 24 h of 5 assets is 1,440 windows (the last one or two are still open in Gold)
    expect(v.training.rows).toBeGreaterThan(1_420);
    expect(v.training.rows).toBeLessThanOrEqual(1_440);
    expect(v.training.train_rows + v.training.holdout_rows).toBe(v.training.rows);
    expect(v.training.holdout_rows / v.training.rows).toBeCloseTo(0.2, 1);
    expect(v.metrics.offset).toBeLessThan(-0.5); // the 0.5th percentile of the training scores
    expect(v.metrics.train_flagged_share).toBeCloseTo(0.005, 2);
    expect(Number.isFinite(v.metrics.holdout_mean)).toBe(true);
  });

  it('with manual promotion keeps the champion and reports the challenger next to it', async () => {
    await simulatedLake(30, { TRAIN_LOOKBACK: '24h', MODEL_PROMOTION: 'manual' });
    const first = await lake.platform.pipeline.train({ now: lake.clock.now() });
    expect(first).toMatchObject({ promoted: false, champion: null });
    await lake.platform.pipeline.promote(1);
    const second = await lake.platform.pipeline.train({ now: lake.clock.now(), featureSet: 'seed' });
    expect(second.promoted).toBe(false);
    expect(second.version).toMatchObject({ version: 2, feature_set: 'seed', aliases: [] });
    expect(second.champion?.version).toBe(1);
    expect(second.previous_champion?.version).toBe(1);
    expect((await lake.platform.engine.infer({ now: lake.clock.now() })).model_version).toBe(1);
    await expect(lake.platform.pipeline.promote(7)).rejects.toThrow(/There is no model version 7/);
  });
});

describe('inference', () => {
  it('needs a model', async () => {
    await simulatedLake(2);
    await expect(lake.platform.engine.infer({ now: lake.clock.now() })).rejects.toThrow(
      /no model to score with yet: run `crypto-risk train`/,
    );
  });

  it('scores every window of the lookback once; re-running changes nothing; new windows resume per asset', async () => {
    const { step } = await simulatedLake(30, { TRAIN_LOOKBACK: '24h' });
    await lake.platform.pipeline.train({ now: lake.clock.now() });
    const first = await lake.platform.engine.infer({ now: lake.clock.now() });
    const gold = await lake.table<{ n: number }>(
      `SELECT count(*) AS n FROM metrics_gold WHERE window_end > TIMESTAMP '2025-01-31 00:00:00'`,
    );
    expect(first.scored).toBe(gold[0]?.n);
    expect(first.inserted).toBe(first.scored);
    expect(first.updated).toBe(0);
    const rows = await anomalies();
    expect(rows).toHaveLength(first.scored);
    expect(new Set(rows.map((r) => `${r.asset}|${r.window_end}`)).size).toBe(rows.length);
    // the forest's flag or a price move far beyond the asset's usual (isAlert)
    expect(
      rows.every(
        (r) => r.model_version === 1 && (r.is_anomaly === 1) === isAlert(r.anomaly_score, r.reasons),
      ),
    ).toBe(true);
    expect(first.new_anomalies.length).toBe(rows.filter((r) => r.is_anomaly === 1).length);
    expect(first.new_anomalies.every((a) => a.simulated)).toBe(true);

    const again = await lake.platform.engine.infer({ now: lake.clock.now() });
    expect(again).toMatchObject({ scored: 0, inserted: 0, updated: 0, new_anomalies: [] });
    expect(await anomalies()).toEqual(rows);

    await step('2025-02-01T01:00:00.000Z');
    const later = await lake.platform.engine.infer({ now: lake.clock.now() });
    expect(later.scored).toBe(5 * 12); // one more hour of five assets
    expect(later.inserted).toBe(later.scored);
    const after = await anomalies();
    expect(after).toHaveLength(rows.length + later.scored);
    // the rows scored before are untouched
    const before = new Map(rows.map((r) => [`${r.asset}|${r.window_end}`, r]));
    for (const r of after) {
      const old = before.get(`${r.asset}|${r.window_end}`);
      if (old) expect(r).toEqual(old);
    }
  });

  it('re-scores in place after a retrain: same rows, the new model version, no duplicates', async () => {
    await simulatedLake(30, { TRAIN_LOOKBACK: '24h' });
    await lake.platform.pipeline.train({ now: lake.clock.now() });
    await lake.platform.engine.infer({ now: lake.clock.now() });
    const before = await anomalies();
    const retrain = await lake.platform.pipeline.train({ now: lake.clock.now(), featureSet: 'seed' });
    expect(retrain.champion?.version).toBe(2);
    const rescoreSince = new Date(Date.parse(START) - 6 * 3_600_000);
    const rescored = await lake.platform.engine.infer({ now: lake.clock.now(), rescoreSince });
    expect(rescored.model_version).toBe(2);
    expect(rescored.inserted).toBe(0);
    expect(rescored.scored).toBe(before.filter((r) => r.window_end > rescoreSince.toISOString()).length);
    expect(rescored.updated).toBe(rescored.scored);
    const after = await anomalies();
    expect(after.map((r) => `${r.asset}|${r.window_end}`)).toEqual(
      before.map((r) => `${r.asset}|${r.window_end}`),
    );
    for (const [i, r] of after.entries()) {
      expect(r.model_version).toBe(r.window_end > rescoreSince.toISOString() ? 2 : 1);
      if (r.model_version === 1) expect(r).toEqual(before[i]);
    }
    // re-scoring again with the same model changes nothing
    const again = await lake.platform.engine.infer({ now: lake.clock.now(), rescoreSince });
    expect(again).toMatchObject({ inserted: 0, updated: 0 });
  });

  it('scores an asset whose windows arrive later than the others (each asset resumes on its own)', async () => {
    await simulatedLake(30, { TRAIN_LOOKBACK: '24h' });
    await lake.platform.pipeline.train({ now: lake.clock.now() });
    const cut = `asset = 'cardano' AND window_end > TIMESTAMP '2025-01-31 20:00:00'`;
    await lake.platform.db.run(`CREATE TABLE held AS SELECT * FROM metrics_gold WHERE ${cut}`);
    await lake.platform.db.run(`DELETE FROM metrics_gold WHERE ${cut}`);
    const first = await lake.platform.engine.infer({ now: lake.clock.now() });
    // cardano's last four hours reach Gold only now (as after an outage of its feed)
    await lake.platform.db.run('INSERT INTO metrics_gold SELECT * FROM held');
    const late = await lake.platform.engine.infer({ now: lake.clock.now() });
    const [held] = await lake.table<{ n: number }>('SELECT count(*) AS n FROM held');
    expect(late.scored).toBe(held?.n);
    expect(late.scored).toBeGreaterThanOrEqual(47);
    expect(first.scored + late.scored).toBe((await anomalies()).length);
  });
});
