/**
 * The console's Dashboard view: the panels of the product's dashboard definition (DASHBOARD in
 * src/domain/dashboard.ts, from `GET /console/dashboard`), each drawn from its kind and fields: a
 * Vega-Lite spec per chart, compiled and rendered here by the Vega-Lite and Vega builds the console
 * serves from the installed packages, or an HTML table. Times are UTC on every axis (utc scales,
 * whose labels Vega formats with utcFormat) and tooltip (text made here). The page polls the data's version every few seconds and reloads
 * the panels' data when a window has been scored, without reloading itself.
 *
 * Once every panel has drawn (or said it is empty) for the first time, the page sets
 * `data-ready="true"` on <body> and the performance mark `dashboard-ready`; each later reload of all
 * panels counts up `data-renders`.
 */

const $ = (id) => document.getElementById(id);
const POLL_MS = 4000;
/**
 * Vega and Vega-Lite: deferred scripts after this module (dashboard.html), all run before
 * DOMContentLoaded; the module fetches its data meanwhile.
 */
const libraries = new Promise((resolve) => {
  if (globalThis.vegaLite) resolve();
  else document.addEventListener('DOMContentLoaded', resolve, { once: true });
}).then(async () => ({
  vega: globalThis.vega,
  vegaLite: globalThis.vegaLite,
  // Vega's expressions interpreted rather than compiled with Function: the page allows no eval.
  expr: (await import('/console/vendor/vega-interpreter.js')).expressionInterpreter,
}));

const ui = {
  definition: undefined,
  assets: [],
  version: undefined,
  /** Panel id → { section, view } */
  panels: new Map(),
  loading: undefined,
  renders: 0,
};

// ---------- formats ----------

/** d3-format specifiers of the definition's number formats (https://d3js.org/d3-format). */
const D3_FORMATS = { percent: '.1%', price: '$,.6~r', score: '.3f', integer: ',d' };
/** Hours and minutes on every label: a local-time label would be off by the zone's offset. */
const UTC_AXIS = '%d %b %H:%M';

function formatValue(field, value) {
  if (value === null || value === undefined) return '—';
  if (typeof value !== 'number') return String(value);
  switch (field.format) {
    case 'percent':
      return `${(value * 100).toFixed(2)} %`;
    case 'price':
      return value.toLocaleString('en-US', {
        style: 'currency',
        currency: 'USD',
        maximumSignificantDigits: 6,
      });
    case 'score':
      return value.toFixed(3);
    case 'integer':
      return Math.round(value).toLocaleString('en-US');
    default:
      return String(value);
  }
}

function hoursLabel(hours) {
  if (hours % 24 === 0 && hours >= 48) return `${hours / 24} days`;
  return `${hours} hours`;
}

// ---------- Vega-Lite specs from the definition ----------

function encodingOf(field, extra = {}) {
  const base = { field: field.field, type: field.type, title: field.title };
  if (field.type === 'temporal') {
    // a utc scale: ticks on UTC boundaries, labels formatted in UTC (utcFormat)
    return {
      ...base,
      scale: { type: 'utc' },
      axis: { format: UTC_AXIS, labelOverlap: true, labelAngle: 0 },
      ...extra,
    };
  }
  if (field.type === 'quantitative' && field.format) {
    return { ...base, axis: { format: D3_FORMATS[field.format], labelOverlap: true }, ...extra };
  }
  return { ...base, ...extra };
}

/** The text of a UTC instant, for tooltips: `2025-01-07 13:05 UTC`. */
function utcText(iso) {
  return typeof iso === 'string' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso;
}
const utcField = (field) => `${field.field}__utc`;

function tooltipOf(field) {
  const base = { field: field.field, type: field.type, title: field.title };
  // the instant as text made here (utcText): a time unit on every row costs a fifth of a chart's drawing
  if (field.type === 'temporal') return { ...base, field: utcField(field), type: 'nominal' };
  if (field.type === 'quantitative' && field.format) return { ...base, format: D3_FORMATS[field.format] };
  return base;
}

