import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DBSQLClient, DBSQLParameter, DBSQLParameterType } from '@databricks/sql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { timestampParam } from '../../src/platform/databricks/warehouse.js';
import { migrate } from '../../src/platform/local/migrations.js';
import { packageRoot, sqlFile, toDuckDbParams } from '../../src/sql-files.js';
import { startWarehouse, type Warehouse } from '../support/warehouse/server.js';
import { ttypes } from '../support/warehouse/types.js';

/** The real `@databricks/sql` driver against the loopback warehouse (TLS, HiveServer2 Thrift, DuckDB). */

let wh: Warehouse;
let clients: DBSQLClient[];

const quiet = { log: () => undefined };

type Session = Awaited<ReturnType<DBSQLClient['openSession']>>;

beforeEach(async () => {
  wh = await startWarehouse({ catalogs: [{ catalog: 'crypto_dev', schema: 'crypto' }] });
  clients = [];
});
afterEach(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await wh?.close();
});

async function connect(overrides: Record<string, unknown> = {}): Promise<DBSQLClient> {
  const client = new DBSQLClient({ logger: quiet });
  clients.push(client);
  await client.connect({
    host: wh.host,
    port: wh.port,
    path: wh.path,
    token: 'dapi-test',
    customCaCert: wh.caCert,
    telemetryEnabled: false,
    ...overrides,
  });
  return client;
}

async function open(
  namespace: { initialCatalog?: string; initialSchema?: string } = {
    initialCatalog: 'workspace',
    initialSchema: 'crypto',
  },
): Promise<Session> {
  return (await connect()).openSession(namespace);
}

async function rows(
  session: Session,
  sql: string,
  namedParameters?: Record<string, unknown>,
): Promise<Array<Record<string, unknown>>> {
  const op = await session.executeStatement(sql, namedParameters ? { namedParameters } : {});
  try {
    return (await op.fetchAll()) as Array<Record<string, unknown>>;
  } finally {
    await op.close();
  }
}

/** What a promise rejects with (the driver's StatusError is not an `Error`). */
async function rejection(promise: Promise<unknown>): Promise<{ message: string; [k: string]: unknown }> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: { message: string }) => err,
  );
}

async function seedAnomalies(): Promise<void> {
  await wh.db.run(`CREATE TABLE anomalies (
    asset VARCHAR, window_end TIMESTAMP, price_avg DOUBLE, vol_sum BIGINT, is_anomaly BOOLEAN,
    model_version INTEGER, day DATE, score DECIMAL(10, 4))`);
  await wh.db.run(`INSERT INTO anomalies VALUES
    ('bitcoin', '2024-12-31 23:55:00', 93000.5, 100, false, 1, '2024-12-31', -0.1),
    ('bitcoin', '2025-01-01 00:05:00', 94000.25, 9007199254740991, true, 2, '2025-01-01', 0.1234),
    ('bitcoin', '2025-01-01 00:10:00.123456', NULL, NULL, NULL, NULL, NULL, NULL),
    ('ethereum', '2025-01-01 00:05:00', 3300.0, 7, false, 1, '2025-01-01', 0.5)`);
}

