import type {
  ActionsBlock,
  Button,
  ConfirmationDialog,
  ContextBlock,
  KnownBlock,
  MrkdwnElement,
  PlainTextElement,
  SectionBlock,
} from '@slack/types';
import { formatTime } from '../domain/format.js';
import type { ChartInput } from '../domain/reply.js';
import { type Action, type Field, plainText, type Reply, type Table, type Text } from '../domain/reply.js';
import { clean, oneLine, plural } from './plain-text.js';

/**
 * Renders a reply as Slack Block Kit, always within Slack's limits whatever the input: when
 * something has to go, the content last in the layout goes first and a closing context block says
 * what was left out and where to get the full answer.
 *
 * User-provided text in mrkdwn has `&`, `<` and `>` escaped (so it can never mention or link) and
 * `verbatim: true` (so Slack does not auto-link or auto-mention it either); plain_text (header,
 * buttons, dialogs, image texts) is never parsed by Slack and stays as it is.
 */

export interface BlockOptions {
  /** Slack file id of the uploaded chart PNG (the caller renders and uploads reply.chart); without it the chart is left out. */
  chartFileId?: string;
  /** 50 for messages (default), 100 for Home tabs and modals. */
  maxBlocks?: number;
  /** The command that gives the full answer, named when the output is shortened, e.g. `crypto-risk top 500 --json`. */
  fullCommand?: string;
}

/** Slack's limits (docs.slack.dev, Block Kit reference), in UTF-16 code units (never fewer than Slack counts). */
export const SLACK_LIMITS = {
  messageBlocks: 50,
  surfaceBlocks: 100,
  header: 150,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  contextElements: 10,
  textObject: 3000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  altText: 2000,
  imageTitle: 2000,
} as const;

/** The notification text (title and badge or summary). */
const FALLBACK_TEXT = 300;
/** Widest table cell and line in a code block: a table always shows its header and a first row. */
const TABLE_CELL = 60;
const TABLE_LINE = 600;
const LABEL = 200;
const TABLE_TITLE = 200;
/** Looks like a backtick, cannot end a code block. */
const BACKTICK_LOOKALIKE = '\u02cb';

export function renderBlocks(
  reply: Reply,
  options: BlockOptions = {},
): { text: string; blocks: KnownBlock[] } {
  const maxBlocks = Math.min(
    SLACK_LIMITS.surfaceBlocks,
    Math.max(2, Math.floor(options.maxBlocks ?? SLACK_LIMITS.messageBlocks)),
  );
  const lost = new Lost();
  const parts: Part[] = [];

  // The head: always kept (as far as blocks allow).
  const title = oneLine(reply.title) || 'Reply';
  if (title.length > SLACK_LIMITS.header) lost.cutTexts.add('title');
  parts.push({ pinned: true, block: { type: 'header', text: plain(truncate(title, SLACK_LIMITS.header)) } });
  const badge = oneLine(reply.badge ?? '');
  if (badge) {
    const text = `:warning: *${fitMrkdwn(badge, SLACK_LIMITS.sectionText - 12, lost, 'badge')}*`;
    parts.push({ pinned: true, block: section(text), drops: ['badge', 1] });
  }
  const summary = richMrkdwn(reply.summary, SLACK_LIMITS.sectionText, lost, 'summary');
  if (summary) parts.push({ pinned: true, block: section(summary), drops: ['summary', 1] });

  const fields = reply.fields ?? [];
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.sectionFields) {
    const chunk = fields.slice(i, i + SLACK_LIMITS.sectionFields);
    parts.push({
      block: { type: 'section', fields: chunk.map((f) => mrkdwn(fieldText(f, lost))) },
      drops: ['field', chunk.length],
    });
  }

  const body: Part[] = [];
  for (const table of reply.tables ?? []) {
    body.push({ block: tableSection(table, lost), drops: ['table', 1] });
  }
  if (reply.chart && options.chartFileId) {
    body.push({ block: chartImage(reply.chart, options.chartFileId), drops: ['chart', 1] });
  }
  if (body.length > 0 && parts.length > 1) parts.push({ divider: true, block: { type: 'divider' } });
  for (const part of body) parts.push(part);

  const buttons = uniqueButtons(reply.actions ?? [], lost);
  if (buttons.length > 0 && parts.length > 1) parts.push({ divider: true, block: { type: 'divider' } });
  for (let i = 0; i < buttons.length; i += SLACK_LIMITS.actionsElements) {
    const chunk = buttons.slice(i, i + SLACK_LIMITS.actionsElements);
    const block: ActionsBlock = { type: 'actions', elements: chunk };
    parts.push({ block, drops: ['button', chunk.length] });
  }

  const notes = (reply.notes ?? []).map((n) => clean(n).trim()).filter((n) => n.length > 0);
  for (let i = 0; i < notes.length; i += SLACK_LIMITS.contextElements) {
    const chunk = notes.slice(i, i + SLACK_LIMITS.contextElements);
    const block: ContextBlock = {
      type: 'context',
      elements: chunk.map((n) => mrkdwn(fitMrkdwn(n, SLACK_LIMITS.textObject, lost, 'notes'))),
    };
    parts.push({ block, drops: ['note', chunk.length] });
  }

  const shortened = lost.any() || parts.length > maxBlocks;
  const kept = dropToFit(parts, shortened ? maxBlocks - 1 : maxBlocks, lost);
  const blocks = kept.map((p) => p.block);
  if (shortened) blocks.push(shortenedNotice(lost, options.fullCommand));
  return { text: fallbackText(reply), blocks };
}