/** The smallest gap between distinct values: the width of a pre-binned bar. */
function stepOf(values) {
  const sorted = [...new Set(values.filter((v) => typeof v === 'number'))].sort((a, b) => a - b);
  let step = Number.POSITIVE_INFINITY;
  for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i] - sorted[i - 1]);
  return Number.isFinite(step) && step > 0 ? Math.round(step * 1e9) / 1e9 : 1;
}

function specOf(panel, data, narrow) {
  const temporal = [panel.x, panel.y].filter((f) => f?.type === 'temporal');
  // instants as epoch milliseconds (and as text for tooltips): Vega-Lite would otherwise parse each
  // row's ISO text with an expression, which the page interprets (no eval) row by row
  const rows =
    temporal.length === 0
      ? data
      : data.map((r) => {
          const out = { ...r };
          for (const f of temporal) {
            out[utcField(f)] = utcText(r[f.field]);
            out[f.field] = typeof r[f.field] === 'string' ? Date.parse(r[f.field]) : r[f.field];
          }
          return out;
        });
  const common = {
    description: panel.description,
    data: { values: rows, format: { parse: null } },
    width: 'container',
    height: 220,
    autosize: { type: 'fit-x', contains: 'padding' },
    config: { legend: { orient: 'bottom', ...(narrow ? { columns: 3 } : {}) }, view: { stroke: null } },
  };
  const { x, y, color, marker } = panel;
  const tips = [x, y, color].filter(Boolean).map(tooltipOf);
  if (panel.kind === 'line') {
    // points (and so tooltips) on the series' lines while they are few enough to tell apart
    const points = color !== undefined && rows.length < 400;
    const layers = [
      {
        // aria off for the line: its description would be a formatted sentence per row (thousands,
        // each interpreted); the chart keeps its own description, the markers theirs
        mark: { type: 'line', point: points, strokeWidth: 1.5, aria: false },
        encoding: {
          x: encodingOf(x),
          y: encodingOf(y, { scale: { zero: false } }),
          ...(color ? { color: encodingOf(color) } : {}),
          ...(points ? { tooltip: tips } : {}),
        },
      },
    ];
    if (marker) {
      const reasons = rows.some((r) => 'reasons' in r)
        ? [{ field: 'reasons', type: 'nominal', title: 'Why' }]
        : [];
      layers.push({
        // the marked rows as the layer's own data: a filter over every row would be interpreted per row
        data: { values: rows.filter((r) => typeof r[marker.field] === 'number'), format: { parse: null } },
        mark: { type: 'point', filled: true, color: '#d62728', size: 60, opacity: 1 },
        encoding: {
          x: encodingOf(x),
          y: encodingOf({ ...marker, title: y.title }, { scale: { zero: false } }),
          tooltip: [tooltipOf(x), tooltipOf({ ...marker, title: 'Anomalous window, price' }), ...reasons],
        },
      });
    }
    return { ...common, layer: layers };
  }
  // bars: categories along x, or pre-binned numbers (each row a bin starting at x)
  const binned = x.type === 'quantitative';
  const encoding = {
    x: binned
      ? encodingOf(x, { bin: { binned: true, step: stepOf(rows.map((r) => r[x.field])) } })
      : encodingOf(x, { sort: '-y', axis: { labelAngle: 0 } }),
    ...(binned ? { x2: { field: '_bin_end' } } : {}),
    y: encodingOf(y),
    ...(color ? { color: encodingOf(color) } : {}),
    tooltip: tips,
  };
  const step = binned ? stepOf(rows.map((r) => r[x.field])) : 0;
  return {
    ...common,
    ...(binned ? { transform: [{ calculate: `datum['${x.field}'] + ${step}`, as: '_bin_end' }] } : {}),
    mark: { type: 'bar', ...(binned ? {} : { cornerRadiusEnd: 2 }) },
    encoding,
  };
}

/**
 * A compiled spec without the lines' per-row validity check (`defined`: isValid and isFinite of x
 * and y, an expression the page interprets for every row) when every row's x and y are numbers
 * already: it could only ever be true. Any other spec is returned as it is.
 */
