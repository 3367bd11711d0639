import {
  DASHBOARD,
  type DashboardDefinition,
  type DashboardPanel,
  type DashboardParameter,
  type PanelField,
} from '../../domain/dashboard.js';
import { sqlFile } from '../../sql-files.js';

/**
 * The AI/BI (Lakeview) dashboard generated from the dashboard's definition (src/domain/dashboard.ts):
 * the `serialized_dashboard` the Lakeview API takes and the `.lvdash.json` file the bundle deploys
 * (https://docs.databricks.com/api/workspace/lakeview/create: "The contents of the dashboard in
 * serialized string form"). Its shape follows the files Databricks exports (datasets with `name`,
 * `displayName`, `queryLines` and `parameters`; pages whose `layout` places widgets on a six-column
 * grid; each widget's `queries` reading dataset fields and its `spec` with `version`, `widgetType`
 * and `encodings`), as in the bundle example dashboard_nyc_taxi of databricks/bundle-examples.
 *
 * Deterministic: every name derives from a panel id (a dataset is named after its query, a widget
 * `w_<panel id>`), nothing carries a time or a random id, and the layout is listed in widget-name
 * order (the order exported files list it in), so generating twice gives the same text and a
 * second apply finds nothing to change.
 */

/** The SQL of each dataset: the queries of sql/dashboard.sql (Databricks SQL) by `-- name:`. */
export function databricksDashboardQueries(text = sqlFile('dashboard')): Map<string, string> {
  const queries = new Map<string, string>();
  for (const statement of text.split(/;[ \t]*(?:\r?\n|$)/)) {
    const match = /^-- name: (\w+)[ \t]*\r?\n/m.exec(statement);
    if (!match?.[1]) continue;
    if (queries.has(match[1])) throw new Error(`sql/dashboard.sql: two queries are named ${match[1]}`);
    queries.set(match[1], statement.slice(match.index + match[0].length).trim());
  }
  return queries;
}

/** Where the datasets read: the named parameters :catalog and :schema of every query. */
export interface DashboardTarget {
  catalog: string;
  schema: string;
}

type Json = Record<string, unknown>;

/** Parameter values as the dataset declares them: a STRING with one default value. */
function stringParameter(keyword: string, displayName: string, value: string): Json {
  return {
    displayName,
    keyword,
    dataType: 'STRING',
    defaultSelection: { values: { dataType: 'STRING', values: [{ value }] } },
  };
}

/**
 * The dataset parameters of a panel. All are STRING: :catalog and :schema go through IDENTIFIER,
 * and :hours through try_cast (sql/dashboard.sql), which turns text that is not a number into an
 * empty panel rather than an error, so the hours widget can be a plain text entry.
 */
function datasetParameters(panel: DashboardPanel, target: DashboardTarget, def: DashboardDefinition): Json[] {
  const own: Record<DashboardParameter, Json> = {
    asset: stringParameter('asset', def.parameters.asset.title, def.parameters.asset.default),
    hours: stringParameter('hours', def.parameters.hours.title, String(def.parameters.hours.default)),
  };
  return [
    stringParameter('catalog', 'Catalog', target.catalog),
    stringParameter('schema', 'Schema', target.schema),
    ...panel.parameters.map((p) => own[p]),
  ];
}

/** Query text as `queryLines`: one string per line, each but the last with its newline. */
function queryLines(sql: string): string[] {
  const lines = sql.split('\n');
  return lines.map((line, i) => (i < lines.length - 1 ? `${line}\n` : line));
}

const SCALE: Record<PanelField['type'], string> = {
  temporal: 'temporal',
  quantitative: 'quantitative',
  nominal: 'categorical',
};

/** Number formats of chart axes (`format` of an encoding, as exported counters and charts carry). */
function chartFormat(field: PanelField): Json | undefined {
  switch (field.format) {
    case 'percent':
      return { type: 'number-percent', decimalPlaces: { type: 'max', places: 1 } };
    case 'price':
      return { type: 'number-plain', decimalPlaces: { type: 'max', places: 2 } };
    case 'score':
      return { type: 'number-plain', decimalPlaces: { type: 'max', places: 3 } };
    case 'integer':
      return { type: 'number-plain', decimalPlaces: { type: 'exact', places: 0 } };
    default:
      return undefined;
  }
}

