import { afterEach, describe, expect, it } from 'vitest';
import { progressReply } from '../../src/chat/retrain.js';
import type { Label, LabelValue } from '../../src/domain/labels.js';
import { describeTrain } from '../../src/domain/summaries.js';
import { LABEL_PROMOTION_RULE } from '../../src/model/label-comparison.js';
import { createScoredLakehouse, type TestLakehouse } from '../support/lakehouse.js';
import { CHANNEL, type Harness, OPS, startHarness } from '../support/slack-bot-harness.js';
import { until } from '../support/until.js';

let lake: TestLakehouse | undefined;
let h: Harness | undefined;
afterEach(async () => {
  // The harness closes its lakehouse.
  if (h) await h.close();
  else await lake?.close();
  h = undefined;
  lake = undefined;
});

const START = '2025-02-01T00:00:00.000Z';

interface Scored {
  asset: string;
  window_end: string;
  is_anomaly: number;
}

const key = (w: { asset: string; window_end: string }) => `${w.asset}|${w.window_end}`;

/** The anomalies rows as they are now (each window scored by one version). */
const scored = () =>
  (lake as TestLakehouse).table<Scored & { model_version: number }>(
    'SELECT asset, window_end, is_anomaly, model_version FROM anomalies ORDER BY asset, window_end',
  );

/** Labels of one window by several people. */
function labelsOf(w: { asset: string; window_end: string }, values: LabelValue[]): Label[] {
  return values.map((label, i) => ({
    asset: w.asset,
    window_end: w.window_end,
    user: `U0PERSON${i}`,
    label,
    model_version: 1,
    labelled_at: START,
  }));
}

/**
 * Precision and recall computed straight from the tables: each labelled window's truth is the
 * majority of its labels (ties real), a model's alert its stored is_anomaly.
 */
async function direct(alerts: ReadonlyMap<string, boolean>) {
  const windows = await (lake as TestLakehouse).table<{ asset: string; window_end: string; real: boolean }>(
    `SELECT asset, window_end, count(*) FILTER (WHERE label = 'real') >= count(*) FILTER (WHERE label = 'noise') AS real
     FROM labels GROUP BY asset, window_end`,
  );
  const real = windows.filter((w) => w.real);
  const alerted = windows.filter((w) => alerts.get(key(w)) === true);
  const hits = alerted.filter((w) => w.real).length;
  return {
    windows: windows.length,
    real: real.length,
    noise: windows.length - real.length,
    precision: alerted.length > 0 ? hits / alerted.length : null,
    recall: real.length > 0 ? hits / real.length : null,
  };
}

const alertsBy = (rows: readonly Scored[]) => new Map(rows.map((r) => [key(r), r.is_anomaly === 1]));

