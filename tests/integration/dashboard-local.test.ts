import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD, panelFields } from '../../src/domain/dashboard.js';
import {
  createLocalDashboard,
  type LocalDashboard,
  namedQueries,
} from '../../src/platform/local/dashboard.js';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { sqlFile } from '../../src/sql-files.js';
import { createScoredLakehouse, runSimulatedRound, type TestLakehouse } from '../support/lakehouse.js';

/**
 * The dashboard over the local DuckDB: every panel of DASHBOARD has its query in
 * sql/local/dashboard.sql, runs on a lakehouse of simulated, scored history with the default
 * parameters, and answers the columns the panel draws; the console's data route takes the
 * parameters from the page and refuses bad ones with a 400.
 */

const START = '2025-01-07T00:00:00.000Z';
const HOURS = 30;
let lake: TestLakehouse;
let dashboard: LocalDashboard;
let slack: LocalSlack;
const defaults = {
  asset: DASHBOARD.parameters.asset.default,
  hours: DASHBOARD.parameters.hours.default,
};

beforeAll(async () => {
  lake = await createScoredLakehouse(START, HOURS);
  dashboard = createLocalDashboard(lake.platform.db, lake.clock);
  slack = await startLocalSlack({ signingSecret: 'secret', botToken: 'xoxb-test', dashboard });
}, 120_000);

afterAll(async () => {
  await slack?.close();
  await lake?.close();
});

/**
 * The names of a query's columns, from its select list (between the first SELECT and FROM, split
 * at the commas outside parentheses): each item's alias or, without one, its column.
 */
function selectedColumns(sql: string): string[] {
  const list = /^SELECT\n([\s\S]*?)\nFROM /m.exec(sql)?.[1] ?? '';
  const items: string[] = [];
  let depth = 0;
  let item = '';
  for (const ch of list) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      items.push(item.trim());
      item = '';
    } else item += ch;
  }
  items.push(item.trim());
  return items.map((i) => /\bAS (\w+)$/.exec(i)?.[1] ?? /(\w+)$/.exec(i)?.[1] ?? i);
}

async function getJson(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${slack.baseUrl}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the dashboard on the local DuckDB', () => {
  it('has a query for every panel, by the same names as the Databricks dashboard', () => {
    const local = namedQueries(sqlFile('local/dashboard'));
    const databricks = namedQueries(sqlFile('dashboard'));
    expect([...local.keys()].sort()).toEqual(DASHBOARD.panels.map((p) => p.id).sort());
    expect([...local.keys()].sort()).toEqual([...databricks.keys()].sort());
  });

  it('has no semicolon but at the end of a statement (the Spark tests split the files there too)', () => {
    for (const name of ['local/dashboard', 'dashboard']) {
      const stray = sqlFile(name)
        .split('\n')
        .filter((line) => line.includes(';') && !/;[ \t]*$/.test(line));
      expect({ name, stray }).toEqual({ name, stray: [] });
    }
  });

  it('answers the same columns as the Databricks dashboard, panel by panel', () => {
    const local = namedQueries(sqlFile('local/dashboard'));
    const databricks = namedQueries(sqlFile('dashboard'));
    for (const [name, sql] of local) {
      expect({ name, columns: selectedColumns(sql) }).toEqual({
        name,
        columns: selectedColumns(databricks.get(name) ?? ''),
      });
    }
  });

  it.each(DASHBOARD.panels.map((p) => [p.id, p] as const))(
    '%s answers rows with every field the panel names, with the default parameters',
    async (_id, panel) => {
      const rows = (await dashboard.panel(panel.id, defaults)) ?? [];
      expect(rows.length).toBeGreaterThan(0);
      for (const field of panelFields(panel)) expect(Object.keys(rows[0] ?? {})).toContain(field.field);
    },
  );

  it('draws the asked period back from the clock, in UTC, with the anomalous windows marked and explained', async () => {
    const day = (await dashboard.panel('price_with_anomaly_markers', defaults)) ?? [];
    const six = (await dashboard.panel('price_with_anomaly_markers', { ...defaults, hours: 6 })) ?? [];
    // 5-minute windows: at most 12 an hour, and the period ends at the clock's now
    expect(day.length).toBeGreaterThan(6 * 12);
    expect(day.length).toBeLessThanOrEqual(24 * 12);
    expect(six.length).toBeLessThanOrEqual(6 * 12);
    expect(six.length).toBeGreaterThan(0);
    const since = Date.parse(START) - 24 * 3600_000;
    for (const r of day) expect(Date.parse(r.window_end as string)).toBeGreaterThan(since);
    const markers = day.filter((r) => r.anomaly_marker !== null);
    expect(markers.length).toBeGreaterThan(0);
    for (const r of markers) {
      expect(r.is_anomaly).toBe(1);
      expect(r.anomaly_marker).toBe(r.price_avg);
      expect(typeof r.reasons).toBe('string');
    }
    for (const r of day.filter((r) => r.anomaly_marker === null)) expect(r.reasons).toBeNull();

    const recent = (await dashboard.panel('recent_anomalies', defaults)) ?? [];
    for (const r of recent) {
      // the text column is the instant in UTC, whatever the process's time zone
      const end = new Date(r.window_end as string).toISOString();
      expect(r.window_end_utc).toBe(`${end.slice(0, 10)} ${end.slice(11, 16)} UTC`);
    }
    // the reasons in words (src/model/reasons.ts), not the stored JSON
    expect(recent.some((r) => /usual|median|gap|frozen|unusual combination/.test(String(r.reasons)))).toBe(
      true,
    );
    expect(recent.every((r) => !String(r.reasons).startsWith('['))).toBe(true);

    const hours = (await dashboard.panel('anomaly_rate', defaults)) ?? [];
    for (const r of hours) expect(String(r.hour_start)).toMatch(/T\d\d:00:00\.000Z$/);
  });

  it('answers no rows for an asset it does not have', async () => {
    expect(
      await dashboard.panel('price_with_anomaly_markers', { ...defaults, asset: 'no-such-coin' }),
    ).toEqual([]);
    expect(await dashboard.panel('no_such_panel', defaults)).toBeUndefined();
  });

  it('changes its version when new windows are scored', async () => {
    const before = await dashboard.version();
    expect(before.scoredAt).not.toBeNull();
    lake.setNow(new Date(Date.parse(START) + 30 * 60_000).toISOString());
    await runSimulatedRound(lake, HOURS);
    const after = await dashboard.version();
    expect(after.version).not.toBe(before.version);
    expect(Date.parse(after.scoredAt as string)).toBeGreaterThan(Date.parse(before.scoredAt as string));
  });
});

