import { randomBytes, randomUUID } from 'node:crypto';
import {
  type DuckDBConnection,
  type DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBType,
  type DuckDBValue,
  ResultReturnType,
} from '@duckdb/node-api';
import { toDuckDbParams } from '../../../src/sql-files.js';
import { CastInvalidInput, checkAnsiCasts } from './ansi.js';
import { type ResultColumn, resultColumn, rowSet, tableSchema } from './results.js';
import type { StatementRecord, TTypes, Warehouse } from './types.js';
import { thrift, ttypes } from './types.js';

/**
 * The TCLIService handler: what a Databricks SQL warehouse answers to the methods the driver
 * calls, run on DuckDB. A session is a DuckDB connection whose default namespace is the
 * session's `initialNamespace` (`USE catalog.schema`); a statement runs to completion inside
 * ExecuteStatement and its result is kept, whole, for GetResultSetMetadata/FetchResults
 * (column-based TRowSet, paged by maxRows). Every other TCLIService method answers ERROR_STATUS.
 */

export interface HandlerState {
  instance: DuckDBInstance;
  statements: StatementRecord[];
  sessions: Warehouse['sessions'];
  /** Takes the next fault if it is a `sql_error` (the queue is shared with HTTP-level faults). */
  takeSqlFault(): { message: string } | undefined;
}

interface Session {
  id: string;
  conn: DuckDBConnection;
  /** One statement at a time on the session's connection (a promise chain as the lock). */
  tail: Promise<unknown>;
}

interface Operation {
  sessionKey: string;
  hasResultSet: boolean;
  columns: ResultColumn[];
  data: DuckDBValue[][];
  rowCount: number;
  cursor: number;
  modifiedRows: number | undefined;
  started: number;
  completed: number;
  canceled: boolean;
}

/** A Spark parameter type → the DuckDB type its string value is cast to. */
const PARAMETER_TYPES: Record<string, string> = {
  STRING: 'VARCHAR',
  VARCHAR: 'VARCHAR',
  CHAR: 'VARCHAR',
  BOOLEAN: 'BOOLEAN',
  TINYINT: 'TINYINT',
  SMALLINT: 'SMALLINT',
  INT: 'INTEGER',
  INTEGER: 'INTEGER',
  BIGINT: 'BIGINT',
  FLOAT: 'FLOAT',
  DOUBLE: 'DOUBLE',
  DATE: 'DATE',
  // Spark's TIMESTAMP is an instant (LTZ): an offset in the value counts, as in TIMESTAMPTZ.
  TIMESTAMP: 'TIMESTAMPTZ',
  TIMESTAMP_LTZ: 'TIMESTAMPTZ',
  TIMESTAMP_NTZ: 'TIMESTAMP',
};

export const DEFAULT_CATALOG = 'workspace';
export const DEFAULT_SCHEMA = 'default';

/** A SQL failure with the SQLSTATE a warehouse would report. */
class SqlError extends Error {
  constructor(
    message: string,
    readonly sqlState: string,
  ) {
    super(message);
  }
}

const ok = (): TTypes.TStatus => ({ statusCode: ttypes.TStatusCode.SUCCESS_STATUS }) as TTypes.TStatus;

function failure(message: string, sqlState?: string): TTypes.TStatus {
  return {
    statusCode: ttypes.TStatusCode.ERROR_STATUS,
    errorMessage: message,
    displayMessage: message,
    ...(sqlState ? { sqlState } : {}),
  } as TTypes.TStatus;
}

function newHandle(): { id: string; key: string; identifier: TTypes.THandleIdentifier } {
  const id = randomUUID();
  const guid = Buffer.from(id.replaceAll('-', ''), 'hex');
  return { id, key: guid.toString('hex'), identifier: { guid, secret: randomBytes(16) } };
}

