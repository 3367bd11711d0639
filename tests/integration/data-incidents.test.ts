import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runIngest } from '../../src/jobs/ingest.js';
import { silentLogger } from '../../src/log.js';
import { replaySource } from '../../src/market/sources.js';
import { INCIDENT_EVENT_TYPE } from '../../src/slack/feed-outlet.js';
import { createTestLakehouse, type TestLakehouse, testConfig } from '../support/lakehouse.js';
import { CHANNEL, type Harness, startHarness, VIEWER, windowsIn } from '../support/slack-bot-harness.js';
import { startTeamsHarness, TEAM, type TeamsHarness } from '../support/teams-bot-harness.js';
import { until } from '../support/until.js';

/**
 * Data incidents through the Slack feed, on minute prices replayed from a CSV (the product's replay
 * source, as a real exchange export would be): a source that stalls, a price that freezes, and a
 * gap in an asset's windows each give one incident message and later one recovery, and none of the
 * windows next to the broken data is posted as a market anomaly.
 */

const T0 = Date.parse('2025-03-01T00:00:00Z');
const MIN = 60_000;
/** Where the test's "now" starts: 30 hours of history, enough to train on. */
const NOW0 = T0 + 30 * 60 * MIN;

let h: Harness | undefined;
let t: TeamsHarness | undefined;
afterEach(async () => {
  await h?.close();
  await t?.close();
  h = undefined;
  t = undefined;
});

interface Shape {
  /** Minutes after NOW0 with no row at all. */
  holes?: Array<[number, number]>;
  /** Minutes after NOW0 whose price repeats the one before. */
  frozen?: Array<[number, number]>;
  /** Minutes of data after NOW0. */
  after: number;
}

