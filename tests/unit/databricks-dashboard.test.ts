import { readFileSync } from 'node:fs';
import type { Dashboard, PublishRequest } from '@databricks/sdk-experimental/dist/apis/dashboards/index.js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD, panelFields } from '../../src/domain/dashboard.js';
import {
  BUNDLE_DASHBOARD_FILE,
  bundleDashboard,
  dashboardPath,
  databricksDashboardQueries,
  lvdash,
  publishedDashboardUrl,
  serializedDashboard,
} from '../../src/platform/databricks/dashboard.js';
import { dashboardDrift, type requestBodies } from '../../src/platform/databricks/provision.js';
import type { DashboardSpec } from '../../src/platform/databricks/resources.js';
import type { UnknownFields } from '../support/databricks/wire.js';

/**
 * The AI/BI dashboard generated from the definition: its datasets are the definition's queries of
 * sql/dashboard.sql, every widget reads a dataset that exists and columns its query selects, the
 * filters bind parameters the datasets declare, and the bundle's copy is the generator's output.
 */

interface Field {
  name: string;
  expression: string;
}
interface WidgetQuery {
  name: string;
  query: { datasetName: string; fields?: Field[]; parameters?: Array<{ name: string; keyword: string }> };
}
interface Widget {
  name: string;
  queries?: WidgetQuery[];
  spec?: { widgetType: string; encodings: Record<string, unknown> };
  textbox_spec?: string;
}
interface Dataset {
  name: string;
  displayName: string;
  queryLines: string[];
  parameters: Array<{ keyword: string; dataType: string; defaultSelection: unknown }>;
}
interface Lvdash {
  datasets: Dataset[];
  pages: Array<{ name: string; layout: Array<{ widget: Widget; position: Record<string, number> }> }>;
}

const TARGET = { catalog: 'workspace', schema: 'crypto' };
const doc = lvdash(TARGET) as unknown as Lvdash;
const queries = databricksDashboardQueries();
const widgets = doc.pages.flatMap((p) => p.layout.map((l) => l.widget));

/** Splits at top-level commas (outside parentheses and quotes). */
function topLevelSplit(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '`' || ch === '"') quote = ch;
    else if (ch === '(') depth += 1;
    else if (ch === ')') depth -= 1;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The column names of a query's (outer) SELECT list: each item's alias, or its column's name. */
function selectColumns(sql: string): string[] {
  const body = sql.replace(/--[^\n]*/g, '');
  const from = /\bSELECT\b([\s\S]*?)\n\s*FROM\b/i.exec(body);
  if (!from?.[1]) throw new Error('no SELECT … FROM');
  return topLevelSplit(from[1]).map((item) => {
    const alias = /\bAS\s+(\w+)\s*$/i.exec(item.trim());
    return alias?.[1] ?? (/(\w+)\s*$/.exec(item.trim())?.[1] as string);
  });
}

/** The `:name` parameter markers of a query. */
function markers(sql: string): string[] {
  const body = sql.replace(/--[^\n]*/g, '').replace(/'[^']*'/g, "''");
  return [...new Set([...body.matchAll(/(?<![:\w]):([A-Za-z_]\w*)/g)].map((m) => m[1] as string))].sort();
}

