import { randomBytes } from 'node:crypto';
import type {
  Dashboard,
  PublishedDashboard,
} from '@databricks/sdk-experimental/dist/apis/dashboards/index.js';
import {
  ApiError,
  type Ctx,
  clone,
  doesNotExist,
  invalid,
  isObject,
  type JsonObject,
  optBool,
  optString,
  type Route,
  route,
} from './core.js';
import { answer, wire } from './wire.js';
import type { WorkspaceArea } from './workspace.js';

/**
 * Lakeview (AI/BI dashboards), `/api/2.0/lakeview/dashboards`: create, get, update (PATCH), trash,
 * publish, get published, unpublish; each dashboard also a workspace object of type DASHBOARD at
 * `<parent_path>/<display_name>.lvdash.json`, which get-status finds.
 *
 * Facts this follows, each from the page named:
 * - Create (https://docs.databricks.com/api/workspace/lakeview/create, `POST
 *   /api/2.0/lakeview/dashboards`): the body is the Dashboard object; `display_name` is required
 *   (the SDKs' "Required. The display name of the dashboard."); `parent_path` is "the workspace
 *   path of the folder containing the dashboard", so it must be an existing folder (a missing one is
 *   404 RESOURCE_DOES_NOT_EXIST, as Workspace import answers a missing parent folder);
 *   `serialized_dashboard` is "the contents of the dashboard in serialized string form", JSON.
 * - The Dashboard object (https://docs.databricks.com/api/workspace/lakeview/get): `dashboard_id`
 *   (a 32-hex UUID), `path` ("including the file name. Exported dashboards always have the file
 *   extension .lvdash.json"), `create_time`, `update_time`, `etag` ("Can be optionally provided on
 *   updates to ensure that the dashboard has not been modified since the last read"),
 *   `lifecycle_state` ACTIVE or TRASHED, `warehouse_id`. An unknown id is 404 RESOURCE_DOES_NOT_EXIST.
 * - Update (https://docs.databricks.com/api/workspace/lakeview/update, `PATCH
 *   /api/2.0/lakeview/dashboards/{dashboard_id}`): the fields given replace the draft's.
 * - Trash (https://docs.databricks.com/api/workspace/lakeview/trash): lifecycle_state TRASHED; the
 *   workspace path is free again.
 * - Publish (https://docs.databricks.com/api/workspace/lakeview/publish, `POST
 *   …/{dashboard_id}/published`): `embed_credentials` (default true) and `warehouse_id` ("can be
 *   used to override the warehouse which was set in the draft"); answers the PublishedDashboard
 *   (`display_name`, `warehouse_id`, `embed_credentials`, `revision_create_time`).
 * - Get published / unpublish (https://docs.databricks.com/api/workspace/lakeview/getpublished,
 *   /unpublish): a dashboard never published has no published dashboard: 404.
 * - Workspace get-status of the dashboard's path: object_type DASHBOARD, resource_id the
 *   dashboard_id (https://docs.databricks.com/dashboards/tutorials/workspace-lakeview-api).
 *
 * Where the reference is silent, stricter: create rejects the output-only fields (dashboard_id,
 * path, create_time, update_time, etag, lifecycle_state) and a missing parent_path; a path already
 * taken is 400 RESOURCE_ALREADY_EXISTS (as Workspace import answers it); a serialized dashboard
 * must be a JSON object; a warehouse the workspace does not have is 400 INVALID_PARAMETER_VALUE;
 * publishing needs a warehouse; an update or publish of a trashed dashboard is 400; a stale etag
 * on update is 409 ABORTED.
 */

interface Stored {
  dashboard_id: string;
  display_name: string;
  parent_path: string;
  serialized_dashboard: string;
  warehouse_id?: string;
  create_time: string;
  update_time: string;
  etag: number;
  lifecycle_state: 'ACTIVE' | 'TRASHED';
  published?: {
    display_name: string;
    warehouse_id: string;
    embed_credentials: boolean;
    revision_create_time: string;
    serialized_dashboard: string;
  };
}

