import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryLog } from '../../src/chat/delivery-log.js';
import { baseType, WINDOW_COLUMNS, WINDOW_FIELDS } from '../../src/domain/windows.js';
import { UserError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { type Db, openDb } from '../../src/platform/local/db.js';
import { type Migration, migrate, migrationsOf, type Store } from '../../src/platform/local/migrations.js';
import { createLocalPlatform } from '../../src/platform/local/platform.js';
import { testConfig } from '../support/lakehouse.js';

const STORES: Store[] = ['local', 'bot'];
const FIXTURE = fileURLToPath(new URL('../fixtures/data-folder-v1', import.meta.url));

const opened: Db[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function memoryDb(): Promise<Db> {
  const db = await openDb(':memory:');
  opened.push(db);
  return db;
}

/** A database with both stores at the latest version, as a new data folder gets. */
async function freshDb(): Promise<Db> {
  const db = await memoryDb();
  for (const store of STORES) await migrate(db, store);
  return db;
}

/** Tables, columns (in order, with types, nullability, defaults) and constraints of the file. */
async function schemaOf(db: Db) {
  return {
    columns: await db.all(
      `SELECT table_name, column_index, column_name, data_type, is_nullable, column_default
       FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main'
       ORDER BY table_name, column_index`,
    ),
    constraints: await db.all(
      `SELECT table_name, constraint_type, constraint_text, constraint_column_names
       FROM duckdb_constraints() WHERE database_name = current_database() AND schema_name = 'main'
       ORDER BY table_name, constraint_type, constraint_text, constraint_column_names`,
    ),
  };
}

async function versionsOf(db: Db, store: Store) {
  return db.all<{ version: number; name: string }>(
    'SELECT version, name FROM schema_version WHERE store = :store ORDER BY version',
    { store },
  );
}

/** Every row of every table, by table (rows in a stable order), to compare before and after. */
async function contentsOf(db: Db) {
  const tables = await db.all<{ name: string }>(
    `SELECT table_name AS name FROM duckdb_tables()
     WHERE database_name = current_database() AND schema_name = 'main' ORDER BY name`,
  );
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) out[name] = await db.all(`SELECT * FROM "${name}" ORDER BY ALL`);
  return out;
}

/** Rows in the tables of version 1 of a store, written with the columns that version has. */
async function seed(db: Db, store: Store): Promise<void> {
  if (store === 'local') {
    await db.script(`
      INSERT INTO metrics_gold (asset, symbol, window_start, window_end, price_avg, price_vol, price_min,
        price_max, vol_sum, ret_window, ticks, source, emitted_at)
      VALUES ('bitcoin', 'btc', '2025-01-01 00:00:00', '2025-01-01 00:05:00', 94000, 12.5, 93900, 94100,
        1e6, 0.002, 5, 'simulator', '2025-01-01 00:07:00');
      INSERT INTO anomalies (asset, symbol, window_end, price_avg, price_vol, ret_window, vol_sum, ret_prev,
        anomaly_score, is_anomaly, model_version, scored_at)
      VALUES ('bitcoin', 'btc', '2025-01-01 00:05:00', 94000, 12.5, 0.002, 1e6, NULL, -0.1, 1, 1,
        '2025-01-01 00:11:00.250');
      INSERT INTO pipeline_metrics (batch_no, file, stage, rows_in, rows_out, processed_at)
      VALUES (1, 'a.jsonl', 'silver', 10, 9, '2025-01-01 00:06:00');
      INSERT INTO kv_state (key, value, updated_at) VALUES ('simulator', '{"seed": 42}', '2025-01-01 00:00:00');`);
  } else {
    await db.script(`
      INSERT INTO feed_messages (delivery_id, channel, kind, state, message_ts, created_at, posted_at)
      VALUES ('d1', 'C1', 'episode', 'posted', '1700000000.000100', '2025-01-01 00:12:00', '2025-01-01 00:12:01'),
        ('d2', 'C1', 'digest', 'pending', NULL, '2025-01-01 00:13:00', NULL);
      INSERT INTO feed_windows (channel, asset, window_end, delivery_id, symbol, price_avg, ret_window,
        anomaly_score, is_anomaly, model_version, simulated)
      VALUES ('C1', 'bitcoin', '2025-01-01 00:05:00', 'd1', 'btc', 94000, 0.002, -0.1, true, 1, true),
        ('C1', 'ethereum', '2025-01-01 00:05:00', 'd2', NULL, NULL, NULL, -0.2, true, 2, false);
      INSERT INTO bot_state (key, value) VALUES ('feed.cursor.C1', '2025-01-01T00:11:00.250Z');
      INSERT INTO feed_incidents (channel, incident, file, state, message_ts, created_at, posted_at)
      VALUES ('C1', 'a.jsonl|2025-01-01T00:00:00.000Z', 'a.jsonl', 'posted', '1700000000.000200',
        '2025-01-01 00:14:00', '2025-01-01 00:14:01');`);
  }
}

/** Each store's earlier versions: 0 is a file made before the versioning (tables, no schema_version). */
const EARLIER = STORES.flatMap((store) =>
  Array.from({ length: migrationsOf(store).length }, (_, k) => ({
    store,
    k,
    from: k === 0 ? 'a file made before versioning' : `version ${k}`,
  })),
);

describe('schema migrations of the DuckDB files', () => {
  it('has a step 001 and a later step in the bot store', () => {
    expect(migrationsOf('local')[0]?.name).toBe('initial_schema');
    const versions = migrationsOf('bot').map((s) => s.version);
    expect(versions.length).toBeGreaterThan(1);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
  });

  it.each(EARLIER)('brings $store from $from to the latest, its data intact', async ({ store, k }) => {
    const steps = migrationsOf(store);
    const db = await memoryDb();
    await migrate(db, store, steps.slice(0, Math.max(k, 1)));
    if (k === 0) await db.run('DROP TABLE schema_version');
    await seed(db, store);
    const before = await contentsOf(db);
    delete before.schema_version;

    const applied = await migrate(db, store);

    expect(applied).toEqual(steps.filter((s) => s.version > k).map((s) => s.version));
    expect(await versionsOf(db, store)).toEqual(steps.map(({ version, name }) => ({ version, name })));
    const after = await contentsOf(db);
    delete after.schema_version;
    // The tables there before keep their rows; a table a later step adds starts empty, and a column a
    // later step adds is empty (NULL) in the rows that were there.
    for (const [table, rows] of Object.entries(after)) if (!(table in before)) expect(rows).toEqual([]);
    for (const [table, rows] of Object.entries(before)) {
      const kept = Object.keys((rows[0] ?? {}) as object);
      const now = after[table] as Array<Record<string, unknown>>;
      expect(now.map((row) => Object.fromEntries(kept.map((c) => [c, row[c]])))).toEqual(rows);
      for (const row of now)
        for (const [c, v] of Object.entries(row)) if (!kept.includes(c)) expect(v).toBeNull();
    }
    const fresh = await memoryDb();
    await migrate(fresh, store);
    expect(await schemaOf(db)).toEqual(await schemaOf(fresh));
  });

  it('changes nothing on a database already at the latest version', async () => {
    const db = await freshDb();
    await seed(db, 'local');
    await seed(db, 'bot');
    const before = { schema: await schemaOf(db), contents: await contentsOf(db) };
    for (const store of STORES) expect(await migrate(db, store)).toEqual([]);
    expect({ schema: await schemaOf(db), contents: await contentsOf(db) }).toEqual(before);
  });

  it('refuses a database newer than the code, and changes nothing', async () => {
    const db = await freshDb();
    await seed(db, 'bot');
    const latest = migrationsOf('bot').length;
    await db.run(
      `INSERT INTO schema_version (store, version, name, applied_at) VALUES ('bot', :v, 'from_the_future', now())`,
      { v: latest + 1 },
    );
    const before = { schema: await schemaOf(db), contents: await contentsOf(db) };

    const refusal = await migrate(db, 'bot').catch((err: unknown) => err);

    expect(refusal).toBeInstanceOf(UserError);
    expect((refusal as Error).message).toContain(
      `schema version ${latest + 1} (from_the_future), newer than this release of crypto-risk knows (version ${latest})`,
    );
    expect((refusal as Error).message).toContain('Nothing was changed.');
    expect({ schema: await schemaOf(db), contents: await contentsOf(db) }).toEqual(before);
    // Code that knows only the first step refuses a database at step 2 the same way.
    const older = await freshDb();
    await expect(migrate(older, 'bot', migrationsOf('bot').slice(0, 1))).rejects.toThrow(
      /newer than this release/,
    );
  });

  it('refuses a database whose applied steps are another build’s', async () => {
    const db = await freshDb();
    await db.run(`UPDATE schema_version SET name = 'something_else' WHERE store = 'bot' AND version = 2`);
    await expect(migrate(db, 'bot')).rejects.toThrow(/version 2 named "something_else", but this release's/);
  });

  it('applies a step with its version row or not at all', async () => {
    const db = await freshDb();
    const steps = migrationsOf('bot');
    const broken: Migration = {
      version: steps.length + 1,
      name: 'broken',
      sql: 'CREATE TABLE half_done (a INTEGER); SELECT * FROM no_such_table;',
    };
    await expect(migrate(db, 'bot', [...steps, broken])).rejects.toThrow(/no_such_table/);
    expect((await versionsOf(db, 'bot')).map((r) => r.version)).toEqual(steps.map((s) => s.version));
    expect(await db.all(`SELECT * FROM duckdb_tables() WHERE table_name = 'half_done'`)).toEqual([]);
  });

  it("keeps feed_windows' columns those of the window column map", async () => {
    const db = await freshDb();
    const columns = await db.all<{ column_name: string; data_type: string; is_nullable: boolean }>(
      `SELECT column_name, data_type, is_nullable FROM duckdb_columns()
       WHERE table_name = 'feed_windows' ORDER BY column_index`,
    );
    expect(columns.slice(0, 2).map((c) => c.column_name)).toEqual(['channel', 'delivery_id']);
    expect(columns.slice(2)).toEqual(
      WINDOW_FIELDS.map((field) => ({
        column_name: field,
        data_type: baseType(WINDOW_COLUMNS[field]),
        is_nullable: !WINDOW_COLUMNS[field].endsWith('NOT NULL'),
      })),
    );
  });
});

describe('a data folder made before the schema was versioned', () => {
  const CHANNEL = 'C0FIXTURE1';
  const NOW = new Date('2026-12-02T14:45:00Z');

  async function copyOfFixture(): Promise<{ dbPath: string; landingDir: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'crm-migrations-'));
    dirs.push(dir);
    const dbPath = join(dir, 'crypto.duckdb');
    writeFileSync(dbPath, gunzipSync(readFileSync(join(FIXTURE, 'crypto.duckdb.gz'))));
    cpSync(join(FIXTURE, 'landing'), join(dir, 'landing'), { recursive: true });
    return { dbPath, landingDir: join(dir, 'landing') };
  }

  it('opens with this code: top and status answer, and the delivered windows are known', async () => {
    const { dbPath, landingDir } = await copyOfFixture();
    const open = () =>
      createLocalPlatform({
        dbPath,
        landingDir,
        model: testConfig().model,
        clock: { now: () => NOW },
        logger: silentLogger(),
      });
    const platform = await open();
    try {
      const log = createDeliveryLog(platform.db);
      expect(await log.init()).toEqual(migrationsOf('bot').map((s) => s.version));
      expect(await versionsOf(platform.db, 'local')).toEqual(
        migrationsOf('local').map(({ version, name }) => ({ version, name })),
      );
      expect(await schemaOf(platform.db)).toEqual(await schemaOf(await freshDb()));

      const top = await platform.reads.topAnomalies({
        limit: 10,
        since: new Date(NOW.getTime() - 24 * 3_600_000),
        until: NOW,
      });
      expect(top.scored_windows).toBe(187);
      expect(top.windows.map((w) => w.window_end).sort()).toEqual([
        '2026-12-02T07:55:00.000Z',
        '2026-12-02T11:50:00.000Z',
        '2026-12-02T11:55:00.000Z',
      ]);
      const status = await platform.reads.status(NOW);
      expect(status.stages.find((s) => s.stage === 'gold')?.rows).toBe(187);
      expect(status.model.champion?.version).toBe(1);
      expect(status.jobs.map((j) => j.job).sort()).toEqual(['infer', 'ingest', 'pipeline', 'train']);

      // The feed does not announce the windows again, and finds its pending message.
      const scored = await platform.reads.scoredSince(null, 1000);
      const delivered = await log.delivered(CHANNEL, scored);
      expect([...delivered.values()].map((w) => [w.delivery_id, w.window_end]).sort()).toEqual([
        ['delivery-pending', '2026-12-02T11:55:00.000Z'],
        ['delivery-posted', '2026-12-02T07:55:00.000Z'],
        ['delivery-posted', '2026-12-02T11:50:00.000Z'],
      ]);
      expect((await log.pending(CHANNEL)).map((m) => m.delivery_id)).toEqual(['delivery-pending']);
      expect((await log.message('delivery-posted'))?.message_ts).toBe('1764680000.000100');
      expect(await log.windowsOf('delivery-posted')).toEqual(
        scored
          .filter((w) => delivered.get(`${w.asset}|${w.window_end}`)?.delivery_id === 'delivery-posted')
          .map(({ scored_at: _, ...w }) => w)
          .sort((a, b) => a.anomaly_score - b.anomaly_score),
      );
      expect(await log.cursor(CHANNEL)).toBe(scored.at(-1)?.scored_at);
      expect(await log.incidents(CHANNEL)).toEqual(
        new Map([['landing/bad.jsonl|2026-12-02T12:00:00.000Z', 'posted']]),
      );
      // and it keeps writing: a window delivered now is read back with the fields it went out with
      const next = { ...(scored[0] as (typeof scored)[number]), window_end: '2026-12-02T14:45:00.000Z' };
      await log.reserve({ delivery_id: 'delivery-new', channel: CHANNEL, kind: 'episode' }, [next], NOW);
      const { scored_at: _, ...stored } = next;
      expect(await log.windowsOf('delivery-new')).toEqual([stored]);
    } finally {
      await platform.close();
    }
    // A second start applies nothing.
    const again = await open();
    try {
      expect(await createDeliveryLog(again.db).init()).toEqual([]);
      expect(await migrate(again.db, 'local')).toEqual([]);
    } finally {
      await again.close();
    }
  });
});