interface Part {
  block: KnownBlock;
  /** Kept while anything else can go (header, badge, summary). */
  pinned?: boolean;
  /** Dropped before any content. */
  divider?: boolean;
  /** What dropping this block leaves out: a kind and a count. */
  drops?: [Kind, number];
}

/** What a block holds, in layout order. */
const KINDS = ['badge', 'summary', 'field', 'table', 'chart', 'button', 'note'] as const;
type Kind = (typeof KINDS)[number];

/** What had to go, for the closing notice. */
class Lost {
  readonly dropped = new Map<Kind, number>();
  rows = 0;
  readonly cutTexts = new Set<string>();

  drop(kind: Kind, n: number): void {
    this.dropped.set(kind, (this.dropped.get(kind) ?? 0) + n);
  }
  any(): boolean {
    return this.dropped.size > 0 || this.rows > 0 || this.cutTexts.size > 0;
  }
}

/** Removes dividers, then content from the end, then pinned blocks from the end (never the header). */
function dropToFit(parts: Part[], max: number, lost: Lost): Part[] {
  const kept = [...parts];
  const removeLast = (test: (p: Part) => boolean): boolean => {
    const i = kept.findLastIndex(test);
    if (i <= 0) return false;
    const [gone] = kept.splice(i, 1);
    if (gone?.drops) lost.drop(...gone.drops);
    return true;
  };
  while (kept.length > max) {
    if (!removeLast((p) => p.divider === true) && !removeLast((p) => !p.pinned) && !removeLast(() => true)) {
      break;
    }
  }
  return kept;
}

function shortenedNotice(lost: Lost, fullCommand: string | undefined): ContextBlock {
  const left: string[] = [];
  if (lost.rows > 0) left.push(plural(lost.rows, 'table row'));
  for (const kind of KINDS) {
    const n = lost.dropped.get(kind);
    if (!n) continue;
    left.push(
      kind === 'badge'
        ? 'the warning'
        : kind === 'summary' || kind === 'chart'
          ? `the ${kind}`
          : plural(n, kind),
    );
  }
  const parts: string[] = [];
  if (left.length > 0) parts.push(`${left.join(', ')} left out`);
  if (lost.cutTexts.size > 0) parts.push(`long text cut (${[...lost.cutTexts].join(', ')})`);
  const command = clean(fullCommand ?? 'crypto-risk <command> --json').replaceAll('`', BACKTICK_LOOKALIKE);
  const text =
    `:scissors: Output shortened to fit Slack: ${parts.join('; ')}. ` +
    `For the full answer, run the same command in the CLI: \`${truncate(oneLine(command), 300, true)}\``;
  return { type: 'context', elements: [mrkdwn(truncate(text, SLACK_LIMITS.textObject))] };
}

function fallbackText(reply: Reply): string {
  const title = oneLine(reply.title) || 'Reply';
  const detail = oneLine(reply.badge ?? '') || oneLine(plainText(reply.summary));
  return truncate(detail ? `${title}: ${detail}` : title, FALLBACK_TEXT, true);
}

function fieldText(field: Field, lost: Lost): string {
  const label = `*${fitMrkdwn(oneLine(field.label) || '—', LABEL, lost, 'fields')}*\n`;
  const value = clean(field.value).trim() || '—';
  return label + fitMrkdwn(value, SLACK_LIMITS.fieldText - label.length, lost, 'fields');
}