function encoding(field: PanelField): Json {
  const format = chartFormat(field);
  return {
    fieldName: field.field,
    displayName: field.title,
    scale: { type: SCALE[field.type] },
    ...(format ? { format } : {}),
  };
}

/** Table columns: the column types and number formats exported tables carry. */
function tableColumn(field: PanelField, order: number): Json {
  if (field.type === 'temporal') {
    return {
      fieldName: field.field,
      title: field.title,
      type: 'datetime',
      displayAs: 'datetime',
      dateTimeFormat: 'YYYY-MM-DD HH:mm',
      visible: true,
      order,
    };
  }
  if (field.type === 'quantitative') {
    const numberFormat = { percent: '0.00%', price: '0.00', score: '0.0000', integer: '0' }[
      field.format ?? 'price'
    ];
    return {
      fieldName: field.field,
      title: field.title,
      type: field.format === 'integer' ? 'integer' : 'float',
      displayAs: 'number',
      numberFormat,
      visible: true,
      order,
    };
  }
  return {
    fieldName: field.field,
    title: field.title,
    type: 'string',
    displayAs: 'string',
    visible: true,
    order,
  };
}

/** The fields a panel's widget reads: each column of the query once, as itself. */
function widgetFields(panel: DashboardPanel): Json[] {
  const seen = new Set<string>();
  const fields: Json[] = [];
  for (const f of [panel.x, panel.y, panel.marker, panel.color, ...(panel.columns ?? [])]) {
    if (!f || seen.has(f.field)) continue;
    seen.add(f.field);
    fields.push({ name: f.field, expression: `\`${f.field}\`` });
  }
  return fields;
}

function panelSpec(panel: DashboardPanel): Json {
  const frame = {
    showTitle: true,
    title: panel.title,
    showDescription: true,
    description: panel.description,
  };
  if (panel.kind === 'table') {
    return {
      version: 1,
      widgetType: 'table',
      encodings: { columns: (panel.columns ?? []).map((c, i) => tableColumn(c, 100000 + i)) },
      itemsPerPage: 25,
      condensed: true,
      withRowNumber: false,
      frame,
    };
  }
  if (!panel.x || !panel.y) throw new Error(`dashboard panel ${panel.id}: a chart needs x and y`);
  // A line with markers: the price and the marker column as two series of one y axis (the marker
  // column is NULL except on anomalous windows, so its series shows as points there, in red).
  const yFormat = chartFormat(panel.y);
  const y = panel.marker
    ? {
        scale: { type: 'quantitative' },
        fields: [
          { fieldName: panel.y.field, displayName: panel.y.title },
          { fieldName: panel.marker.field, displayName: panel.marker.title },
        ],
        ...(yFormat ? { format: yFormat } : {}),
      }
    : encoding(panel.y);
  return {
    version: 3,
    widgetType: panel.kind,
    encodings: {
      x: encoding(panel.x),
      y,
      ...(panel.color ? { color: encoding(panel.color) } : {}),
    },
    ...(panel.marker ? { mark: { colors: ['#077A9D', '#FF3621'] } } : {}),
    frame,
  };
}

/** A text-entry filter bound only to one dataset parameter of every panel that takes it. */
function parameterFilter(
  parameter: DashboardParameter,
  title: string,
  description: string,
  panels: DashboardPanel[],
): Json {
  const bound = panels.filter((p) => p.parameters.includes(parameter));
  const queryName = (p: DashboardPanel) => `parameter_${p.id}_${parameter}`;
  return {
    name: `filter_${parameter}`,
    queries: bound.map((p) => ({
      name: queryName(p),
      query: {
        datasetName: p.id,
        parameters: [{ name: parameter, keyword: parameter }],
        disaggregated: false,
      },
    })),
    spec: {
      version: 2,
      widgetType: 'filter-text-entry',
      encodings: { fields: bound.map((p) => ({ parameterName: parameter, queryName: queryName(p) })) },
      frame: { showTitle: true, title, showDescription: true, description },
    },
  };
}

