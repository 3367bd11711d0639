import { createDeliveryLog, type DeliveryLog } from '../../src/chat/delivery-log.js';
import { createSchedules, type Schedules } from '../../src/jobs/schedules.js';
import type { Platform } from '../../src/platform/port.js';
import { createSlackBot, type SlackBot } from '../../src/slack/bot.js';
import { FEED_EVENT_TYPE } from '../../src/slack/feed-outlet.js';
import {
  type LocalSlack,
  type LocalSlackOptions,
  startLocalSlack,
} from '../../src/slack/local-slack/index.js';
import { createScoredLakehouse, type TestLakehouse, testConfig } from './lakehouse.js';
import { memoryLogger } from './memory-logger.js';
import { slowPlatform } from './slow-platform.js';
import { until } from './until.js';

export const SECRET = 'test-signing-secret';
export const TOKEN = 'xoxb-test-token';
export const OPS = 'U0OPS01';
export const VIEWER = 'U0VIEW01';
export const CHANNEL = 'C0CRYPTO1';
export const APP_TOKEN = 'xapp-1-A0CRYPTO-1234567890123-0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f';
const START = '2025-02-01T00:00:00.000Z';

export interface HarnessOptions {
  /** How Slack reaches the bot: signed HTTP requests (default), or Socket Mode envelopes. */
  mode?: 'http' | 'socket';
  /** Simulated hours of five assets, scored (default 30). */
  hours?: number;
  /** Every platform call waits this long first (default 0). */
  delayMs?: number;
  /** Options of the local Slack workspace (channels, file processing, rates, …). */
  slack?: Partial<LocalSlackOptions>;
  /** The feed channel setting (default crypto-alerts). */
  feedChannel?: string;
  /** Start the bot (default true). */
  start?: boolean;
  /** The lakehouse to serve (default: `hours` of five simulated assets, scored). */
  lake?: TestLakehouse;
  /** The feed's stale-data rule (default: none). */
  staleAfterMs?: number;
}

export interface Harness {
  lake: TestLakehouse;
  slack: LocalSlack;
  bot: SlackBot;
  log: DeliveryLog;
  /** The platform methods the bot called. */
  calls: string[];
  /** The jobs' schedules the bot shows and changes. */
  schedules: Schedules;
  logLines: string[];
  /** The audit entries logged so far. */
  audits(): Array<{ who: string; what: string; when: string; result: string }>;
  /** Another bot over the same workspace and delivery log (a restart). */
  make(platform?: Platform): Promise<SlackBot>;
  /** The feed's messages in a channel (default #crypto-alerts). */
  feedMessages(channel?: string): ReturnType<LocalSlack['channelMessages']>;
  close(): Promise<void>;
}

/**
 * A scored lakehouse, the local Slack workspace and the bot between them over loopback, as in
 * production: the Web API over HTTP, and Slack's requests signed to the bot's HTTP receiver or as
 * envelopes over its Socket Mode connection.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const lake = options.lake ?? (await createScoredLakehouse(START, options.hours ?? 30));
  const socket = options.mode === 'socket';
  const slack = await startLocalSlack({
    signingSecret: SECRET,
    botToken: TOKEN,
    ...(socket ? { appToken: APP_TOKEN } : {}),
    ...options.slack,
  });
  const { logger, lines: logLines } = memoryLogger();
  const slow = slowPlatform(lake.platform, options.delayMs ?? 0);
  const log = createDeliveryLog(lake.platform.db);
  await log.init();
  const bots: SlackBot[] = [];
  // The schedules over the same platform and clock (`schedule`; the feed announces their changes).
  const schedules = createSchedules({
    platform: slow.platform,
    schedule: testConfig().schedule,
    clock: lake.clock,
    logger,
  });
  const make = async (platform: Platform = slow.platform) => {
    const made = await createSlackBot({
      settings: {
        botToken: TOKEN,
        ...(socket ? { appToken: APP_TOKEN } : { signingSecret: SECRET }),
        apiUrl: slack.apiUrl,
        feed: { channel: options.feedChannel ?? 'crypto-alerts' },
        opsUsers: [],
        opsUsergroup: 'S0CRYPTOOPS',
      },
      port: 0,
      platform,
      log,
      store: lake.platform.db,
      clock: lake.clock,
      logger,
      retrainPollMs: 50,
      schedules,
      ...(options.staleAfterMs !== undefined ? { staleAfterMs: options.staleAfterMs } : {}),
    });
    bots.push(made);
    return made;
  };
  const bot = await make();
  if (options.start !== false) {
    await bot.start();
    if (!socket) slack.setBotEventsUrl(`http://127.0.0.1:${bot.port()}/slack/events`);
  }
  return {
    lake,
    slack,
    bot,
    log,
    calls: slow.calls,
    schedules,
    logLines,
    audits: () =>
      logLines
        .map((l) => JSON.parse(l) as { audit?: { who: string; what: string; when: string; result: string } })
        .flatMap((l) => (l.audit ? [l.audit] : [])),
    make,
    feedMessages: (channel = CHANNEL) =>
      slack.channelMessages(channel).filter((m) => m.metadata?.event_type === FEED_EVENT_TYPE),
    async close() {
      for (const b of bots) await b.stop().catch(() => undefined);
      await slack.close();
      await lake.close();
    },
  };
}

/** The windows the feed's messages announced, from their metadata. */
export function windowsIn(messages: Array<{ metadata?: { event_payload: Record<string, unknown> } }>) {
  return messages.flatMap(
    (m) => (m.metadata?.event_payload.windows ?? []) as Array<{ asset: string; window_end: string }>,
  );
}

/** 200 new anomalous windows over 20 assets in the last hours before the harness's clock (a burst). */
export async function addAnomalyBurst(lake: TestLakehouse): Promise<void> {
  await lake.platform.db.run(
    `INSERT INTO anomalies
     SELECT 'asset-' || (i % 20), 'A' || (i % 20), TIMESTAMP '2025-01-31 20:00:00' + INTERVAL (i // 20 * 5) MINUTE,
       100, 1, 0.01, 1000, 0, -0.1 - i / 1000, 1, 1, TIMESTAMP '2025-02-01 00:00:00', NULL, NULL
     FROM range(200) AS t(i)`,
  );
}

/** One anomalous bitcoin window an hour before the harness's clock, and nothing else to announce. */
export async function onlyOneAnomaly(lake: TestLakehouse): Promise<void> {
  await lake.platform.db.run('DELETE FROM anomalies');
  await lake.platform.db.run(
    `INSERT INTO anomalies VALUES ('bitcoin', 'btc', TIMESTAMP '2025-01-31 23:00:00', 65000, 10, 0.02, 1e6, 0.001,
       -0.2, 1, 1, TIMESTAMP '2025-02-01 00:00:00', NULL, NULL)`,
  );
}

/** Sends `/crypto <text>` as `user` in CHANNEL and waits for the answer that contains `needle` (as JSON). */
export async function ask(harness: Harness, user: string, text: string, needle: string): Promise<string> {
  const before = harness.slack.ephemeral(user).length;
  await harness.slack.slashCommand({ userId: user, channelId: CHANNEL, text });
  return until(() =>
    harness.slack
      .ephemeral(user)
      .slice(before)
      .map((m) => JSON.stringify(m))
      .find((m) => m.includes(needle)),
  );
}
