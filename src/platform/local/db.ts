import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBValue,
  listValue,
  StatementType,
} from '@duckdb/node-api';
import { ExitCode, UserError } from '../../errors.js';
import { describeIoError } from '../../io-errors.js';
import { makePrivate, PRIVATE_DIR_MODE } from '../../private-files.js';
import { toDuckDbParams } from '../../sql-files.js';

export type SqlValue = string | number | boolean | null | readonly string[];
export type Params = Record<string, SqlValue>;
export type Row = Record<string, unknown>;

/**
 * One DuckDB database (a file, or `:memory:`) and one connection to it. Statements take named
 * parameters (`:name`, as in the project's .sql files); values are always bound, never spliced.
 * Results come back as plain objects: timestamps as ISO-8601 UTC strings, integers as numbers.
 *
 * The connection is used by one operation at a time: jobs and commands run concurrently in one
 * process, and a transaction must not see another caller's statements. `transaction` and
 * `readOnly` hold the connection for their whole callback and hand it a `Queries` to work with.
 */
export interface Queries {
  run(sql: string, params?: Params): Promise<number>;
  all<T = Row>(sql: string, params?: Params): Promise<T[]>;
  /** Runs every statement of a script in order; each statement gets the parameters it names. */
  script(sql: string, params?: Params): Promise<void>;
  /** At most `maxRows` rows of a query, with its column names; reads no further than needed. */
  query(sql: string, maxRows: number): Promise<{ columns: string[]; rows: Row[]; truncated: boolean }>;
}

export interface Db extends Queries {
  readonly path: string;
  /** Runs `fn` in one transaction: all of it is committed, or none of it. */
  transaction<T>(fn: (tx: Queries) => Promise<T>): Promise<T>;
  /** Runs `fn` in a transaction that is always rolled back, whatever it did. */
  readOnly<T>(fn: (tx: Queries) => Promise<T>): Promise<T>;
  /** The statement types of a text, without running it (for the read-only `sql` command). */
  statementTypes(sql: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function openDb(path: string): Promise<Db> {
  // Private: the folders made here are 0700, and the database file is made 0600 once DuckDB has it.
  if (path !== ':memory:') await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, {
      // Nothing may be downloaded at run time: json, icu and parquet are built in.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      // The database reaches no file but its own: the pipeline reads landing files in TypeScript
      // and binds their text as parameters, models and charts live in tables, and no statement of
      // the project uses COPY, read_*, glob, ATTACH or extensions. With this off, DuckDB refuses
      // all of those for any statement, so the `sql` command (in-process for Slack and the
      // console, or the CLI's own process) cannot read or write a file even if the statement
      // guard let one through; DuckDB refuses to turn it back on while the database is open.
      // Not `lock_configuration`: the project's own `SET TimeZone` runs after the open.
      // Not a second READ_ONLY instance for the `sql` command: two DuckDB instances on one file
      // in one process do not see each other's writes.
      enable_external_access: 'false',
      // Memory kept low for a process that idles between jobs (measured with bench/soak.ts): DuckDB
      // keeps what a query freed cached in its allocator up to this much (default 128 MiB) and gives
      // the rest back to the system after each task
      // (https://duckdb.org/docs/stable/configuration/overview.html, allocator_flush_threshold).
      allocator_flush_threshold: '4MB',
      // Committed rows stay in memory until a checkpoint writes them to the file; checkpointing once
      // the write-ahead log holds 1 MB (default 16 MB) keeps that small, at the cost of a short
      // checkpoint after most pipeline runs (checkpoint_threshold, same page).
      checkpoint_threshold: '1MB',
    });
  } catch (err) {
    throw describeOpenError(path, err);
  }
  if (path !== ':memory:') {
    await makePrivate(path);
    await makePrivate(`${path}.wal`);
  }
  const conn = await instance.connect();
  // UTC everywhere: TIMESTAMPTZ casts and conversions must not follow the process time zone.
  await conn.run(`SET TimeZone = 'UTC'`);
  return createDb(path, instance, conn);
}

function createDb(path: string, instance: DuckDBInstance, conn: DuckDBConnection): Db {
  async function prepare(sql: string, params: Params | undefined): Promise<DuckDBPreparedStatement> {
    return bindNamed(await conn.prepare(toDuckDbParams(sql).text), params);
  }

  /** The statements themselves, run on the connection directly (the caller holds it). */
  const direct: Queries = {
    async run(sql, params) {
      const prepared = await prepare(sql, params);
      const result = await prepared.run();
      return Number(result.rowsChanged);
    },
    async all<T>(sql: string, params?: Params) {
      const prepared = await prepare(sql, params);
      const reader = await prepared.runAndReadAll();
      return reader.getRowObjectsJS().map((row) => plainRow(row)) as T[];
    },
    async query(sql, maxRows) {
      // Text from a person, run as written: no parameter markers are rewritten or bound.
      const prepared = bindNamed(await conn.prepare(sql), undefined);
      const reader = await prepared.streamAndReadUntil(maxRows + 1);
      const columns = reader.columnNames();
      const rows = reader
        .getRowObjectsJS()
        .slice(0, maxRows)
        .map((row) => plainRow(row));
      return { columns, rows, truncated: reader.currentRowCount > maxRows };
    },
    async script(sql, params) {
      const extracted = await conn.extractStatements(toDuckDbParams(sql).text);
      for (let i = 0; i < extracted.count; i++) {
        const statement = bindNamed(await extracted.prepare(i), params);
        await statement.run();
      }
    },
  };

  // One operation at a time: each waits for the one before it (a promise chain as the lock).
  let tail: Promise<unknown> = Promise.resolve();
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  }

  return {
    path,
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
          const statement = await extracted.prepare(i);
          types.push(statementTypeName(statement.statementType));
        }
        return types;
      }),
    close: () =>
      exclusive(async () => {
        conn.closeSync();
        instance.closeSync();
      }),
  };
}

/** Binds each parameter the statement names; a missing value is a programming error. */
function bindNamed(statement: DuckDBPreparedStatement, params: Params | undefined): DuckDBPreparedStatement {
  const values: Record<string, DuckDBValue> = {};
  for (let k = 1; k <= statement.parameterCount; k++) {
    const name = statement.parameterName(k);
    if (!params || !(name in params)) throw new Error(`SQL parameter :${name} has no value`);
    values[name] = toDuckDbValue(params[name] as SqlValue);
  }
  if (statement.parameterCount > 0) statement.bind(values);
  return statement;
}

function toDuckDbValue(value: SqlValue): DuckDBValue {
  if (Array.isArray(value)) return listValue(value as string[]);
  return value as DuckDBValue;
}

/** Converts driver values to plain JSON-friendly ones. */
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

function statementTypeName(type: StatementType): string {
  return StatementType[type] ?? `TYPE_${type}`;
}

/** Turns DuckDB's lock conflict into a sentence that names the process holding the file. */
function describeOpenError(path: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  const lock = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(message);
  if (!lock) {
    return (
      describeIoError(err) ??
      new UserError(`Could not open the database file ${path}: ${message}`, { cause: err })
    );
  }
  const pid = lock[2] as string;
  const command = processCommandLine(pid) ?? lock[1];
  return new UserError(
    `The database file ${path} is in use by another process (PID ${pid}: ${command}). ` +
      'DuckDB allows one process per file: stop that process (for example a running `crypto-risk run`), ' +
      'or point --db / DUCKDB_PATH at another file.',
    { exitCode: ExitCode.Busy, cause: err },
  );
}

function processCommandLine(pid: string): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return text.length > 0 ? text.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