const keyOf = (identifier: TTypes.THandleIdentifier | undefined): string =>
  identifier?.guid ? Buffer.from(identifier.guid).toString('hex') : '';

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function createHandlers(state: HandlerState): { handler: object; closeSessions(): Promise<void> } {
  const sessions = new Map<string, Session>();
  const operations = new Map<string, Operation>();

  function withSession<T>(session: Session, work: () => Promise<T>): Promise<T> {
    const result = session.tail.then(work, work);
    session.tail = result.catch(() => undefined);
    return result;
  }

  const handlers = {
    async OpenSession(req: TTypes.TOpenSessionReq): Promise<TTypes.TOpenSessionResp> {
      const namespace = req.initialNamespace ?? undefined;
      const catalog = namespace?.catalogName || DEFAULT_CATALOG;
      const schema = namespace?.schemaName || DEFAULT_SCHEMA;
      const conn = await state.instance.connect();
      try {
        await conn.run(`SET TimeZone = 'UTC'`);
        await conn.run(`USE ${quoteIdent(catalog)}.${quoteIdent(schema)}`);
      } catch (err) {
        const catalogs = await conn.runAndReadAll(
          'SELECT 1 FROM duckdb_databases() WHERE lower(database_name) = lower($1)',
          [catalog],
        );
        conn.closeSync();
        const [errorClass, what] =
          catalogs.currentRowCount === 0
            ? ['NO_SUCH_CATALOG_EXCEPTION', `Catalog '${catalog}' was not found.`]
            : ['SCHEMA_NOT_FOUND', `The schema \`${catalog}\`.\`${schema}\` cannot be found.`];
        return {
          status: failure(`[${errorClass}] ${what} (${errorMessage(err)}) SQLSTATE: 42704`, '42704'),
          serverProtocolVersion: ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V8,
        } as TTypes.TOpenSessionResp;
      }
      const handle = newHandle();
      sessions.set(handle.key, { id: handle.id, conn, tail: Promise.resolve() });
      state.sessions.opened++;
      state.sessions.namespaces.push({
        ...(namespace?.catalogName ? { catalog: namespace.catalogName } : {}),
        ...(namespace?.schemaName ? { schema: namespace.schemaName } : {}),
      });
      state.sessions.configurations.push({ ...(req.configuration ?? {}) });
      return {
        status: ok(),
        serverProtocolVersion: ttypes.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V8,
        sessionHandle: { sessionId: handle.identifier },
        configuration: {},
        initialNamespace: { catalogName: catalog, schemaName: schema },
        canUseMultipleCatalogs: true,
      } as TTypes.TOpenSessionResp;
    },

    async CloseSession(req: TTypes.TCloseSessionReq): Promise<TTypes.TCloseSessionResp> {
      const key = keyOf(req.sessionHandle?.sessionId);
      const session = sessions.get(key);
      if (!session) return { status: failure('Invalid SessionHandle') };
      sessions.delete(key);
      for (const [opKey, op] of operations) if (op.sessionKey === key) operations.delete(opKey);
      await withSession(session, async () => session.conn.closeSync());
      state.sessions.closed++;
      return { status: ok() };
    },

    async ExecuteStatement(req: TTypes.TExecuteStatementReq): Promise<TTypes.TExecuteStatementResp> {
      const sessionKey = keyOf(req.sessionHandle?.sessionId);
      const session = sessions.get(sessionKey);
      if (!session) return { status: failure('Invalid SessionHandle') };
      const parameters = (req.parameters ?? []).map(decodeParameter);
      const record: StatementRecord = {
        sql: req.statement,
        params: Object.fromEntries(parameters.map((p, i) => [p.name ?? String(i + 1), p.value])),
        paramTypes: Object.fromEntries(parameters.map((p, i) => [p.name ?? String(i + 1), p.type])),
        sessionId: session.id,
        at: Date.now(),
      };
      state.statements.push(record);

      const fault = state.takeSqlFault();
      if (fault) {
        record.error = fault.message;
        return { status: failure(fault.message) };
      }
      const started = Date.now();
      let outcome: Awaited<ReturnType<typeof execute>>;
      try {
        outcome = await withSession(session, () => execute(session.conn, req.statement, parameters));
      } catch (err) {
        const error = asSqlError(err);
        record.error = error.message;
        return { status: failure(error.message, error.sqlState) };
      }
      const handle = newHandle();
      operations.set(handle.key, {
        sessionKey,
        ...outcome,
        cursor: 0,
        started,
        completed: Date.now(),
        canceled: false,
      });
      return {
        status: ok(),
        operationHandle: {
          operationId: handle.identifier,
          operationType: ttypes.TOperationType.EXECUTE_STATEMENT,
          hasResultSet: outcome.hasResultSet,
        },
      } as TTypes.TExecuteStatementResp;
    },

    async GetOperationStatus(req: TTypes.TGetOperationStatusReq): Promise<TTypes.TGetOperationStatusResp> {
      const op = operations.get(keyOf(req.operationHandle?.operationId));
      if (!op) return { status: failure('Invalid OperationHandle') };
      return {
        status: ok(),
        operationState: op.canceled
          ? ttypes.TOperationState.CANCELED_STATE
          : ttypes.TOperationState.FINISHED_STATE,
        hasResultSet: op.hasResultSet,
        operationStarted: new thrift.Int64(op.started),
        operationCompleted: new thrift.Int64(op.completed),
        ...(op.modifiedRows !== undefined ? { numModifiedRows: new thrift.Int64(op.modifiedRows) } : {}),
      } as TTypes.TGetOperationStatusResp;
    },

    async GetResultSetMetadata(
      req: TTypes.TGetResultSetMetadataReq,
    ): Promise<TTypes.TGetResultSetMetadataResp> {
      const op = operations.get(keyOf(req.operationHandle?.operationId));
      if (!op) return { status: failure('Invalid OperationHandle') };
      return {
        status: ok(),
        schema: tableSchema(op.columns),
        resultFormat: ttypes.TSparkRowSetType.COLUMN_BASED_SET,
        lz4Compressed: false,
        isStagingOperation: false,
      } as TTypes.TGetResultSetMetadataResp;
    },

    async FetchResults(req: TTypes.TFetchResultsReq): Promise<TTypes.TFetchResultsResp> {
      const op = operations.get(keyOf(req.operationHandle?.operationId));
      if (!op) return { status: failure('Invalid OperationHandle') };
      if (req.fetchType === 1) {
        // Operation logs: a warehouse has none to give.
        return { status: ok(), hasMoreRows: false, results: rowSet([], [], 0, 0) };
      }
      if (!op.hasResultSet) return { status: failure('The operation has no result set') };
      if (req.orientation === ttypes.TFetchOrientation.FETCH_FIRST) op.cursor = 0;
      const maxRows = Math.max(1, Number(req.maxRows?.toNumber?.(true) ?? req.maxRows ?? 100_000));
      const start = op.cursor;
      const end = Math.min(op.rowCount, start + maxRows);
      op.cursor = end;
      return {
        status: ok(),
        hasMoreRows: end < op.rowCount,
        results: rowSet(op.columns, op.data, start, end),
      };
    },

    async CancelOperation(req: TTypes.TCancelOperationReq): Promise<TTypes.TCancelOperationResp> {
      const op = operations.get(keyOf(req.operationHandle?.operationId));
      if (!op) return { status: failure('Invalid OperationHandle') };
      op.canceled = true;
      return { status: ok() };
    },

    async CloseOperation(req: TTypes.TCloseOperationReq): Promise<TTypes.TCloseOperationResp> {
      const key = keyOf(req.operationHandle?.operationId);
      if (!operations.delete(key)) return { status: failure('Invalid OperationHandle') };
      return { status: ok() };
    },
  };

  // The generated Processor calls `handler.<Method>(req)` and serializes what it resolves to.
  // Methods this emulator does not serve (GetInfo, GetTables, …) answer ERROR_STATUS; a handler
  // that throws would answer a TApplicationException, which a warehouse never sends for SQL.
  const handler = new Proxy(handlers, {
    get(target, prop, receiver) {
      if (typeof prop !== 'string' || !/^[A-Z]/.test(prop)) return Reflect.get(target, prop, receiver);
      const method = Reflect.get(target, prop, receiver) as ((req: unknown) => Promise<unknown>) | undefined;
      if (!method) {
        return (_req: unknown) =>
          Promise.resolve({ status: failure(`${prop} is not supported by the loopback warehouse`) });
      }
      return (req: unknown) =>
        method.call(target, req).catch((err: unknown) => ({ status: failure(errorMessage(err), 'XX000') }));
    },
  });

  async function closeSessions(): Promise<void> {
    const open = [...sessions.values()];
    sessions.clear();
    operations.clear();
    await Promise.all(open.map((s) => withSession(s, async () => s.conn.closeSync())));
  }

  return { handler, closeSessions };
}