describe("the console's dashboard routes", () => {
  it('serves the definition, the assets and the data of each panel', async () => {
    const def = await getJson('/console/dashboard');
    expect(def.status).toBe(200);
    expect(def.body.dashboard).toEqual(JSON.parse(JSON.stringify(DASHBOARD)));
    expect(def.body.assets).toEqual(expect.arrayContaining(['bitcoin', 'ethereum']));
    const data = await getJson(
      '/console/dashboard/data?panel=price_with_anomaly_markers&asset=ethereum&hours=6',
    );
    expect(data.status).toBe(200);
    const rows = data.body.rows as Array<Record<string, unknown>>;
    expect(rows.length).toBeGreaterThan(0);
    // the columns the page draws, and the markers' reasons
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual([
      'anomaly_marker',
      'price_avg',
      'reasons',
      'window_end',
    ]);
    expect((await getJson('/console/dashboard/version')).body.version).toBe(def.body.version);
  });

  it.each([
    ['hours=abc', /hours/],
    ['hours=0', /hours/],
    ['hours=-24', /hours/],
    ['hours=99999', /hours/],
    ['hours=24%3B%20DROP%20TABLE%20anomalies', /hours/],
    ['asset=BIT%20COIN', /asset/],
    ["asset=bitcoin'--", /asset/],
  ])('refuses %s with a 400 that says which parameter', async (query, message) => {
    const res = await getJson(`/console/dashboard/data?panel=price_with_anomaly_markers&${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
  });

  it('refuses an unknown panel with a 400 and answers an unknown asset with no rows', async () => {
    expect((await getJson('/console/dashboard/data?panel=nope')).status).toBe(400);
    const none = await getJson('/console/dashboard/data?panel=price_with_anomaly_markers&asset=no-such-coin');
    expect(none.status).toBe(200);
    expect(none.body.rows).toEqual([]);
  });

  it('serves the page and the Vega builds from the installed packages, and answers no other host', async () => {
    const page = await fetch(`${slack.baseUrl}/dashboard`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/console/vendor/vega-lite.min.js');
    // Vega runs with its expression interpreter: the page's policy allows no eval.
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    const interpreter = await fetch(`${slack.baseUrl}/console/vendor/vega-interpreter.js`);
    expect(interpreter.status).toBe(200);
    const source = await interpreter.text();
    expect(source).toContain("from '/console/assets/vega-util.js'");
    expect(source).not.toContain("from 'vega-util'");
    for (const [path, global] of [
      ['/console/vendor/vega.min.js', 'vega'],
      ['/console/vendor/vega-lite.min.js', 'vegaLite'],
    ] as const) {
      const res = await fetch(`${slack.baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/javascript/);
      expect((await res.text()).slice(0, 400)).toContain(`.${global}=`);
    }
    // a page elsewhere that reaches the console through DNS rebinding sends its own Host
    const port = Number(new URL(slack.baseUrl).port);
    const status = (host: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/console/dashboard/data?panel=leaderboard_24h',
            headers: { host },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await status(`localhost:${port}`)).toBe(200);
    expect(await status(`evil.example:${port}`)).toBe(421);
  });
});

describe('a console without a dashboard', () => {
  it('says so instead of failing', async () => {
    const bare = await startLocalSlack({ signingSecret: 'secret', botToken: 'xoxb-test' });
    try {
      const res = await fetch(`${bare.baseUrl}/console/dashboard/data?panel=leaderboard_24h`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toMatch(/no dashboard/);
    } finally {
      await bare.close();
    }
  });
});