describe('loopback warehouse through the real driver', () => {
  it('answers a query with named parameters of several types, every column type and NULLs', async () => {
    await seedAnomalies();
    const session = await open();
    const sql = `SELECT asset, window_end, price_avg, vol_sum, is_anomaly, model_version, day, score
      FROM anomalies WHERE window_end >= :since AND asset = :asset ORDER BY window_end LIMIT :limit`;
    const op = await session.executeStatement(sql, {
      namedParameters: { since: '2025-01-01T00:00:00Z', limit: 5, asset: 'bitcoin' },
    });
    const result = await op.fetchAll();
    const schema = await op.getSchema();
    await op.close();

    expect(result).toEqual([
      {
        asset: 'bitcoin',
        window_end: '2025-01-01 00:05:00',
        price_avg: 94000.25,
        vol_sum: 9007199254740991,
        is_anomaly: true,
        model_version: 2,
        day: '2025-01-01',
        score: 0.1234,
      },
      {
        asset: 'bitcoin',
        window_end: '2025-01-01 00:10:00.123456',
        price_avg: null,
        vol_sum: null,
        is_anomaly: null,
        model_version: null,
        day: null,
        score: null,
      },
    ]);
    expect(schema?.columns.map((c) => [c.columnName, c.typeDesc.types[0]?.primitiveEntry?.type])).toEqual([
      ['asset', ttypes.TTypeId.STRING_TYPE],
      ['window_end', ttypes.TTypeId.TIMESTAMP_TYPE],
      ['price_avg', ttypes.TTypeId.DOUBLE_TYPE],
      ['vol_sum', ttypes.TTypeId.BIGINT_TYPE],
      ['is_anomaly', ttypes.TTypeId.BOOLEAN_TYPE],
      ['model_version', ttypes.TTypeId.INT_TYPE],
      ['day', ttypes.TTypeId.DATE_TYPE],
      ['score', ttypes.TTypeId.DECIMAL_TYPE],
    ]);
    expect(wh.statements).toHaveLength(1);
    expect(wh.statements[0]).toMatchObject({
      sql,
      params: { since: '2025-01-01T00:00:00Z', limit: 5, asset: 'bitcoin' },
      paramTypes: { since: 'STRING', limit: 'INTEGER', asset: 'STRING' },
      sessionId: session.id,
    });
    expect(wh.statements[0]?.error).toBeUndefined();
  });

  it('binds each parameter with the type the driver declares for it', async () => {
    const session = await open();
    const result = await rows(
      session,
      `SELECT :ts AS ts, :ts > TIMESTAMP '2024-12-31 23:00:00' AS after, :flag AS flag, :ratio AS ratio,
        :big AS big, :small AS small, :day AS day, :text AS text, :nothing AS nothing`,
      {
        ts: new DBSQLParameter({ type: DBSQLParameterType.TIMESTAMP, value: '2025-01-01T01:30:00+02:00' }),
        flag: true,
        ratio: 0.25,
        big: 2n ** 40n,
        small: 7,
        day: new DBSQLParameter({ type: DBSQLParameterType.DATE, value: '2025-02-03' }),
        text: "it's :not a marker",
        nothing: null,
      },
    );
    expect(result).toEqual([
      {
        ts: '2024-12-31 23:30:00',
        after: true,
        flag: true,
        ratio: 0.25,
        big: 2 ** 40,
        small: 7,
        day: '2025-02-03',
        text: "it's :not a marker",
        nothing: null,
      },
    ]);
    expect(wh.statements[0]?.paramTypes).toEqual({
      ts: 'TIMESTAMP',
      flag: 'BOOLEAN',
      ratio: 'DOUBLE',
      big: 'BIGINT',
      small: 'INTEGER',
      day: 'DATE',
      text: 'STRING',
      nothing: 'VOID',
    });
    expect(wh.statements[0]?.params).toMatchObject({ flag: true, ratio: 0.25, big: 2 ** 40, nothing: null });
  });

  it('pages a result larger than one fetch by maxRows', async () => {
    await wh.db.run(`CREATE TABLE prices AS
      SELECT i AS n, TIMESTAMP '2025-01-01' + i * INTERVAL 1 MINUTE AS ts FROM range(250) t(i)`);
    const session = await open();
    const op = await session.executeStatement('SELECT n, ts FROM prices ORDER BY n');
    const sizes: number[] = [];
    const all: Array<Record<string, unknown>> = [];
    do {
      const chunk = (await op.fetchChunk({ maxRows: 100 })) as Array<Record<string, unknown>>;
      sizes.push(chunk.length);
      for (const row of chunk) all.push(row);
    } while (await op.hasMoreRows());
    await op.close();
    expect(sizes.filter((n) => n > 0)).toEqual([100, 100, 50]);
    expect(all.map((r) => r.n)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(all[249]).toEqual({ n: 249, ts: '2025-01-01 04:09:00' });

    const again = await session.executeStatement('SELECT n FROM prices ORDER BY n');
    expect(await again.fetchAll({ maxRows: 64 })).toHaveLength(250);
    await again.close();
  });

  it('runs DDL and DML (CREATE TABLE, INSERT, MERGE) without a result set', async () => {
    const session = await open();
    const run = async (sql: string, params?: Record<string, unknown>) => {
      const op = await session.executeStatement(sql, params ? { namedParameters: params } : {});
      const status = await op.status();
      const fetched = await op.fetchAll();
      await op.close();
      return { fetched, modified: status.numModifiedRows?.toNumber() as number | undefined };
    };
    expect(await run('CREATE TABLE scores (asset STRING, window_end TIMESTAMP, score DOUBLE)')).toEqual({
      fetched: [],
      modified: undefined,
    });
    expect(
      await run(`INSERT INTO scores VALUES (:asset, :ts, 0.5), ('ethereum', :ts, 0.7)`, {
        asset: 'bitcoin',
        ts: new DBSQLParameter({
          type: DBSQLParameterType.TIMESTAMP,
          value: new Date('2025-01-01T00:05:00Z'),
        }),
      }),
    ).toEqual({ fetched: [], modified: 2 });
    const merge = await run(`MERGE INTO scores AS t
      USING (SELECT 'bitcoin' AS asset, TIMESTAMP '2025-01-01 00:05:00' AS window_end, 0.9 AS score
             UNION ALL SELECT 'solana', TIMESTAMP '2025-01-01 00:05:00', 0.1) AS s
      ON t.asset = s.asset AND t.window_end = s.window_end
      WHEN MATCHED THEN UPDATE SET score = s.score
      WHEN NOT MATCHED THEN INSERT (asset, window_end, score) VALUES (s.asset, s.window_end, s.score)`);
    expect(merge).toEqual({ fetched: [], modified: 2 });
    expect(await rows(session, 'SELECT asset, window_end, score FROM scores ORDER BY asset')).toEqual([
      { asset: 'bitcoin', window_end: '2025-01-01 00:05:00', score: 0.9 },
      { asset: 'ethereum', window_end: '2025-01-01 00:05:00', score: 0.7 },
      { asset: 'solana', window_end: '2025-01-01 00:05:00', score: 0.1 },
    ]);
    expect(await wh.db.all('SELECT count(*) AS n FROM workspace.crypto.scores')).toEqual([{ n: 3 }]);
  });

  it('surfaces a query error with DuckDB’s message, and an injected sql_error', async () => {
    const session = await open();
    const err = await rejection(session.executeStatement('SELECT * FROM missing_table'));
    expect(err.message).toContain('Table with name missing_table does not exist');
    expect(err.message).toContain('[TABLE_OR_VIEW_NOT_FOUND]');
    expect(err.message).toContain('SQLSTATE: 42P01');
    expect(wh.statements[0]?.error).toBe(err.message);

    const unbound = await rejection(session.executeStatement('SELECT :missing AS x'));
    expect(unbound.message).toContain('UNBOUND_SQL_PARAMETER');

    const cast = await rejection(
      session.executeStatement('SELECT :n AS n', {
        namedParameters: { n: new DBSQLParameter({ type: DBSQLParameterType.INTEGER, value: 'seven' }) },
      }),
    );
    expect(cast.message).toContain('CAST_INVALID_INPUT');

    wh.fault({ kind: 'sql_error', message: '[INSUFFICIENT_PERMISSIONS] No access. SQLSTATE: 42501' });
    const injected = await rejection(session.executeStatement('SELECT 1 AS one'));
    expect(injected.message).toBe('[INSUFFICIENT_PERMISSIONS] No access. SQLSTATE: 42501');
    expect(await rows(session, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(wh.statements.map((s) => s.error !== undefined)).toEqual([true, true, true, true, false]);
  });

  it('answers 503 with Retry-After while "starting": the error reaches the caller', async () => {
    const session = await open();
    wh.fault({ kind: 'unavailable', retryAfter: 30 });
    const err = await rejection(session.executeStatement('SELECT 1 AS one'));
    expect(err.message).toContain('503');
    expect(err.statusCode).toBe(503);
    expect((err.response as { headers: Headers }).headers.get('retry-after')).toBe('30');
    expect(wh.statements).toHaveLength(0);
    expect(await rows(session, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);

    wh.fault({ kind: 'unavailable' });
    const client = await connect();
    expect((await rejection(client.openSession())).message).toContain('503');
    expect(wh.sessions.opened).toBe(1);
  });

  it('answers late with a slow fault (a socket timeout trips on it)', async () => {
    const client = await connect({ socketTimeout: 300 });
    const session = await client.openSession({ initialCatalog: 'workspace', initialSchema: 'crypto' });
    wh.fault({ kind: 'slow', ms: 1_500 });
    const err = await rejection(session.executeStatement('SELECT 1 AS one'));
    expect(err.message).toMatch(/timed out|timeout/i);
    // The statement ran all the same: a client-side timeout does not cancel it on the warehouse.
    expect(wh.statements.map((s) => s.sql)).toEqual(['SELECT 1 AS one']);
    wh.fault({ kind: 'slow', ms: 100 });
    expect(await rows(session, 'SELECT 2 AS two')).toEqual([{ two: 2 }]);
  });

  it('reuses one session for many statements and counts sessions', async () => {
    const client = await connect();
    const session = await client.openSession({
      initialCatalog: 'workspace',
      initialSchema: 'crypto',
      configuration: { STATEMENT_TIMEOUT: '120' },
    });
    expect(await rows(session, 'SELECT 1 AS a')).toEqual([{ a: 1 }]);
    expect(await rows(session, 'SELECT 2 AS b')).toEqual([{ b: 2 }]);
    const together = await Promise.all([1, 2, 3, 4].map((n) => rows(session, `SELECT ${n} AS n`)));
    expect(together).toEqual([[{ n: 1 }], [{ n: 2 }], [{ n: 3 }], [{ n: 4 }]]);
    expect(wh.sessions.opened).toBe(1);
    expect(wh.sessions.namespaces).toEqual([{ catalog: 'workspace', schema: 'crypto' }]);
    expect(wh.sessions.configurations[0]).toMatchObject({ STATEMENT_TIMEOUT: '120' });
    expect(new Set(wh.statements.map((s) => s.sessionId))).toEqual(new Set([session.id]));
    await session.close();
    expect(wh.sessions.closed).toBe(1);
  });

  it('resolves unqualified names in the session namespace, and catalog.schema.table anywhere', async () => {
    await wh.db.run(`CREATE TABLE workspace.crypto.runs (env STRING)`);
    await wh.db.run(`INSERT INTO workspace.crypto.runs VALUES ('prod')`);
    await wh.db.run(`CREATE TABLE crypto_dev.crypto.runs (env STRING)`);
    await wh.db.run(`INSERT INTO crypto_dev.crypto.runs VALUES ('dev')`);

    const prod = await open({ initialCatalog: 'workspace', initialSchema: 'crypto' });
    const dev = await open({ initialCatalog: 'crypto_dev', initialSchema: 'crypto' });
    expect(await rows(prod, 'SELECT env FROM runs')).toEqual([{ env: 'prod' }]);
    expect(await rows(dev, 'SELECT env FROM runs')).toEqual([{ env: 'dev' }]);
    expect(await rows(dev, 'SELECT env FROM workspace.crypto.runs')).toEqual([{ env: 'prod' }]);

    // Without a namespace a session starts in workspace.default, as on Databricks.
    const plain = await open({});
    expect((await rejection(plain.executeStatement('SELECT env FROM runs'))).message).toContain(
      'TABLE_OR_VIEW_NOT_FOUND',
    );
    expect(await rows(plain, 'SELECT env FROM workspace.crypto.runs')).toEqual([{ env: 'prod' }]);
    expect(wh.sessions.namespaces).toEqual([
      { catalog: 'workspace', schema: 'crypto' },
      { catalog: 'crypto_dev', schema: 'crypto' },
      {},
    ]);

    const missing = await rejection(open({ initialCatalog: 'workspace', initialSchema: 'nope' }));
    expect(missing.message).toContain('SCHEMA_NOT_FOUND');
  });

  it('needs the CA certificate (or checkServerCertificate: false) and a token', async () => {
    const strict = await connect({ customCaCert: undefined });
    expect((await rejection(strict.openSession())).message).toMatch(/certificate/i);

    const lax = await connect({ customCaCert: undefined, checkServerCertificate: false });
    const session = await lax.openSession();
    expect(await rows(session, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);

    const anonymous = await connect({ token: '' });
    expect((await rejection(anonymous.openSession())).message).toContain('401');
  });
});

/** The lakehouse tables (as the harness seeds them) with three scored windows, one a minute. */
async function seedScored(): Promise<void> {
  await migrate(wh.db, 'local');
  await wh.db.run(`INSERT INTO anomalies
    (asset, symbol, window_end, price_avg, anomaly_score, is_anomaly, model_version, scored_at) VALUES
    ('bitcoin', 'btc', '2025-01-01 00:05:00', 94000, -0.1, 1, 1, '2025-01-01 00:11:00.250'),
    ('ethereum', 'eth', '2025-01-01 00:05:00', 3300, 0.2, 0, 1, '2025-01-01 00:12:00.500'),
    ('bitcoin', 'btc', '2025-01-01 00:10:00', 94100, 0.1, 0, 1, '2025-01-01 00:13:00.750')`);
}

describe('ANSI mode on the loopback warehouse', () => {
  it('refuses a malformed constant cast with CAST_INVALID_INPUT, even in a branch never evaluated', async () => {
    const session = await open();
    for (const sql of [
      "SELECT CASE WHEN true THEN TIMESTAMP '2025-01-01 00:00:00' ELSE CAST('' AS TIMESTAMP) END AS x",
      "SELECT 1 AS x WHERE true OR TIMESTAMP '2025-01-01 00:00:00' > CAST('' AS TIMESTAMP)",
      "SELECT CAST('2025-13-01' AS DATE) AS x",
      "SELECT CAST('1.5' AS INT) AS x",
      "SELECT CAST('3000000000' AS INT) AS x",
      "SELECT CAST('maybe' AS BOOLEAN) AS x",
      "SELECT CAST('12a' AS DOUBLE) AS x",
      "SELECT CAST('123.4' AS DECIMAL(4, 2)) AS x",
      "SELECT ''::TIMESTAMP AS x",
    ]) {
      const err = await rejection(session.executeStatement(sql));
      expect(err.message, sql).toMatch(
        /^\[CAST_INVALID_INPUT\] The value '.*' of the type "STRING" cannot be cast to/,
      );
      expect(err.message, sql).toContain('SQLSTATE: 22018');
    }
    // A string-typed bound value is a constant too: the '' sentinel of a cursor fails while planning.
    const sentinel = await rejection(
      session.executeStatement(
        "SELECT 1 AS x WHERE :c = '' OR TIMESTAMP '2025-01-01 00:00:00' > CAST(:c AS TIMESTAMP)",
        {
          namedParameters: { c: '' },
        },
      ),
    );
    expect(sentinel.message).toContain('[CAST_INVALID_INPUT]');
    expect(wh.statements.every((s) => s.error?.includes('CAST_INVALID_INPUT'))).toBe(true);
  });

  it('accepts try_cast, well-formed casts, a NULL parameter and typed parameters', async () => {
    const session = await open();
    expect(
      await rows(
        session,
        `SELECT try_cast('' AS TIMESTAMP) AS t, TRY_CAST('x' AS INT) AS i,
          CAST('2025-01-01T00:05:00.123Z' AS TIMESTAMP) AS ts, CAST(' 42 ' AS INT) AS n,
          CAST('2025-02-03' AS DATE) AS d, CAST('yes' AS BOOLEAN) AS b, CAST('1e3' AS DOUBLE) AS f,
          CAST('12.34' AS DECIMAL(4, 2)) AS m, CAST(:none AS TIMESTAMP) AS none,
          CAST(:ts AS TIMESTAMP) AS typed`,
        { none: null, ts: timestampParam('2025-01-01T00:00:00.000Z') },
      ),
    ).toEqual([
      {
        t: null,
        i: null,
        ts: '2025-01-01 00:05:00.123',
        n: 42,
        d: '2025-02-03',
        b: true,
        f: 1000,
        m: 12.34,
        none: null,
        typed: '2025-01-01 00:00:00',
      },
    ]);
    expect(wh.statements[0]?.paramTypes).toEqual({ none: 'VOID', ts: 'TIMESTAMP' });
  });

  it('runs the feed query with no cursor (NULL) and with a typed TIMESTAMP cursor', async () => {
    await seedScored();
    const session = await open();
    const feed = sqlFile('queries/scored_since');
    const all = await rows(session, feed, { cursor: timestampParam(null), limit: 100 });
    expect(all.map((r) => [r.asset, r.window_end])).toEqual([
      ['bitcoin', '2025-01-01 00:05:00'],
      ['ethereum', '2025-01-01 00:05:00'],
      ['bitcoin', '2025-01-01 00:10:00'],
    ]);
    const after = await rows(session, feed, {
      cursor: timestampParam('2025-01-01T00:12:00.500Z'),
      limit: 100,
    });
    expect(after.map((r) => [r.asset, r.window_end])).toEqual([['bitcoin', '2025-01-01 00:10:00']]);
    expect(
      await rows(session, feed, { cursor: timestampParam('2025-01-01T00:13:00.750Z'), limit: 100 }),
    ).toEqual([]);
    expect(wh.statements.map((s) => s.paramTypes)).toEqual([
      { cursor: 'VOID', limit: 'INTEGER' },
      { cursor: 'TIMESTAMP', limit: 'INTEGER' },
      { cursor: 'TIMESTAMP', limit: 'INTEGER' },
    ]);
  });

  it('runs every sql/queries file with its parameters unset (NULL) or typed', async () => {
    await seedScored();
    const session = await open();
    // The values the platforms bind (src/platform/databricks/platform.ts); a parameter missing here
    // fails the test, so a new one is given a typed value (or NULL) before it ships.
    const typed: Record<string, unknown[]> = {
      cursor: [null, timestampParam('2025-01-01T00:11:00.250Z')],
      since: [new Date('2024-12-31T00:00:00Z')],
      until: [new Date('2025-01-02T00:00:00Z')],
      asset: [null, 'bitcoin'],
      assets: ['bitcoin,ethereum', null],
      limit: [10],
    };
    const dir = join(packageRoot(), 'sql', 'queries');
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const sql = sqlFile(`queries/${file.replace(/\.sql$/, '')}`);
      const names = toDuckDbParams(sql).names;
      for (const name of names) expect(typed[name], `${file}: a typed value for :${name}`).toBeDefined();
      // Each variant: every parameter at its first value, then each one at its other values.
      const variants: Array<Record<string, unknown>> = [
        Object.fromEntries(names.map((n) => [n, typed[n]?.[0]])),
      ];
      for (const name of names) {
        for (const value of (typed[name] ?? []).slice(1)) {
          variants.push({ ...variants[0], [name]: value });
        }
      }
      for (const params of variants) {
        const result = await rows(session, sql, names.length > 0 ? params : undefined).catch(
          (err: unknown) => {
            throw new Error(
              `${file} with ${JSON.stringify(params)}: ${(err as { message?: string }).message}`,
            );
          },
        );
        expect(Array.isArray(result)).toBe(true);
      }
    }
    expect(wh.statements.filter((s) => s.error !== undefined)).toEqual([]);
  });
});