interface Parameter {
  name: string | undefined;
  /** Spark type name as sent; 'VOID' for a NULL (sent with neither type nor value). */
  type: string;
  text: string | null;
  value: unknown;
}

/** TSparkParameter → its declared type, raw string and a decoded JS value for the record. */
function decodeParameter(p: TTypes.TSparkParameter): Parameter {
  const text = p.value?.stringValue ?? null;
  const type = (p.type ?? (text === null ? 'VOID' : 'STRING')).toUpperCase();
  const base = type.replace(/\(.*$/, '');
  let value: unknown = text;
  if (text !== null) {
    if (base === 'BOOLEAN') value = text.toUpperCase() === 'TRUE';
    else if (['TINYINT', 'SMALLINT', 'INT', 'INTEGER', 'FLOAT', 'DOUBLE', 'DECIMAL'].includes(base))
      value = Number(text);
    else if (base === 'BIGINT') {
      const n = BigInt(text);
      value = n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
  }
  return { name: p.name ?? undefined, type, text, value };
}

/** The DuckDB type a parameter's string value is cast to, or an error naming the Spark type. */
function duckDbTypeFor(p: Parameter): string {
  if (p.text === null) return 'VARCHAR';
  const base = p.type.replace(/\(.*$/, '').trim();
  if (base === 'DECIMAL') {
    const declared = /^DECIMAL\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(p.type);
    if (declared) return `DECIMAL(${declared[1]}, ${declared[2]})`;
    const scale = Math.min(37, (/\.(\d+)/.exec(p.text)?.[1] ?? '').length);
    return `DECIMAL(38, ${scale})`;
  }
  const type = PARAMETER_TYPES[base];
  if (!type) {
    throw new SqlError(
      `[UNSUPPORTED_FEATURE] Parameter ${p.name ?? ''} has type ${p.type}, which the loopback warehouse does not bind. SQLSTATE: 0A000`,
      '0A000',
    );
  }
  return type;
}

/** Runs one statement: `:name` markers become DuckDB's `$name`, values are bound with their declared types. */
async function execute(conn: DuckDBConnection, sql: string, parameters: Parameter[]) {
  const prepared = await conn.prepare(toDuckDbParams(sql).text);
  await bindParameters(conn, prepared, parameters);
  // ANSI mode (ansi.ts): a malformed constant cast fails the statement while it is optimized, after
  // parsing and analysis (a syntax, name or type error is reported first) and before any row is read.
  checkAnsiCasts(sql, parameters);
  const result = await prepared.run();
  if (result.returnType !== ResultReturnType.QUERY_RESULT) {
    const changed =
      result.returnType === ResultReturnType.CHANGED_ROWS ? Number(result.rowsChanged) : undefined;
    return { hasResultSet: false, columns: [], data: [], rowCount: 0, modifiedRows: changed };
  }
  const names = result.columnNames();
  const columns = result.columnTypes().map((type, i) => resultColumn(names[i] ?? `col${i + 1}`, type));
  const data = await result.getColumns();
  for (const [j, column] of columns.entries()) {
    // Encode now, so a value the wire cannot carry fails the statement rather than a later fetch.
    for (const value of data[j] ?? []) if (value !== null) column.encode(value);
  }
  return { hasResultSet: true, columns, data, rowCount: data[0]?.length ?? 0, modifiedRows: undefined };
}

async function bindParameters(
  conn: DuckDBConnection,
  prepared: DuckDBPreparedStatement,
  parameters: Parameter[],
): Promise<void> {
  if (prepared.parameterCount === 0) return;
  const named = parameters.every((p) => p.name !== undefined);
  const chosen: Parameter[] = [];
  for (let k = 1; k <= prepared.parameterCount; k++) {
    const name = prepared.parameterName(k);
    const p = named ? parameters.find((q) => q.name === name) : parameters[k - 1];
    if (!p) {
      throw new SqlError(
        `[UNBOUND_SQL_PARAMETER] Found the unbound parameter: ${name}. Please, fix \`args\` and provide a mapping of the parameter to either a SQL literal or collection constructor functions such as \`map()\`, \`array()\`, \`struct()\`. SQLSTATE: 42P02`,
        '42P02',
      );
    }
    chosen.push(p);
  }
  // DuckDB itself parses each value as its declared type (as Spark parses the literal), so a bad
  // value fails the way a cast does; the typed values are then bound to the statement.
  const casts = chosen.map((p, i) => `CAST($${i + 1} AS ${duckDbTypeFor(p)})`).join(', ');
  const converter = await conn.prepare(`SELECT ${casts}`);
  converter.bind(chosen.map((p) => p.text));
  const converted = await converter.run();
  const types: DuckDBType[] = converted.columnTypes();
  const row = (await converted.getRows())[0] ?? [];
  for (let k = 1; k <= prepared.parameterCount; k++) {
    prepared.bindValue(k, row[k - 1] ?? null, types[k - 1]);
  }
}

/** A DuckDB error as a warehouse reports it: `[ERROR_CLASS] message SQLSTATE: xxxxx`. */
function asSqlError(err: unknown): SqlError {
  if (err instanceof SqlError) return err;
  if (err instanceof CastInvalidInput) return new SqlError(err.message, err.sqlState);
  const message = errorMessage(err);
  const [errorClass, sqlState] = classify(message);
  return new SqlError(`[${errorClass}] ${message} SQLSTATE: ${sqlState}`, sqlState);
}

function classify(message: string): [string, string] {
  if (/^Parser Error/i.test(message)) return ['PARSE_SYNTAX_ERROR', '42601'];
  if (/^Catalog Error: Table.*does not exist/is.test(message)) return ['TABLE_OR_VIEW_NOT_FOUND', '42P01'];
  if (/^Catalog Error: Table.*already exists/is.test(message))
    return ['TABLE_OR_VIEW_ALREADY_EXISTS', '42P07'];
  if (/^Catalog Error: Schema/i.test(message)) return ['SCHEMA_NOT_FOUND', '42704'];
  if (/^Catalog Error/i.test(message)) return ['UNRESOLVED_ROUTINE', '42883'];
  if (/^Binder Error: .*column/is.test(message)) return ['UNRESOLVED_COLUMN', '42703'];
  if (/^Binder Error/i.test(message)) return ['DATATYPE_MISMATCH', '42K09'];
  if (/^(Conversion|Invalid Input) Error/i.test(message)) return ['CAST_INVALID_INPUT', '22018'];
  if (/^Out of Range Error/i.test(message)) return ['ARITHMETIC_OVERFLOW', '22003'];
  if (/^Constraint Error/i.test(message)) return ['CONSTRAINT_VIOLATION', '23000'];
  return ['INTERNAL_ERROR', 'XX000'];
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
