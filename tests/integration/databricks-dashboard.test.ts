import { afterEach, describe, expect, it } from 'vitest';
import { DASHBOARD } from '../../src/domain/dashboard.js';
import { publishedDashboardAddress } from '../../src/platform/databricks/provision.js';
import { createDatabricksRest } from '../../src/platform/databricks/rest.js';
import type { PlanItem } from '../../src/platform/port.js';
import { type DatabricksEmulator, startDatabricksEmulator } from '../support/databricks-emulator.js';
import {
  type DatabricksHarness,
  startDatabricksHarness,
  WAREHOUSE_ID,
} from '../support/databricks-harness.js';

/**
 * The AI/BI dashboard on Databricks: `provision --apply` creates it through the Lakeview API at
 * `<workspace dir>/<title>.lvdash.json` and publishes it; a second apply writes nothing; an edit in
 * the workspace is drift that `--plan` shows and apply puts back. The emulator's Lakeview area is
 * held to the documented rules it follows.
 */

let h: DatabricksHarness | undefined;
let api: DatabricksEmulator | undefined;
afterEach(async () => {
  await h?.close();
  await api?.close();
  h = undefined;
  api = undefined;
});

const PATH = `/Shared/crypto-risk-monitor/${DASHBOARD.title}.lvdash.json`;
const MUTATING = /^(POST|PUT|DELETE|PATCH)$/;

