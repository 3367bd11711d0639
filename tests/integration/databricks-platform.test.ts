import { afterEach, describe, expect, it } from 'vitest';
import { statusCommand } from '../../src/commands/status.js';
import { runIngest } from '../../src/jobs/ingest.js';
import { followRetrain } from '../../src/jobs/retrain.js';
import { simulatorSource } from '../../src/market/sources.js';
import { JOB_NAMES } from '../../src/platform/databricks/resources.js';
import { createDatabricksRest } from '../../src/platform/databricks/rest.js';
import type { Platform } from '../../src/platform/port.js';
import {
  createJob,
  type DatabricksHarness,
  MODEL,
  seedLakehouse,
  startDatabricksHarness,
  VOLUME_ROOT,
  WAREHOUSE_ID,
} from '../support/databricks-harness.js';
import { testConfig } from '../support/lakehouse.js';
import { until } from '../support/until.js';

let h: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const sqlCount = () => h?.warehouse.statements.length ?? 0;

describe('Databricks platform: reads', () => {
  it('status reads the REST APIs only and never starts a stopped warehouse', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await createJob(h, JOB_NAMES.train);
    await createJob(h, JOB_NAMES.score);
    const report = await h.platform.reads.status(new Date());
    expect(report.platform).toBe('databricks');
    expect(report.databricks).toMatchObject({ warehouse: 'STOPPED', pipeline: null });
    expect(report.databricks?.freshness_note).toMatch(/never starts it/);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
    expect(sqlCount()).toBe(0);
  });

  it('status with no model version says so: what the first training run is doing, else to run train', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await createJob(h, JOB_NAMES.train);
    const champion = async () => {
      const reply = await statusCommand({ platform: h?.platform as Platform, now: new Date() });
      return reply.fields?.find((f) => f.label === 'Champion model')?.value;
    };
    expect((await h.platform.reads.status(new Date())).model).toEqual({
      champion: null,
      versions: 0,
      training_run: null,
    });
    expect(await champion()).toBe('no model yet: run `crypto-risk train`');

    const harness = h;
    let finish: (() => void) | undefined;
    harness.api.onRun(
      () =>
        new Promise((resolve) => {
          finish = () => {
            harness.api.registerModelVersion(MODEL, { alias: 'champion' });
            resolve('SUCCESS');
          };
        }),
    );
    const { run } = await h.platform.pipeline.retrain({ requestedBy: 'provision' });
    await until(() => finish);
    expect((await h.platform.reads.status(new Date())).model.training_run).toMatchObject({ id: run.id });
    expect(await champion()).toMatch(/^no model yet: the first training run is (queued|running)$/);

    finish?.();
    await until(() => harness.api.runs().every((r) => r.life_cycle_state === 'TERMINATED'));
    const report = await h.platform.reads.status(new Date());
    expect(report.model).toMatchObject({ versions: 1, champion: { version: 1 } });
    expect(report.model.training_run).toBeUndefined();
    expect(await champion()).toMatch(/^v1, trained/);
  });

  it('status with no model version after a failed training run says it failed and what to do', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await createJob(h, JOB_NAMES.train);
    h.trainOutcome = 'FAILED';
    const { run } = await h.platform.pipeline.retrain({ requestedBy: 'U0OPS01' });
    await followRetrain(h.platform, run.id, { pollMs: 20 });
    const reply = await statusCommand({ platform: h.platform, now: new Date() });
    expect(reply.fields?.find((f) => f.label === 'Champion model')?.value).toMatch(
      /^no model yet: the last training run failed \(FAILED: .*\); run `crypto-risk train`$/,
    );
  });

  it('top starts a stopped warehouse, waits for it, and answers from it with named parameters', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    const now = new Date();
    await seedLakehouse(h.warehouse, now);
    expect(await h.platform.reads.readiness()).toEqual({ ready: false, state: 'STOPPED' });
    await h.platform.reads.ensureReady();
    const top = await h.platform.reads.topAnomalies({
      limit: 5,
      since: new Date(now.getTime() - 86_400_000),
      until: now,
    });
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(1);
    expect(top.scored_windows).toBe(576);
    expect(top.windows.length).toBeGreaterThan(0);
    expect(top.leaderboard.map((r) => r.asset).sort()).toEqual(['bitcoin', 'ethereum']);
    const statement = h.warehouse.statements.find((s) => s.sql.includes('FROM anomalies AS a'));
    expect(statement?.sql).toContain(':since');
    expect(Object.keys(statement?.params ?? {}).sort()).toEqual(['asset', 'since', 'until']);
    expect(h.warehouse.sessions.opened).toBe(1); // one session, reused
    expect(h.warehouse.sessions.namespaces[0]).toEqual({ catalog: 'workspace', schema: 'crypto' });
    expect(h.warehouse.sessions.configurations[0]).toMatchObject({ STATEMENT_TIMEOUT: '60' });
  });

  it('a query error reaches the caller as a sentence', async () => {
    h = await startDatabricksHarness({ warehouseState: 'RUNNING' });
    h.warehouse.fault({
      kind: 'sql_error',
      message: '[TABLE_OR_VIEW_NOT_FOUND] The table or view `anomalies` cannot be found.',
    });
    await expect(h.platform.reads.assets()).rejects.toThrow(
      /The SQL warehouse could not run the query: .*TABLE_OR_VIEW_NOT_FOUND/,
    );
  });
});

