import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTestLakehouse } from '../support/lakehouse.js';
import { type ModelState, modelRun, render, runSpec, runTime } from '../support/silver-model.js';

/**
 * Random landing files, good and hostile lines mixed, several files per run and several runs, through
 * the real local pipeline: it never throws nor holds a file back, every object line gets exactly one
 * Silver verdict, and the verdicts and the kept rows are those of an independent model of the rules
 * (tests/support/silver-model.ts).
 */
describe('local pipeline, property: random hostile input reconciles', () => {
  it('never throws; Silver rows_in = kept + each drop reason; the kept rows are the model’s', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(runSpec, { minLength: 1, maxLength: 3 }), async (runs) => {
        const lake = await createTestLakehouse(runTime(0).toISOString());
        try {
          const state: ModelState = { maxEvent: null, keys: new Set() };
          for (const [r, files] of runs.entries()) {
            const now = runTime(r);
            lake.setNow(now.toISOString());
            const texts = files.map((lines) => lines.map((l) => render(l, now)));
            for (const lines of texts) await lake.landRaw(lines);
            const want = modelRun(texts, now, state);
            const run = await lake.platform.engine.runPipeline();
            expect(run.failed).toBeUndefined();
            expect(run.files).toBe(files.length);
            expect(run.bronze).toMatchObject({ rows_in: want.lines, rescued: want.rescued });
            const s = run.silver;
            expect(s.rows_in).toBe(
              s.rows_out +
                s.dropped_missing +
                s.dropped_bounds +
                s.dropped_future +
                s.dropped_late +
                s.dropped_duplicate,
            );
            expect(s).toMatchObject({
              rows_in: want.rows_in,
              rows_out: want.ok,
              dropped_missing: want.missing,
              dropped_bounds: want.bounds,
              dropped_future: want.future,
              dropped_late: want.late,
              dropped_duplicate: want.duplicate,
            });
          }
          const keys = await lake.table<{ event_key: string }>(
            'SELECT event_key FROM prices_silver ORDER BY 1',
          );
          expect(keys.map((k) => k.event_key).sort()).toEqual([...state.keys].sort());
          // nothing out of bounds reached an aggregate
          const [worst] = await lake.table<{ n: number }>(
            'SELECT count(*)::INTEGER AS n FROM metrics_gold WHERE NOT (price_max < 1e9 AND price_min > 0)',
          );
          expect(worst?.n).toBe(0);
        } finally {
          await lake.close();
        }
      }),
      { numRuns: 25, seed: 20250107 },
    );
  }, 60_000);
});
