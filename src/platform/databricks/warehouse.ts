import { readFileSync } from 'node:fs';
import { DBSQLClient, DBSQLParameter, DBSQLParameterType } from '@databricks/sql';
import type { DatabricksSettings } from '../../config.js';
import { UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { toDuckDbParams } from '../../sql-files.js';
import type { DatabricksRest } from './rest.js';

type Session = Awaited<ReturnType<DBSQLClient['openSession']>>;

/**
 * A named parameter value as the driver binds it (node_modules/@databricks/sql DBSQLParameter): a
 * string as STRING, a whole number as INTEGER (BIGINT when larger), a boolean as BOOLEAN, a Date as
 * TIMESTAMP (its ISO-8601 string), null as an untyped NULL (neither type nor value: VOID), or an
 * explicitly typed DBSQLParameter. Parameter markers are typed
 * (https://docs.databricks.com/sql/language-manual/sql-ref-parameter-marker.html), and under ANSI
 * mode a string that is not a valid value of the type it is cast to fails the statement
 * (https://docs.databricks.com/sql/language-manual/parameters/ansi_mode.html), so "no value" is
 * null, never a sentinel string.
 */
export type SqlParam = string | number | boolean | Date | null | DBSQLParameter;

/**
 * A TIMESTAMP parameter from an ISO-8601 instant (kept as written, so sub-millisecond digits of a
 * scored_at survive), or NULL.
 */
export function timestampParam(iso: string | null): SqlParam {
  return iso === null ? null : new DBSQLParameter({ type: DBSQLParameterType.TIMESTAMP, value: iso });
}

export type WarehouseState =
  | 'RUNNING'
  | 'STARTING'
  | 'STOPPED'
  | 'STOPPING'
  | 'DELETED'
  | 'DELETING'
  | string;

/**
 * Reads on the SQL warehouse through `@databricks/sql`: one session reused (opened in the catalog
 * and schema, so the shared queries name tables unqualified), named parameters only, a statement
 * timeout. The warehouse's state is read over REST first: a query is never what starts a stopped
 * warehouse by accident (the driver would); starting is explicit (`ensureRunning`).
 */
export interface Warehouse {
  state(): Promise<WarehouseState>;
  /** Starts a stopped warehouse and waits until it runs (a warm-up of a minute or two). */
  ensureRunning(waitMs?: number): Promise<void>;
  /** A query with named parameters (`:name`); the warehouse must be running. */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, SqlParam>): Promise<T[]>;
  /** Statements sent so far (for status and benchmarks). */
  readonly statements: number;
  close(): Promise<void>;
}

