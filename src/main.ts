import { join } from 'node:path';
import { createDeliveryLog } from './chat/delivery-log.js';
import type { Feed } from './chat/feed.js';
import type { Clock } from './clock.js';
import type {
  Config,
  DatabricksSettings,
  MarketSourceSetting,
  SlackSettings,
  TeamsSettings,
} from './config.js';
import { UserError } from './errors.js';
import { createJobHealth, type JobHealth } from './jobs/job-health.js';
import { longestIntervalMs } from './jobs/scheduler.js';
import { createSchedules, type Schedules } from './jobs/schedules.js';
import type { Logger } from './log.js';
import { createCoinGeckoClient } from './market/coingecko.js';
import { type MarketSource, resolveSource, type SourceDeps } from './market/sources.js';
import { createMetrics, type Metrics } from './metrics.js';
import { type MetricsServer, serveMetrics } from './metrics-server.js';
import { createDatabricksPlatform } from './platform/databricks/platform.js';
import { createDatabricksRest } from './platform/databricks/rest.js';
import { createLocalDashboard, type LocalDashboard } from './platform/local/dashboard.js';
import { openDb } from './platform/local/db.js';
import { createLocalPlatform } from './platform/local/platform.js';
import type { Platform } from './platform/port.js';
import { openFolderWarning } from './private-files.js';
import { createReadiness, type Readiness } from './readiness.js';
import { createSlackBot } from './slack/bot.js';
import { startConsole } from './slack/console.js';

/**
 * The composition root: configuration in, the wired application out. Everything else receives its
 * dependencies from here; nothing reads the environment or builds clients on its own.
 */
export interface App {
  config: Config;
  clock: Clock;
  logger: Logger;
  platform: Platform;
  /**
   * The chat surfaces for `run`, started (CHAT_SURFACE): the Slack app, the Teams bot, or the bot
   * on the local console standing in for Slack. `where` says how people reach each.
   */
  startChat(): Promise<Chat>;
  /** The market source a setting names (the configured one by default). */
  marketSource(setting?: MarketSourceSetting): Promise<{ source: MarketSource; notice?: string }>;
  /** The process's Prometheus metrics, counted by every part wired here. */
  metrics: Metrics;
  /** The scheduled jobs' outcomes (the jobs report to it; /readyz reads it). */
  jobHealth: JobHealth;
  /** The jobs' schedules as set from chat or the command line (`schedule`). */
  schedules: Schedules;
  /**
   * Serves the metrics on METRICS_PORT (for `run`); undefined when METRICS_PORT=off, or when the
   * default port is taken (a warning says so; a port that was set must be free).
   */
  serveMetrics(): Promise<MetricsServer | undefined>;
  close(): Promise<void>;
}

export interface Chat {
  /** The anomaly feed of every surface started, each to its own conversation. */
  feeds: Feed[];
  where: string;
  stop(): Promise<void>;
}

/** A chat surface once started. */
interface Started {
  feed: Feed;
  where: string;
  stop(): Promise<void>;
}

