import type {
  IAdaptiveCard,
  IExecuteAction,
  IFact,
  IImage,
  IMention,
  IShowCardAction,
  ITable,
  ITableCell,
  ITextBlock,
} from '@microsoft/teams.cards';
import { formatTime } from '../domain/format.js';
import type { Action, ChartInput, Field, Reply, Table, Text } from '../domain/reply.js';
import { plainText } from '../domain/reply.js';
import { clean, oneLine, plural } from './plain-text.js';

/**
 * Renders a reply as an Adaptive Card for a Teams bot message: the Teams twin of render/blocks.ts,
 * in the same order (badge, title, summary, fields, tables, chart, notes, actions).
 *
 * Text: TextBlock and FactSet text is "a subset of CommonMark" (learn.microsoft.com, Adaptive
 * Cards "Text features"; Teams: "Format cards in Teams", cards-format), so every string from a
 * Reply is escaped with CommonMark backslash escapes: it can never bold, link, list, mention
 * (`<at>…</at>` only becomes a mention with a matching msteams entity, and an escaped `\<at\>`
 * never matches one) or run a `{{DATE()}}` function. Teams also links bare URLs, so `://` and
 * `www.` get an invisible word joiner.
 *
 * Mentions (`{ user }` parts): a proper Teams mention entity (`<at>name</at>` plus
 * `msteams.entities`, "Mentions in Adaptive Cards") when the caller knows the user's display
 * name (options.mentionNames), else plain text `@id`.
 */

export interface CardOptions {
  /** Public HTTPS URL of the chart PNG (the caller renders and hosts reply.chart); without it a note says the chart is left out. */
  chartUrl?: string;
  /**
   * The size budget of the whole activity, in bytes as Teams counts them (UTF-16); default
   * TEAMS_LIMITS.recommendedMessageBytes, at most TEAMS_LIMITS.messageBytes, at least 10,000.
   */
  maxBytes?: number;
  /** The command that gives the full answer, named when rows are left out, e.g. `crypto-risk top 500 --json`. */
  fullCommand?: string;
  /** Display names of users the reply mentions, by id: these become real mentions. */
  mentionNames?: Readonly<Record<string, string>>;
}

/**
 * Teams' limits for bot messages with cards.
 * - Card version: Teams renders Adaptive Cards up to schema 1.5 (learn.microsoft.com, Copilot
 *   Studio "Adaptive Cards overview": "Teams is also limited to version 1.5"; Universal Actions,
 *   Action.Execute, need 1.4+; Table needs 1.5).
 * - Size: "Format your bot messages" (bots/how-to/format-your-bot-messages): the bot message size
 *   limit is about 100 KB, counted on the message encoded as UTF-16; keep a message within 80 KB
 *   to be sure it is delivered; above it the bot gets 413 MessageSizeTooBig. Older versions of the
 *   page said 40 KB; 80 KB is the documented recommendation.
 */
export const TEAMS_LIMITS = {
  cardVersion: '1.5',
  messageBytes: 100_000,
  recommendedMessageBytes: 80_000,
  /** Room kept for what the SDK adds around the card (ids, conversation, service URL, entities). */
  activityEnvelopeBytes: 4_000,
} as const;

export const ADAPTIVE_CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

/**
 * Our own caps (not Teams' limits): they bound every element, so that a card without table rows
 * always fits; the size budget then decides how many rows there is room for.
 */
const CAPS = {
  title: 200,
  badge: 500,
  summary: 3000,
  label: 200,
  value: 1000,
  cell: 300,
  tableTitle: 200,
  note: 1000,
  button: 60,
  confirmText: 500,
  actionValue: 2000,
  altText: 1000,
  fallbackText: 300,
} as const;

type Body = IAdaptiveCard['body'];
type CardAction = IExecuteAction | IShowCardAction;
type Kind = 'field' | 'table' | 'chart' | 'note' | 'button';

/** A piece of the card that can be left out when nothing else is left to drop. */
interface Part {
  kind: Kind;
  count: number;
  body?: Body;
  actions?: CardAction[];
  /** A table's rows not shown. */
  hiddenRows?: number;
}