describe('Databricks platform: operations', () => {
  it('retrain: run-now with an idempotency token, progress from runs/get, the new champion at the end', async () => {
    h = await startDatabricksHarness();
    await createJob(h, JOB_NAMES.train);
    const { run, started } = await h.platform.pipeline.retrain({ requestedBy: 'U0OPS01' });
    expect(started).toBe(true);
    const again = await h.platform.pipeline.retrain({ requestedBy: 'U0OPS02' });
    expect(again).toMatchObject({ started: false, run: { id: run.id } }); // the running one
    const states: string[] = [];
    const done = await followRetrain(h.platform, run.id, {
      pollMs: 20,
      onChange: (r) => void states.push(r.state),
    });
    expect(done.state).toBe('succeeded');
    expect(states.at(-1)).toBe('succeeded');
    expect(done.result?.version).toMatchObject({ version: 1, aliases: ['champion'], feature_set: 'default' });
    expect(done.result?.version.metrics.holdout_flagged_share).toBe(0.025);
    const runNow = h.api.callsTo('POST /api/2.2/jobs/run-now');
    expect(runNow).toHaveLength(1);
    expect((runNow[0]?.body as { idempotency_token?: string } | undefined)?.idempotency_token).toMatch(
      /^[0-9a-f-]{36}$/,
    );
  });

  it('train waits for its run up to a deadline, then says it goes on in the workspace', async () => {
    h = await startDatabricksHarness();
    await createJob(h, JOB_NAMES.train);
    h.trainOutcome = 'RUNNING';
    const platform = h.newPlatform({ trainTimeoutMs: 300, pollMs: 20 });
    const started = Date.now();
    await expect(platform.pipeline.train({ now: new Date() })).rejects.toThrow(
      /The training run \d+ has not finished after 300 ms; it goes on in the crypto-risk-train job/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // One run started, and it is still running: nothing cancelled it, nothing started another.
    expect(h.api.callsTo('POST /api/2.2/jobs/run-now')).toHaveLength(1);
    expect(h.api.runs().filter((r) => r.life_cycle_state === 'RUNNING')).toHaveLength(1);
  });

  it('retrain: a failed run ends as failed with the reason', async () => {
    h = await startDatabricksHarness();
    await createJob(h, JOB_NAMES.train);
    h.trainOutcome = 'FAILED';
    const { run } = await h.platform.pipeline.retrain({ requestedBy: 'U0OPS01' });
    const done = await followRetrain(h.platform, run.id, { pollMs: 20 });
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/FAILED/);
  });

  it("the feed reads each scoring run's feed file (runs/get-output, then the Files API): no SQL, no warehouse start", async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await h.platform.deployment.provision(true);
    const outputs = () => h?.api.callsTo('GET /api/2.2/jobs/runs/get-output').length ?? 0;
    const feedReads = () =>
      h?.api.calls.filter((c) => c.method === 'GET' && c.path.includes('/landing/feed/')).length ?? 0;
    expect(await h.platform.reads.scoredSince(null, 100)).toEqual([]);

    await h.runScoreJob();
    const rows = await h.platform.reads.scoredSince(null, 100);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.asset === 'bitcoin' && r.is_anomaly && r.model_version === 1)).toBe(true);
    expect(new Set(rows.map((r) => r.scored_at)).size).toBe(1);
    expect([outputs(), feedReads()]).toEqual([1, 1]);

    // The same run is not read again, and nothing is scored after the cursor.
    const cursor = rows.at(-1)?.scored_at ?? null;
    expect(await h.platform.reads.scoredSince(cursor, 100)).toEqual([]);
    expect([outputs(), feedReads()]).toEqual([1, 1]);

    // A run without anomalies publishes no feed file: its exit value says so.
    h.anomalous = () => false;
    await h.runScoreJob();
    expect(await h.platform.reads.scoredSince(cursor, 100)).toEqual([]);
    expect([outputs(), feedReads()]).toEqual([2, 1]);

    // A restarted bot (no memory) with the cursor: nothing again; without it, the first run's windows.
    const restarted = h.newPlatform();
    expect(await restarted.reads.scoredSince(cursor, 100)).toEqual([]);
    expect((await h.newPlatform().reads.scoredSince(null, 100)).map((r) => r.window_end)).toEqual(
      rows.map((r) => r.window_end),
    );
    expect(sqlCount()).toBe(0);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
  });

  it('a run that could not be read is read at the next check, and a steady feed lists runs once a check', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await h.platform.deployment.provision(true);
    await h.runScoreJob();
    const resets = Array.from({ length: 5 }, () => ({ kind: 'reset' as const }));
    h.api.fault('GET /api/2.2/jobs/runs/get-output', ...resets);
    await expect(h.platform.reads.scoredSince(null, 100)).rejects.toThrow();
    const rows = await h.platform.reads.scoredSince(null, 100);
    expect(rows.length).toBeGreaterThan(0);

    const lists = () => h?.api.callsTo('GET /api/2.2/jobs/runs/list').length ?? 0;
    const before = lists();
    for (let i = 0; i < 3; i++) await h.platform.reads.scoredSince(rows.at(-1)?.scored_at ?? null, 100);
    expect(lists() - before).toBe(3);
  });

  it('a feed file that is not what the notebook writes is refused and logged, never posted', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await h.platform.deployment.provision(true);
    await h.runScoreJob();
    const listing = (await (
      await fetch(`${h.api.url}/api/2.0/fs/directories${VOLUME_ROOT}/feed`, {
        headers: { authorization: `Bearer ${h.api.token}` },
      })
    ).json()) as { contents?: Array<{ path: string }> };
    const path = listing.contents?.[0]?.path as string;
    const file = JSON.parse(String(h.api.volumeFile(path)));
    file.windows[0].anomaly_score = 'very low';
    h.api.writeVolumeFile(path, Buffer.from(JSON.stringify(file)));
    expect(await h.platform.reads.scoredSince(null, 100)).toEqual([]);
    expect(h.logs.join('')).toMatch(/windows\.0\.anomaly_score[^\n]*the feed file was refused/);
  });

  it('ingest lands JSONL batches in the volume with the Files API, and keeps source state there', async () => {
    h = await startDatabricksHarness();
    h.api.createVolume('workspace', 'crypto', 'landing');
    const config = testConfig({ SIMULATOR_HISTORY_HOURS: '1' });
    const source = simulatorSource({
      state: h.platform.pipeline.state,
      assets: ['bitcoin'],
      simulator: config.market.simulator,
    });
    const clock = { now: () => new Date('2025-03-01T12:00:00Z') };
    const result = await runIngest({ platform: h.platform, clock, logger: h.logger, source });
    expect(result.records).toBe(61);
    const file = h.api.volumeFile(`/Volumes/workspace/crypto/landing/landing/${result.batches[0]?.file}`);
    const lines = file?.toString('utf8').trim().split('\n') ?? [];
    expect(lines).toHaveLength(61);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ id: 'bitcoin', ingest_source: 'simulator' });
    expect(
      h.api.volumeFile('/Volumes/workspace/crypto/landing/_state/simulator.42.60.bitcoin.json'),
    ).toBeDefined();
  });
});