export async function createApp(config: Config, deps: { clock: Clock; logger: Logger }): Promise<App> {
  const { clock, logger } = deps;
  let platform: Platform | undefined;
  const metrics = createMetrics({
    champion: async () => (platform ? (await platform.pipeline.models()).champion : null),
  });
  // The console's Dashboard view reads the local lakehouse; on Databricks the AI/BI dashboard is it.
  let dashboard: LocalDashboard | undefined;
  if (config.databricks) {
    platform = await databricksPlatform(config, config.databricks, { ...deps, metrics });
  } else {
    const local = await localPlatform(config, deps);
    dashboard = createLocalDashboard(local.db, clock);
    platform = local;
  }
  const jobHealth = createJobHealth(metrics);
  const schedules = createSchedules({ platform, schedule: config.schedule, clock, logger });
  const readiness = processReadiness(config, platform, jobHealth);
  const coingecko = createCoinGeckoClient({
    plan: config.market.coingecko.plan,
    apiKey: config.market.coingecko.apiKey,
    baseUrl: config.market.coingecko.baseUrl,
    timeoutMs: config.market.coingecko.timeoutMs,
    retries: 3,
    maxRetryAfterMs: 60_000,
    logger: logger.child({ component: 'coingecko' }),
    metrics,
  });
  const sourceDeps: SourceDeps = {
    state: platform.pipeline.state,
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
    metrics,
    jobHealth,
    schedules,
    marketSource: (setting = config.market.source) => resolveSource(setting, sourceDeps),
    async serveMetrics() {
      if (!config.metrics) return undefined;
      try {
        return await serveMetrics({ metrics, ...config.metrics, logger });
      } catch (err) {
        const code = (err as { code?: string }).code;
        const where = `${config.metrics.host}:${config.metrics.port}`;
        if (code === 'EADDRINUSE' && !config.metrics.explicit) {
          logger.warn(
            `metrics: port ${where} is in use; no metrics this run (set METRICS_PORT to a free port, or off)`,
          );
          return undefined;
        }
        throw new UserError(
          `The metrics cannot listen on ${where} (${code ?? String(err)}): set METRICS_PORT to a free port, or off.`,
          { cause: err },
        );
      }
    },
    async startChat() {
      // The bot's delivery log: beside the lakehouse in the local DuckDB file, or a file of its own.
      const store = await platform.botStore();
      const log = createDeliveryLog(store);
      await log.init();
      // Ingestion is stale after three ingest intervals without new data, in the clock's time (the
      // simulator's accelerated clock runs `speed` times faster than the schedules).
      const staleAfterMs =
        3 * longestIntervalMs(config.schedule.ingest) * Math.max(1, config.market.simulator.speed);
      const createBot = (
        settings: SlackSettings,
        listen: { host?: string; port: number },
        links: { consoleDashboardUrl?: string } = {},
      ) =>
        createSlackBot({
          settings,
          ...listen,
          ...links,
          platform,
          log,
          store,
          clock,
          logger,
          staleAfterMs,
          metrics,
          readiness,
          schedules,
        });
      const surfaces: Record<string, () => Promise<Started>> = {
        async slack() {
          if (!config.slack) throw new Error('CHAT_SURFACE names slack, but Slack is not configured');
          const bot = await createBot(config.slack, { port: config.port });
          await bot.start();
          return {
            feed: bot.feed,
            where: config.slack.appToken
              ? 'Slack: connected in Socket Mode'
              : `Slack: requests on http://0.0.0.0:${bot.port()}/slack/events, health on /healthz`,
            stop: () => bot.stop(),
          };
        },
        async teams() {
          if (!config.teams) throw new Error('CHAT_SURFACE names teams, but Teams is not configured');
          const settings = config.teams;
          // Loaded when Teams is asked for: the Teams SDK holds about 45 MB that no other surface needs.
          const { createTeamsBot } = await import('./teams/bot.js');
          const bot = await createTeamsBot({
            settings,
            platform,
            log,
            store,
            clock,
            staleAfterMs,
            logger: logger.child({ component: 'teams' }),
            metrics,
            readiness,
            schedules,
          });
          await bot.start();
          return { feed: bot.feed, where: teamsWhere(settings, bot.port()), stop: () => bot.stop() };
        },
        async console() {
          if (!config.console)
            throw new Error('CHAT_SURFACE names console, but the console is not configured');
          const local = await startConsole({
            settings: config.console,
            logger: logger.child({ component: 'console' }),
            createBot,
            ...(dashboard ? { dashboard } : {}),
          });
          return {
            feed: local.bot.feed,
            where:
              `console: ${local.url} (the local stand-in for Slack; set SLACK_BOT_TOKEN to use Slack)` +
              (local.warning ? `\nwarning: ${local.warning}` : ''),
            stop: () => local.stop(),
          };
        },
      };
      const started: Started[] = [];
      const stopAll = async () => {
        for (const s of started.reverse()) await s.stop();
      };
      try {
        for (const name of config.chatSurfaces) {
          const start = surfaces[name];
          if (!start) throw new Error(`unknown chat surface ${name}`);
          started.push(await start());
        }
      } catch (err) {
        // One surface that cannot start stops the others: `run` starts all it was asked to, or none.
        await stopAll().catch(() => undefined);
        throw err;
      }
      return {
        feeds: started.map((s) => s.feed),
        where: started.map((s) => s.where).join('\n'),
        stop: stopAll,
      };
    },
    async close() {
      await platform.close();
    },
  };
}

