import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { connectionDb } from './db.js';
import { createHandlers, DEFAULT_CATALOG, DEFAULT_SCHEMA, quoteIdent } from './handlers.js';
import {
  type StatementRecord,
  TCLIService,
  thrift,
  type Warehouse,
  type WarehouseFault,
  type WarehouseOptions,
} from './types.js';

export type { StatementRecord, Warehouse, WarehouseFault, WarehouseOptions } from './types.js';

/**
 * A loopback Databricks SQL warehouse that the real `@databricks/sql` driver talks to: the
 * driver's own generated TCLIService Processor behind `thrift`'s web server (Thrift binary
 * protocol over HTTPS POST at `/sql/1.0/warehouses/<id>`, bearer token required), answering
 * from an in-memory DuckDB where Unity Catalog's `catalog.schema.table` is emulated with
 * attached databases: `workspace.crypto` and `workspace.default` exist, more via `catalogs`.
 *
 * Usage:
 * ```ts
 * const wh = await startWarehouse();
 * const client = await new DBSQLClient().connect({
 *   host: wh.host, port: wh.port, path: wh.path, token: 'dapi-test',
 *   customCaCert: wh.caCert, telemetryEnabled: false,
 * });
 * ```
 */

const TLS_DIR = new URL('../../fixtures/tls/', import.meta.url);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function startWarehouse(options: WarehouseOptions = {}): Promise<Warehouse> {
  const warehouseId = options.warehouseId ?? 'abc123def4567890';
  if (!/^[A-Za-z0-9_-]+$/.test(warehouseId)) throw new Error(`Invalid warehouse id: ${warehouseId}`);
  const namespaces = [
    { catalog: DEFAULT_CATALOG, schema: 'crypto' },
    { catalog: DEFAULT_CATALOG, schema: DEFAULT_SCHEMA },
    ...(options.catalogs ?? []),
  ];
  for (const { catalog, schema } of namespaces) {
    if (!IDENTIFIER.test(catalog) || !IDENTIFIER.test(schema)) {
      throw new Error(`Invalid namespace ${catalog}.${schema}: use letters, digits and underscores`);
    }
  }

  const instance = await DuckDBInstance.create(':memory:', {
    // Nothing may be downloaded at run time.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const setup = await instance.connect();
  await setup.run(`SET TimeZone = 'UTC'`);
  const attached = new Set<string>();
  for (const { catalog, schema } of namespaces) {
    if (!attached.has(catalog.toLowerCase())) {
      await setup.run(`ATTACH ':memory:' AS ${quoteIdent(catalog)}`);
      attached.add(catalog.toLowerCase());
    }
    await setup.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(catalog)}.${quoteIdent(schema)}`);
  }
  await setup.run(`USE ${quoteIdent(DEFAULT_CATALOG)}.crypto`);
  const db = connectionDb(setup);

  const statements: StatementRecord[] = [];
  const sessions: Warehouse['sessions'] = { opened: 0, closed: 0, namespaces: [], configurations: [] };
  const faults: WarehouseFault[] = [];

  const { handler, closeSessions } = createHandlers({
    instance,
    statements,
    sessions,
    takeSqlFault() {
      const next = faults[0];
      if (next?.kind !== 'sql_error') return undefined;
      faults.shift();
      return { message: next.message };
    },
  });

  const path = `/sql/1.0/warehouses/${warehouseId}`;
  const caCert = readFileSync(new URL('warehouse.crt', TLS_DIR));
  const server = thrift.createWebServer({
    tls: { cert: caCert, key: readFileSync(new URL('warehouse.key', TLS_DIR)) },
    services: {
      [path]: {
        transport: thrift.TBufferedTransport,
        protocol: thrift.TBinaryProtocol,
        processor: TCLIService.Processor,
        handler,
      },
    },
  });

  // Put the warehouse's HTTP behaviour in front of thrift's request listener.
  const thriftListener = server.listeners('request')[0] as (
    req: IncomingMessage,
    res: ServerResponse,
  ) => void;
  server.removeAllListeners('request');
  server.on('request', gate);

  function gate(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'POST' && !/^Bearer \S+/.test(req.headers.authorization ?? '')) {
      req.resume();
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error_code: 'UNAUTHENTICATED', message: 'Credential was not sent.' }));
      return;
    }
    const next = faults[0];
    if (next && next.kind !== 'sql_error') {
      faults.shift();
      if (next.kind === 'unavailable') {
        req.resume();
        res.writeHead(503, {
          'Retry-After': String(next.retryAfter ?? 10),
          'Content-Type': 'application/json',
        });
        res.end(
          JSON.stringify({
            error_code: 'TEMPORARILY_UNAVAILABLE',
            message: 'The SQL warehouse is starting. Retry after the time given in Retry-After.',
          }),
        );
        return;
      }
      answerLate(res, next.ms);
    }
    thriftListener(req, res);
  }

  /**
   * The request is processed at once (the statement runs, as on a real warehouse, even if the
   * client gives up waiting) and its answer is held back for `ms`.
   */
  function answerLate(res: ServerResponse, ms: number): void {
    const ready = delay(ms);
    const writeHead = res.writeHead;
    const end = res.end;
    res.writeHead = ((...args: unknown[]) => {
      void ready.then(() => writeHead.apply(res, args as Parameters<typeof writeHead>));
      return res;
    }) as unknown as typeof res.writeHead;
    res.end = ((...args: unknown[]) => {
      void ready.then(() => {
        if (!res.destroyed) end.apply(res, args as Parameters<typeof end>);
      });
      return res;
    }) as unknown as typeof res.end;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    path,
    caCert,
    statements,
    sessions,
    db,
    fault(...f) {
      for (const one of f) faults.push(one);
    },
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await closeSessions();
        await db.close();
        instance.closeSync();
      })();
      return closing;
    },
  };
}
