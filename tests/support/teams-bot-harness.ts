import { createDeliveryLog, type DeliveryLog } from '../../src/chat/delivery-log.js';
import type { TeamsSettings } from '../../src/config.js';
import { createSchedules, type Schedules } from '../../src/jobs/schedules.js';
import type { Metrics } from '../../src/metrics.js';
import type { Platform } from '../../src/platform/port.js';
import type { Readiness } from '../../src/readiness.js';
import { createTeamsBot, type TeamsBot } from '../../src/teams/bot.js';
import { freePort } from './free-port.js';
import { createScoredLakehouse, type TestLakehouse, testConfig } from './lakehouse.js';
import { memoryLogger } from './memory-logger.js';
import { slowPlatform } from './slow-platform.js';
import {
  startTeamsEmulator,
  type TeamsEmulator,
  type TeamsEmulatorOptions,
  teamsTeam,
  teamsUser,
} from './teams-emulator.js';

export const APP_ID = '5a1f3c2e-8d4b-4e6f-9a0b-1c2d3e4f5a6b';
export const APP_PASSWORD = 'test-client-secret-~not-a-real-one';
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const OPS_GROUP = '0c6b2a4e-1f3d-4b5a-8c7e-9d0f1a2b3c4d';
/** In the ops group (Graph knows it). */
export const OPS = teamsUser('ops-alice', '11111111-2222-4333-8444-555555555555');
/** Known to Graph, in no group. */
export const VIEWER = teamsUser('viewer-bob', '66666666-7777-4888-9999-aaaaaaaaaaaa');
export const TEAM = teamsTeam('Crypto Ops');
const START = '2025-02-01T00:00:00.000Z';

export interface TeamsHarnessOptions {
  /** Simulated hours of five assets, scored (default 30). */
  hours?: number;
  /** Every platform call waits this long first (default 0). */
  delayMs?: number;
  /** Start the bot (default true). */
  start?: boolean;
  /** Overrides of the bot's settings. */
  settings?: Partial<TeamsSettings>;
  emulator?: Partial<TeamsEmulatorOptions>;
  /** The lakehouse to serve (default: `hours` of five simulated assets, scored). */
  lake?: TestLakehouse;
  /** The feed's stale-data rule (default: none). */
  staleAfterMs?: number;
  /** Metrics the bot counts into, and readiness checks its /readyz adds its own to. */
  metrics?: Metrics;
  readiness?: Readiness;
}

export interface TeamsHarness {
  lake: TestLakehouse;
  teams: TeamsEmulator;
  bot: TeamsBot;
  log: DeliveryLog;
  settings: TeamsSettings;
  /** The bot's messaging endpoint. */
  endpoint: string;
  /** The platform methods the bot called. */
  calls: string[];
  /** The jobs' schedules the bot shows and changes. */
  schedules: Schedules;
  logLines: string[];
  audits(): Array<{ who: string; what: string; when: string; result: string }>;
  /** Another bot over the same store and emulator (a restart), started on the same port. */
  restart(platform?: Platform): Promise<TeamsBot>;
  /** Installs the app in TEAM (conversationUpdate and installationUpdate, as Teams sends both). */
  install(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A scored lakehouse, the Teams emulator (connector, Entra, Graph) and the Teams bot between them
 * over loopback, as in production: signed activities to the bot's /api/messages, the bot's answers
 * through the connector REST API with tokens from the Entra token endpoint.
 */
export async function startTeamsHarness(options: TeamsHarnessOptions = {}): Promise<TeamsHarness> {
  const lake = options.lake ?? (await createScoredLakehouse(START, options.hours ?? 30));
  const teams = await startTeamsEmulator({
    appId: APP_ID,
    appPassword: APP_PASSWORD,
    tenantId: TENANT,
    graph: { groups: { [OPS_GROUP]: [OPS.aadObjectId] }, users: [VIEWER.aadObjectId] },
    ...options.emulator,
  });
  const { logger, lines: logLines } = memoryLogger();
  const slow = slowPlatform(lake.platform, options.delayMs ?? 0);
  const log = createDeliveryLog(lake.platform.db);
  await log.init();
  const port = await freePort();
  const settings: TeamsSettings = {
    credentials: { clientId: APP_ID, clientSecret: APP_PASSWORD, tenantId: TENANT },
    port,
    host: '127.0.0.1',
    publicUrl: `http://127.0.0.1:${port}`,
    opsUsers: [],
    opsGroup: OPS_GROUP,
    loginUrl: teams.loginUrl,
    openIdMetadataUrl: teams.openIdMetadataUrl,
    serviceUrl: teams.serviceUrl,
    graphUrl: teams.baseUrl,
    ...options.settings,
  };
  const endpoint = `http://127.0.0.1:${port}/api/messages`;
  teams.setBotEndpoint(endpoint);
  const bots: TeamsBot[] = [];
  // The schedules over the same platform and clock (`schedule`; the feed announces their changes).
  const schedules = createSchedules({
    platform: slow.platform,
    schedule: testConfig().schedule,
    clock: lake.clock,
    logger,
  });
  const make = async (platform: Platform = slow.platform) => {
    const made = await createTeamsBot({
      settings,
      platform,
      log,
      store: lake.platform.db,
      clock: lake.clock,
      logger,
      retrainPollMs: 50,
      schedules,
      ...(options.staleAfterMs !== undefined ? { staleAfterMs: options.staleAfterMs } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.readiness ? { readiness: options.readiness } : {}),
    });
    bots.push(made);
    return made;
  };
  const bot = await make();
  if (options.start !== false) await bot.start();
  return {
    lake,
    teams,
    bot,
    log,
    settings,
    endpoint,
    calls: slow.calls,
    schedules,
    logLines,
    audits: () =>
      logLines
        .map((l) => JSON.parse(l) as { audit?: { who: string; what: string; when: string; result: string } })
        .flatMap((l) => (l.audit ? [l.audit] : [])),
    async restart(platform) {
      for (const b of bots) await b.stop();
      const again = await make(platform);
      await again.start();
      return again;
    },
    async install() {
      for (const activity of [
        teams.activities.installedInTeamUpdate(OPS, TEAM),
        teams.activities.installedInTeamInstallation(OPS, TEAM),
      ]) {
        const res = await teams.send(activity);
        if (res.status !== 200) throw new Error(`install: the bot answered ${res.status}`);
      }
    },
    async close() {
      for (const b of bots) await b.stop().catch(() => undefined);
      await teams.close();
      await lake.close();
    },
  };
}
