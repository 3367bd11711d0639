import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryLog } from '../../src/chat/delivery-log.js';
import { JOB_NAMES } from '../../src/platform/databricks/resources.js';
import { openDb } from '../../src/platform/local/db.js';
import { createSlackBot, type SlackBot } from '../../src/slack/bot.js';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import {
  type DatabricksHarness,
  seedLakehouse,
  startDatabricksHarness,
  WAREHOUSE_ID,
} from '../support/databricks-harness.js';
import { sleep, until } from '../support/until.js';

/** Signed slash commands through the Slack workspace → the bot → the Databricks emulators. */

const SECRET = 'e2e-signing-secret';
const TOKEN = 'xoxb-e2e-databricks';
const CHANNEL = 'C0CRYPTO1';

let h: DatabricksHarness | undefined;
let slack: LocalSlack | undefined;
let bot: SlackBot | undefined;
afterEach(async () => {
  await bot?.stop();
  await slack?.close();
  await h?.close();
  bot = undefined;
  slack = undefined;
  h = undefined;
});

async function setup(warehouseState = 'STOPPED', clock?: { now(): Date }) {
  h = await startDatabricksHarness({ warehouseState, ...(clock ? { clock } : {}) });
  slack = await startLocalSlack({ signingSecret: SECRET, botToken: TOKEN });
  bot = await startBot(h, slack, ':memory:');
  return { h, slack };
}

/**
 * A bot on the harness's emulators; a delivery log in `dbPath` survives a restart, and so does the
 * workspace. Stopping it closes its database, as a process that exits does: two DuckDB instances on
 * one file in one process do not see each other's writes.
 */
async function startBot(
  h: DatabricksHarness,
  slack: LocalSlack,
  dbPath: string,
  platform = h.platform,
): Promise<SlackBot> {
  const db = await openDb(dbPath);
  const log = createDeliveryLog(db);
  await log.init();
  const started = await createSlackBot({
    settings: {
      botToken: TOKEN,
      signingSecret: SECRET,
      apiUrl: slack.apiUrl,
      feed: { channel: 'crypto-alerts' },
      opsUsers: ['U0OPS01'],
    },
    port: 0,
    platform,
    log,
    clock: { now: () => new Date() },
    logger: h.logger,
    retrainPollMs: 50,
  });
  await started.start();
  slack.setBotEventsUrl(`http://127.0.0.1:${started.port()}/slack/events`);
  return {
    ...started,
    async stop() {
      await started.stop();
      await db.close();
    },
  };
}

const replies = (s: LocalSlack, user: string) => s.ephemeral(user).map((m) => JSON.stringify(m));