export function renderCard(reply: Reply, options: CardOptions = {}): { text: string; card: IAdaptiveCard } {
  // Never above Teams' limit; never so small that the capped head could not fit.
  const maxBytes = Math.min(
    TEAMS_LIMITS.messageBytes,
    Math.max(10_000, Math.floor(options.maxBytes ?? TEAMS_LIMITS.recommendedMessageBytes)),
  );
  const text = fallbackText(reply);
  const entities: IMention[] = [];

  const head: Body = [];
  const badge = oneLine(reply.badge ?? '');
  if (badge) {
    head.push(
      textBlock(`⚠️ ${escapeCardText(cut(badge, CAPS.badge))}`, { weight: 'Bolder', color: 'Warning' }),
    );
  }
  head.push(
    textBlock(escapeCardText(cut(oneLine(reply.title) || 'Reply', CAPS.title)), {
      size: 'Large',
      weight: 'Bolder',
      style: 'heading',
    }),
  );
  const summary = richText(reply.summary, options.mentionNames ?? {}, entities);
  if (summary) head.push(textBlock(summary));

  const fields = (reply.fields ?? []).map(fact);
  const tables = reply.tables ?? [];
  const chart = reply.chart ? chartPart(reply.chart, options.chartUrl) : undefined;
  const notes = (reply.notes ?? []).map((n) => clean(n).trim()).filter((n) => n.length > 0);
  const actions = (reply.actions ?? []).map(cardAction).filter((a): a is CardAction => a !== undefined);
  const totalRows = tables.reduce((n, t) => n + t.rows.length, 0);

  /** The card with the first `rows` table rows and without the last `drop` parts. */
  const build = (rows: number, drop: number): IAdaptiveCard => {
    const parts: Part[] = [];
    if (fields.length > 0)
      parts.push({ kind: 'field', count: fields.length, body: [{ type: 'FactSet', facts: fields }] });
    let left = rows;
    for (const table of tables) {
      const shown = Math.min(table.rows.length, left);
      left -= shown;
      parts.push({
        kind: 'table',
        count: 1,
        body: tableBody(table, shown),
        hiddenRows: table.rows.length - shown,
      });
    }
    if (chart) parts.push({ kind: 'chart', count: 1, body: [chart] });
    for (const note of notes) {
      const block = textBlock(paragraphs(escapeCardText(cut(note, CAPS.note))), {
        isSubtle: true,
        size: 'Small',
      });
      parts.push({ kind: 'note', count: 1, body: [block] });
    }
    if (actions.length > 0) parts.push({ kind: 'button', count: actions.length, actions });
    const kept = parts.slice(0, Math.max(0, parts.length - drop));
    const gone = parts.slice(kept.length);
    const body: Body = [...head, ...kept.flatMap((p) => p.body ?? [])];
    const hiddenRows = kept.reduce((n, p) => n + (p.hiddenRows ?? 0), 0);
    const notice = shortenedNotice(hiddenRows, gone, options.fullCommand);
    if (notice) body.push(textBlock(notice, { isSubtle: true, size: 'Small', separator: true }));
    const card: IAdaptiveCard = {
      type: 'AdaptiveCard',
      $schema: ADAPTIVE_CARD_SCHEMA,
      version: TEAMS_LIMITS.cardVersion,
      fallbackText: text,
      body,
    };
    const cardActions = kept.flatMap((p) => p.actions ?? []);
    if (cardActions.length > 0) card.actions = cardActions;
    // The mentions are all in the summary, which is always kept.
    if (entities.length > 0) card.msteams = { entities };
    return card;
  };

  const fits = (card: IAdaptiveCard) => activityBytes(text, card) <= maxBytes;
  const whole = build(totalRows, 0);
  if (fits(whole)) return { text, card: whole };
  // Parts left out from the end only when even a card without table rows is too big (every part
  // is capped, so leaving all of them out fits), then the most rows that fit (bisection: the
  // size grows with the rows).
  const parts =
    (fields.length > 0 ? 1 : 0) +
    tables.length +
    (chart ? 1 : 0) +
    notes.length +
    (actions.length > 0 ? 1 : 0);
  let drop = 0;
  while (drop < parts && !fits(build(0, drop))) drop++;
  let lo = 0;
  let hi = totalRows;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(build(mid, drop))) lo = mid;
    else hi = mid - 1;
  }
  return { text, card: build(lo, drop) };
}

/** The activity's size as Teams counts it: the JSON as UTF-16, plus the envelope the SDK adds. */
export function activityBytes(text: string, card: IAdaptiveCard): number {
  const activity = {
    type: 'message',
    text,
    attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, content: card }],
  };
  return JSON.stringify(activity).length * 2 + TEAMS_LIMITS.activityEnvelopeBytes;
}

