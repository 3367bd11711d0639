import type { sql } from '@databricks/sdk-experimental';
import { type Ctx, doesNotExist, ok, type Route, route } from './core.js';
import { answer, wire } from './wire.js';

/**
 * SQL warehouses (`/api/2.0/sql/warehouses`): list, get, start, stop.
 *
 * Facts this follows (Databricks REST reference sql/warehouses): state is one of STARTING,
 * RUNNING, STOPPING, STOPPED, DELETING, DELETED; start and stop answer `{}` and work
 * asynchronously (start: STARTING, then RUNNING; stop: STOPPING, then STOPPED).
 */

export type WarehouseState = 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'DELETING' | 'DELETED';

interface Warehouse {
  id: string;
  name: string;
  state: string;
  starts: number;
  timer?: NodeJS.Timeout;
}

export function createWarehouses(
  ctx: Ctx,
  options: { startMs: number; warehouses: Array<{ id: string; name?: string; state?: string }> },
) {
  const warehouses = new Map<string, Warehouse>();
  for (const w of options.warehouses) {
    warehouses.set(w.id, {
      id: w.id,
      name: w.name ?? `Warehouse ${w.id}`,
      state: w.state ?? 'RUNNING',
      starts: 0,
    });
  }

  function warehouse(id: string): Warehouse {
    const w = warehouses.get(decodeURIComponent(id));
    if (!w || w.state === 'DELETED')
      throw doesNotExist(`Unable to find warehouse ${decodeURIComponent(id)}.`);
    return w;
  }

  function json(w: Warehouse): sql.GetWarehouseResponse {
    const host = new URL(ctx.url()).hostname;
    return wire<sql.GetWarehouseResponse>()({
      id: w.id,
      name: w.name,
      state: w.state as sql.State,
      cluster_size: '2X-Small',
      min_num_clusters: 1,
      max_num_clusters: 1,
      num_clusters: w.state === 'RUNNING' ? 1 : 0,
      num_active_sessions: 0,
      auto_stop_mins: 10,
      creator_name: ctx.userName,
      enable_photon: true,
      enable_serverless_compute: true,
      warehouse_type: 'PRO',
      spot_instance_policy: 'COST_OPTIMIZED',
      channel: { name: 'CHANNEL_NAME_CURRENT' },
      health: { status: 'HEALTHY' },
      odbc_params: { hostname: host, path: `/sql/1.0/warehouses/${w.id}`, protocol: 'https', port: 443 },
      jdbc_url: `jdbc:databricks://${host}:443/default;transportMode=http;ssl=1;AuthMech=3;httpPath=/sql/1.0/warehouses/${w.id};`,
    });
  }

  function moveTo(w: Warehouse, state: string, then?: { state: string; ms: number }): void {
    ctx.timers.cancel(w.timer);
    w.state = state;
    w.timer = then ? ctx.timers.after(then.ms, () => moveTo(w, then.state)) : undefined;
  }

  const routes: Route[] = [
    route('GET', /^\/api\/2\.0\/sql\/warehouses$/, () => {
      const all = [...warehouses.values()].filter((w) => w.state !== 'DELETED');
      return answer<sql.ListWarehousesResponse>()(all.length > 0 ? { warehouses: all.map(json) } : {});
    }),
    route('GET', /^\/api\/2\.0\/sql\/warehouses\/([^/]+)$/, (_req, [id = '']) => ok(json(warehouse(id)))),
    route('POST', /^\/api\/2\.0\/sql\/warehouses\/([^/]+)\/start$/, (_req, [id = '']) => {
      const w = warehouse(id);
      if (w.state === 'STOPPED' || w.state === 'STOPPING') {
        w.starts += 1;
        moveTo(w, 'STARTING', { state: 'RUNNING', ms: options.startMs });
      }
      return ok({});
    }),
    route('POST', /^\/api\/2\.0\/sql\/warehouses\/([^/]+)\/stop$/, (_req, [id = '']) => {
      const w = warehouse(id);
      if (w.state === 'RUNNING' || w.state === 'STARTING') {
        moveTo(w, 'STOPPING', { state: 'STOPPED', ms: Math.max(1, Math.round(options.startMs / 2)) });
      }
      return ok({});
    }),
  ];

  return {
    routes,
    setWarehouseState(id: string, state: string): void {
      const w = warehouses.get(id) ?? { id, name: `Warehouse ${id}`, state, starts: 0 };
      warehouses.set(id, w);
      moveTo(w, state);
    },
    warehouseStarts: (id: string): number => warehouses.get(id)?.starts ?? 0,
    warehouseState: (id: string): string | undefined => warehouses.get(id)?.state,
  };
}

export type WarehousesArea = ReturnType<typeof createWarehouses>;
