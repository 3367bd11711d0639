import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { assertReadOnlySql, type SqlDialect } from '../../src/platform/read-only-sql.js';

function refusal(text: string, dialect: SqlDialect = 'databricks'): UserError {
  try {
    assertReadOnlySql(text, dialect);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(2);
    expect((err as UserError).message).toMatch(/Nothing was run\.$/);
    return err as UserError;
  }
  throw new Error(`accepted: ${text}`);
}

describe('read-only SQL check', () => {
  it.each([
    'SELECT 1',
    'select * from workspace.crypto.anomalies where is_anomaly = 1 limit 10;',
    "SELECT 'a; DROP TABLE x' AS s",
    'SELECT \'it\'\'s\', "say \\"hi\\"; DELETE FROM t" -- trailing; comment',
    'SELECT `weird;name` FROM `a`.`b``c`',
    'SELECT 1 /* a comment; with a semicolon */',
    'WITH recent AS (SELECT * FROM anomalies) SELECT count(*) FROM recent',
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3), s AS (SELECT 2) SELECT * FROM r, s',
    '(SELECT 1) UNION ALL (SELECT 2)',
    'VALUES (1, 2), (3, 4)',
    'TABLE workspace.crypto.metrics_gold',
    'SHOW TABLES IN workspace.crypto',
    'DESCRIBE TABLE EXTENDED workspace.crypto.anomalies',
    'DESC HISTORY workspace.crypto.anomalies',
    'EXPLAIN SELECT 1',
    'EXPLAIN FORMATTED WITH a AS (SELECT 1) SELECT * FROM a',
    'SELECT count(*) FROM anomalies WHERE window_end > CAST(:since AS TIMESTAMP)',
  ])('accepts one statement that only reads: %s', (text) => {
    expect(() => assertReadOnlySql(text, 'databricks')).not.toThrow();
  });

  it('answers the statement without its trailing semicolons', () => {
    expect(assertReadOnlySql('  SELECT 1 ;; ', 'databricks')).toBe('SELECT 1');
  });

  it.each([
    ['WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', /starts with INSERT/],
    ['WITH x AS (SELECT 1) DELETE FROM t WHERE a IN (SELECT * FROM x)', /starts with DELETE/],
    ['WITH x AS (SELECT 1) MERGE INTO t USING x ON t.a = x.a WHEN MATCHED THEN DELETE', /starts with MERGE/],
    ['WITH x AS (SELECT 1), y (a) AS (SELECT 2) UPDATE t SET a = 1', /starts with UPDATE/],
    ['WITH x AS (SELECT 1) (INSERT INTO t VALUES (1))', /no statement after the WITH list/],
    ['EXPLAIN ANALYZE SELECT 1', /EXPLAIN ANALYZE/],
    ['explain /* hidden */ analyze select 1', /EXPLAIN ANALYZE/],
    ['EXPLAIN DELETE FROM t', /starts with DELETE/],
    ['SELECT 1; DROP TABLE x', /exactly one statement \(got 2\)/],
    ['SELECT 1 -- harmless\n; DROP TABLE x', /exactly one statement/],
    ['SELECT 1 /* ; */; /* */ DELETE FROM t', /exactly one statement/],
    ["SELECT 'a\\'; DROP TABLE x; --'; DROP TABLE y", /exactly one statement/],
    ["SELECT r'a\\'; DROP TABLE x; --'", /exactly one statement/],
    ['SELECT 1 /* /* */ ; DROP TABLE x -- */', /Nested comments/],
    ['SELECT 1 /* never closed', /never closed/],
    ["SELECT 'never closed", /never closed/],
    ['SELECT `never closed', /never closed/],
    ['DROP TABLE workspace.crypto.anomalies', /starts with DROP/],
    ['INSERT INTO t VALUES (1)', /starts with INSERT/],
    ['CREATE TABLE t AS SELECT 1', /starts with CREATE/],
    ['OPTIMIZE anomalies', /starts with OPTIMIZE/],
    ['ANALYZE TABLE anomalies COMPUTE STATISTICS', /starts with ANALYZE/],
    ['SET spark.sql.ansi.enabled = false', /starts with SET/],
    ['FROM src INSERT INTO t SELECT *', /starts with FROM/],
    ['SELECT * INTO new_table FROM t', /INTO is not allowed/],
    ['', /exactly one statement \(got 0\)/],
    ['-- only a comment', /exactly one statement \(got 0\)/],
    ['WITH x AS (SELECT 1', /never closed/],
  ])('refuses %s', (text, why) => {
    expect(refusal(text).message).toMatch(why);
  });

  it('reads strings the way each engine does', () => {
    // DuckDB has no backslash escapes: this is a string 'a\' and then a second statement.
    expect(refusal("SELECT 'a\\'; DROP TABLE x; --'", 'duckdb').message).toMatch(/exactly one statement/);
    // Spark SQL has them: one string, one statement.
    expect(() => assertReadOnlySql("SELECT 'a\\'; DROP TABLE x; --'", 'databricks')).not.toThrow();
    // DuckDB's E'' strings do take backslash escapes.
    expect(() => assertReadOnlySql("SELECT E'a\\'; b'", 'duckdb')).not.toThrow();
  });

  it('refuses EXPLAIN ANALYZE on DuckDB, where COPY … TO would write a file', () => {
    expect(refusal("EXPLAIN ANALYZE COPY (SELECT 1) TO 'out.csv'", 'duckdb').message).toMatch(
      /EXPLAIN ANALYZE runs the statement/,
    );
    expect(refusal('EXPLAIN (ANALYZE) SELECT 1', 'duckdb').message).toMatch(/EXPLAIN ANALYZE/);
    expect(() => assertReadOnlySql('FROM prices_silver LIMIT 3', 'duckdb')).not.toThrow();
    expect(refusal('FROM prices_silver LIMIT 3', 'databricks').message).toMatch(/starts with FROM/);
  });
});