/** A dashboard as the emulator holds it (for tests). */
export interface DashboardSnapshot {
  dashboard_id: string;
  display_name: string;
  path: string;
  serialized_dashboard: string;
  warehouse_id?: string;
  lifecycle_state: 'ACTIVE' | 'TRASHED';
  published?: { warehouse_id: string; embed_credentials: boolean; serialized_dashboard: string };
}

const OUTPUT_ONLY = ['dashboard_id', 'path', 'create_time', 'update_time', 'etag', 'lifecycle_state'];
const UPDATABLE = ['display_name', 'serialized_dashboard', 'warehouse_id', 'etag'];
const EMPTY_DASHBOARD = JSON.stringify({ pages: [{ name: 'page', displayName: 'Untitled page' }] });

export function createLakeview(
  ctx: Ctx,
  deps: { workspace: WorkspaceArea; warehouseExists: (id: string) => boolean },
) {
  const { workspace } = deps;
  const dashboards = new Map<string, Stored>();
  const pathOf = (d: Pick<Stored, 'parent_path' | 'display_name'>) =>
    `${d.parent_path}/${d.display_name}.lvdash.json`;
  const iso = () => new Date(ctx.now()).toISOString();

  function find(id: string): Stored {
    const d = dashboards.get(decodeURIComponent(id));
    if (!d) throw doesNotExist(`Unable to find dashboard ${decodeURIComponent(id)}.`);
    return d;
  }

  function serialized(body: JsonObject): string | undefined {
    const text = optString(body, 'serialized_dashboard');
    if (text === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalid('serialized_dashboard is not valid JSON.');
    }
    if (!isObject(parsed)) throw invalid('serialized_dashboard must be a JSON object.');
    return text;
  }

  function warehouse(body: JsonObject): string | undefined {
    const id = optString(body, 'warehouse_id');
    if (id !== undefined && id !== '' && !deps.warehouseExists(id)) {
      throw invalid(`Warehouse ${id} does not exist.`);
    }
    return id === '' ? undefined : id;
  }

  function displayName(body: JsonObject, required: boolean): string | undefined {
    const name = optString(body, 'display_name');
    if (name === undefined && !required) return undefined;
    if (!name?.trim()) throw invalid('display_name is required.');
    if (name.includes('/')) throw invalid(`display_name (${name}) must not contain '/'.`);
    return name;
  }

  /** Claims the workspace path of `d` (free, or already its own). */
  function claim(d: Pick<Stored, 'parent_path' | 'display_name'>, own?: string): void {
    if (!workspace.isFolder(d.parent_path)) {
      throw doesNotExist(`The parent folder (${d.parent_path}) does not exist.`);
    }
    const taken = workspace.objectAt(pathOf(d));
    if (taken && taken.resource_id !== own) {
      throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `Path (${pathOf(d)}) already exists.`);
    }
  }

  function json(d: Stored): Dashboard {
    return wire<Dashboard>()({
      dashboard_id: d.dashboard_id,
      display_name: d.display_name,
      path: pathOf(d),
      parent_path: d.parent_path,
      serialized_dashboard: d.serialized_dashboard,
      create_time: d.create_time,
      update_time: d.update_time,
      etag: String(d.etag),
      lifecycle_state: d.lifecycle_state,
      ...(d.warehouse_id ? { warehouse_id: d.warehouse_id } : {}),
    });
  }

  function publishedJson(d: Stored): PublishedDashboard {
    const p = d.published;
    if (!p) throw doesNotExist(`Dashboard ${d.dashboard_id} is not published.`);
    return wire<PublishedDashboard>()({
      display_name: p.display_name,
      warehouse_id: p.warehouse_id,
      embed_credentials: p.embed_credentials,
      revision_create_time: p.revision_create_time,
    });
  }

  const active = (d: Stored): Stored => {
    if (d.lifecycle_state === 'TRASHED') throw invalid(`Dashboard ${d.dashboard_id} is in the trash.`);
    return d;
  };

  const base = /^\/api\/2\.0\/lakeview\/dashboards/;
  const one = new RegExp(`${base.source}\\/([^/]+)$`);
  const published = new RegExp(`${base.source}\\/([^/]+)\\/published$`);

  const routes: Route[] = [
    route('POST', new RegExp(`${base.source}$`), (req) => {
      const body = req.json();
      const stray = OUTPUT_ONLY.filter((k) => body[k] !== undefined);
      if (stray.length > 0) throw invalid(`Output-only fields cannot be set: ${stray.join(', ')}.`);
      const parent = optString(body, 'parent_path');
      if (!parent) throw invalid('parent_path is required.');
      const now = iso();
      const d: Stored = {
        dashboard_id: randomBytes(16).toString('hex'),
        display_name: displayName(body, true) as string,
        parent_path: parent.replace(/\/+$/, '') || '/',
        serialized_dashboard: serialized(body) ?? EMPTY_DASHBOARD,
        create_time: now,
        update_time: now,
        etag: 1,
        lifecycle_state: 'ACTIVE',
      };
      const wh = warehouse(body);
      if (wh) d.warehouse_id = wh;
      claim(d);
      dashboards.set(d.dashboard_id, d);
      workspace.putDashboard(pathOf(d), d.dashboard_id, d.serialized_dashboard);
      return answer<Dashboard>()(json(d));
    }),
    route('GET', one, (_req, [id]) => answer<Dashboard>()(json(find(id as string)))),
    route('PATCH', one, (req, [id]) => {
      const d = active(find(id as string));
      const body = req.json();
      const stray = Object.keys(body).filter((k) => !UPDATABLE.includes(k));
      if (stray.length > 0) throw invalid(`Fields that cannot be updated: ${stray.join(', ')}.`);
      const etag = optString(body, 'etag');
      if (etag !== undefined && etag !== String(d.etag)) {
        throw new ApiError(409, 'ABORTED', `The dashboard was modified since etag ${etag} (now ${d.etag}).`);
      }
      const name = displayName(body, false);
      const content = serialized(body);
      const wh = warehouse(body);
      const next = { ...d, ...(name ? { display_name: name } : {}) };
      if (name && name !== d.display_name) claim(next, d.dashboard_id);
      const oldPath = pathOf(d);
      if (name) d.display_name = name;
      if (content !== undefined) d.serialized_dashboard = content;
      if (body.warehouse_id !== undefined) d.warehouse_id = wh;
      d.update_time = iso();
      d.etag += 1;
      if (pathOf(d) !== oldPath) workspace.removeObject(oldPath);
      workspace.putDashboard(pathOf(d), d.dashboard_id, d.serialized_dashboard);
      return answer<Dashboard>()(json(d));
    }),
    route('DELETE', one, (_req, [id]) => {
      const d = active(find(id as string));
      d.lifecycle_state = 'TRASHED';
      workspace.removeObject(pathOf(d));
      return { status: 200, json: {} };
    }),
    route('POST', published, (req, [id]) => {
      const d = active(find(id as string));
      const body = req.json();
      const embed = optBool(body, 'embed_credentials') ?? true;
      const wh = warehouse(body) ?? d.warehouse_id;
      if (!wh)
        throw invalid('A warehouse is required to publish: set warehouse_id on the dashboard or here.');
      d.published = {
        display_name: d.display_name,
        warehouse_id: wh,
        embed_credentials: embed,
        revision_create_time: iso(),
        serialized_dashboard: d.serialized_dashboard,
      };
      return answer<PublishedDashboard>()(publishedJson(d));
    }),
    route('GET', published, (_req, [id]) => answer<PublishedDashboard>()(publishedJson(find(id as string)))),
    route('DELETE', published, (_req, [id]) => {
      const d = find(id as string);
      publishedJson(d);
      delete d.published;
      return { status: 200, json: {} };
    }),
  ];

  return {
    routes,
    dashboards(): DashboardSnapshot[] {
      return [...dashboards.values()].map((d) =>
        clone({
          dashboard_id: d.dashboard_id,
          display_name: d.display_name,
          path: pathOf(d),
          serialized_dashboard: d.serialized_dashboard,
          lifecycle_state: d.lifecycle_state,
          ...(d.warehouse_id ? { warehouse_id: d.warehouse_id } : {}),
          ...(d.published
            ? {
                published: {
                  warehouse_id: d.published.warehouse_id,
                  embed_credentials: d.published.embed_credentials,
                  serialized_dashboard: d.published.serialized_dashboard,
                },
              }
            : {}),
        }),
      );
    },
  };
}
