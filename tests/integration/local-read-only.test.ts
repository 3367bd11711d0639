import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestLakehouse, type TestLakehouse } from '../support/lakehouse.js';

let lake: TestLakehouse | undefined;
afterEach(async () => {
  await lake?.close();
  lake = undefined;
});

describe('local platform: the sql command stays read-only', () => {
  it('refuses EXPLAIN ANALYZE, which would run a COPY … TO and write a file', async () => {
    lake = await createTestLakehouse();
    const out = join(lake.dir, 'out.csv').replaceAll("'", "''");
    for (const text of [
      `EXPLAIN ANALYZE COPY (SELECT 1 AS n) TO '${out}'`,
      `explain /* a comment */ analyze COPY (SELECT 1 AS n) TO '${out}'`,
    ]) {
      await expect(lake.platform.readOnlySql(text, 10), text).rejects.toMatchObject({
        name: 'UserError',
        exitCode: 2,
        message: expect.stringMatching(/EXPLAIN ANALYZE runs the statement/),
      });
    }
    expect(existsSync(join(lake.dir, 'out.csv'))).toBe(false);
  });

  it('still answers read-only queries, EXPLAIN and DuckDB forms among them', async () => {
    lake = await createTestLakehouse();
    expect(
      (await lake.platform.readOnlySql('WITH x AS (SELECT 41 AS n) SELECT n + 1 AS n FROM x;', 10)).rows,
    ).toEqual([{ n: 42 }]);
    expect((await lake.platform.readOnlySql('EXPLAIN SELECT 1', 10)).rows.length).toBeGreaterThan(0);
    expect((await lake.platform.readOnlySql('FROM (SELECT 7 AS n)', 10)).rows).toEqual([{ n: 7 }]);
  });
});
