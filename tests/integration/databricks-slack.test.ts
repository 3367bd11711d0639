import { afterEach, describe, expect, it } from 'vitest';
import { JOB_NAMES } from '../../src/platform/databricks/resources.js';
import { openDb } from '../../src/platform/local/db.js';
import { createSlackBot, type SlackBot } from '../../src/slack/bot.js';
import { createDeliveryLog } from '../../src/slack/delivery-log.js';
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

async function setup(warehouseState = 'STOPPED') {
  h = await startDatabricksHarness({ warehouseState });
  slack = await startLocalSlack({ signingSecret: SECRET, botToken: TOKEN });
  const log = createDeliveryLog(await openDb(':memory:'));
  await log.init();
  bot = await createSlackBot({
    settings: {
      botToken: TOKEN,
      signingSecret: SECRET,
      apiUrl: slack.apiUrl,
      feedChannel: 'crypto-alerts',
      opsUsers: ['U0OPS01'],
    },
    port: 0,
    platform: h.platform,
    log,
    clock: { now: () => new Date() },
    logger: h.logger,
    retrainPollMs: 50,
  });
  await bot.start();
  slack.setBotEventsUrl(`http://127.0.0.1:${bot.port()}/slack/events`);
  return { h, slack };
}

const replies = (s: LocalSlack, user: string) => s.ephemeral(user).map((m) => JSON.stringify(m));

describe('Slack → bot → Databricks', () => {
  it('/crypto status with a stopped warehouse answers from the REST APIs and starts nothing', async () => {
    const { h, slack } = await setup('STOPPED');
    await h.platform.provision(true);
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
    await h.platform.provision(true);
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

  it('never lets a token or secret into logs or replies', async () => {
    const { h, slack } = await setup('RUNNING');
    await h.platform.provision(true);
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