function withoutRowChecks(spec, panel, rows) {
  if (panel.kind !== 'line') return spec;
  // the rows as fetched: instants as ISO text (specOf makes them numbers), the rest numbers
  const valid = (f, v) => Number.isFinite(f.type === 'temporal' && typeof v === 'string' ? Date.parse(v) : v);
  if (!rows.every((r) => valid(panel.x, r[panel.x.field]) && valid(panel.y, r[panel.y.field]))) return spec;
  const strip = (marks) => {
    for (const mark of marks ?? []) {
      if (mark.type === 'line') delete mark.encode?.update?.defined;
      strip(mark.marks);
    }
  };
  strip(spec.marks);
  return spec;
}

// ---------- panels ----------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) node.append(child);
  return node;
}

function panelTitle(panel) {
  if (!panel.parameters.includes('asset')) return panel.title;
  return `${panel.title} · ${$('asset').value}`;
}

function buildPanels() {
  const main = $('panels');
  main.replaceChildren();
  for (const panel of ui.definition.panels) {
    const section = el(
      'section',
      { class: `panel ${panel.kind}${panel.kind === 'bar' ? '' : ' wide'}`, 'data-panel': panel.id },
      el('h2', { textContent: panel.title }),
      el('p', { class: 'description', textContent: panel.description }),
      el('div', { class: 'chart' }),
    );
    main.append(section);
    ui.panels.set(panel.id, { section, view: undefined });
  }
}

function showEmpty(entry, text, problem = false) {
  entry.view?.finalize();
  entry.view = undefined;
  const chart = entry.section.querySelector('.chart');
  chart.replaceChildren(el('div', { class: `empty${problem ? ' problem' : ''}`, textContent: text }));
  entry.section.dataset.state = problem ? 'error' : 'empty';
  entry.section.dataset.rows = '0';
}

function showTable(entry, panel, rows) {
  entry.view?.finalize();
  entry.view = undefined;
  const columns = panel.columns ?? [];
  const head = el('tr', {}, ...columns.map((c) => el('th', { textContent: c.title })));
  const body = rows.map((row) =>
    el(
      'tr',
      {},
      ...columns.map((c) =>
        el('td', {
          class: c.type === 'quantitative' ? 'number' : '',
          'data-title': c.title,
          textContent: formatValue(c, row[c.field]),
        }),
      ),
    ),
  );
  const table = el('table', {}, el('thead', {}, head), el('tbody', {}, ...body));
  entry.section.querySelector('.chart').replaceChildren(el('div', { class: 'table-wrap' }, table));
  entry.section.dataset.state = 'drawn';
  entry.section.dataset.rows = String(rows.length);
}

async function showChart(entry, panel, rows) {
  const chart = entry.section.querySelector('.chart');
  const { vega, vegaLite, expr } = await libraries;
  const spec = withoutRowChecks(
    vegaLite.compile(specOf(panel, rows, chart.clientWidth < 500)).spec,
    panel,
    rows,
  );
  // a new view renders beside the old one (so the width it measures is the panel's), which then goes
  const holder = el('div', { class: 'vega' });
  chart.append(holder);
  const view = new vega.View(vega.parse(spec, null, { ast: true }), {
    renderer: 'svg',
    container: holder,
    expr,
  });
  await view.runAsync();
  entry.view?.finalize();
  entry.view = view;
  for (const child of [...chart.children]) if (child !== holder) child.remove();
  entry.section.dataset.state = 'drawn';
  entry.section.dataset.rows = String(rows.length);
}

const EMPTY_TEXT = {
  table: 'No anomalous windows in the last 7 days yet.',
  default: 'No scored windows in this period yet.',
};

async function loadPanel(panel) {
  const entry = ui.panels.get(panel.id);
  const started = performance.now();
  entry.section.querySelector('h2').textContent = panelTitle(panel);
  const params = new URLSearchParams({ panel: panel.id, asset: $('asset').value, hours: $('hours').value });
  let answer;
  try {
    const res = await fetch(`/console/dashboard/data?${params}`);
    answer = await res.json();
    if (!res.ok || !answer.ok) throw new Error(answer.error ?? `HTTP ${res.status}`);
  } catch (err) {
    showEmpty(entry, `Could not load this panel: ${err.message}`, true);
    return;
  }
  const rows = answer.rows;
  const fetched = performance.now();
  if (rows.length === 0) showEmpty(entry, EMPTY_TEXT[panel.kind] ?? EMPTY_TEXT.default);
  else if (panel.kind === 'table') showTable(entry, panel, rows);
  else await showChart(entry, panel, rows);
  // how long each panel took to fetch and to draw (devtools' Performance panel, the bench)
  performance.measure(`fetch ${panel.id}`, { start: started, end: fetched });
  performance.measure(`draw ${panel.id}`, { start: fetched, end: performance.now() });
}