/** A table as an aligned monospace code block, cut between rows to fit one section. */
function tableSection(table: Table, lost: Lost): SectionBlock {
  const title = table.title?.trim()
    ? `*${fitMrkdwn(oneLine(table.title), TABLE_TITLE, lost, 'tables')}*\n`
    : '';
  if (table.rows.length === 0) return section(`${title}_(none)_`);
  // One line per cell, no backtick that could end the code block, at most TABLE_CELL wide;
  // cutRows: the rows (-1: the header) with a cell cut.
  const cutRows = new Set<number>();
  const cell = (text: string, row: number): string => {
    const chars = graphemes(oneLine(text).replaceAll('`', BACKTICK_LOOKALIKE), TABLE_CELL + 1);
    if (chars.length <= TABLE_CELL) return chars.join('');
    cutRows.add(row);
    return `${chars.slice(0, TABLE_CELL - 1).join('')}…`;
  };
  const header = table.columns.map((c) => cell(c.header, -1));
  const rows = table.rows.map((r, row) => table.columns.map((_, i) => cell(r[i] ?? '', row)));
  // Room for the title, the fences and the "… N more rows" line.
  const budget = SLACK_LIMITS.sectionText - title.length - '```\n\n```'.length - 40;

  const lines = (shown: string[][], noted: Lost): string[] => {
    const widths = header.map((h, i) => shown.reduce((w, r) => Math.max(w, width(r[i] ?? '')), width(h)));
    const line = (cells: string[]) => {
      const text = cells
        .map((c, i) => {
          const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c)));
          return table.columns[i]?.align === 'right' ? pad + c : c + pad;
        })
        .join('  ')
        .trimEnd();
      return fitMrkdwn(text, TABLE_LINE, noted, 'table lines');
    };
    return [line(header), line(widths.map((w) => '-'.repeat(w))), ...shown.map(line)];
  };

  // Widths from all rows decide how many fit; the shown rows then get their own (never wider) widths.
  let count = 0;
  let used = 0;
  for (const l of lines(rows, new Lost())) {
    if (used + l.length + 1 > budget) break;
    used += l.length + 1;
    count++;
  }
  const shown = rows.slice(0, Math.max(1, count - 2));
  const more = rows.length - shown.length;
  lost.rows += more;
  if ([...cutRows].some((row) => row < shown.length)) lost.cutTexts.add('table cells');
  const code = `\`\`\`\n${lines(shown, lost).join('\n')}\n\`\`\``;
  return section(`${title}${code}${more > 0 ? `\n_… ${plural(more, 'more row')}_` : ''}`);
}

function chartImage(chart: ChartInput, fileId: string): KnownBlock {
  const symbol = chart.symbol?.trim() ? ` (${chart.symbol.trim().toUpperCase()})` : '';
  const name = `${oneLine(chart.asset)}${symbol}`;
  const times = chart.points.map((p) => Date.parse(p.window_end)).filter(Number.isFinite);
  const anomalies = chart.points.filter((p) => p.is_anomaly).length;
  const period =
    times.length > 0
      ? `, ${plural(times.length, 'five-minute window')} from ${formatTime(new Date(times.reduce((a, b) => Math.min(a, b))).toISOString())} to ${formatTime(new Date(times.reduce((a, b) => Math.max(a, b))).toISOString())}`
      : ', no price data in this period';
  const alt =
    `Price chart of ${name}${period}, ${plural(anomalies, 'anomaly', 'anomalies')} marked in red.` +
    (chart.subtitle ? ` ${oneLine(chart.subtitle)}` : '');
  const title = oneLine(chart.title ?? '') || `${name} · 5-min average price (USD)`;
  return {
    type: 'image',
    slack_file: { id: fileId },
    alt_text: truncate(alt, SLACK_LIMITS.altText),
    title: plain(truncate(title, SLACK_LIMITS.imageTitle)),
  };
}

/**
 * Buttons with action_ids unique in the message (a repeated id gets `-2`, `-3`, …). A button whose
 * id or value is too long for Slack is left out: a cut id or value would run the wrong thing.
 */
