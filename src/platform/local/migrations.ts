import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { packageRoot } from '../../sql-files.js';
import type { Db, Queries } from './db.js';

/**
 * Forward-only schema migrations of the DuckDB files: the numbered steps in
 * `sql/<store>/migrations/NNN_name.sql`, and a `schema_version` table that records each step
 * applied (store, version, name, applied_at). The lakehouse (`local`) and the bot's delivery log
 * (`bot`) are two stores: the embedded default keeps both in one file, so each has its own rows.
 *
 * Step 001 is the schema as it was before versioning, idempotent: a file made before has its tables
 * and no version rows, and running 001 on it changes nothing and records version 1.
 */
export type Store = 'local' | 'bot';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;
const steps = new Map<Store, Migration[]>();

/** The steps of a store, in order: versions 1, 2, … without gaps (anything else is a packaging bug). */
export function migrationsOf(store: Store): Migration[] {
  const known = steps.get(store);
  if (known) return known;
  const dir = join(packageRoot(), 'sql', store, 'migrations');
  const list = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file, i) => {
      const match = FILE_NAME.exec(file);
      if (!match || Number(match[1]) !== i + 1) {
        throw new Error(
          `sql/${store}/migrations/${file}: expected ${String(i + 1).padStart(3, '0')}_<name>.sql`,
        );
      }
      return { version: i + 1, name: match[2] as string, sql: readFileSync(join(dir, file), 'utf8') };
    });
  steps.set(store, list);
  return list;
}

/**
 * Brings a store's tables to the latest version: runs the steps not applied yet, in order, each in
 * one transaction with its version row. Returns the versions applied (none when already latest).
 * A file with a version this code does not know (written by a newer release), or whose applied
 * steps are not this code's, is refused before anything changes. `known` is for tests that build
 * an earlier version.
 */
export async function migrate(
  db: Db,
  store: Store,
  known: Migration[] = migrationsOf(store),
): Promise<number[]> {
  const applied = await appliedSteps(db, store);
  for (const row of applied) {
    const step = known[row.version - 1];
    if (!step) {
      throw new UserError(
        `The database file ${db.path} has ${describe(store)} at schema version ${row.version} (${row.name}), ` +
          `newer than this release of crypto-risk knows (version ${known.length}): it was written by a newer ` +
          'release. Run that release (or newer) on it, or point --db / DUCKDB_PATH at another file. Nothing was changed.',
      );
    }
    if (step.name !== row.name) {
      throw new UserError(
        `The database file ${db.path} has ${describe(store)} at schema version ${row.version} named ` +
          `"${row.name}", but this release's version ${row.version} is "${step.name}": it was written by another ` +
          'build of crypto-risk. Run that build on it, or point --db / DUCKDB_PATH at another file. Nothing was changed.',
      );
    }
  }
  const current = applied.reduce((max, r) => Math.max(max, r.version), 0);
  const done: number[] = [];
  for (const step of known.filter((s) => s.version > current)) {
    await db.transaction(async (tx) => {
      await createVersionTable(tx);
      await tx.script(step.sql);
      await tx.run(
        `INSERT INTO schema_version (store, version, name, applied_at)
         VALUES (:store, :version, :name, CAST(now() AS TIMESTAMP))`,
        { store, version: step.version, name: step.name },
      );
    });
    done.push(step.version);
  }
  return done;
}

/** The steps recorded for a store, oldest first; none when the file has no schema_version yet. */
async function appliedSteps(db: Db, store: Store): Promise<Array<{ version: number; name: string }>> {
  const [table] = await db.all<{ n: number }>(
    `SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'schema_version'`,
  );
  if (!table?.n) return [];
  return db.all(`SELECT version, name FROM schema_version WHERE store = :store ORDER BY version`, { store });
}

function createVersionTable(tx: Queries): Promise<number> {
  return tx.run(`CREATE TABLE IF NOT EXISTS schema_version (
    store      VARCHAR   NOT NULL,   -- local (the lakehouse) | bot (the delivery log)
    version    INTEGER   NOT NULL,   -- the step's number (its file NNN_name.sql)
    name       VARCHAR   NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (store, version)
  )`);
}

function describe(store: Store): string {
  return store === 'local' ? 'the lakehouse tables' : "the bot's delivery log";
}