describe('a retrain compared on the channel’s labels', () => {
  it('reports precision and recall that reconcile with the labels and anomalies; a comparable candidate is promoted', async () => {
    lake = await createScoredLakehouse(START, 30);
    const v1 = await scored();
    const alerted = v1.filter((r) => r.is_anomaly === 1);
    const quiet = v1.filter((r) => r.is_anomaly === 0);
    expect(alerted.length).toBeGreaterThanOrEqual(4);
    // A mix: alerted windows judged real and noise, quiet ones judged real (missed) and noise, a tie.
    const [a0, a1, a2, a3] = alerted as unknown as [Scored, Scored, Scored, Scored];
    const picks: Array<[Scored, LabelValue[]]> = [
      [a0, ['real']],
      [a1, ['real', 'real', 'noise']],
      [a2, ['noise', 'noise', 'real']],
      [a3, ['real', 'noise']], // a tie counts as real
      ...quiet.slice(0, 2).map((w): [Scored, LabelValue[]] => [w, ['real']]),
      ...quiet.slice(10, 16).map((w): [Scored, LabelValue[]] => [w, ['noise', 'noise']]),
    ];
    await lake.platform.pipeline.recordLabels(picks.flatMap(([w, values]) => labelsOf(w, values)));
    const expected = await direct(alertsBy(v1));
    expect(expected).toEqual({ windows: 12, real: 5, noise: 7, precision: 0.75, recall: 0.6 });

    const result = await lake.platform.pipeline.train({ now: lake.clock.now() });
    expect(result.labels).toMatchObject({
      windows: 12,
      real: 5,
      noise: 7,
      champion: { version: 1, precision: expected.precision, recall: expected.recall },
      rule_applies: true,
    });
    // Comparable (the same data and settings fit the same forest): promoted, no refusal.
    expect(result.promoted).toBe(true);
    expect(result.refused).toBeUndefined();
    expect(result.champion?.version).toBe(2);

    // The candidate's numbers reconcile with its own scores once it has re-scored the windows.
    await lake.platform.engine.infer({
      now: lake.clock.now(),
      rescoreSince: new Date('2025-01-31T00:00:00Z'),
    });
    const v2 = await scored();
    const labelled = new Set(picks.map(([w]) => key(w)));
    expect(v2.filter((r) => labelled.has(key(r))).every((r) => r.model_version === 2)).toBe(true);
    const fromScores = await direct(alertsBy(v2));
    expect(result.labels?.candidate).toMatchObject({
      precision: fromScores.precision,
      recall: fromScores.recall,
    });
  });

  it('holds back a candidate clearly worse on the labels, but only with enough labels; manual promotion still works', async () => {
    lake = await createScoredLakehouse(START, 30);
    const v1 = alertsBy(await scored());
    // Without labels a retrain is promoted as before: the `seed` feature set alerts on other windows.
    const seed = await lake.platform.pipeline.train({ now: lake.clock.now(), featureSet: 'seed' });
    expect(seed).toMatchObject({ promoted: true, champion: { version: 2 } });
    expect(seed.labels).toMatchObject({ windows: 0, rule_applies: false, candidate: { precision: null } });
    await lake.platform.engine.infer({
      now: lake.clock.now(),
      rescoreSince: new Date('2025-01-31T00:00:00Z'),
    });
    const v2 = await scored();
    expect(v2.every((r) => r.model_version === 2)).toBe(true);
    await lake.platform.pipeline.promote(1);

    // The channel calls real what the champion alerts on and the `seed` model misses, and noise
    // what neither alerts on: the `seed` model is honestly worse on these labels.
    const missed = v2.filter((r) => r.is_anomaly === 0 && v1.get(key(r)) === true);
    const neither = v2.filter((r) => r.is_anomaly === 0 && v1.get(key(r)) === false);
    expect(missed.length).toBeGreaterThanOrEqual(LABEL_PROMOTION_RULE.minEach);
    const real = missed.slice(0, 3);
    const noise = neither.filter((_, i) => i % 50 === 0).slice(0, 7);
    await lake.platform.pipeline.recordLabels([
      ...real.flatMap((w) => labelsOf(w, ['real'])),
      ...noise.slice(0, 6).flatMap((w) => labelsOf(w, ['noise'])),
    ]);

    // 9 labelled windows: fewer than the rule needs, so it is promoted though worse.
    const few = await lake.platform.pipeline.train({ now: lake.clock.now(), featureSet: 'seed' });
    expect(few.labels).toMatchObject({
      windows: 9,
      real: 3,
      noise: 6,
      rule_applies: false,
      candidate: { recall: 0, f1: 0 },
      champion: { version: 1, precision: 1, recall: 1, f1: 1 },
    });
    expect(few).toMatchObject({ promoted: true, champion: { version: 3 } });
    expect(few.refused).toBeUndefined();
    await lake.platform.pipeline.promote(1);

    // One more noise window: 10, with 3 real and 7 noise. Now the candidate stays a challenger.
    await lake.platform.pipeline.recordLabels(labelsOf(noise[6] as Scored, ['noise']));
    const held = await lake.platform.pipeline.train({ now: lake.clock.now(), featureSet: 'seed' });
    expect(held.labels).toMatchObject({
      windows: 10,
      real: 3,
      noise: 7,
      rule_applies: true,
      champion: { version: 1, f1: 1 },
    });
    expect(held.labels?.candidate).toMatchObject(
      await direct(alertsBy(v2)).then((d) => ({ precision: d.precision, recall: d.recall })),
    );
    expect(held).toMatchObject({
      promoted: false,
      version: { version: 4, aliases: [] },
      champion: { version: 1 },
    });
    expect(held.refused).toBe(
      "Not promoted: on 10 labelled windows (3 real, 7 noise) v4 has F1 0.00 against champion v1's 1.00, more than 0.1 lower; it stays a challenger (`crypto-risk promote 4` makes it champion anyway).",
    );
    expect((await lake.platform.engine.infer({ now: lake.clock.now() })).model_version).toBe(1);

    // What the chat's retrain progress and the job's summary say of it.
    const reply = progressReply({
      id: 'r1',
      state: 'succeeded',
      requested_by: 'schedule',
      created_at: START,
      started_at: START,
      finished_at: START,
      result: held,
      error: null,
    });
    expect(reply.summary).toBe(held.refused);
    expect(reply.tables?.[1]).toMatchObject({
      title: "On the channel's labels (3 real, 7 noise)",
      rows: [
        ['v4 (new)', '10', '—', '0.0 %'],
        ['v1 (champion before)', '10', '100.0 %', '100.0 %'],
      ],
    });
    // A result without the comparison (a Databricks workspace without the labels table) still renders, with a note.
    const { labels: _compared, refused: _refused, ...bare } = held;
    const databricks = progressReply({
      id: 'r2',
      state: 'succeeded',
      requested_by: 'schedule',
      created_at: START,
      started_at: START,
      finished_at: START,
      result: { ...bare, promoted: true },
      error: null,
    });
    expect(databricks.tables).toHaveLength(1);
    expect(databricks.notes).toEqual([
      'No labels compared for this retrain (its training run reported no comparison: the workspace has no labels table yet).',
    ]);
    expect(describeTrain(held)).toMatch(
      /champion stays v1 \(clearly worse on the labels\); on 10 labelled windows precision —, recall 0 % \(champion v1: 100 %, 100 %\)$/,
    );

    // Manual promotion is not held back by the labels.
    expect((await lake.platform.pipeline.promote(4)).aliases).toContain('champion');
    expect((await lake.platform.pipeline.models()).champion).toBe(4);
  });

  it('the retrain progress in Slack shows the new version beside the champion on the labels', async () => {
    lake = await createScoredLakehouse(START, 30);
    const v1 = await scored();
    const alerted = v1.filter((r) => r.is_anomaly === 1).slice(0, 4);
    const quiet = v1
      .filter((r) => r.is_anomaly === 0)
      .filter((_, i) => i % 100 === 0)
      .slice(0, 8);
    await lake.platform.pipeline.recordLabels([
      ...alerted.flatMap((w, i) => labelsOf(w, [i === 0 ? 'noise' : 'real'])),
      ...quiet.flatMap((w, i) => labelsOf(w, [i < 2 ? 'real' : 'noise'])),
    ]);
    // 12 windows: 5 real (3 alerted), 7 noise (1 alerted): precision 75 %, recall 60 %.
    const expected = await direct(alertsBy(v1));
    expect(expected).toEqual({ windows: 12, real: 5, noise: 7, precision: 0.75, recall: 0.6 });
    h = await startHarness({ lake });
    const { slack } = h;
    await slack.slashCommand({ userId: OPS, channelId: CHANNEL, text: 'retrain' });
    await until(() => slack.ephemeral(OPS).find((m) => JSON.stringify(m).includes('retrain_confirm')));
    await slack.clickButton({
      userId: OPS,
      channelId: CHANNEL,
      actionId: 'retrain_confirm',
      ephemeral: true,
    });
    const done = await until(() =>
      slack
        .channelMessages(CHANNEL)
        .find(
          (m) => m.thread_ts !== undefined && JSON.stringify(m.blocks ?? []).includes('Model v2 trained'),
        ),
    );
    const text = JSON.stringify(done.blocks);
    expect(text).toMatch(/Champion moved: v1 → v2/);
    expect(text).toContain("On the channel's labels (5 real, 7 noise)");
    for (const header of ['model', 'labelled windows', 'precision', 'recall']) expect(text).toContain(header);
    // Both rows: the same data and settings fit the same forest, so the numbers are the same.
    expect(text.match(/75\.0 %/g)?.length).toBeGreaterThanOrEqual(2);
    expect(text.match(/60\.0 %/g)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toContain('v2 (new)');
    expect(text).toContain('v1 (champion before)');
  });
});
