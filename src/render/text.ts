import { plainText, type Reply, type Table } from '../domain/reply.js';

/** Renders a reply as plain text for a terminal (no colour codes, so it pipes cleanly). */
export function renderText(reply: Reply): string {
  const out: string[] = [reply.title];
  if (reply.badge) out.push(`!! ${reply.badge}`);
  if (reply.summary) out.push(plainText(reply.summary));
  if (reply.fields && reply.fields.length > 0) {
    const width = reply.fields.reduce((w, f) => Math.max(w, f.label.length), 0);
    out.push('');
    for (const f of reply.fields) out.push(`${`${f.label}:`.padEnd(width + 1)} ${f.value}`);
  }
  for (const table of reply.tables ?? []) out.push('', renderTable(table).join('\n'));
  if (reply.notes && reply.notes.length > 0) out.push('', reply.notes.map((n) => `- ${n}`).join('\n'));
  return `${out.join('\n')}\n`;
}

export function renderTable(table: Table): string[] {
  const lines: string[] = [];
  if (table.title) lines.push(table.title);
  if (table.rows.length === 0) {
    lines.push('  (none)');
    return lines;
  }
  const widths = table.columns.map((c, i) =>
    table.rows.reduce((w, r) => Math.max(w, (r[i] ?? '').length), c.header.length),
  );
  const cell = (text: string, i: number) =>
    table.columns[i]?.align === 'right' ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
  const row = (cells: string[]) => `  ${cells.map(cell).join('  ')}`.trimEnd();
  lines.push(row(table.columns.map((c) => c.header)));
  lines.push(row(widths.map((w) => '-'.repeat(w))));
  for (const r of table.rows) lines.push(row(table.columns.map((_, i) => r[i] ?? '')));
  return lines;
}