function shortenedNotice(rowsLeft: number, gone: Part[], fullCommand: string | undefined): string {
  const left: string[] = [];
  if (rowsLeft > 0) left.push(plural(rowsLeft, 'more row'));
  for (const kind of ['field', 'table', 'chart', 'note', 'button'] as const) {
    const n = gone.filter((p) => p.kind === kind).reduce((sum, p) => sum + p.count, 0);
    if (n > 0) left.push(kind === 'chart' ? 'the chart' : plural(n, kind));
  }
  if (left.length === 0) return '';
  const command = oneLine(fullCommand ?? 'crypto-risk <command> --json');
  return escapeCardText(
    `✂️ ${left.join(', ')}: left out to fit Teams' message size limit. ` +
      `For the full answer, run the same command in the CLI: ${cut(command, 300)}`,
  );
}

function fallbackText(reply: Reply): string {
  const title = oneLine(reply.title) || 'Reply';
  const detail = oneLine(reply.badge ?? '') || oneLine(plainText(reply.summary));
  return cut(detail ? `${title}: ${detail}` : title, CAPS.fallbackText);
}

function fact(field: Field): IFact {
  return {
    title: escapeCardText(cut(oneLine(field.label) || '—', CAPS.label)),
    value: paragraphs(escapeCardText(cut(clean(field.value).trim() || '—', CAPS.value))),
  };
}

/** A Table (Adaptive Cards 1.5) with a header row and the first `shown` rows; right alignment per column. */
function tableBody(table: Table, shown: number): Body {
  const body: Body = [];
  if (table.title?.trim()) {
    body.push(textBlock(escapeCardText(cut(oneLine(table.title), CAPS.tableTitle)), { weight: 'Bolder' }));
  }
  if (table.rows.length === 0 || table.columns.length === 0) {
    body.push(textBlock('_(none)_', { isSubtle: true }));
    return body;
  }
  // An empty cell shows a subtle dash: a TextBlock without text is not a valid element.
  const cell = (text: string, header: boolean): ITableCell => {
    const shown = cut(oneLine(text), CAPS.cell);
    const block = shown
      ? textBlock(escapeCardText(shown), header ? { weight: 'Bolder' } : {})
      : textBlock('—', { isSubtle: true });
    return { type: 'TableCell', items: [block] };
  };
  const grid: ITable = {
    type: 'Table',
    // firstRowAsHeaders defaults to true: the first row is the header row.
    showGridLines: false,
    columns: table.columns.map((c) =>
      c.align === 'right' ? { width: 1, horizontalCellContentAlignment: 'Right' } : { width: 1 },
    ),
    rows: [
      { type: 'TableRow', style: 'emphasis', cells: table.columns.map((c) => cell(c.header, true)) },
      ...table.rows.slice(0, shown).map((r) => ({
        type: 'TableRow' as const,
        cells: table.columns.map((_, i) => cell(r[i] ?? '', false)),
      })),
    ],
  };
  body.push(grid);
  const more = table.rows.length - shown;
  if (more > 0) body.push(textBlock(`_… ${plural(more, 'more row')}_`, { isSubtle: true, size: 'Small' }));
  return body;
}

