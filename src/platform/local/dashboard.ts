import type { Clock } from '../../clock.js';
import { DASHBOARD } from '../../domain/dashboard.js';
import { formatReasons } from '../../model/reasons.js';
import { sqlFile } from '../../sql-files.js';
import type { Db, Row } from './db.js';

/**
 * The dashboard's panels over the local DuckDB: each panel of DASHBOARD runs the query of
 * `sql/local/dashboard.sql` that has its id, with the parameters bound (never pasted) and "now"
 * from the product's clock. What the console's Dashboard view draws.
 */
export interface DashboardParams {
  asset: string;
  hours: number;
}

export interface LocalDashboard {
  /** A panel's rows; undefined when DASHBOARD has no panel by that id. */
  panel(id: string, params: DashboardParams): Promise<Row[] | undefined>;
  /** The assets the asset picker offers: those with Gold windows. */
  assets(): Promise<string[]>;
  /**
   * Changes whenever a window is scored or a Gold window is emitted, so a page polls it cheaply and
   * reloads its panels only then; `scoredAt` is the latest scoring time (null before the first).
   */
  version(): Promise<{ version: string; scoredAt: string | null }>;
}

/** The queries of a `-- name:` file by name (statements end with a semicolon at the end of a line). */
export function namedQueries(text: string): Map<string, string> {
  const queries = new Map<string, string>();
  for (const statement of text.split(/;[ \t]*(?:\r?\n|$)/)) {
    const name = /^-- name: (\w+)[ \t]*$/m.exec(statement)?.[1];
    if (name === undefined) continue;
    if (queries.has(name)) throw new Error(`dashboard.sql: two queries are named ${name}`);
    queries.set(name, statement.slice(statement.indexOf('-- name:')));
  }
  return queries;
}

/** The reasons of a window in words; windows scored before reasons were kept have none (null). */
function reasonsText(stored: unknown): string | null {
  if (typeof stored !== 'string') return null;
  return formatReasons(stored) || 'no single measure stands out: an unusual combination of small moves';
}

export function createLocalDashboard(db: Db, clock: Clock): LocalDashboard {
  let queries: Map<string, string> | undefined;
  const query = (id: string) => {
    queries ??= namedQueries(sqlFile('local/dashboard'));
    return queries.get(id);
  };
  return {
    async panel(id, params) {
      if (!DASHBOARD.panels.some((p) => p.id === id)) return undefined;
      const sql = query(id);
      if (sql === undefined) throw new Error(`sql/local/dashboard.sql has no query ${id}`);
      const rows = await db.all(sql, {
        asset: params.asset,
        hours: params.hours,
        now: clock.now().toISOString(),
      });
      return rows.map((r) => ('reasons' in r ? { ...r, reasons: reasonsText(r.reasons) } : r));
    },
    async assets() {
      const rows = await db.all<{ asset: string }>(sqlFile('queries/assets'));
      return rows.map((r) => r.asset);
    },
    async version() {
      const [row] = await db.all<{ scored: string | null; gold: string | null }>(
        `SELECT (SELECT max(scored_at) FROM anomalies) AS scored,
                (SELECT max(emitted_at) FROM metrics_gold) AS gold`,
      );
      const scoredAt = row?.scored ?? null;
      return { version: `${scoredAt ?? '-'}|${row?.gold ?? '-'}`, scoredAt };
    },
  };
}
