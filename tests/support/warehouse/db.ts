import {
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBValue,
  listValue,
  StatementType,
} from '@duckdb/node-api';
import type { Db, Params, Queries, Row, SqlValue } from '../../../src/platform/local/db.js';
import { toDuckDbParams } from '../../../src/sql-files.js';

/**
 * The `Db` interface of `src/platform/local/db.ts` over one connection to the warehouse's DuckDB
 * instance (which `openDb` cannot share), so tests seed the warehouse the way the product writes
 * its local database: `:name` parameters, rows as plain objects (timestamps as ISO strings).
 * `close()` closes this connection only; the warehouse's `close()` closes the instance.
 */
export function connectionDb(conn: DuckDBConnection): Db {
  async function prepare(sql: string, params: Params | undefined): Promise<DuckDBPreparedStatement> {
    return bindNamed(await conn.prepare(toDuckDbParams(sql).text), params);
  }

  const direct: Queries = {
    async run(sql, params) {
      const result = await (await prepare(sql, params)).run();
      return Number(result.rowsChanged);
    },
    async all<T>(sql: string, params?: Params) {
      const reader = await (await prepare(sql, params)).runAndReadAll();
      return reader.getRowObjectsJS().map((row) => plainRow(row)) as T[];
    },
    async query(sql, maxRows) {
      const prepared = bindNamed(await conn.prepare(sql), undefined);
      const reader = await prepared.streamAndReadUntil(maxRows + 1);
      const rows = reader
        .getRowObjectsJS()
        .slice(0, maxRows)
        .map((row) => plainRow(row));
      return { columns: reader.columnNames(), rows, truncated: reader.currentRowCount > maxRows };
    },
    async script(sql, params) {
      const extracted = await conn.extractStatements(toDuckDbParams(sql).text);
      for (let i = 0; i < extracted.count; i++) await bindNamed(await extracted.prepare(i), params).run();
    },
  };

  let tail: Promise<unknown> = Promise.resolve();
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  }
  let closed = false;

  return {
    path: ':memory:',
    run: (sql, params) => exclusive(() => direct.run(sql, params)),
    all: <T>(sql: string, params?: Params) => exclusive(() => direct.all<T>(sql, params)),
    query: (sql, maxRows) => exclusive(() => direct.query(sql, maxRows)),
    script: (sql, params) => exclusive(() => direct.script(sql, params)),
    transaction: (fn) =>
      exclusive(async () => {
        await conn.run('BEGIN TRANSACTION');
        try {
          const result = await fn(direct);
          await conn.run('COMMIT');
          return result;
        } catch (err) {
          await conn.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    readOnly: (fn) =>
      exclusive(async () => {
        await conn.run('BEGIN TRANSACTION');
        try {
          return await fn(direct);
        } finally {
          await conn.run('ROLLBACK').catch(() => undefined);
        }
      }),
    statementTypes: (sql) =>
      exclusive(async () => {
        const extracted = await conn.extractStatements(sql);
        const types: string[] = [];
        for (let i = 0; i < extracted.count; i++) {
          const type = (await extracted.prepare(i)).statementType;
          types.push(StatementType[type] ?? `TYPE_${type}`);
        }
        return types;
      }),
    close: () =>
      exclusive(async () => {
        if (!closed) conn.closeSync();
        closed = true;
      }),
  };
}

function bindNamed(statement: DuckDBPreparedStatement, params: Params | undefined): DuckDBPreparedStatement {
  const values: Record<string, DuckDBValue> = {};
  for (let k = 1; k <= statement.parameterCount; k++) {
    const name = statement.parameterName(k);
    if (!params || !(name in params)) throw new Error(`SQL parameter :${name} has no value`);
    const value = params[name] as SqlValue;
    values[name] = Array.isArray(value) ? listValue(value as string[]) : (value as DuckDBValue);
  }
  if (statement.parameterCount > 0) statement.bind(values);
  return statement;
}

function plainValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array))
    return plainRow(value as Row);
  return value;
}

function plainRow(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = plainValue(v);
  return out;
}
