import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { type CliProcess, spawnCli } from '../support/cli-process.js';
import { startDatabricksEmulator } from '../support/databricks-emulator.js';
import { freePort } from '../support/free-port.js';
import { APP_ID, APP_PASSWORD, TEAM, TENANT, VIEWER } from '../support/teams-bot-harness.js';
import { personalConversationId, startTeamsEmulator } from '../support/teams-emulator.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let slack: LocalSlack | undefined;
let dir: string;
let proc: CliProcess | undefined;
/** The console's port (no Slack credentials): a free one, so test files can run side by side. */
let consolePort: number;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-run-'));
  consolePort = await freePort();
});
afterEach(async () => {
  proc?.child.kill('SIGKILL');
  proc = undefined;
  await slack?.close();
  slack = undefined;
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({
  DATA_DIR: join(dir, 'data'),
  MARKET_SOURCE: 'simulator',
  SIMULATOR_HISTORY_HOURS: '6',
  LOG_LEVEL: 'warn',
  PORT: String(consolePort),
});

async function status() {
  let out = '';
  const code = await runCli(['status', '--json'], {
    env: env(),
    cwd: dir,
    stdout: (t) => {
      out += t;
    },
    stderr: () => {},
  });
  expect(code).toBe(0);
  return JSON.parse(out);
}

describe('crypto-risk run (npm start)', () => {
  it('on empty storage backfills, trains and scores at once, tells what ran, and stops cleanly on SIGINT', async () => {
    proc = spawnCli(['run'], env());
    await proc.waitFor(/^source: market simulator \(seed 42\): SIMULATED data/);
    // without Slack credentials the bot runs on the local console, and says where
    await proc.waitFor(
      new RegExp(`^console: http://127\\.0\\.0\\.1:${consolePort} \\(the local stand-in for Slack`),
    );
    await proc.waitFor(/^\d\d:\d\d:\d\d ingest: [\d,]+ records in 1 file\(s\)/);
    await proc.waitFor(/^\d\d:\d\d:\d\d pipeline: 1 file\(s\), [\d,]+ lines → [\d,]+ Silver rows/);
    await proc.waitFor(
      /^\d\d:\d\d:\d\d train: model v1 \(default features\) on [\d,]+ windows, .*; champion v1$/,
    );
    await proc.waitFor(
      /^\d\d:\d\d:\d\d infer: [\d,]+ windows scored with model v1 \([\d,]+ new, 0 re-scored\), \d+ new anomal/,
    );
    proc.child.kill('SIGINT');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.stdout()).toMatch(/SIGINT: stopping; waiting for the jobs in flight\nStopped cleanly\.\n$/);

    const report = await status();
    expect(report.model.champion.version).toBe(1);
    expect(report.jobs.map((j: { job: string; result: string }) => `${j.job}:${j.result}`)).toEqual([
      'infer:succeeded',
      'ingest:succeeded',
      'pipeline:succeeded',
      'train:succeeded',
    ]);
    const anomalies = report.stages.find((s: { stage: string }) => s.stage === 'anomalies');
    expect(anomalies.rows).toBeGreaterThan(0);

    // a second start carries on: no new model, nothing scored twice
    proc = spawnCli(['run'], env());
    await proc.waitFor(/^\d\d:\d\d:\d\d first round done; the jobs now run on their schedules$/);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(proc.stdout()).not.toMatch(/ train: /);
    const again = await status();
    expect(again.model.versions).toBe(1);
    const rows = again.stages.find((s: { stage: string }) => s.stage === 'anomalies').rows;
    expect(rows).toBeGreaterThanOrEqual(anomalies.rows);
  });

  it('binds the console beyond loopback only when told to, and warns that it has no login', async () => {
    proc = spawnCli(['run'], { ...env(), CONSOLE_HOST: '0.0.0.0' });
    await proc.waitFor(new RegExp(`^console: http://localhost:${consolePort} `));
    await proc.waitFor(
      /^warning: the console has no login and CONSOLE_HOST=0\.0\.0\.0 makes it reachable beyond this machine: whoever reaches it can act as any console user, ops included$/,
    );
    // reachable under any name now (the loopback-only Host check is off)
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: consolePort,
          path: '/console/state',
          headers: { host: `crypto-box.lan:${consolePort}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('runs the simulator demo faster than real time, on the configured schedules', async () => {
    proc = spawnCli(['run'], {
      ...env(),
      SIMULATOR_HISTORY_HOURS: '3',
      SIMULATOR_SPEED: '120',
      SCHEDULE_INGEST: '*/3 * * * * *', // every 3 seconds (a seconds field is allowed)
    });
    await proc.waitFor(
      /^source: market simulator \(seed 42\): SIMULATED data, running 120× faster than real time$/,
    );
    await proc.waitFor(/^\d\d:\d\d:\d\d infer: /);
    // 3 s of wall time are 6 simulated minutes: every scheduled ingest lands a few minutes of ticks
    const ingests = () =>
      proc
        ?.stdout()
        .split('\n')
        .filter((l) => / ingest: [\d,]+ records/.test(l)) ?? [];
    for (let waited = 0; ingests().length < 2 && waited < 20_000; waited += 250) await sleep(250);
    const [first, scheduled] = ingests().map((l) =>
      Number(/ingest: ([\d,]+) records/.exec(l)?.[1]?.replace(/,/g, '')),
    );
    expect(scheduled).toBeGreaterThanOrEqual(5); // five assets, at least one simulated minute each
    expect(first).toBeGreaterThan(scheduled as number); // the first round carried the history
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('with Slack configured, posts the first anomalies to the feed channel and answers /crypto', async () => {
    slack = await startLocalSlack({ signingSecret: 'e2e-secret', botToken: 'xoxb-e2e' });
    const port = await freePort();
    proc = spawnCli(['run'], {
      ...env(),
      SLACK_BOT_TOKEN: 'xoxb-e2e',
      SLACK_SIGNING_SECRET: 'e2e-secret',
      SLACK_API_URL: slack.apiUrl,
      SLACK_FEED_CHANNEL: 'crypto-alerts',
      PORT: String(port),
    });
    await proc.waitFor(new RegExp(`^Slack: requests on http://0.0.0.0:${port}/slack/events`));
    await proc.waitFor(/^\d\d:\d\d:\d\d feed: \d+ message\(s\) with \d+ anomalous window\(s\) posted/);
    const posted = slack
      .channelMessages('C0CRYPTO1')
      .filter((m) => m.metadata?.event_type === 'crypto_anomaly');
    expect(posted.length).toBeGreaterThan(0);
    expect(JSON.stringify(posted[0]?.blocks)).toMatch(/SIMULATED DATA/);
    slack.setBotEventsUrl(`http://127.0.0.1:${port}/slack/events`);
    const ack = await slack.slashCommand({ userId: 'U0VIEW01', channelId: 'C0CRYPTO1', text: 'status' });
    expect(ack.status).toBe(200);
    for (let waited = 0; slack.ephemeral('U0VIEW01').length === 0 && waited < 10_000; waited += 100)
      await sleep(100);
    expect(JSON.stringify(slack.ephemeral('U0VIEW01'))).toMatch(/Pipeline status \(local\)/);
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('with Slack and Teams configured, runs both in one process, each with its own feed', async () => {
    slack = await startLocalSlack({ signingSecret: 'e2e-secret', botToken: 'xoxb-e2e' });
    const teams = await startTeamsEmulator({ appId: APP_ID, appPassword: APP_PASSWORD, tenantId: TENANT });
    try {
      const [port, teamsPort] = [await freePort(), await freePort()];
      proc = spawnCli(['run'], {
        ...env(),
        SLACK_BOT_TOKEN: 'xoxb-e2e',
        SLACK_SIGNING_SECRET: 'e2e-secret',
        SLACK_API_URL: slack.apiUrl,
        PORT: String(port),
        TEAMS_CLIENT_ID: APP_ID,
        TEAMS_CLIENT_SECRET: APP_PASSWORD,
        TEAMS_TENANT_ID: TENANT,
        TEAMS_PORT: String(teamsPort),
        TEAMS_HOST: '127.0.0.1',
        TEAMS_PUBLIC_URL: `https://127.0.0.1:${teamsPort}`,
        TEAMS_LOGIN_URL: teams.loginUrl,
        TEAMS_OPENID_METADATA_URL: teams.openIdMetadataUrl,
        TEAMS_SERVICE_URL: teams.serviceUrl,
        TEAMS_GRAPH_URL: teams.baseUrl,
      });
      await proc.waitFor(new RegExp(`^Slack: requests on http://0.0.0.0:${port}/slack/events`));
      await proc.waitFor(new RegExp(`^teams: messages on http://127\\.0\\.0\\.1:${teamsPort}/api/messages`));
      teams.setBotEndpoint(`http://127.0.0.1:${teamsPort}/api/messages`);
      // Installed in a team: the Teams feed posts there from its next cycle on (every minute).
      expect((await teams.send(teams.activities.installedInTeamUpdate(VIEWER, TEAM))).status).toBe(200);
      await proc.waitFor(/^\d\d:\d\d:\d\d feed: \d+ message\(s\) with \d+ anomalous window\(s\) posted/);
      expect(
        slack.channelMessages('C0CRYPTO1').filter((m) => m.metadata?.event_type === 'crypto_anomaly').length,
      ).toBeGreaterThan(0);
      for (let waited = 0; teams.botMessages(TEAM.id).length === 0 && waited < 90_000; waited += 250)
        await sleep(250);
      const cards = teams.botMessages(TEAM.id);
      expect(cards.length).toBeGreaterThan(0);
      expect(JSON.stringify(cards[0]?.activity)).toMatch(/SIMULATED DATA/);
      // each answers its own people
      expect((await teams.send(teams.activities.personalMessage(VIEWER, 'status'))).status).toBe(200);
      const chat = personalConversationId(APP_ID, VIEWER);
      for (let waited = 0; teams.botMessages(chat).length === 0 && waited < 15_000; waited += 100)
        await sleep(100);
      expect(JSON.stringify(teams.botMessages(chat))).toMatch(/Pipeline status \(local\)/);
      slack.setBotEventsUrl(`http://127.0.0.1:${port}/slack/events`);
      await slack.slashCommand({ userId: 'U0VIEW01', channelId: 'C0CRYPTO1', text: 'status' });
      for (let waited = 0; slack.ephemeral('U0VIEW01').length === 0 && waited < 10_000; waited += 100)
        await sleep(100);
      expect(JSON.stringify(slack.ephemeral('U0VIEW01'))).toMatch(/Pipeline status \(local\)/);
      proc.child.kill('SIGINT');
      expect((await proc.exited).code).toBe(0);
      expect(proc.stdout() + proc.stderr()).not.toContain(APP_PASSWORD);
    } finally {
      await teams.close();
    }
  }, 180_000);

  it('on Databricks, ingests into the volume through the Files API and leaves the rest to the jobs', async () => {
    const api = await startDatabricksEmulator({ warehouses: [{ id: 'abc123def4567890', state: 'STOPPED' }] });
    try {
      api.createVolume('workspace', 'crypto', 'landing');
      proc = spawnCli(['run'], {
        ...env(),
        DATABRICKS_HOST: api.url,
        DATABRICKS_TOKEN: api.token,
        DATABRICKS_WAREHOUSE_ID: 'abc123def4567890',
      });
      await proc.waitFor(
        /^crypto-risk-monitor: Databricks workspace http:\/\/127\.0\.0\.1:\d+ \(workspace\.crypto, warehouse abc123def4567890\)$/,
      );
      await proc.waitFor(/^\d\d:\d\d:\d\d ingest: [\d,]+ records in 1 file/);
      await proc.waitFor(/first round done/);
      expect(proc.stdout()).not.toMatch(/ (pipeline|train|infer): /);
      const uploads = api.callsTo('PUT /api/2.0/fs/files/Volumes/workspace/crypto/landing/landing/');
      expect(uploads).toHaveLength(1);
      expect(api.warehouseStarts('abc123def4567890')).toBe(0);
      proc.child.kill('SIGINT');
      expect((await proc.exited).code).toBe(0);
      expect(proc.stdout()).not.toContain(api.token);
    } finally {
      await api.close();
    }
  });

  it('refuses --now, which has no meaning for a job that follows the clock', async () => {
    let err = '';
    const code = await runCli(['run', '--now', '2025-01-01T00:00:00Z'], {
      env: env(),
      cwd: dir,
      stdout: () => {},
      stderr: (t) => {
        err += t;
      },
    });
    expect(code).toBe(2);
    expect(err).toMatch(/`run` follows the clock/);
  });
});
