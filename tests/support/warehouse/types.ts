import type { Server } from 'node:https';
import { createRequire } from 'node:module';
import type * as TTypes from '@databricks/sql/thrift/TCLIService_types.js';
import type { Db } from '../../../src/platform/local/db.js';

/** A loopback Databricks SQL warehouse: HiveServer2 Thrift over HTTPS, backed by DuckDB. */
export interface Warehouse {
  /** Always '127.0.0.1' (the certificate's subjectAltName). */
  host: string;
  port: number;
  /** The driver's `path`, e.g. '/sql/1.0/warehouses/abc123'. */
  path: string;
  /** PEM certificate of the server, for the client's `customCaCert`. */
  caCert: Buffer;
  /** Every ExecuteStatement, in arrival order (including failed ones, with `error`). */
  statements: StatementRecord[];
  sessions: {
    /** Successful OpenSession calls. */
    opened: number;
    closed: number;
    /** The `initialNamespace` of each opened session, as sent (`{}` when the client sent none). */
    namespaces: Array<{ catalog?: string; schema?: string }>;
    /** The session `configuration` of each opened session (e.g. `STATEMENT_TIMEOUT`). */
    configurations: Array<Record<string, string>>;
  };
  /**
   * Faults for the next requests, consumed in order: `unavailable` and `slow` by the next HTTP
   * request (whatever its Thrift method), `sql_error` by the next ExecuteStatement.
   */
  fault(...f: WarehouseFault[]): void;
  /**
   * The DuckDB database behind the warehouse, to seed tables. Its default namespace is
   * `workspace.crypto`, so unqualified names land where a session on that namespace reads.
   */
  db: Db;
  close(): Promise<void>;
}

export type WarehouseFault =
  /** The next ExecuteStatement fails with this message (ERROR_STATUS), without running. */
  | { kind: 'sql_error'; message: string }
  /** The next HTTP request gets 503 with `Retry-After` (seconds; default 10): a starting warehouse. */
  | { kind: 'unavailable'; retryAfter?: number }
  /** The next HTTP request is answered `ms` late. */
  | { kind: 'slow'; ms: number };

export interface StatementRecord {
  /** The SQL text as received (with its `:name` markers). */
  sql: string;
  /** Parameter values decoded by their declared type (numbers, booleans, strings; null for NULL). */
  params: Record<string, unknown>;
  /** The Spark type each parameter was declared with (`STRING`, `INTEGER`, `TIMESTAMP`, …; `VOID` for NULL). */
  paramTypes: Record<string, string>;
  /** The session's id, as the driver's `session.id` prints it (a UUID). */
  sessionId: string;
  /** Arrival time, epoch milliseconds. */
  at: number;
  /** The message the statement failed with, if it did. */
  error?: string;
}

export interface WarehouseOptions {
  /** The id in the HTTP path; default 'abc123def4567890'. */
  warehouseId?: string;
  /** Extra catalog.schema namespaces to create (workspace.crypto and workspace.default always exist). */
  catalogs?: Array<{ catalog: string; schema: string }>;
}

// --- The driver's generated Thrift code and the `thrift` runtime (neither ships usable types) ---

export type { TTypes };

/** node-int64, as the `thrift` runtime exports it (and the driver decodes). */
export interface Int64 {
  readonly buffer: Buffer;
  toNumber(allowImprecise?: boolean): number;
}

interface ThriftRuntime {
  createWebServer(options: {
    tls: { cert: Buffer; key: Buffer };
    services: Record<string, { transport: unknown; protocol: unknown; processor: unknown; handler: object }>;
  }): Server;
  TBufferedTransport: unknown;
  TBinaryProtocol: unknown;
  Int64: new (value: number | Buffer) => Int64;
}

const require = createRequire(import.meta.url);

/** The `thrift` package (the same one the driver loads). */
export const thrift = require('thrift') as ThriftRuntime;
/** The driver's generated enums and structs (`TStatusCode`, `TTypeId`, …). */
export const ttypes = require('@databricks/sql/thrift/TCLIService_types.js') as typeof TTypes;
/** The driver's generated service, whose `Processor` dispatches requests to a handler. */
export const TCLIService = require('@databricks/sql/thrift/TCLIService.js') as { Processor: unknown };