function setStatus(state, text) {
  const status = $('dash-status');
  status.dataset.state = state;
  status.textContent = text;
}

function scoredText(scoredAt) {
  if (!scoredAt) return 'no window scored yet';
  return `latest window scored ${scoredAt.slice(0, 16).replace('T', ' ')} UTC`;
}

/** Reloads every panel's data (one reload at a time; a reload asked for meanwhile follows it). */
function loadAll(panels = ui.definition.panels) {
  const run = async () => {
    await Promise.all(panels.map((p) => loadPanel(p)));
    ui.renders += 1;
    document.body.dataset.renders = String(ui.renders);
    if (document.body.dataset.ready !== 'true') {
      performance.mark('dashboard-ready');
      document.body.dataset.ready = 'true';
    }
  };
  ui.loading = (ui.loading ?? Promise.resolve()).then(run, run);
  return ui.loading;
}

function saveChoice() {
  const params = new URLSearchParams({ asset: $('asset').value, hours: $('hours').value });
  history.replaceState(null, '', `/dashboard?${params}`);
}

function fillAssets(assets) {
  const select = $('asset');
  const chosen = select.value || new URLSearchParams(location.search).get('asset');
  const list = assets.length > 0 ? assets : [ui.definition.parameters.asset.default];
  select.replaceChildren(...list.map((a) => el('option', { value: a, textContent: a })));
  select.value = list.includes(chosen)
    ? chosen
    : list.includes(ui.definition.parameters.asset.default)
      ? ui.definition.parameters.asset.default
      : list[0];
  ui.assets = list;
}

async function poll() {
  try {
    const res = await fetch('/console/dashboard/version');
    const answer = await res.json();
    if (!res.ok || !answer.ok) throw new Error(answer.error ?? `HTTP ${res.status}`);
    setStatus('live', scoredText(answer.scoredAt));
    if (answer.version !== ui.version) {
      ui.version = answer.version;
      document.body.dataset.version = answer.version;
      const started = await fetch('/console/dashboard').then((r) => r.json());
      if (started.ok && started.assets.join() !== ui.assets.join()) fillAssets(started.assets);
      await loadAll();
    }
  } catch (err) {
    setStatus('down', `not updating: ${err.message}`);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function start() {
  let answer;
  try {
    const res = await fetch('/console/dashboard');
    answer = await res.json();
    if (!res.ok || !answer.ok) throw new Error(answer.error ?? `HTTP ${res.status}`);
  } catch (err) {
    setStatus('down', `no dashboard: ${err.message}`);
    document.body.dataset.ready = 'true';
    return;
  }
  ui.definition = answer.dashboard;
  ui.version = answer.version;
  document.body.dataset.version = answer.version;
  $('dash-title').textContent = ui.definition.title;
  document.title = `${ui.definition.title} · crypto-risk-monitor`;
  fillAssets(answer.assets);
  const hours = ui.definition.parameters.hours;
  const wanted = Number(new URLSearchParams(location.search).get('hours'));
  $('hours').replaceChildren(
    ...hours.choices.map((h) => el('option', { value: String(h), textContent: hoursLabel(h) })),
  );
  $('hours').value = String(hours.choices.includes(wanted) ? wanted : hours.default);
  setStatus('live', scoredText(answer.scoredAt));
  buildPanels();
  const uses = (name) => ui.definition.panels.filter((p) => p.parameters.includes(name));
  $('asset').addEventListener('change', () => {
    saveChoice();
    void loadAll(uses('asset'));
  });
  $('hours').addEventListener('change', () => {
    saveChoice();
    void loadAll(uses('hours'));
  });
  await loadAll();
  setTimeout(poll, POLL_MS);
}

void start();
