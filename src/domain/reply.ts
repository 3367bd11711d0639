/**
 * A command's answer, independent of where it is shown: the CLI renders it as text (render/text),
 * Slack as Block Kit (render/blocks). `data` is the machine-readable form printed by `--json`.
 */
export interface Reply {
  title: string;
  /** A warning every surface shows prominently, e.g. that the data is simulated. */
  badge?: string;
  summary?: Text;
  fields?: Field[];
  tables?: Table[];
  /** A price chart; surfaces that show images render it (render/chart). */
  chart?: ChartInput;
  /** Buttons; surfaces without buttons tell the user the equivalent command instead. */
  actions?: Action[];
  /** Hints: what the numbers mean, what to do next. */
  notes?: string[];
  data: unknown;
}

/** A price chart of an asset's windows, as the renderers draw it (render/chart). */
export interface ChartInput {
  /** CoinGecko coin id, e.g. `bitcoin`. */
  asset: string;
  symbol?: string | null;
  points: ChartPoint[];
  /** Default: `<asset> (<SYMBOL>) · 5-min average price (USD)`. */
  title?: string;
  /** E.g. `last 24h · 3 anomalies · SIMULATED DATA`. Default: the time range and the counts. */
  subtitle?: string;
}

/** One point of a price chart: a window's average price, and whether it was anomalous. */
export interface ChartPoint {
  /** ISO-8601 UTC. */
  window_end: string;
  price_avg: number;
  is_anomaly: boolean;
  anomaly_score?: number | null;
  /** A few words shown beside the marker (the worst anomaly's top reason). */
  label?: string;
}

export interface Field {
  label: string;
  value: string;
}

export interface Table {
  title?: string;
  columns: Column[];
  rows: string[][];
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

export interface Action {
  /** Identifies the handler (Slack action_id). */
  id: string;
  label: string;
  value: string;
  style?: 'primary' | 'danger';
  /** A confirmation dialog shown before the action runs. */
  confirm?: { title: string; text: string; confirm: string; deny: string };
}

/**
 * Text that may mention people. Strings are shown as they are (escaped wherever a surface would
 * parse them); a `{ user }` part is a mention the bot itself writes (e.g. who asked for a retrain),
 * which surfaces that have mentions render as one (Slack: `<@U…>`).
 */
export type Text = string | ReadonlyArray<string | Mention>;

export interface Mention {
  /** A chat user id (Slack: U… or W…). */
  user: string;
}

/** The text without mention markup: a mention reads as `@id`. */
export function plainText(text: Text | undefined): string {
  if (text === undefined) return '';
  if (typeof text === 'string') return text;
  return text.map((part) => (typeof part === 'string' ? part : `@${part.user}`)).join('');
}