const GRID_WIDTH = 6;

/** The lvdash document of the definition, reading `target`'s catalog and schema. */
export function lvdash(
  target: DashboardTarget,
  def: DashboardDefinition = DASHBOARD,
  queries: Map<string, string> = databricksDashboardQueries(),
): Json {
  const datasets = def.panels.map((panel) => {
    const sql = queries.get(panel.id);
    if (sql === undefined) throw new Error(`sql/dashboard.sql has no query ${panel.id}`);
    return {
      name: panel.id,
      displayName: panel.title,
      queryLines: queryLines(sql),
      parameters: datasetParameters(panel, target, def),
    };
  });
  const layout: Array<{ widget: Json; position: Json }> = [
    {
      widget: { name: 'title', textbox_spec: `# ${def.title}` },
      position: { x: 0, y: 0, width: GRID_WIDTH, height: 1 },
    },
    {
      widget: parameterFilter(
        'asset',
        def.parameters.asset.title,
        'A CoinGecko id, e.g. bitcoin',
        def.panels,
      ),
      position: { x: 0, y: 1, width: 3, height: 1 },
    },
    {
      widget: parameterFilter(
        'hours',
        def.parameters.hours.title,
        `Whole hours back from now: ${def.parameters.hours.choices.join(', ')}`,
        def.panels,
      ),
      position: { x: 3, y: 1, width: 3, height: 1 },
    },
  ];
  let y = 2;
  for (const panel of def.panels) {
    const height = panel.kind === 'table' ? 8 : 6;
    layout.push({
      widget: {
        name: `w_${panel.id}`,
        queries: [
          {
            name: 'main_query',
            query: { datasetName: panel.id, fields: widgetFields(panel), disaggregated: true },
          },
        ],
        spec: panelSpec(panel),
      },
      position: { x: 0, y, width: GRID_WIDTH, height },
    });
    y += height;
  }
  const name = (w: { widget: Json }) => String(w.widget.name);
  layout.sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
  return {
    datasets,
    pages: [{ name: 'overview', displayName: def.title, layout, pageType: 'PAGE_TYPE_CANVAS' }],
  };
}

/** The serialized dashboard: the lvdash document as the file holds it (two-space JSON, final newline). */
export function serializedDashboard(target: DashboardTarget, def: DashboardDefinition = DASHBOARD): string {
  return `${JSON.stringify(lvdash(target, def), null, 2)}\n`;
}

/**
 * The bundle's copy (databricks/dashboards/crypto_risk.lvdash.json), for the bundle variables'
 * defaults: catalog `workspace`, schema `crypto`.
 */
export const BUNDLE_DASHBOARD_FILE = 'dashboards/crypto_risk.lvdash.json';
export const bundleDashboard = (): string => serializedDashboard({ catalog: 'workspace', schema: 'crypto' });

/**
 * The published dashboard's address, for status and the chat command: `<host>/dashboardsv3/<id>/published`
 * (the form databrickslabs/lsql's `Dashboards.get_url` builds, databrickslabs/lsql#211).
 */
export function publishedDashboardUrl(host: string, dashboardId: string): string {
  return `${host.replace(/\/+$/, '')}/dashboardsv3/${encodeURIComponent(dashboardId)}/published`;
}

/**
 * The dashboard's workspace object: `<folder>/<display name>.lvdash.json` ("Exported dashboards
 * always have the file extension .lvdash.json", the Dashboard object's `path`,
 * https://docs.databricks.com/api/workspace/lakeview/get).
 */
export function dashboardPath(workspaceDir: string, def: DashboardDefinition = DASHBOARD): string {
  return `${workspaceDir}/${def.title}.lvdash.json`;
}
