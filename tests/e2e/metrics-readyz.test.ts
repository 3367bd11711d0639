import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { type CliProcess, spawnCli } from '../support/cli-process.js';
import { startDatabricksEmulator } from '../support/databricks-emulator.js';
import { freePort } from '../support/free-port.js';
import { until } from '../support/until.js';

/**
 * `run` as a process: its Prometheus metrics after a scripted run (the counts of what happened,
 * and the text format as Prometheus' own parser reads it), and `/readyz` turning not ready when the
 * platform or the chat API stops answering, and ready again.
 */

let slack: LocalSlack | undefined;
let dir: string;
let proc: CliProcess | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-metrics-'));
});
afterEach(async () => {
  proc?.child.kill('SIGKILL');
  proc = undefined;
  await slack?.close();
  slack = undefined;
  await rm(dir, { recursive: true, force: true });
});

const CHANNEL = 'C0CRYPTO1';
const env = (port: number, metricsPort: number) => ({
  DATA_DIR: join(dir, 'data'),
  MARKET_SOURCE: 'simulator',
  SIMULATOR_HISTORY_HOURS: '6',
  LOG_LEVEL: 'warn',
  SLACK_BOT_TOKEN: 'xoxb-e2e',
  SLACK_SIGNING_SECRET: 'e2e-secret',
  SLACK_FEED_CHANNEL: 'crypto-alerts',
  PORT: String(port),
  METRICS_PORT: String(metricsPort),
});