describe('the AI/BI dashboard generated from the definition', () => {
  it('has one dataset per panel: the query of sql/dashboard.sql by the same name, word for word', () => {
    expect(doc.datasets.map((d) => d.name)).toEqual(DASHBOARD.panels.map((p) => p.id));
    for (const dataset of doc.datasets) {
      expect(queries.has(dataset.name), dataset.name).toBe(true);
      expect(dataset.queryLines.join(''), dataset.name).toBe(queries.get(dataset.name));
      // queryLines: every line but the last ends with its newline, none holds two.
      for (const line of dataset.queryLines.slice(0, -1)) expect(line.endsWith('\n')).toBe(true);
      for (const line of dataset.queryLines) expect(line.slice(0, -1)).not.toContain('\n');
    }
  });

  it('declares exactly the parameters each query uses, with the definition’s defaults', () => {
    for (const dataset of doc.datasets) {
      const sql = queries.get(dataset.name) as string;
      expect(dataset.parameters.map((p) => p.keyword).sort(), dataset.name).toEqual(markers(sql));
      const panel = DASHBOARD.panels.find((p) => p.id === dataset.name);
      expect(markers(sql).filter((m) => m !== 'catalog' && m !== 'schema')).toEqual(
        [...(panel?.parameters ?? [])].sort(),
      );
      const value = (keyword: string) =>
        (
          dataset.parameters.find((p) => p.keyword === keyword)?.defaultSelection as {
            values: { values: Array<{ value: string }> };
          }
        )?.values.values[0]?.value;
      expect(value('catalog')).toBe('workspace');
      expect(value('schema')).toBe('crypto');
      if (panel?.parameters.includes('asset'))
        expect(value('asset')).toBe(DASHBOARD.parameters.asset.default);
      if (panel?.parameters.includes('hours'))
        expect(value('hours')).toBe(String(DASHBOARD.parameters.hours.default));
    }
    const other = lvdash({ catalog: 'main', schema: 'risk' }) as unknown as Lvdash;
    expect(JSON.stringify(other.datasets[0]?.parameters)).toContain('"value":"risk"');
  });

  it("every field the definition names is a column of its panel's query (reasons included)", () => {
    for (const panel of DASHBOARD.panels) {
      const columns = selectColumns(queries.get(panel.id) as string);
      for (const f of panelFields(panel)) expect(columns, `${panel.id}.${f.field}`).toContain(f.field);
    }
    expect(selectColumns(queries.get('recent_anomalies') as string)).toContain('reasons');
  });

  it('every widget reads an existing dataset, columns its query selects, and encodes only fields it reads', () => {
    const byName = new Map(doc.datasets.map((d) => [d.name, d]));
    const charts = widgets.filter((w) => w.name.startsWith('w_'));
    expect(charts.map((w) => w.name.slice(2)).sort()).toEqual(DASHBOARD.panels.map((p) => p.id).sort());
    for (const widget of charts) {
      const panel = DASHBOARD.panels.find((p) => `w_${p.id}` === widget.name);
      expect(widget.spec?.widgetType).toBe(panel?.kind);
      const [main] = widget.queries ?? [];
      const dataset = byName.get(main?.query.datasetName ?? '');
      expect(dataset, widget.name).toBeDefined();
      const columns = selectColumns(dataset?.queryLines.join('') ?? '');
      const read = new Set<string>();
      for (const f of main?.query.fields ?? []) {
        expect(f.expression).toBe(`\`${f.name}\``);
        expect(columns, `${widget.name} reads ${f.name}`).toContain(f.name);
        read.add(f.name);
      }
      const encoded = JSON.stringify(widget.spec?.encodings).match(/"fieldName":"[^"]+"/g) ?? [];
      expect(encoded.length).toBeGreaterThan(0);
      for (const e of encoded) expect(read, `${widget.name} encodes ${e}`).toContain(e.slice(13, -1));
    }
  });

  it('has a filter for asset and one for hours, bound to the parameter of every dataset that takes it', () => {
    for (const parameter of ['asset', 'hours'] as const) {
      const filter = widgets.find((w) => w.name === `filter_${parameter}`);
      const takers = DASHBOARD.panels.filter((p) => p.parameters.includes(parameter)).map((p) => p.id);
      expect(takers.length).toBeGreaterThan(0);
      expect(filter?.queries?.map((q) => q.query.datasetName).sort()).toEqual(takers.sort());
      for (const q of filter?.queries ?? []) {
        expect(q.query.parameters).toEqual([{ name: parameter, keyword: parameter }]);
        const dataset = doc.datasets.find((d) => d.name === q.query.datasetName);
        expect(dataset?.parameters.map((p) => p.keyword)).toContain(parameter);
      }
      const fields = (filter?.spec?.encodings ?? { fields: [] }) as {
        fields: Array<{ parameterName: string; queryName: string }>;
      };
      expect(fields.fields.map((f) => f.queryName).sort()).toEqual(
        (filter?.queries ?? []).map((q) => q.name).sort(),
      );
      expect(new Set(fields.fields.map((f) => f.parameterName))).toEqual(new Set([parameter]));
    }
  });

  it('places widgets without overlap on the six-column grid, names unique', () => {
    const layout = doc.pages.flatMap((p) => p.layout);
    expect(new Set(layout.map((l) => l.widget.name)).size).toBe(layout.length);
    const cells = new Set<string>();
    for (const { widget, position } of layout) {
      const { x = -1, y = -1, width = 0, height = 0 } = position;
      expect(x >= 0 && width > 0 && x + width <= 6 && y >= 0 && height > 0, widget.name).toBe(true);
      for (let i = x; i < x + width; i += 1)
        for (let j = y; j < y + height; j += 1) {
          expect(cells.has(`${i},${j}`), `${widget.name} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
    }
  });

  it('is deterministic: the same text twice, nothing random or timed in it', () => {
    expect(serializedDashboard(TARGET)).toBe(serializedDashboard(TARGET));
    expect(serializedDashboard(TARGET)).not.toMatch(/[0-9a-f]{32}|\d{4}-\d{2}-\d{2}T/);
  });

  it('the bundle deploys the generator’s output, as the bot does', () => {
    const committed = readFileSync(
      new URL(`../../databricks/${BUNDLE_DASHBOARD_FILE}`, import.meta.url),
      'utf8',
    );
    expect(
      committed,
      `databricks/${BUNDLE_DASHBOARD_FILE} is stale; regenerate it: npx tsx -e "import('./src/platform/databricks/dashboard.ts').then((m) => require('node:fs').writeFileSync('databricks/' + m.BUNDLE_DASHBOARD_FILE, m.bundleDashboard()))"`,
    ).toBe(bundleDashboard());
    const bundle = parse(
      readFileSync(new URL('../../databricks/databricks.yml', import.meta.url), 'utf8'),
    ) as {
      variables: Record<string, unknown>;
      resources: { dashboards: Record<string, Record<string, unknown>> };
    };
    const dashboards = Object.values(bundle.resources.dashboards);
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]).toMatchObject({
      display_name: DASHBOARD.title,
      file_path: `./${BUNDLE_DASHBOARD_FILE}`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the bundle's own variable syntax
      warehouse_id: '${var.warehouse_id}',
      embed_credentials: false,
    });
    expect(bundle.variables.warehouse_id).toBeDefined();
  });

  it('lives at <folder>/<title>.lvdash.json and is published at <host>/dashboardsv3/<id>/published', () => {
    expect(dashboardPath('/Shared/crypto-risk-monitor')).toBe(
      '/Shared/crypto-risk-monitor/Crypto market risk.lvdash.json',
    );
    expect(publishedDashboardUrl('https://x.cloud.databricks.com/', '01ef')).toBe(
      'https://x.cloud.databricks.com/dashboardsv3/01ef/published',
    );
  });
});

describe('dashboard drift', () => {
  const spec = {
    display_name: DASHBOARD.title,
    parent_path: '/Shared/crypto-risk-monitor',
    serialized_dashboard: serializedDashboard(TARGET),
    warehouse_id: 'abc',
  };
  const same = {
    display_name: spec.display_name,
    warehouse_id: 'abc',
    serialized_dashboard: spec.serialized_dashboard,
  };

  it('is none for the same content, however it is formatted, and for fields the service adds', () => {
    expect(dashboardDrift(same, spec)).toEqual([]);
    const compact = JSON.parse(spec.serialized_dashboard) as Lvdash & Record<string, unknown>;
    compact.uiSettings = { theme: {} };
    (compact.pages[0] as Record<string, unknown>).extra = 1;
    expect(dashboardDrift({ ...same, serialized_dashboard: JSON.stringify(compact) }, spec)).toEqual([]);
  });

  it('names what differs: a widget title, the warehouse, the name, content that is not JSON', () => {
    const edited = JSON.parse(spec.serialized_dashboard) as Lvdash;
    const leaderboard = edited.datasets.find((d) => d.name === 'leaderboard_24h') as Dataset;
    leaderboard.displayName = 'Renamed';
    expect(dashboardDrift({ ...same, serialized_dashboard: JSON.stringify(edited) }, spec)).toEqual([
      'serialized_dashboard.datasets[leaderboard_24h].displayName',
    ]);
    expect(dashboardDrift({ ...same, warehouse_id: 'other' }, spec)).toEqual(['warehouse_id']);
    expect(dashboardDrift({ ...same, display_name: 'x' }, spec)).toEqual(['display_name']);
    expect(dashboardDrift({ ...same, serialized_dashboard: '{' }, spec)).toEqual([
      'serialized_dashboard (not JSON)',
    ]);
  });
});

describe('Lakeview wire types (checked by tsc, as tests/unit/databricks-wire-types.test.ts does)', () => {
  type Bodies = typeof requestBodies;
  type Publish = Omit<PublishRequest, 'dashboard_id'>;
  it('create and update send Dashboard objects; publish a PublishRequest (dashboard_id is the path)', () => {
    expectTypeOf<DashboardSpec>().toExtend<Dashboard>();
    expectTypeOf<UnknownFields<ReturnType<Bodies['createDashboard']>, Dashboard>>().toEqualTypeOf<never>();
    expectTypeOf<UnknownFields<ReturnType<Bodies['updateDashboard']>, Dashboard>>().toEqualTypeOf<never>();
    expectTypeOf<ReturnType<Bodies['publishDashboard']>>().toExtend<Publish>();
    expectTypeOf<UnknownFields<ReturnType<Bodies['publishDashboard']>, Publish>>().toEqualTypeOf<never>();
    // The check bites: a misspelled field is named.
    expectTypeOf<
      UnknownFields<{ embed_credential: boolean }, Publish>
    >().toEqualTypeOf<'.embed_credential'>();
  });
});
