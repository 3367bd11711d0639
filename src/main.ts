import type { Clock } from './clock.js';
import type { Config, MarketSourceSetting } from './config.js';
import type { Logger } from './log.js';
import { createCoinGeckoClient } from './market/coingecko.js';
import { type MarketSource, resolveSource, type SourceDeps } from './market/sources.js';
import { createLocalPlatform } from './platform/local/platform.js';
import type { Platform } from './platform/port.js';
import { createSlackBot, type SlackBot } from './slack/bot.js';
import { createDeliveryLog } from './slack/delivery-log.js';

/**
 * The composition root: configuration in, the wired application out. Everything else receives its
 * dependencies from here; nothing reads the environment or builds clients on its own.
 */
export interface App {
  config: Config;
  clock: Clock;
  logger: Logger;
  platform: Platform;
  /** The Slack bot when Slack is configured (for `run`): built here, started by the caller. */
  slackBot(): Promise<SlackBot | undefined>;
  /** The market source a setting names (the configured one by default). */
  marketSource(setting?: MarketSourceSetting): Promise<{ source: MarketSource; notice?: string }>;
  close(): Promise<void>;
}

export async function createApp(config: Config, deps: { clock: Clock; logger: Logger }): Promise<App> {
  const { clock, logger } = deps;
  const platform = await createLocalPlatform({
    dbPath: config.dbPath,
    landingDir: config.landingDir,
    model: config.model,
    pipelineGroupFiles: config.pipelineGroupFiles,
    clock,
    logger,
  });
  const coingecko = createCoinGeckoClient({
    plan: config.market.coingecko.plan,
    apiKey: config.market.coingecko.apiKey,
    baseUrl: config.market.coingecko.baseUrl,
    timeoutMs: config.market.coingecko.timeoutMs,
    retries: 3,
    maxRetryAfterMs: 60_000,
    logger: logger.child({ component: 'coingecko' }),
  });
  const sourceDeps: SourceDeps = {
    state: platform.state,
    logger,
    assets: config.market.assets,
    coingecko,
    simulator: config.market.simulator,
  };
  return {
    config,
    clock,
    logger,
    platform,
    marketSource: (setting = config.market.source) => resolveSource(setting, sourceDeps),
    async slackBot() {
      if (!config.slack) return undefined;
      // The bot's delivery log lives beside the lakehouse in the local DuckDB file.
      const log = createDeliveryLog(platform.db);
      await log.init();
      return createSlackBot({ settings: config.slack, port: config.port, platform, log, clock, logger });
    },
    close: () => platform.close(),
  };
}
