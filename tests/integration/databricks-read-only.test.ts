import { afterEach, describe, expect, it } from 'vitest';
import { followRetrain } from '../../src/jobs/retrain.js';
import { JOB_NAMES } from '../../src/platform/databricks/resources.js';
import { VERSIONS_PAGE } from '../support/databricks/models.js';
import {
  createJob,
  type DatabricksHarness,
  MODEL,
  startDatabricksHarness,
  WAREHOUSE_ID,
} from '../support/databricks-harness.js';

let h: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** `count` model versions as training jobs register them; `champion` carries the alias. */
function registerVersions(harness: DatabricksHarness, count: number, champion: number): void {
  for (let n = 1; n <= count; n++) {
    harness.api.registerModelVersion(MODEL, {
      params: { feature_set: 'default', trees: '200', contamination: '0.02', seed: String(n) },
      metrics: { rows: 1000 + n },
      ...(n === champion ? { alias: 'champion' } : {}),
    });
  }
}

describe('Databricks platform: the sql command stays read-only', () => {
  it('refuses a statement that could write before any SQL reaches the warehouse', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    for (const text of [
      'WITH x AS (SELECT 1) INSERT INTO anomalies SELECT * FROM x',
      'SELECT 1; DROP TABLE anomalies',
      'SELECT 1 /* ; */; DELETE FROM anomalies',
      'EXPLAIN ANALYZE SELECT 1',
      "SELECT 'a\\'; DROP TABLE x; --'; DROP TABLE anomalies",
    ]) {
      await expect(h.platform.reads.readOnlySql(text, 10), text).rejects.toMatchObject({
        name: 'UserError',
        exitCode: 2,
        message: expect.stringMatching(/Nothing was run\.$/),
      });
    }
    expect(h.warehouse.statements).toHaveLength(0);
    expect(h.warehouse.sessions.opened).toBe(0);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
  });

  it('runs one read-only statement', async () => {
    h = await startDatabricksHarness({ warehouseState: 'RUNNING' });
    const result = await h.platform.reads.readOnlySql(
      'WITH x AS (SELECT 41 AS n) SELECT n + 1 AS n FROM x;',
      10,
    );
    expect(result.rows).toEqual([{ n: 42 }]);
    expect(h.warehouse.statements.map((s) => s.sql)).toContain(
      'WITH x AS (SELECT 41 AS n) SELECT n + 1 AS n FROM x',
    );
  });
});

describe('Databricks platform: model versions at any count', () => {
  it('status reads every page and finds the latest and the champion with at most 2 runs/get calls', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await createJob(h, JOB_NAMES.train);
    await createJob(h, JOB_NAMES.score);
    registerVersions(h, 120, 37);
    const report = await h.platform.reads.status(new Date());
    expect(report.model.versions).toBe(120);
    expect(report.model.champion).toMatchObject({
      version: 37,
      aliases: ['champion'],
      training: { rows: 1037 },
    });
    expect(h.api.callsTo('GET /api/2.0/mlflow/runs/get').length).toBeLessThanOrEqual(2);
    // The emulator pages at VERSIONS_PAGE, so all of them were read across pages.
    const pages = h.api.callsTo(`GET /api/2.1/unity-catalog/models/${MODEL}/versions$`);
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(120 / VERSIONS_PAGE));
  });

  it('models lists all versions newest first, whatever order the API answers in', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    registerVersions(h, 120, 37);
    const report = await h.platform.pipeline.models();
    expect(report.champion).toBe(37);
    expect(report.versions.map((v) => v.version)).toEqual(Array.from({ length: 120 }, (_, i) => 120 - i));
    expect(report.versions[0]?.training.rows).toBe(1120);
  });

  it('a finished retrain reports the new latest version and the previous champion with at most 2 runs/get calls', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    await createJob(h, JOB_NAMES.train);
    registerVersions(h, 120, 37);
    const { run } = await h.platform.pipeline.retrain({ requestedBy: 'U0OPS01' });
    const done = await followRetrain(h.platform, run.id, { pollMs: 20 });
    expect(done.state).toBe('succeeded');
    expect(done.result?.version).toMatchObject({ version: 121, aliases: ['champion'] });
    expect(done.result?.previous_champion?.version).toBe(37);
    expect(done.result?.promoted).toBe(true);
    const before = h.api.callsTo('GET /api/2.0/mlflow/runs/get').length;
    const again = await h.platform.pipeline.retrainRun(run.id);
    expect(again?.result?.version.version).toBe(121);
    expect(h.api.callsTo('GET /api/2.0/mlflow/runs/get').length - before).toBeLessThanOrEqual(2);
  });
});
