import { afterEach, describe, expect, it } from 'vitest';
import { progressReply } from '../../src/chat/retrain.js';
import { followRetrain } from '../../src/jobs/retrain.js';
import { LABEL_PROMOTION_RULE_TEXT } from '../../src/model/label-comparison.js';
import { JOB_NAMES } from '../../src/platform/databricks/resources.js';
import type { LabelComparison } from '../../src/platform/port.js';
import { createJob, type DatabricksHarness, startDatabricksHarness } from '../support/databricks-harness.js';

let h: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// As 03_train_iforest writes it (crypto_risk/labels.py): 12 labelled windows, 5 real.
const labels: LabelComparison = {
  windows: 12,
  real: 5,
  noise: 7,
  candidate: { alerted: 4, precision: 0.75, recall: 0.6, f1: 2 / 3 },
  champion: { version: 1, alerted: 2, precision: 1, recall: 0.4, f1: 4 / 7 },
  rule_applies: true,
  rule: LABEL_PROMOTION_RULE_TEXT,
};

async function retrained(exit: Record<string, unknown> | undefined) {
  h = await startDatabricksHarness();
  await createJob(h, JOB_NAMES.train);
  if (exit) h.trainExit = exit;
  const { run } = await h.platform.pipeline.retrain({ requestedBy: 'U0OPS01' });
  return followRetrain(h.platform, run.id, { pollMs: 20 });
}

describe('Databricks retrain: the labels comparison from the training run output', () => {
  it('reads labels and refused from the exit value, and the reply shows the comparison', async () => {
    const refused = 'Not promoted: on 12 labelled windows (5 real, 7 noise) v2 has F1 0.10 against …';
    const done = await retrained({ model: 'm', version: 1, promoted: true, labels, refused });
    expect(done.state).toBe('succeeded');
    expect(done.result?.labels).toEqual(labels);
    expect(done.result?.refused).toBe(refused);
    const reply = progressReply(done);
    expect(reply.tables?.[1]).toMatchObject({
      title: "On the channel's labels (5 real, 7 noise)",
      rows: [
        ['v1 (new)', '12', '75.0 %', '60.0 %'],
        ['v1 (champion before)', '12', '100.0 %', '40.0 %'],
      ],
    });
    expect(reply.notes ?? []).not.toContainEqual(expect.stringMatching(/No labels compared/));
  });

  it('an exit value without labels (no labels table) or not understood gives the note, not a failure', async () => {
    const bare = await retrained({ model: 'm', version: 1, promoted: true });
    expect(bare.result?.labels).toBeUndefined();
    expect(progressReply(bare).notes).toEqual([
      'No labels compared for this retrain (its training run reported no comparison: the workspace has no labels table yet).',
    ]);
    await h?.close();
    const odd = await retrained({ labels: { windows: 'many' } });
    expect(odd.state).toBe('succeeded');
    expect(odd.result?.labels).toBeUndefined();
  });
});
