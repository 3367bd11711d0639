import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DASHBOARD, panelFields } from '../../../domain/dashboard.js';

/**
 * The console's Dashboard view: its data comes from the product (a dependency the console is given,
 * not the emulated workspace), the charts are drawn in the page by Vega-Lite and Vega, whose
 * browser builds are served from the installed packages (nothing is downloaded, by the page or by
 * the product). All GETs:
 * - `GET /dashboard`: the page;
 * - `GET /console/dashboard`: the definition (DASHBOARD), the assets to pick from, the version;
 * - `GET /console/dashboard/version`: what changes when a window is scored (the page polls it);
 * - `GET /console/dashboard/data?panel=&asset=&hours=`: one panel's rows (400 for a bad parameter);
 * - `GET /console/vendor/vega.min.js`, `/console/vendor/vega-lite.min.js`: the libraries, and
 *   `/console/vendor/vega-interpreter.js`, Vega's expression interpreter: with it the page runs
 *   Vega under the console's content-security policy, which allows no `eval` (Vega otherwise
 *   compiles expressions with the Function constructor: https://vega.github.io/vega/usage/interpreter/).
 */
export interface ConsoleDashboard {
  panel(
    id: string,
    params: { asset: string; hours: number },
  ): Promise<Array<Record<string, unknown>> | undefined>;
  assets(): Promise<string[]>;
  version(): Promise<{ version: string; scoredAt: string | null }>;
}

type Answer = { status: number; body: unknown };

export const DASHBOARD_PATHS = new Set([
  '/dashboard',
  '/console/dashboard',
  '/console/dashboard/version',
  '/console/dashboard/data',
  '/console/vendor/vega.min.js',
  '/console/vendor/vega-lite.min.js',
  '/console/vendor/vega-interpreter.js',
]);

/** A CoinGecko id as the product keeps it (lower case; config.ts checks the configured ones alike). */
const ASSET = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Up to 90 days, as far back as the simulator's history goes (SIMULATOR_HISTORY_HOURS). */
const MAX_HOURS = 24 * 90;

/**
 * The browser builds of the two packages, found from their entry points (their `exports` list no
 * build file, so neither can be resolved by its own path): the same from src/ under tsx, from dist/,
 * and in the container image.
 */
const require = createRequire(import.meta.url);
const VENDOR: Record<string, () => string> = {
  '/console/vendor/vega.min.js': () => join(dirname(require.resolve('vega')), 'vega.min.js'),
  '/console/vendor/vega-lite.min.js': () => join(dirname(require.resolve('vega-lite')), 'vega-lite.min.js'),
  '/console/vendor/vega-interpreter.js': () => require.resolve('vega-interpreter'),
};

/**
 * The interpreter is an ES module that imports three helpers from `vega-util`, a bare name a page
 * cannot resolve: that import is pointed at the page's vega-util.js, which hands out the same
 * helpers from Vega's browser build (it carries vega-util). Nothing else of the file changes.
 */
const REWRITE: Record<string, (text: string) => string> = {
  '/console/vendor/vega-interpreter.js': (text) => {
    const rewritten = text.replace(/from 'vega-util';/, "from '/console/assets/vega-util.js';");
    if (rewritten === text) throw new Error('vega-interpreter no longer imports vega-util as expected');
    return rewritten;
  },
};

/** The parameters of a data request: the definition's defaults where absent, an error where bad. */
export function dashboardParams(
  search: URLSearchParams,
): { panel: string; asset: string; hours: number } | { error: string } {
  const panel = search.get('panel') ?? '';
  if (!DASHBOARD.panels.some((p) => p.id === panel)) {
    return { error: `panel must be one of ${DASHBOARD.panels.map((p) => p.id).join(', ')}` };
  }
  const asset = search.get('asset') ?? DASHBOARD.parameters.asset.default;
  if (!ASSET.test(asset)) return { error: 'asset must be a CoinGecko id such as bitcoin' };
  const hoursText = search.get('hours') ?? String(DASHBOARD.parameters.hours.default);
  const hours = /^\d{1,4}$/.test(hoursText) ? Number(hoursText) : Number.NaN;
  if (!(hours >= 1 && hours <= MAX_HOURS)) {
    return { error: `hours must be a whole number of hours from 1 to ${MAX_HOURS}` };
  }
  return { panel, asset, hours };
}

/**
 * The columns the page draws of a panel's rows: the fields the definition names, and the reasons
 * for the markers' tooltips. The queries answer more (the same columns as on Databricks), which the
 * page would only parse: a week of one asset's prices is a quarter of the size this way.
 */
function shownColumns(panelId: string): (row: Record<string, unknown>) => Record<string, unknown> {
  const panel = DASHBOARD.panels.find((p) => p.id === panelId);
  const names = [...new Set([...(panel ? panelFields(panel) : []).map((f) => f.field), 'reasons'])];
  return (row) => {
    const out: Record<string, unknown> = {};
    for (const name of names) if (name in row) out[name] = row[name];
    return out;
  };
}

export function createDashboardRoutes(deps: {
  dashboard: ConsoleDashboard | undefined;
  sendJson(res: ServerResponse, answer: Answer): void;
  /** Sends one of the page's files with the page's headers. */
  page(res: ServerResponse, name: string): void;
}) {
  const { dashboard, sendJson } = deps;
  const vendorCache = new Map<string, Buffer>();
  const problem = (status: number, error: string): Answer => ({ status, body: { ok: false, error } });

  async function vendor(res: ServerResponse, path: string): Promise<void> {
    let bytes = vendorCache.get(path);
    if (!bytes) {
      bytes = await readFile((VENDOR[path] as () => string)());
      const rewrite = REWRITE[path];
      if (rewrite) bytes = Buffer.from(rewrite(bytes.toString('utf8')));
      vendorCache.set(path, bytes);
    }
    res.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8',
      'content-length': bytes.length,
      'cache-control': 'public, max-age=86400',
      'x-content-type-options': 'nosniff',
    });
    res.end(bytes);
  }

  async function data(search: URLSearchParams): Promise<Answer> {
    if (!dashboard) return problem(404, 'This console has no dashboard.');
    const params = dashboardParams(search);
    if ('error' in params) return problem(400, params.error);
    const rows = await dashboard.panel(params.panel, params);
    if (rows === undefined) return problem(400, `There is no panel ${params.panel}.`);
    return {
      status: 200,
      body: { ok: true, panel: params.panel, rows: rows.map(shownColumns(params.panel)) },
    };
  }

  /** Answers a dashboard path (one of DASHBOARD_PATHS, a GET). */
  return async function handle(res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/dashboard') {
      deps.page(res, 'dashboard.html');
      return;
    }
    if (path in VENDOR) {
      await vendor(res, path);
      return;
    }
    try {
      if (path === '/console/dashboard/data') sendJson(res, await data(url.searchParams));
      else if (!dashboard) sendJson(res, problem(404, 'This console has no dashboard.'));
      else if (path === '/console/dashboard/version') {
        sendJson(res, { status: 200, body: { ok: true, ...(await dashboard.version()) } });
      } else {
        const [assets, version] = await Promise.all([dashboard.assets(), dashboard.version()]);
        sendJson(res, { status: 200, body: { ok: true, dashboard: DASHBOARD, assets, ...version } });
      }
    } catch (err) {
      sendJson(res, problem(500, `The dashboard's data could not be read: ${String(err)}`));
    }
  };
}