/** A call to the emulated REST API as a user (or the UI) would make it; answers status and body. */
async function call(
  emulator: DatabricksEmulator,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${emulator.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${emulator.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const lakeviewWrites = (harness: DatabricksHarness, since: number) =>
  harness.api.calls
    .slice(since)
    .filter((c) => MUTATING.test(c.method) && c.path.startsWith('/api/2.0/lakeview/'))
    .map((c) => `${c.method} ${c.path.replace(/dashboards\/[0-9a-f]+/, 'dashboards/<id>')}`);

const dashboardItem = (items: PlanItem[]) => items.find((i) => i.kind === 'dashboard');

describe('provisioning the AI/BI dashboard', () => {
  it('creates and publishes it on an empty workspace; a second apply writes nothing', async () => {
    h = await startDatabricksHarness();
    const plan = await h.platform.deployment.provision(false);
    expect(dashboardItem(plan.items)).toEqual({ kind: 'dashboard', name: PATH, action: 'create' });
    expect(h.api.dashboards()).toEqual([]);

    const before = h.api.calls.length;
    const applied = await h.platform.deployment.provision(true);
    expect(lakeviewWrites(h, before)).toEqual([
      'POST /api/2.0/lakeview/dashboards',
      'POST /api/2.0/lakeview/dashboards/<id>/published',
    ]);
    const [dashboard] = h.api.dashboards();
    expect(h.api.dashboards()).toHaveLength(1);
    expect(dashboard).toMatchObject({
      display_name: DASHBOARD.title,
      path: PATH,
      warehouse_id: WAREHOUSE_ID,
      lifecycle_state: 'ACTIVE',
      published: { warehouse_id: WAREHOUSE_ID, embed_credentials: false },
    });
    // The deployed content is the generated document for the harness's catalog and schema.
    const content = JSON.parse(dashboard?.serialized_dashboard ?? '{}') as {
      datasets: Array<{ name: string }>;
    };
    expect(content.datasets.map((d) => d.name)).toEqual(DASHBOARD.panels.map((p) => p.id));
    expect(dashboard?.published?.serialized_dashboard).toBe(dashboard?.serialized_dashboard);
    // Found by its path, as the provisioner finds it.
    const status = await call(h.api, 'GET', `/api/2.0/workspace/get-status?path=${encodeURIComponent(PATH)}`);
    expect(status.json).toMatchObject({ object_type: 'DASHBOARD', resource_id: dashboard?.dashboard_id });

    const url = `${h.settings.host}/dashboardsv3/${dashboard?.dashboard_id}/published`;
    expect(dashboardItem(applied.items)).toEqual({
      kind: 'dashboard',
      name: PATH,
      action: 'create',
      detail: `published: ${url}`,
    });
    const rest = createDatabricksRest({ settings: h.settings, logger: h.logger, retryBaseDelayMs: 10 });
    expect(await publishedDashboardAddress(rest, h.settings)).toBe(url);

    const again = h.api.calls.length;
    const second = await h.platform.deployment.provision(true);
    expect(dashboardItem(second.items)).toEqual({ kind: 'dashboard', name: PATH, action: 'unchanged' });
    expect(lakeviewWrites(h, again)).toEqual([]);
    expect(h.api.dashboards()).toHaveLength(1);
  });

  it('puts back a dashboard edited in the workspace, and --plan shows the drift first', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    const [deployed] = h.api.dashboards();
    const id = deployed?.dashboard_id as string;
    const edited = JSON.parse(deployed?.serialized_dashboard ?? '{}') as {
      datasets: Array<{ name: string; queryLines: string[] }>;
      pages: Array<{ layout: unknown[] }>;
    };
    (edited.datasets[1] as { queryLines: string[] }).queryLines = ['SELECT 1 AS asset'];
    edited.pages[0]?.layout.pop();
    // Someone edits the draft (the UI saves through the same PATCH) and publishes it.
    expect(
      (
        await call(h.api, 'PATCH', `/api/2.0/lakeview/dashboards/${id}`, {
          serialized_dashboard: JSON.stringify(edited),
        })
      ).status,
    ).toBe(200);
    expect((await call(h.api, 'POST', `/api/2.0/lakeview/dashboards/${id}/published`, {})).status).toBe(200);

    const before = h.api.calls.length;
    const plan = await h.platform.deployment.provision(false);
    const item = dashboardItem(plan.items) as PlanItem;
    expect(item.action).toBe('update');
    expect(item.detail).toContain(`serialized_dashboard.datasets[${edited.datasets[1]?.name}].queryLines`);
    expect(item.detail).toContain('serialized_dashboard.pages[overview].layout');
    expect(lakeviewWrites(h, before)).toEqual([]); // a plan changes nothing

    await h.platform.deployment.provision(true);
    expect(lakeviewWrites(h, before)).toEqual([
      'PATCH /api/2.0/lakeview/dashboards/<id>',
      'POST /api/2.0/lakeview/dashboards/<id>/published',
    ]);
    const [restored] = h.api.dashboards();
    expect(restored?.dashboard_id).toBe(id); // the same dashboard, not a second one
    expect(restored?.serialized_dashboard).toBe(deployed?.serialized_dashboard);
    expect(restored?.published).toEqual({
      warehouse_id: WAREHOUSE_ID,
      embed_credentials: false,
      serialized_dashboard: deployed?.serialized_dashboard,
    });
    expect(dashboardItem((await h.platform.deployment.provision(false)).items)?.action).toBe('unchanged');
  });

  it('publishes again, without touching the draft, a dashboard republished with embedded credentials', async () => {
    h = await startDatabricksHarness();
    await h.platform.deployment.provision(true);
    const id = h.api.dashboards()[0]?.dashboard_id as string;
    // The API's default is to embed the publisher's credentials.
    await call(h.api, 'POST', `/api/2.0/lakeview/dashboards/${id}/published`, {});
    expect(h.api.dashboards()[0]?.published?.embed_credentials).toBe(true);

    const plan = await h.platform.deployment.provision(false);
    expect(dashboardItem(plan.items)).toEqual({
      kind: 'dashboard',
      name: PATH,
      action: 'update',
      detail: 'publish again: published with embedded credentials',
    });
    const before = h.api.calls.length;
    await h.platform.deployment.provision(true);
    expect(lakeviewWrites(h, before)).toEqual(['POST /api/2.0/lakeview/dashboards/<id>/published']);
    expect(h.api.dashboards()[0]?.published?.embed_credentials).toBe(false);
  });

  it('a create whose answer is lost is not sent twice', async () => {
    h = await startDatabricksHarness();
    h.api.fault('POST /api/2.0/lakeview/dashboards$', { kind: 'lose_answer' });
    await h.platform.deployment.provision(true);
    expect(h.api.callsTo('POST /api/2.0/lakeview/dashboards$')).toHaveLength(1);
    expect(h.api.dashboards()).toHaveLength(1);
    expect(h.api.dashboards()[0]?.published?.embed_credentials).toBe(false);
  });

  it('stops at another kind of object on the dashboard’s path instead of creating beside it', async () => {
    h = await startDatabricksHarness();
    await call(h.api, 'POST', '/api/2.0/workspace/mkdirs', { path: '/Shared/crypto-risk-monitor' });
    await call(h.api, 'POST', '/api/2.0/workspace/import', {
      path: PATH,
      format: 'RAW',
      content: Buffer.from('{}').toString('base64'),
    });
    await expect(h.platform.deployment.provision(false)).rejects.toThrow(
      /is a FILE, not an AI\/BI dashboard/,
    );
    expect(h.api.dashboards()).toEqual([]);
  });
});

describe('the emulated Lakeview API', () => {
  const WH = 'wh0123456789abcd';
  const create = (body: Record<string, unknown>) =>
    call(api as DatabricksEmulator, 'POST', '/api/2.0/lakeview/dashboards', body);
  const valid = {
    display_name: 'D',
    parent_path: '/Shared',
    serialized_dashboard: '{"pages":[]}',
    warehouse_id: WH,
  };

  it('creates a draft at <parent_path>/<display_name>.lvdash.json, found by get-status', async () => {
    api = await startDatabricksEmulator({ warehouses: [{ id: WH }] });
    const created = await create(valid);
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({
      display_name: 'D',
      path: '/Shared/D.lvdash.json',
      parent_path: '/Shared',
      warehouse_id: WH,
      lifecycle_state: 'ACTIVE',
      serialized_dashboard: '{"pages":[]}',
    });
    expect(created.json.dashboard_id).toMatch(/^[0-9a-f]{32}$/);
    const status = await call(api, 'GET', '/api/2.0/workspace/get-status?path=/Shared/D.lvdash.json');
    expect(status.json).toMatchObject({ object_type: 'DASHBOARD', resource_id: created.json.dashboard_id });
    const got = await call(api, 'GET', `/api/2.0/lakeview/dashboards/${created.json.dashboard_id}`);
    expect(got.json).toEqual(created.json);
    // The same path again is taken.
    expect(await create(valid)).toMatchObject({
      status: 400,
      json: { error_code: 'RESOURCE_ALREADY_EXISTS' },
    });
  });

  it('rejects what the reference rules out: no name, no parent folder, content that is not JSON', async () => {
    api = await startDatabricksEmulator({ warehouses: [{ id: WH }] });
    const bad = [
      { ...valid, display_name: undefined },
      { ...valid, parent_path: undefined },
      { ...valid, serialized_dashboard: '{not json' },
      { ...valid, serialized_dashboard: '[]' },
      { ...valid, warehouse_id: 'no-such-warehouse' },
      { ...valid, dashboard_id: '0'.repeat(32) },
    ];
    for (const body of bad) {
      expect(await create(body), JSON.stringify(body)).toMatchObject({
        status: 400,
        json: { error_code: 'INVALID_PARAMETER_VALUE' },
      });
    }
    expect(await create({ ...valid, parent_path: '/Shared/missing' })).toMatchObject({
      status: 404,
      json: { error_code: 'RESOURCE_DOES_NOT_EXIST' },
    });
    expect(api.dashboards()).toEqual([]);
    const unknown = '0123456789abcdef0123456789abcdef';
    for (const path of [
      `/api/2.0/lakeview/dashboards/${unknown}`,
      `/api/2.0/lakeview/dashboards/${unknown}/published`,
    ]) {
      expect(await call(api, 'GET', path)).toMatchObject({
        status: 404,
        json: { error_code: 'RESOURCE_DOES_NOT_EXIST' },
      });
    }
  });

  it('publishes the draft (credentials embedded unless told otherwise), updates and trashes', async () => {
    api = await startDatabricksEmulator({ warehouses: [{ id: WH }] });
    const id = (await create(valid)).json.dashboard_id as string;
    const base = `/api/2.0/lakeview/dashboards/${id}`;
    expect(await call(api, 'GET', `${base}/published`)).toMatchObject({ status: 404 });
    const published = await call(api, 'POST', `${base}/published`, {});
    expect(published.json).toMatchObject({ display_name: 'D', warehouse_id: WH, embed_credentials: true });
    expect((await call(api, 'GET', `${base}/published`)).json).toEqual(published.json);

    const patched = await call(api, 'PATCH', base, { display_name: 'E', etag: '1' });
    expect(patched.json).toMatchObject({ path: '/Shared/E.lvdash.json', etag: '2' });
    expect((await call(api, 'GET', '/api/2.0/workspace/get-status?path=/Shared/D.lvdash.json')).status).toBe(
      404,
    );
    expect(await call(api, 'PATCH', base, { display_name: 'F', etag: '1' })).toMatchObject({
      status: 409,
      json: { error_code: 'ABORTED' },
    });
    expect(await call(api, 'PATCH', base, { parent_path: '/Users' })).toMatchObject({ status: 400 });

    expect((await call(api, 'DELETE', base)).status).toBe(200);
    expect((await call(api, 'GET', base)).json).toMatchObject({ lifecycle_state: 'TRASHED' });
    expect((await call(api, 'GET', '/api/2.0/workspace/get-status?path=/Shared/E.lvdash.json')).status).toBe(
      404,
    );
    expect(await call(api, 'POST', `${base}/published`, {})).toMatchObject({ status: 400 });
  });
});
