import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli-process.js';
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
      await expect(lake.platform.reads.readOnlySql(text, 10), text).rejects.toMatchObject({
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
      (await lake.platform.reads.readOnlySql('WITH x AS (SELECT 41 AS n) SELECT n + 1 AS n FROM x;', 10))
        .rows,
    ).toEqual([{ n: 42 }]);
    expect((await lake.platform.reads.readOnlySql('EXPLAIN SELECT 1', 10)).rows.length).toBeGreaterThan(0);
    expect((await lake.platform.reads.readOnlySql('FROM (SELECT 7 AS n)', 10)).rows).toEqual([{ n: 7 }]);
  });
});

/** Every name under `dir`, recursively, with sizes: what "the file system is unchanged" compares. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !/\.wal$/.test(f))
    .sort();
}

/** Statements that would read or write a file, each with the refusal it must get. */
function fileStatements(dir: string): Array<[string, RegExp]> {
  const q = (name: string) => join(dir, name).replaceAll("'", "''");
  const files = /reaches files or extensions|Only read-only queries/;
  return [
    [`COPY (SELECT 1 AS n) TO '${q('x.csv')}'`, /this is a COPY statement|Only read-only queries/],
    [`EXPLAIN ANALYZE COPY (SELECT 1 AS n) TO '${q('y.csv')}'`, /EXPLAIN ANALYZE runs the statement/],
    [`EXPLAIN COPY (SELECT 1 AS n) TO '${q('z.csv')}'`, /Only read-only queries/],
    [`SELECT * FROM read_text('/etc/hostname')`, files],
    [`SELECT * FROM read_csv('/etc/passwd')`, files],
    [`SELECT * FROM read_json('/etc/hostname')`, files],
    [`SELECT * FROM glob('*')`, files],
    [`FROM read_blob('${q('lakehouse.duckdb')}')`, files],
    [`ATTACH '${q('other.duckdb')}' AS other`, /Only read-only queries/],
    [`INSTALL httpfs`, /Only read-only queries/],
    [`LOAD httpfs`, /Only read-only queries/],
    [`SET enable_external_access = true`, /Only read-only queries/],
    [`PRAGMA database_list`, /Only read-only queries/],
    [`EXPORT DATABASE '${q('exported')}'`, /Only read-only queries/],
    [`CALL pragma_version()`, /Only read-only queries/],
    [`COPY job_runs FROM '/etc/passwd'`, /Only read-only queries/],
  ];
}

describe('local platform: the sql command reaches no file', () => {
  it('in process (Slack and the console): every file statement is refused and nothing changes', async () => {
    lake = await createTestLakehouse();
    const before = snapshot(lake.dir);
    for (const [text, refusal] of fileStatements(lake.dir)) {
      await expect(lake.platform.reads.readOnlySql(text, 10), text).rejects.toMatchObject({
        name: 'UserError',
        exitCode: 2,
        message: expect.stringMatching(refusal),
      });
    }
    expect(snapshot(lake.dir)).toEqual(before);
    // The database still answers, and external access stayed off.
    expect(
      (
        await lake.platform.reads.readOnlySql(
          `SELECT value FROM duckdb_settings() WHERE name = 'enable_external_access'`,
          10,
        )
      ).rows,
    ).toEqual([{ value: 'false' }]);
  });

  it('a file-reading function hidden in a CTE or subquery is refused by DuckDB itself', async () => {
    lake = await createTestLakehouse();
    for (const text of [
      `WITH x AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM x`,
      `SELECT (SELECT count(*) FROM glob('/etc/*')) AS n`,
      `SELECT * FROM 'data.csv'`,
    ]) {
      await expect(lake.platform.reads.readOnlySql(text, 10), text).rejects.toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/reaches files or extensions|failed/),
      });
    }
  });

  it('as the CLI process: refused with a clear message, exit code 2, no file written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crm-sql-'));
    try {
      const env = { DATA_DIR: join(dir, 'data'), MARKET_SOURCE: 'simulator', LOG_LEVEL: 'warn' };
      const warm = spawnCli(['sql', 'SELECT 1 AS n'], env);
      expect((await warm.exited).code, warm.stderr()).toBe(0);
      const before = snapshot(dir);
      for (const [text, refusal] of [
        [`COPY (SELECT 1) TO '${join(dir, 'x.csv')}'`, /Only read-only queries/],
        [`EXPLAIN ANALYZE COPY (SELECT 1) TO '${join(dir, 'y.csv')}'`, /EXPLAIN ANALYZE/],
        [`SELECT * FROM read_text('/etc/hostname')`, /reaches files or extensions/],
      ] as const) {
        const run = spawnCli(['sql', text], env);
        const { code } = await run.exited;
        expect(code, text).toBe(2);
        expect(run.stderr() + run.stdout(), text).toMatch(refusal);
      }
      expect(snapshot(dir)).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