function uniqueButtons(actions: Action[], lost: Lost): Button[] {
  const seen = new Set<string>();
  const buttons: Button[] = [];
  for (const action of actions) {
    if (action.id.length === 0 || action.id.length > SLACK_LIMITS.actionId) {
      lost.drop('button', 1);
      continue;
    }
    if (action.value.length > SLACK_LIMITS.buttonValue) {
      lost.drop('button', 1);
      continue;
    }
    let id = action.id;
    for (let n = 2; seen.has(id); n++) {
      id = `${action.id.slice(0, SLACK_LIMITS.actionId - `-${n}`.length)}-${n}`;
    }
    seen.add(id);
    const label = oneLine(action.label) || action.id;
    if (label.length > SLACK_LIMITS.buttonText) lost.cutTexts.add('buttons');
    const button: Button = {
      type: 'button',
      action_id: id,
      text: plain(truncate(label, SLACK_LIMITS.buttonText)),
    };
    if (action.value) button.value = action.value;
    if (action.style === 'primary' || action.style === 'danger') button.style = action.style;
    if (action.confirm) button.confirm = confirmDialog(action.confirm, action.style);
    buttons.push(button);
  }
  return buttons;
}

function confirmDialog(confirm: NonNullable<Action['confirm']>, style: Action['style']): ConfirmationDialog {
  const dialog: ConfirmationDialog = {
    title: plain(truncate(oneLine(confirm.title) || 'Are you sure?', SLACK_LIMITS.confirmTitle)),
    text: plain(truncate(clean(confirm.text).trim() || 'Are you sure?', SLACK_LIMITS.confirmText)),
    confirm: plain(truncate(oneLine(confirm.confirm) || 'Yes', SLACK_LIMITS.confirmButton)),
    deny: plain(truncate(oneLine(confirm.deny) || 'Cancel', SLACK_LIMITS.confirmButton)),
  };
  if (style === 'danger') dialog.style = 'danger';
  return dialog;
}

// --- Text --------------------------------------------------------------------------------------

/** Escapes Slack's control characters: user text can then never mention, link or format a date. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A Slack user id: only these become mentions. */
const USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * Text with the bot's own mentions as Slack mentions (`<@U…>`) and every string part escaped. When
 * it does not fit, it is cut as plain text (the mentions then read as `@U…`).
 */
function richMrkdwn(text: Text | undefined, max: number, lost: Lost, what: string): string {
  if (text === undefined) return '';
  if (typeof text !== 'string') {
    const out = text
      .map((part) =>
        typeof part === 'string'
          ? escapeMrkdwn(clean(part))
          : USER_ID.test(part.user)
            ? `<@${part.user}>`
            : escapeMrkdwn(`@${clean(part.user)}`),
      )
      .join('')
      .trim();
    if (out.length <= max) return out;
  }
  return fitMrkdwn(clean(plainText(text)).trim(), max, lost, what);
}

/** Escaped and cut to `max`, noting the cut under `what`. */
function fitMrkdwn(text: string, max: number, lost: Lost, what: string): string {
  const out = truncate(text, max, true);
  if (out.length < escapeMrkdwn(text).length) lost.cutTexts.add(what);
  return out;
}

/**
 * `text`, escaped for mrkdwn when `forMrkdwn`, at most `max` long: when cut, it ends with `…` and
 * is cut at the start of a grapheme (emoji, flags, accents and entities stay whole).
 */
function truncate(text: string, max: number, forMrkdwn = false): string {
  const whole = forMrkdwn ? escapeMrkdwn(text) : text;
  if (whole.length <= max) return whole;
  // The longest prefix that fits with the `…`, moved back to the start of the grapheme it ends in.
  let end = 0;
  for (let used = 0; end < text.length; end++) {
    const ch = text.charAt(end);
    used += !forMrkdwn ? 1 : ch === '&' ? 5 : ch === '<' || ch === '>' ? 4 : 1;
    if (used > max - 1) break;
  }
  const start = segmenter.segment(text).containing(end)?.index ?? end;
  const prefix = text.slice(0, start);
  return `${(forMrkdwn ? escapeMrkdwn(prefix) : prefix).trimEnd()}…`;
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** The first `limit` graphemes of `text` (segmenting lazily: a 10 kB text costs no more than a short one). */
function graphemes(text: string, limit = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    if (out.length >= limit) break;
    out.push(segment);
  }
  return out;
}

/** Display width in a code block, in graphemes. */
function width(text: string): number {
  return /^[\x20-\x7e]*$/.test(text) ? text.length : graphemes(text).length;
}

function plain(text: string): PlainTextElement {
  return { type: 'plain_text', text, emoji: true };
}

function mrkdwn(text: string): MrkdwnElement {
  return { type: 'mrkdwn', text, verbatim: true };
}

function section(text: string): SectionBlock {
  return { type: 'section', text: mrkdwn(text) };
}