async function localPlatform(config: Config, deps: { clock: Clock; logger: Logger }) {
  const platform = await createLocalPlatform({
    dbPath: config.dbPath,
    landingDir: config.landingDir,
    model: config.model,
    pipelineGroupFiles: config.pipelineGroupFiles,
    clock: deps.clock,
    logger: deps.logger,
  });
  // A folder made here is 0700; one that was there before with wider modes is named, not changed.
  const warning = await openFolderWarning(config.dataDir);
  if (warning) deps.logger.warn({ path: config.dataDir }, warning);
  return platform;
}

async function databricksPlatform(
  config: Config,
  settings: DatabricksSettings,
  deps: { clock: Clock; logger: Logger; metrics: Metrics },
): Promise<Platform> {
  // Loaded for the Databricks deployment only: the SQL driver (thrift, its protocol) holds about
  // 35 MB the embedded default never uses.
  const { createWarehouse } = await import('./platform/databricks/warehouse.js');
  const logger = deps.logger.child({ component: 'databricks' });
  const rest = createDatabricksRest({ settings, logger, metrics: deps.metrics });
  const warehouse = createWarehouse({ settings, rest, logger, metrics: deps.metrics });
  return createDatabricksPlatform({
    settings,
    model: config.model,
    assets: config.market.assets,
    rest,
    warehouse,
    clock: deps.clock,
    logger,
    openBotStore: () => openDb(join(config.dataDir, 'bot.duckdb')),
    schedule: config.schedule,
  });
}

/**
 * What `/readyz` checks besides each chat surface's own auth: the storage answers, the platform
 * answers (the Databricks workspace's REST API; nothing is started), and no scheduled job has
 * failed more than READY_MAX_FAILED_RUNS runs in a row.
 */
function processReadiness(config: Config, platform: Platform, jobs: JobHealth): Readiness {
  const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
  return createReadiness({
    checks: {
      async storage() {
        const store = await platform.botStore();
        await store.all('SELECT 1').catch((err: unknown) => {
          throw new Error(`the bot store does not answer (${reason(err)})`);
        });
      },
      async platform() {
        await platform.reads.readiness().catch((err: unknown) => {
          throw new Error(`the ${platform.kind} platform does not answer (${reason(err)})`);
        });
      },
      async jobs() {
        const failing = jobs.failing(config.readyMaxFailedRuns);
        if (failing.length > 0)
          throw new Error(failing.map((f) => `${f.job} failed its last ${f.runs} runs`).join('; '));
      },
    },
  });
}

/** How people reach the Teams bot; without credentials, how to open the local playground on it. */
function teamsWhere(settings: TeamsSettings, port: number | undefined): string {
  const endpoint = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}/api/messages`;
  if (settings.credentials) return `teams: messages on ${endpoint}, health on /healthz`;
  return [
    `teams: messages on ${endpoint} (no credentials: unauthenticated, loopback only)`,
    `  try it in Microsoft 365 Agents Playground: npx agentsplayground -e ${endpoint} -c msteams --disable-telemetry`,
    'warning: set TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID before Teams itself can reach the bot',
  ].join('\n');
}