describe('Databricks REST client', () => {
  it('gets an OAuth token for the service principal once, and never logs a secret', async () => {
    h = await startDatabricksHarness({ auth: 'oauth' });
    await createJob(h, JOB_NAMES.train);
    for (let i = 0; i < 3; i++) await h.platform.pipeline.models();
    expect(h.api.oauthTokensIssued()).toBe(1);
    h.api.expireOAuthTokens();
    await h.platform.pipeline.models();
    expect(h.api.oauthTokensIssued()).toBe(2);
    const text = h.logs.join('');
    expect(text).not.toContain(h.api.clientSecret);
    expect(text).not.toContain(h.api.token);
  });

  it('retries 429 (Retry-After) and 503; does not repeat a non-idempotent POST after a reset', async () => {
    h = await startDatabricksHarness();
    const rest = createDatabricksRest({ settings: h.settings, logger: h.logger, retryBaseDelayMs: 10 });
    h.api.fault(
      'GET /api/2.2/jobs/list',
      { kind: 'status', status: 429, retryAfter: 1 },
      { kind: 'status', status: 503 },
    );
    const started = Date.now();
    await rest.get('/api/2.2/jobs/list', {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(h.api.callsTo('GET /api/2.2/jobs/list')).toHaveLength(3);

    h.api.fault('POST /api/2.2/jobs/create', { kind: 'reset' });
    await expect(rest.post('/api/2.2/jobs/create', { name: 'x', tasks: [] })).rejects.toThrow(
      /could not be reached|socket hang up|ECONNRESET/,
    );
    expect(h.api.callsTo('POST /api/2.2/jobs/create')).toHaveLength(1);

    h.api.fault('POST /api/2.2/jobs/create', { kind: 'status', status: 429 });
    await rest.post('/api/2.2/jobs/create', { name: 'y', tasks: [] });
    expect(h.api.jobs().map((j) => j.settings.name)).toEqual(['y']); // the 429 was not processed; the retry was
  });

  it('maps errors to sentences: a refused token, a missing object', async () => {
    h = await startDatabricksHarness();
    const refused = createDatabricksRest({
      settings: { ...h.settings, auth: { kind: 'token', token: 'dapi-wrong' } },
      logger: h.logger,
    });
    await expect(refused.get('/api/2.2/jobs/list')).rejects.toThrow(
      /refused the credentials: check DATABRICKS_TOKEN/,
    );
    await expect(h.platform.pipeline.retrainRun('424242')).resolves.toBeUndefined();
    await expect(h.platform.pipeline.retrain({ requestedBy: 'U1' })).rejects.toThrow(
      /crypto-risk-train does not exist: run `crypto-risk provision --apply`/,
    );
  });
});
