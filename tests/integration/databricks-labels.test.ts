import { afterEach, describe, expect, it } from 'vitest';
import type { Label } from '../../src/domain/labels.js';
import { createLocalLabels } from '../../src/platform/local/labels.js';
import {
  type DatabricksHarness,
  seedLakehouse,
  startDatabricksHarness,
  WAREHOUSE_ID,
} from '../support/databricks-harness.js';

// The channel's labels on Databricks: a click is a JSONL file in the volume's labels/ folder (Files
// API, no warehouse), the pipeline's `labels` table keeps each person's latest label of a window
// (databricks/notebooks/02_dlt_pipeline.py, tested on Spark in databricks/spark/test_pipeline.py),
// and the counts and precision are read back by SQL only while the warehouse runs.

let h: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const LABELS = '/Volumes/workspace/crypto/landing/labels/';

/** The labels files recordLabels wrote, in the order written (the Files API PUTs the emulator saw). */
function labelFiles(harness: DatabricksHarness): Label[][] {
  return harness.api
    .callsTo(`PUT /api/2.0/fs/files${LABELS}`)
    .filter((c) => c.status === 204 || c.status === 200)
    .map((c) => {
      const text = harness.api.volumeFile(c.path.slice('/api/2.0/fs/files'.length))?.toString('utf8') ?? '';
      return text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Label);
    });
}

function window5(now: Date, back: number): string {
  return new Date(Math.floor(now.getTime() / 300_000) * 300_000 - back * 300_000).toISOString();
}

describe('Databricks platform: labels from the channel', () => {
  it('a click is a file in the volume; with the warehouse stopped nothing is read and it is not started', async () => {
    h = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    h.api.createVolume('workspace', 'crypto', 'landing');
    const label: Label = {
      asset: 'bitcoin',
      window_end: '2025-03-01T00:10:00.000Z',
      user: 'U1',
      label: 'real',
      model_version: 1,
      labelled_at: '2025-03-01T00:12:00.000Z',
    };
    await h.platform.pipeline.recordLabels([label]);
    expect(labelFiles(h)).toEqual([[label]]);
    expect(h.api.callsTo(`PUT /api/2.0/fs/files${LABELS}`)[0]?.path).toMatch(/\.jsonl$/);

    const windows = [{ asset: 'bitcoin', window_end: label.window_end }];
    expect(await h.platform.reads.labelCounts?.(windows)).toBeUndefined();
    expect(await h.platform.reads.labelPrecision?.()).toBeUndefined();
    expect(h.warehouse.statements).toEqual([]);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
  });

  it('provisioning creates the labels folder the pipeline reads (it must exist before the first click)', async () => {
    h = await startDatabricksHarness();
    const folder = LABELS.slice(0, -1);
    const plan = await h.platform.deployment.provision(false);
    expect(plan.items).toContainEqual({ kind: 'folder', name: folder, action: 'create' });
    await h.platform.deployment.provision(true);
    const again = await h.platform.deployment.provision(true);
    expect(again.items).toContainEqual({ kind: 'folder', name: folder, action: 'unchanged' });
    expect(h.api.callsTo(`PUT /api/2.0/fs/directories${folder}$`)).toHaveLength(1);
  });

  it('with the warehouse running, counts and precision come from the labels table by SQL', async () => {
    h = await startDatabricksHarness({ warehouseState: 'RUNNING' });
    h.api.createVolume('workspace', 'crypto', 'landing');
    const now = new Date();
    await seedLakehouse(h.warehouse, now);
    const btc = window5(now, 0);
    const eth = window5(now, 1);
    const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
    const click = (asset: string, window_end: string, user: string, label: Label['label'], m: number) =>
      h?.platform.pipeline.recordLabels([
        { asset, window_end, user, label, model_version: 1, labelled_at: at(m) },
      ]);
    await click('bitcoin', btc, 'U1', 'real', 1);
    await click('bitcoin', btc, 'U2', 'real', 2);
    await click('bitcoin', btc, 'U1', 'noise', 3); // U1 changes their mind
    await click('ethereum', eth, 'U3', 'noise', 4);
    await click('bitcoin', window5(now, -100), 'U4', 'real', 5); // a window never scored

    // What the pipeline does with the files (latest label per person and window), into the table.
    const files = labelFiles(h);
    expect(files).toHaveLength(5);
    const table = createLocalLabels(h.warehouse.db);
    for (const file of files) await table.record(file);
    const before = h.warehouse.statements.length;

    expect(await h.platform.reads.labelCounts?.([{ asset: 'bitcoin', window_end: btc }])).toEqual({
      real: 1,
      noise: 1,
      people: 2,
    });
    expect(
      await h.platform.reads.labelCounts?.([
        { asset: 'bitcoin', window_end: btc },
        { asset: 'ethereum', window_end: eth },
      ]),
    ).toEqual({ real: 1, noise: 2, people: 3 });
    expect(await h.platform.reads.labelCounts?.([{ asset: 'solana', window_end: btc }])).toEqual({
      real: 0,
      noise: 0,
      people: 0,
    });
    expect(await h.platform.reads.labelPrecision?.()).toEqual([
      { model_version: 1, windows: 2, real: 1, noise: 2, precision: 1 / 3 },
    ]);
    const statements = h.warehouse.statements.slice(before).map((s) => s.sql);
    expect(statements.filter((s) => s.includes('FROM labels AS l'))).toHaveLength(4);
    expect(h.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
  });
});
