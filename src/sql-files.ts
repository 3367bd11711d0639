import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's SQL lives in `sql/` at the package root (beside `src/` and `dist/`), with named
 * parameters written `:name` as Databricks SQL takes them. This module finds and reads those files
 * and converts the parameter markers for DuckDB, which writes them `$name`.
 */

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the sql-files module');
    dir = parent;
  }
  return dir;
}

const cache = new Map<string, string>();

/** The text of `sql/<name>.sql`, e.g. `sqlFile('queries/top_windows')`. */
export function sqlFile(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(packageRoot(), 'sql', `${name}.sql`), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/**
 * Rewrites `:name` parameter markers to `$name`, leaving `::` casts, string literals, quoted
 * identifiers and comments alone. Returns the parameter names in order of first use.
 */
export function toDuckDbParams(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (ch === "'" || ch === '"') {
      const end = closingQuote(sql, i, ch);
      out += sql.slice(i, end);
      i = end;
    } else if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === ':' && next === ':') {
      out += '::';
      i += 2;
    } else if (
      ch === ':' &&
      next !== undefined &&
      /[A-Za-z_]/.test(next) &&
      !/[\w:]/.test(sql[i - 1] ?? '')
    ) {
      const match = /^[A-Za-z_]\w*/.exec(sql.slice(i + 1)) as RegExpExecArray;
      const name = match[0];
      if (!names.includes(name)) names.push(name);
      out += `$${name}`;
      i += 1 + name.length;
    } else {
      out += ch;
      i += 1;
    }
  }
  return { text: out, names };
}

/** Index just past the quote that closes the one at `start` (a doubled quote is an escaped one). */
function closingQuote(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}