/** The chart as an image at the caller's URL, or a note saying it is not shown. */
function chartPart(chart: ChartInput, url: string | undefined): IImage | ITextBlock {
  const symbol = chart.symbol?.trim() ? ` (${chart.symbol.trim().toUpperCase()})` : '';
  const name = `${oneLine(chart.asset)}${symbol}`;
  if (!url || !isHttpUrl(url)) {
    return textBlock(escapeCardText(cut(`The price chart of ${name} is not shown here.`, CAPS.note)), {
      isSubtle: true,
      size: 'Small',
    });
  }
  const times = chart.points.map((p) => Date.parse(p.window_end)).filter(Number.isFinite);
  const anomalies = chart.points.filter((p) => p.is_anomaly).length;
  const first = times.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  const last = times.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const period =
    times.length > 0
      ? `, ${plural(times.length, 'five-minute window')} from ${formatTime(new Date(first).toISOString())} to ${formatTime(new Date(last).toISOString())}`
      : ', no price data in this period';
  // altText is never parsed as Markdown (it is read out by screen readers).
  const alt =
    `Price chart of ${name}${period}, ${plural(anomalies, 'anomaly', 'anomalies')} marked in red.` +
    (chart.subtitle ? ` ${oneLine(chart.subtitle)}` : '');
  return { type: 'Image', url, altText: cut(alt, CAPS.altText), size: 'Stretch' };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * A reply action as a Universal Action (Action.Execute: the bot gets an `adaptiveCard/action`
 * invoke with the verb and the data; "Universal Actions for Adaptive Cards" overview). Adaptive
 * Cards have no confirmation dialog, so an action with `confirm` becomes an Action.ShowCard whose
 * card shows the question and holds the real Action.Execute; clicking the button again closes it
 * (the "deny"). An action whose id or value is too long is left out: a cut one would run the wrong thing.
 */
function cardAction(action: Action): CardAction | undefined {
  if (action.id.length === 0 || action.id.length > 255 || action.value.length > CAPS.actionValue)
    return undefined;
  const style =
    action.style === 'primary' ? 'positive' : action.style === 'danger' ? 'destructive' : undefined;
  const execute = (title: string): IExecuteAction => ({
    type: 'Action.Execute',
    title: cut(oneLine(title) || action.id, CAPS.button),
    verb: action.id,
    data: { value: action.value },
    ...(style ? { style } : {}),
  });
  if (!action.confirm) return execute(action.label);
  const confirm = action.confirm;
  return {
    type: 'Action.ShowCard',
    title: cut(oneLine(action.label) || action.id, CAPS.button),
    card: {
      type: 'AdaptiveCard',
      body: [
        textBlock(escapeCardText(cut(oneLine(confirm.title) || 'Are you sure?', CAPS.label)), {
          weight: 'Bolder',
        }),
        textBlock(
          paragraphs(escapeCardText(cut(clean(confirm.text).trim() || 'Are you sure?', CAPS.confirmText))),
        ),
      ],
      actions: [execute(confirm.confirm || 'Yes')],
    },
  };
}

// --- Text --------------------------------------------------------------------------------------

/**
 * `text` with CommonMark's backslash escapes for everything Adaptive Card Markdown could act on:
 * emphasis (`*`, `_`, `~`), links (`[`, `]`), code spans, `<` and `>` (`<at>` mentions), `{` and `}`
 * (the `{{DATE()}}` and `{{TIME()}}` functions), `|`, and list or heading markers at a line start.
 * `://` and `www.` get a word joiner (U+2060) so that Teams does not link bare URLs.
 */
export function escapeCardText(text: string): string {
  return text
    .replace(/[\\`*_~[\]{}<>|!]/g, (c) => `\\${c}`)
    .replace(/^([ \t]*)([-+#=]|\d+[.)])(?=[ \t]|$)/gm, (_m, space: string, marker: string) =>
      /^\d/.test(marker) ? `${space}${marker.slice(0, -1)}\\${marker.slice(-1)}` : `${space}\\${marker}`,
    )
    .replace(/:\/\//g, ':\u2060//')
    .replace(/\b(www)\./gi, '$1\u2060.');
}

/** A Reply text with its mentions: entities for users with a known name, else `@id`. */
function richText(
  text: Text | undefined,
  names: Readonly<Record<string, string>>,
  entities: IMention[],
): string {
  if (text === undefined) return '';
  if (typeof text === 'string') return paragraphs(escapeCardText(cut(clean(text).trim(), CAPS.summary)));
  const whole = clean(plainText(text)).trim();
  if (whole.length > CAPS.summary) return paragraphs(escapeCardText(cut(whole, CAPS.summary)));
  return text
    .map((part) => {
      if (typeof part === 'string') return escapeCardText(clean(part));
      const name = oneLine(names[part.user] ?? '');
      if (!name) return escapeCardText(`@${oneLine(part.user)}`);
      const tag = `<at>${escapeCardText(name)}</at>`;
      if (!entities.some((e) => e.text === tag)) {
        entities.push({ type: 'mention', text: tag, mentioned: { id: part.user, name } });
      }
      return tag;
    })
    .join('')
    .trim()
    .replace(/\n+/g, '\n\n');
}

/** Line breaks as Teams shows them in a TextBlock: `\n\n` ("Format cards in Teams", newlines). */
function paragraphs(text: string): string {
  return text.replace(/\n+/g, '\n\n');
}

type TextOptions = Partial<Omit<ITextBlock, 'type' | 'text'>>;

function textBlock(text: string, more: TextOptions = {}): ITextBlock {
  return { type: 'TextBlock', text, wrap: true, ...more };
}

/** At most `max` UTF-16 units, cut at a grapheme start and ending with `…` when cut. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = max - 1;
  const start = segmenter.segment(text).containing(end)?.index ?? end;
  return `${text.slice(0, start).trimEnd()}…`;
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