export function createWarehouse(deps: {
  settings: DatabricksSettings;
  rest: DatabricksRest;
  logger: Logger;
  /** How often a starting warehouse's state is read. */
  pollMs?: number;
  /** Where the SQL endpoint listens when not on the workspace host (a test warehouse). */
  endpoint?: { host: string; port: number };
  /** Counts the starts of the warehouse. */
  metrics?: Metrics;
}): Warehouse {
  const { settings, rest, logger } = deps;
  const path = `/api/2.0/sql/warehouses/${settings.warehouseId}`;
  let client: DBSQLClient | undefined;
  let session: Promise<Session> | undefined;
  let statements = 0;

  async function state(): Promise<WarehouseState> {
    const res = await rest.get<{ state?: string }>(path);
    return res.state ?? 'UNKNOWN';
  }

  async function openSession(): Promise<Session> {
    const url = new URL(settings.host);
    client = new DBSQLClient({ logger: driverLogger(logger) });
    await client.connect({
      host: deps.endpoint?.host ?? url.hostname,
      ...(deps.endpoint ? { port: deps.endpoint.port } : url.port ? { port: Number(url.port) } : {}),
      path: `/sql/1.0/warehouses/${settings.warehouseId}`,
      ...(settings.auth.kind === 'token'
        ? { token: settings.auth.token }
        : {
            authType: 'databricks-oauth' as const,
            oauthClientId: settings.auth.clientId,
            oauthClientSecret: settings.auth.clientSecret,
          }),
      ...(settings.sqlCaCert ? { customCaCert: readFileSync(settings.sqlCaCert) } : {}),
      telemetryEnabled: false,
      userAgentEntry: 'crypto-risk-monitor',
    } as Parameters<DBSQLClient['connect']>[0]);
    // SQL warehouses take the statement timeout as a session setting (the driver's queryTimeout
    // applies to clusters only).
    return client.openSession({
      initialCatalog: settings.catalog,
      initialSchema: settings.schema,
      configuration: { STATEMENT_TIMEOUT: String(settings.sqlTimeoutSeconds) },
    });
  }

  return {
    state,
    get statements() {
      return statements;
    },

    async ensureRunning(waitMs = 10 * 60_000) {
      const deadline = Date.now() + waitMs;
      let current = await state();
      if (current === 'STOPPED' || current === 'STOPPING') {
        logger.info({ warehouse: settings.warehouseId, state: current }, 'starting the SQL warehouse');
        await rest.post(`${path}/start`, {}, { idempotent: true });
        deps.metrics?.warehouseStarts.inc();
      }
      while (current !== 'RUNNING') {
        if (current === 'DELETED' || current === 'DELETING') {
          throw new UserError(
            `The SQL warehouse ${settings.warehouseId} was deleted: set DATABRICKS_WAREHOUSE_ID to another one.`,
          );
        }
        if (Date.now() > deadline) {
          throw new UserError(
            `The SQL warehouse is still ${current} after ${Math.round(waitMs / 1000)} s; try again in a minute.`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 2_000));
        current = await state();
      }
    },

    async query<T>(sql: string, params: Record<string, SqlParam> = {}): Promise<T[]> {
      // Bind exactly the parameters the statement names (the driver rejects unused ones).
      const names = toDuckDbParams(sql).names;
      const namedParameters = Object.fromEntries(names.map((name) => [name, params[name] ?? null]));
      session ??= openSession();
      statements++;
      try {
        const operation = await (await session).executeStatement(sql, { namedParameters });
        try {
          return ((await operation.fetchAll()) as Array<Record<string, unknown>>).map(plainRow) as T[];
        } finally {
          await operation.close().catch(() => undefined);
        }
      } catch (err) {
        // A broken session is opened anew on the next query.
        session = undefined;
        // The driver's SQL errors are not Error instances: read the message either way.
        const message = String((err as { message?: unknown }).message ?? err).split('\n')[0];
        throw new UserError(`The SQL warehouse could not run the query: ${message}`, { cause: err });
      }
    },

    async close() {
      const open = session;
      session = undefined;
      await (await open?.catch(() => undefined))?.close().catch(() => undefined);
      await client?.close().catch(() => undefined);
    },
  };
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Driver values as the rest of the product reads them: ISO-8601 UTC timestamps, plain numbers. */
function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (value instanceof Date) out[key] = value.toISOString();
    else if (typeof value === 'string' && TIMESTAMP.test(value)) {
      const iso = value.replace(' ', 'T');
      out[key] = new Date(/Z|[+-]\d{2}:?\d{2}$/.test(iso) ? iso : `${iso}Z`).toISOString();
    } else if (typeof value === 'bigint') out[key] = Number(value);
    else if (value !== null && typeof value === 'object' && 'toNumber' in value)
      out[key] = (value as { toNumber(): number }).toNumber();
    else out[key] = value;
  }
  return out;
}

/** The driver's logger interface over the product's (its chatter at debug). */
function driverLogger(logger: Logger) {
  return {
    log(level: string, message: string) {
      const at = level === 'error' ? 'warn' : 'debug';
      logger[at]({ component: 'databricks-sql' }, message);
    },
  };
}