/** The value of one sample: `name{labels}` exactly as the text format writes it (labels in order). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The sum of a metric's samples whose labels include all of `labels`. */
function total(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const set = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('metrics (METRICS_PORT)', () => {
  it('count what a run did: jobs, drops, feed posts, command acks, Slack calls; Prometheus parses them', async () => {
    slack = await startLocalSlack({ signingSecret: 'e2e-secret', botToken: 'xoxb-e2e' });
    const [port, metricsPort] = [await freePort(), await freePort()];
    // A day of simulated history: its records include some the pipeline drops (late, duplicate).
    proc = spawnCli(['run'], {
      ...env(port, metricsPort),
      SIMULATOR_HISTORY_HOURS: '24',
      SLACK_API_URL: slack.apiUrl,
    });
    await proc.waitFor(new RegExp(`^metrics: http://127\\.0\\.0\\.1:${metricsPort}/metrics$`));
    const pipelineLine = await proc.waitFor(/^\d\d:\d\d:\d\d pipeline: .* \(([\d,]+) dropped/);
    const feedLine = await proc.waitFor(/^\d\d:\d\d:\d\d feed: \d+ message\(s\) with/);
    await proc.waitFor(/first round done/);
    slack.setBotEventsUrl(`http://127.0.0.1:${port}/slack/events`);
    const ack = await slack.slashCommand({ userId: 'U0VIEW01', channelId: CHANNEL, text: 'status' });
    expect(ack.status).toBe(200);

    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    // A job run of each job of the first round, none failed.
    for (const job of ['ingest', 'pipeline', 'train', 'infer', 'feed'])
      expect(sample(text, `crypto_risk_job_runs_total{job="${job}",result="succeeded"}`), job).toBe(1);
    expect(total(text, 'crypto_risk_job_runs_total', { result: 'failed' })).toBe(0);
    expect(sample(text, 'crypto_risk_job_duration_seconds_count{job="pipeline"}')).toBe(1);
    // The records the pipeline dropped, by stage and reason, add up to what its line said.
    const dropped = Number((/\(([\d,]+) dropped/.exec(pipelineLine)?.[1] ?? '').replace(/,/g, ''));
    expect(dropped).toBeGreaterThan(0);
    expect(total(text, 'crypto_risk_pipeline_rows_dropped_total', { stage: 'silver' })).toBe(dropped);
    expect(
      total(text, 'crypto_risk_pipeline_rows_total', { stage: 'gold', direction: 'out' }),
    ).toBeGreaterThan(0);
    // The feed's posts: as many as its line said, and as Slack holds.
    const posted = Number(/feed: (\d+) message/.exec(feedLine)?.[1]);
    expect(posted).toBeGreaterThan(0);
    expect(sample(text, 'crypto_risk_feed_messages_total{surface="slack",outcome="posted"}')).toBe(posted);
    // The slash command's acknowledgement, under its command's name (never the text typed).
    expect(sample(text, 'crypto_risk_command_ack_seconds_count{surface="slack",command="status"}')).toBe(1);
    // Web API calls by method, with their latency.
    expect(
      total(text, 'crypto_risk_api_requests_total', { service: 'slack', endpoint: '/api/chat.postMessage' }),
    ).toBeGreaterThanOrEqual(posted);
    expect(
      total(text, 'crypto_risk_api_request_duration_seconds_count', { service: 'slack' }),
    ).toBeGreaterThan(0);
    expect(sample(text, 'crypto_risk_champion_model_version')).toBe(1);
    // The process's own metrics.
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).not.toContain('xoxb-e2e');
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);

    if (!promtool) {
      console.warn('promtool is not installed (Debian package prometheus): the text format was not linted');
      return;
    }
    // Prometheus' own parser and linter (`promtool check metrics`): the text parses, and every one
    // of the product's metrics follows the naming conventions. prom-client's default metrics have
    // lint findings of their own (gauges named *_total, such as nodejs_active_handles_total).
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect([0, 3]).toContain(lint.status);
    const findings = `${lint.stdout}${lint.stderr}`.split('\n').filter(Boolean);
    expect(findings.filter((f) => !/^nodejs_\w+ /.test(f))).toEqual([]);
  });
});

describe('/readyz', () => {
  it('in console mode answers on the console port, relaying the bot behind it', async () => {
    const port = await freePort();
    const { SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, ...consoleEnv } = env(port, await freePort());
    proc = spawnCli(['run'], consoleEnv);
    await proc.waitFor(/first round done/);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { storage: 'ok', platform: 'ok', jobs: 'ok', 'slack auth': 'ok' },
    });
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('turns not ready, naming the check, when Databricks or Slack stops answering; ready again after', async () => {
    const api = await startDatabricksEmulator({ warehouses: [{ id: 'abc123def4567890', state: 'STOPPED' }] });
    slack = await startLocalSlack({ signingSecret: 'e2e-secret', botToken: 'xoxb-e2e' });
    try {
      api.createVolume('workspace', 'crypto', 'landing');
      const port = await freePort();
      proc = spawnCli(['run'], {
        ...env(port, await freePort()),
        SLACK_API_URL: slack.apiUrl,
        DATABRICKS_HOST: api.url,
        DATABRICKS_TOKEN: api.token,
        DATABRICKS_WAREHOUSE_ID: 'abc123def4567890',
      });
      await proc.waitFor(/first round done/);
      const readyz = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const healthz = async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
      expect(await readyz()).toEqual({
        status: 200,
        body: { status: 'ready', checks: { storage: 'ok', platform: 'ok', jobs: 'ok', 'slack auth': 'ok' } },
      });

      // The workspace stops answering: every call's connection is dropped.
      api.fault(
        'GET /api/2.0/sql/warehouses',
        ...Array.from({ length: 500 }, () => ({ kind: 'reset' as const })),
      );
      const down = await until(async () => {
        const r = await readyz();
        return r.status === 503 ? r : undefined;
      }, 30_000);
      expect(down.body).toMatchObject({ status: 'not ready', failing: ['platform'] });
      expect(String((down.body.checks as Record<string, string>).platform)).toMatch(
        /databricks platform does not answer|no answer within/,
      );
      expect(await healthz()).toBe(200);
      api.clearFaults();
      await until(async () => {
        const r = await readyz();
        return r.status === 200 ? r : undefined;
      }, 30_000);

      // Slack refuses or fails auth.test: the bot token's check fails.
      slack.fault(
        'auth.test',
        ...Array.from({ length: 500 }, () => ({ kind: 'http' as const, status: 503 })),
      );
      const noSlack = await until(async () => {
        const r = await readyz();
        return r.status === 503 ? r : undefined;
      }, 30_000);
      expect(noSlack.body).toMatchObject({ failing: ['slack auth'] });
      slack.clearFaults();
      const back = await until(async () => {
        const r = await readyz();
        return r.status === 200 ? r : undefined;
      }, 30_000);
      expect(back.body).toMatchObject({ status: 'ready' });
      expect(JSON.stringify(down.body) + JSON.stringify(noSlack.body)).not.toContain(api.token);
      proc.child.kill('SIGINT');
      expect((await proc.exited).code).toBe(0);
    } finally {
      await api.close();
    }
  });
});
