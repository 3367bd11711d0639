import type { Reply } from '../domain/reply.js';
import type { Platform } from '../platform/port.js';

/** One read-only statement against the lakehouse; its rows as a table. */
export async function sqlCommand(
  text: string,
  maxRows: number,
  deps: { platform: Platform },
): Promise<Reply> {
  const result = await deps.platform.reads.readOnlySql(text, maxRows);
  return {
    title: `${result.rows.length} row(s)${result.truncated ? ` (first ${maxRows} shown)` : ''}`,
    tables: [
      {
        columns: result.columns.map((header) => ({ header })),
        rows: result.rows.map((row) => result.columns.map((c) => cellText(row[c]))),
      },
    ],
    notes: result.truncated ? [`More rows exist; add a LIMIT or pass --max-rows.`] : [],
    data: result,
  };
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