describe('Slack → bot → Databricks', () => {
  it('/crypto status with a stopped warehouse answers from the REST APIs and starts nothing', async () => {
    const { h, slack } = await setup('STOPPED');
    await h.platform.deployment.provision(true);
    await slack.slashCommand({ userId: 'U0VIEW01', channelId: CHANNEL, text: 'status' });
    const answer = await until(() =>
      replies(slack, 'U0VIEW01').find((r) => r.includes('Pipeline status (databricks)')),
    );
    expect(answer).toMatch(/SQL warehouse\*\\n\s*STOPPED|SQL warehouse[^"]*STOPPED/);
    expect(answer).toMatch(/status never starts it/);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
    expect(h.warehouse.statements).toHaveLength(0);
  });

  it('/crypto top with a stopped warehouse says it is warming up, then answers', async () => {
    const { h, slack } = await setup('STOPPED');
    await seedLakehouse(h.warehouse, new Date());
    await slack.slashCommand({ userId: 'U0VIEW01', channelId: CHANNEL, text: 'top 3 24h' });
    const warming = await until(() =>
      replies(slack, 'U0VIEW01').find((r) => r.includes('warming') || r.includes('starting now')),
    );
    expect(warming).toMatch(/The SQL warehouse is stopped; it is starting now/);
    const answer = await until(() =>
      replies(slack, 'U0VIEW01').find((r) => r.includes('Top anomalies, last 24h')),
    );
    expect(answer).toMatch(/bitcoin \(BTC\)/);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(1);
  });

  it('/crypto retrain by an ops user runs the training job; a failed run ends its thread with the reason', async () => {
    const { h, slack } = await setup('RUNNING');
    await h.platform.deployment.provision(true);
    // Provisioning an empty workspace starts the first training run (v1); retrain makes the next.
    await until(() => h.api.runs().length === 1 && h.api.runs()[0]?.life_cycle_state === 'TERMINATED');
    const retrain = async () => {
      await slack.slashCommand({ userId: 'U0OPS01', channelId: CHANNEL, text: 'retrain' });
      await until(() => replies(slack, 'U0OPS01').find((r) => r.includes('retrain_confirm')));
      await slack.clickButton({
        userId: 'U0OPS01',
        channelId: CHANNEL,
        actionId: 'retrain_confirm',
        ephemeral: true,
      });
    };
    const progress = (verdict: RegExp) =>
      until(() =>
        slack
          .channelMessages(CHANNEL)
          .find((m) => m.thread_ts && m.thread_ts !== m.ts && verdict.test(JSON.stringify(m.blocks ?? []))),
      );

    await retrain();
    const ok = await progress(/Model v2 trained/);
    expect(JSON.stringify(ok.blocks)).toMatch(/Champion moved: v1 → v2/);
    expect(h.api.callsTo('POST /api/2.2/jobs/run-now')).toHaveLength(2);

    h.trainOutcome = 'FAILED';
    await retrain();
    const failed = await progress(/Retrain failed/);
    expect(JSON.stringify(failed.blocks)).toMatch(/FAILED/);
    const trainRuns = h.api
      .runs()
      .filter((r) => h?.api.jobs().find((j) => j.job_id === r.job_id)?.settings.name === JOB_NAMES.train);
    expect(trainRuns.map((r) => r.result_state)).toEqual(['SUCCESS', 'SUCCESS', 'FAILED']);
  });

  it('/crypto provision is ops-only; an ops user sees the plan and can apply it', async () => {
    const { h, slack } = await setup('STOPPED');
    await slack.slashCommand({ userId: 'U0VIEW01', channelId: CHANNEL, text: 'provision apply' });
    await until(() => replies(slack, 'U0VIEW01').find((r) => r.includes('Only the ops team can provision')));
    expect(
      h.api.calls.filter(
        (c) => c.path.startsWith('/api/2.0/workspace') || c.path.startsWith('/api/2.2/jobs'),
      ),
    ).toEqual([]);

    await slack.slashCommand({ userId: 'U0OPS01', channelId: CHANNEL, text: 'provision' });
    const plan = await until(() =>
      replies(slack, 'U0OPS01').find((r) => r.includes('Databricks provisioning: plan')),
    );
    expect(plan).toMatch(/to create/);
    await slack.slashCommand({ userId: 'U0OPS01', channelId: CHANNEL, text: 'provision apply' });
    await until(() => replies(slack, 'U0OPS01').find((r) => r.includes('Databricks provisioning: applied')));
    expect(h.api.jobs()).toHaveLength(3);
  });

  it("the feed posts a scoring run's anomalies with their chart from its feed file: no SQL, no warehouse start", async () => {
    const { h, slack } = await setup('STOPPED');
    await h.platform.deployment.provision(true);
    await h.runScoreJob();
    const result = await bot?.feed.runOnce();
    expect(result?.posted).toBeGreaterThan(0);
    const posted = slack.channelMessages(CHANNEL).filter((m) => m.metadata?.event_type === 'crypto_anomaly');
    expect(posted).toHaveLength(result?.posted ?? -1);
    expect(JSON.stringify(posted[0]?.blocks)).toMatch(/"type":"image"/);
    expect(JSON.stringify(posted[0]?.blocks)).toMatch(/bitcoin/);
    expect(h.warehouse.statements).toHaveLength(0);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
    // The chart and the market context (every asset's move) came from the feed file's series; the
    // list of assets from the serving snapshot, read once (a Files API read, no warehouse).
    expect(h.api.calls.filter((c) => c.path.includes('/serving/'))).toHaveLength(1);
  });

  it('a run without anomalies posts nothing; a bot restarted between a run and its post delivers each window once', async () => {
    let now = new Date();
    const { h, slack } = await setup('STOPPED', { now: () => now });
    await h.platform.deployment.provision(true);
    const dir = await mkdtemp(join(tmpdir(), 'crm-feed-'));
    try {
      await bot?.stop();
      bot = await startBot(h, slack, join(dir, 'bot.duckdb'), h.newPlatform());
      h.anomalous = () => false;
      await h.runScoreJob();
      expect(await bot.feed.runOnce()).toMatchObject({ posted: 0, windows: 0 });
      const feedMessages = () =>
        slack?.channelMessages(CHANNEL).filter((m) => m.metadata?.event_type === 'crypto_anomaly') ?? [];
      expect(feedMessages()).toHaveLength(0);

      // A run with anomalies, then the bot stops before its next feed cycle.
      h.anomalous = (asset) => asset === 'bitcoin';
      now = new Date(now.getTime() + 10 * 60_000); // the next scheduled run: two new windows each
      await h.runScoreJob();
      await bot.stop();
      bot = await startBot(h, slack, join(dir, 'bot.duckdb'), h.newPlatform());
      const first = await bot.feed.runOnce();
      expect(first.posted).toBeGreaterThan(0);
      const windows = feedMessages().flatMap(
        (m) =>
          (m.metadata?.event_payload as { windows?: Array<{ window_end: string }> } | undefined)?.windows ??
          [],
      );
      expect(new Set(windows.map((w) => w.window_end)).size).toBe(windows.length);

      // Restarted again after posting: the same file is read, nothing is posted twice.
      await bot.stop();
      bot = await startBot(h, slack, join(dir, 'bot.duckdb'), h.newPlatform());
      expect(await bot.feed.runOnce()).toMatchObject({ posted: 0 });
      expect(feedMessages()).toHaveLength(first.posted);
      expect(h.warehouse.statements).toHaveLength(0);
    } finally {
      await bot?.stop();
      bot = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('top 24h and chart bitcoin 7d answer from the serving snapshot with the warehouse stopped; top 30d starts it', async () => {
    const { h, slack } = await setup('STOPPED');
    await h.platform.deployment.provision(true);
    await seedLakehouse(h.warehouse, new Date());
    await h.runScoreJob();
    await slack.slashCommand({ userId: 'U0VIEW01', channelId: CHANNEL, text: 'top 5 24h' });
    const top = await until(() =>
      replies(slack, 'U0VIEW01').find((r) => r.includes('Top anomalies, last 24h')),
    );
    expect(top).toMatch(/bitcoin \(BTC\)/);
    expect(top).toMatch(/As of .* UTC .*serving snapshot/);
    await slack.slashCommand({ userId: 'U0VIEW01', channelId: CHANNEL, text: 'chart bitcoin 7d' });
    const chart = await until(() => replies(slack, 'U0VIEW01').find((r) => r.includes('last 7d')));
    expect(chart).toMatch(/as of .* UTC/);
    expect(chart).toMatch(/"type":"image"/);
    expect(replies(slack, 'U0VIEW01').join('\n')).not.toMatch(/warehouse is stopped/);
    expect(h.warehouse.statements).toHaveLength(0);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);

    await slack.slashCommand({ userId: 'U0VIEW01', channelId: CHANNEL, text: 'top 30d' });
    await until(() =>
      replies(slack, 'U0VIEW01').find((r) => r.includes('The SQL warehouse is stopped; it is starting now')),
    );
    const month = await until(() =>
      replies(slack, 'U0VIEW01').find((r) => r.includes('Top anomalies, last 30d')),
    );
    expect(month).not.toMatch(/serving snapshot/);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(1);
    expect(h.warehouse.statements.length).toBeGreaterThan(0);
  });

  it('never lets a token or secret into logs or replies', async () => {
    const { h, slack } = await setup('RUNNING');
    await h.platform.deployment.provision(true);
    await seedLakehouse(h.warehouse, new Date());
    for (const text of ['status', 'top 5', 'chart bitcoin', 'retrain', 'provision']) {
      await slack.slashCommand({ userId: 'U0OPS01', channelId: CHANNEL, text });
    }
    await until(() => replies(slack, 'U0OPS01').length >= 5);
    await sleep(300);
    const everything = [
      ...h.logs,
      ...replies(slack, 'U0OPS01'),
      ...slack.channelMessages(CHANNEL).map((m) => JSON.stringify(m)),
    ].join('\n');
    for (const secret of [h.api.token, h.api.clientSecret, SECRET, TOKEN])
      expect(everything).not.toContain(secret);
  });
});