/** Minute OHLCV rows of a seeded random walk from T0 to NOW0 + after, shaped. */
function csv(shape: Shape): string {
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const inside = (m: number, spans: Array<[number, number]> = []) => spans.some(([a, b]) => m >= a && m < b);
  const lines = ['timestamp,open,high,low,close,volume'];
  let price = 60_000;
  for (let t = T0; t <= NOW0 + shape.after * MIN; t += MIN) {
    const m = (t - NOW0) / MIN;
    const volume = (1 + random() * 4).toFixed(4);
    if (!inside(m, shape.frozen)) price *= 1 + (random() - 0.5) * 0.002;
    if (inside(m, shape.holes)) continue;
    const p = price.toFixed(2);
    lines.push(`${t / 1000},${p},${p},${p},${p},${volume}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A lakehouse fed by the replay of `shape` up to NOW0, trained and scored; `cycle` moves time on. */
async function replayLake(shape: Shape) {
  const lake: TestLakehouse = await createTestLakehouse(
    new Date(NOW0).toISOString(),
    testConfig({ TRAIN_LOOKBACK: '24h' }).model,
  );
  const file = join(lake.dir, 'bitcoin.csv');
  await writeFile(file, csv(shape));
  const source = replaySource(
    { state: lake.platform.pipeline.state, logger: silentLogger() },
    file,
    'bitcoin',
  );
  const ingest = () =>
    runIngest({ platform: lake.platform, clock: lake.clock, logger: silentLogger(), source });
  await ingest();
  await lake.platform.engine.runPipeline();
  await lake.platform.pipeline.train({ now: lake.clock.now() });
  await lake.platform.engine.infer({ now: lake.clock.now() });
  /** Minutes after NOW0: ingest, the pipeline and inference, as the schedules would run them. */
  const cycle = async (minutes: number) => {
    lake.setNow(new Date(NOW0 + minutes * MIN).toISOString());
    await ingest();
    await lake.platform.engine.runPipeline();
    await lake.platform.engine.infer({ now: lake.clock.now() });
  };
  return { lake, cycle };
}

const incidents = (harness: Harness) =>
  harness.slack.channelMessages(CHANNEL).filter((m) => m.metadata?.event_type === INCIDENT_EVENT_TYPE);

/** Windows the feed posted as anomalies whose end falls in [from, to] minutes after NOW0. */
const postedBetween = (harness: Harness, from: number, to: number) =>
  windowsIn(harness.feedMessages()).filter((w) => {
    const t = Date.parse(w.window_end);
    return t >= NOW0 + from * MIN && t <= NOW0 + to * MIN;
  });

describe('data incidents in the feed', () => {
  it('a stalled source: one incident, status lists it, one recovery, no anomalies for the gap, none again after a restart', async () => {
    const { lake, cycle } = await replayLake({ holes: [[1, 40]], after: 90 });
    // Ingest every 2 minutes: stale after three intervals.
    h = await startHarness({ lake, staleAfterMs: 6 * MIN });
    await h.bot.feed.runOnce();
    expect(incidents(h)).toEqual([]);

    for (const minutes of [4, 10, 20, 30]) {
      await cycle(minutes);
      await h.bot.feed.runOnce();
    }
    const open = incidents(h);
    expect(open).toHaveLength(1);
    expect(open[0]?.text).toMatch(
      /^⚠️ Data incident: no new market data: No new market data since 2025-03-02 06:00/,
    );

    await h.slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'status' });
    const status = await until(() =>
      h?.slack.ephemeral(VIEWER).find((m) => JSON.stringify(m).includes('Pipeline status')),
    );
    expect(JSON.stringify(status)).toContain('Open data incidents');
    expect(JSON.stringify(status)).toContain('No new market data since');

    for (const minutes of [44, 50, 60, 70, 80, 90]) {
      await cycle(minutes);
      await h.bot.feed.runOnce();
    }
    const all = incidents(h);
    expect(all.map((m) => m.text?.split(':')[0])).toEqual(['⚠️ Data incident', '✅ Data incident over']);
    expect(all[1]?.text).toContain('Market data lands again');
    // The first window after the hole is marked, not announced; the stale incident covers its gap.
    const marked = await lake.table<{ window_end: string }>(
      `SELECT strftime(window_end, '%Y-%m-%dT%H:%M:%S.000Z') AS window_end FROM anomalies
       WHERE data_issue = 'gap' AND window_end > TIMESTAMP '2025-03-02 06:00:00'`,
    );
    expect(marked.length).toBeGreaterThan(0);
    expect(postedBetween(h, 0, 50)).toEqual([]);

    const restarted = await h.make();
    expect((await restarted.feed.runOnce()).incidents).toBeUndefined();
    expect(incidents(h)).toEqual(all);
  });

  it('a frozen price: one incident while it stands still, one recovery when it moves, its windows never posted', async () => {
    const { lake, cycle } = await replayLake({ frozen: [[10, 45]], after: 80 });
    h = await startHarness({ lake, staleAfterMs: 6 * MIN });
    await h.bot.feed.runOnce();
    for (let minutes = 5; minutes <= 80; minutes += 5) {
      await cycle(minutes);
      await h.bot.feed.runOnce();
    }
    const all = incidents(h);
    expect(all.map((m) => m.text?.split(':')[0])).toEqual(['⚠️ Data incident', '✅ Data incident over']);
    expect(all[0]?.text).toContain('a frozen price (bitcoin)');
    expect(all[0]?.text).toContain("bitcoin's price has not moved since");
    expect(all[1]?.text).toContain("bitcoin's price moves again");
    const frozen = await lake.table<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM anomalies WHERE data_issue = 'frozen'`,
    );
    expect(frozen[0]?.n).toBeGreaterThanOrEqual(3);
    expect(postedBetween(h, 10, 55)).toEqual([]);
  });

  it('a gap in the windows while data still lands: one gap incident and its recovery, the window after it not posted', async () => {
    const { lake, cycle } = await replayLake({ holes: [[10, 30]], after: 70 });
    // Stale only after an hour: the 20-minute hole is a gap in the asset's windows, not stale ingestion.
    h = await startHarness({ lake, staleAfterMs: 60 * MIN });
    await h.bot.feed.runOnce();
    for (let minutes = 5; minutes <= 70; minutes += 5) {
      await cycle(minutes);
      await h.bot.feed.runOnce();
    }
    const all = incidents(h);
    expect(all.map((m) => m.text?.split(':')[0])).toEqual(['⚠️ Data incident', '✅ Data incident over']);
    expect(all[0]?.text).toContain('a gap in the windows (bitcoin)');
    expect(all[0]?.text).toContain(
      'No bitcoin prices from 2025-03-02 06:10 UTC to 2025-03-02 06:30 UTC (20 minutes',
    );
    expect(all[1]?.text).toContain("bitcoin's windows are complete again");
    expect(postedBetween(h, 10, 40)).toEqual([]);
  });

  it('in Teams too: a stalled source is one incident card and one recovery card, no anomaly card for the gap', async () => {
    const { lake, cycle } = await replayLake({ holes: [[1, 40]], after: 60 });
    t = await startTeamsHarness({ lake, staleAfterMs: 6 * MIN });
    await t.install();
    await t.bot.feed.runOnce();
    const before = t.teams.botMessages(TEAM.id).length;
    for (const minutes of [10, 20, 44, 50, 60]) {
      await cycle(minutes);
      await t.bot.feed.runOnce();
    }
    const added = t.teams
      .botMessages(TEAM.id)
      .slice(before)
      .map((m) => JSON.stringify(m.activity));
    expect(added).toHaveLength(2);
    expect(added[0]).toContain('Data incident: no new market data');
    expect(added[1]).toContain('Data incident over: no new market data');
  });
});
