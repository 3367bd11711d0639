/**
 * The dashboard, described once: its parameters and its panels, each panel a query of
 * `sql/dashboard.sql` (Databricks SQL) and of `sql/local/dashboard.sql` (DuckDB) by the same name and
 * with the same columns, with its chart kind, title and fields. The AI/BI dashboard that `provision`
 * deploys to Databricks and the local console's Dashboard view are both generated from this, so they
 * cannot drift apart.
 */

export type DashboardParameter = 'asset' | 'hours';

/** A field of a panel's query, as a chart or table shows it. */
export interface PanelField {
  /** The query's column. */
  field: string;
  title: string;
  /** How the field is read: a UTC instant, a number, or a category. */
  type: 'temporal' | 'quantitative' | 'nominal';
  /** Numbers: shown as a percentage (a rate in 0–1) or with this many decimals. */
  format?: 'percent' | 'price' | 'score' | 'integer';
}

export interface DashboardPanel {
  /** The query's name (`-- name:` in both SQL files) and the dataset's name on Databricks. */
  id: string;
  title: string;
  /** One sentence under the title: what the panel answers. */
  description: string;
  kind: 'line' | 'bar' | 'table';
  /** Charts: the horizontal and vertical fields, and the series (one line or bar colour each). */
  x?: PanelField;
  y?: PanelField;
  color?: PanelField;
  /** Line charts: a column that is set only on anomalous windows, drawn as red markers. */
  marker?: PanelField;
  /** Tables: the columns, in order. */
  columns?: PanelField[];
  /** The parameters its query takes (besides the catalog and schema on Databricks). */
  parameters: DashboardParameter[];
}

export interface DashboardDefinition {
  title: string;
  parameters: {
    asset: { title: string; default: string };
    hours: { title: string; default: number; choices: number[] };
  };
  panels: DashboardPanel[];
}

const asset: PanelField = { field: 'asset', title: 'Asset', type: 'nominal' };

export const DASHBOARD: DashboardDefinition = {
  title: 'Crypto market risk',
  parameters: {
    asset: { title: 'Asset', default: 'bitcoin' },
    hours: { title: 'Period (hours)', default: 24, choices: [6, 24, 72, 168] },
  },
  panels: [
    {
      id: 'price_with_anomaly_markers',
      title: 'Price with anomaly markers',
      description: "One asset's 5-minute average price; red points are the anomalous windows.",
      kind: 'line',
      x: { field: 'window_end', title: 'Window end (UTC)', type: 'temporal' },
      y: { field: 'price_avg', title: 'Price (USD)', type: 'quantitative', format: 'price' },
      marker: { field: 'anomaly_marker', title: 'Anomaly', type: 'quantitative', format: 'price' },
      parameters: ['asset', 'hours'],
    },
    {
      id: 'leaderboard_24h',
      title: 'Leaderboard, last 24 hours',
      description: 'Assets ranked by the share of their scored windows that were anomalous.',
      kind: 'bar',
      x: asset,
      y: { field: 'anomaly_rate', title: 'Anomalous windows', type: 'quantitative', format: 'percent' },
      parameters: [],
    },
    {
      id: 'anomaly_rate',
      title: 'Anomaly rate by hour',
      description: 'Share of each asset’s windows flagged per UTC hour.',
      kind: 'line',
      x: { field: 'hour_start', title: 'Hour (UTC)', type: 'temporal' },
      y: { field: 'anomaly_rate', title: 'Anomalous windows', type: 'quantitative', format: 'percent' },
      color: asset,
      parameters: ['hours'],
    },
    {
      id: 'score_distribution',
      title: 'Score distribution',
      description: 'Windows per anomaly score bin and model version; below 0 the forest flags them.',
      kind: 'bar',
      x: { field: 'score_bin', title: 'Anomaly score', type: 'quantitative', format: 'score' },
      y: { field: 'windows', title: 'Windows', type: 'quantitative', format: 'integer' },
      color: { field: 'model_version', title: 'Model version', type: 'nominal' },
      parameters: ['hours'],
    },
    {
      id: 'recent_anomalies',
      title: 'Recent anomalies',
      description: 'The latest anomalous windows of the last 7 days, newest first, with why.',
      kind: 'table',
      columns: [
        { field: 'window_end_utc', title: 'Window end', type: 'nominal' },
        asset,
        { field: 'price_avg', title: 'Price (USD)', type: 'quantitative', format: 'price' },
        { field: 'ret_window', title: 'Range', type: 'quantitative', format: 'percent' },
        { field: 'anomaly_score', title: 'Score', type: 'quantitative', format: 'score' },
        { field: 'reasons', title: 'Why', type: 'nominal' },
        { field: 'model_version', title: 'Model', type: 'nominal' },
      ],
      parameters: [],
    },
  ],
};

/** Every column a panel reads from its query. */
export function panelFields(panel: DashboardPanel): PanelField[] {
  return [panel.x, panel.y, panel.color, panel.marker, ...(panel.columns ?? [])].filter(
    (f): f is PanelField => f !== undefined,
  );
}
