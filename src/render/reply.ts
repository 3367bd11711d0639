/**
 * A command's answer, independent of where it is shown: the CLI renders it as text (render/text),
 * Slack as Block Kit. `data` is the machine-readable form printed by `--json`.
 */
export interface Reply {
  title: string;
  /** A warning every surface shows prominently, e.g. that the data is simulated. */
  badge?: string;
  summary?: string;
  fields?: Field[];
  tables?: Table[];
  /** Hints: what the numbers mean, what to do next. */
  notes?: string[];
  data: unknown;
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
