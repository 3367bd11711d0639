import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuth } from './databricks/auth.js';
import { createCatalog } from './databricks/catalog.js';
import {
  ApiError,
  type ApiReply,
  type ApiRequest,
  type Ctx,
  isObject,
  type JsonObject,
  type Route,
  Timers,
} from './databricks/core.js';
import { createFiles } from './databricks/files.js';
import { createJobs, type JobSettings, type RunHandler, type RunSnapshot } from './databricks/jobs.js';
import { createLakeview, type DashboardSnapshot } from './databricks/lakeview.js';
import { createModels, type ModelVersionSpec } from './databricks/models.js';
import { createPipelines, type UpdateHandler } from './databricks/pipelines.js';
import { createWarehouses } from './databricks/warehouses.js';
import { createWorkspace } from './databricks/workspace.js';

/**
 * A loopback Databricks workspace for tests: a real HTTP server on 127.0.0.1 that answers the
 * documented request and response shapes of the REST APIs the bot uses (Jobs 2.2, Pipelines, Lakeview,
 * Workspace, Files in UC volumes, UC models, MLflow runs, SQL warehouses, OAuth M2M), keeps state
 * in memory, records every call and injects faults. Each area's file under ./databricks/ says
 * which documented facts it follows.
 *
 * Routes in fault() and callsTo() are "METHOD /path/prefix" (method may be '*'), a bare path
 * prefix (any method), or '*'. A prefix ending in '$' must match the whole path.
 */

export type { JobSettings, RunHandler, RunResult, RunSnapshot } from './databricks/jobs.js';
export type { DashboardSnapshot } from './databricks/lakeview.js';
export type { UpdateHandler, UpdateResult } from './databricks/pipelines.js';

export type Fault =
  /** Answer with this status and a Databricks error body; Retry-After (seconds) when given. */
  | { kind: 'status'; status: number; errorCode?: string; message?: string; retryAfter?: number }
  /** Destroy the socket without answering; the request is not applied. */
  | { kind: 'reset' }
  /** Wait, then handle the request normally. */
  | { kind: 'delay'; ms: number }
  /** Apply the request, then destroy the socket: the change happened but the client never hears. */
  | { kind: 'lose_answer' };

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Parsed JSON, `{ bytes }` for raw bodies, form fields (secrets left out) for the token endpoint. */
  body: unknown;
  /** HTTP status answered (or, for lose_answer, that would have been); 0 for a reset. */
  status: number;
  at: number;
  fault?: Fault['kind'];
}

export interface DatabricksEmulator {
  /** http://127.0.0.1:PORT, the workspace host. */
  url: string;
  /** The accepted personal access token. */
  token: string;
  clientId: string;
  clientSecret: string;
  calls: RecordedCall[];
  callsTo(route: string): RecordedCall[];
  fault(route: string, ...faults: Fault[]): void;
  /** Drops every fault still queued (the service answers normally again). */
  clearFaults(): void;
  jobs(): Array<{ job_id: number; settings: JobSettings }>;
  runs(): RunSnapshot[];
  pipelines(): Array<{ pipeline_id: string; spec: JsonObject }>;
  /** The AI/BI dashboards (Lakeview), drafts and published versions. */
  dashboards(): DashboardSnapshot[];
  workspaceObject(path: string): { object_type: string; content?: Buffer; language?: string } | undefined;
  /** '/Volumes/c/s/v/...' */
  volumeFile(path: string): Buffer | undefined;
  /** Writes a volume file as a job's notebook would, not through the API. */
  writeVolumeFile(path: string, data: Buffer): void;
  createVolume(catalog: string, schema: string, volume: string): void;
  registerModelVersion(fullName: string, v: ModelVersionSpec): number;
  setWarehouseState(id: string, state: string): void;
  warehouseStarts(id: string): number;
  /** The warehouse's state as the emulator holds it (no API call recorded). */
  warehouseState(id: string): string | undefined;
  /** Called when a job run starts RUNNING; its answer ends the run. Default: SUCCESS after runMs. */
  onRun(handler: RunHandler): void;
  /** Called when a pipeline update reaches RUNNING. Default: COMPLETED after updateMs. */
  onUpdate(handler: UpdateHandler): void;
  oauthTokensIssued(): number;
  /** Make every OAuth token issued so far expired. */
  expireOAuthTokens(): void;
  close(): Promise<void>;
}

export interface DatabricksEmulatorOptions {
  token?: string;
  clientId?: string;
  clientSecret?: string;
  /** OAuth access token lifetime; default 3600 (Databricks' one hour). */
  tokenLifetimeSeconds?: number;
  /** How long a job run takes with the default handler; default 50 ms. */
  runMs?: number;
  /** How long a pipeline update runs with the default handler; default 50 ms. */
  updateMs?: number;
  warehouses?: Array<{ id: string; name?: string; state?: string }>;
  /** STARTING → RUNNING after start; default 100 ms. */
  startMs?: number;
  /** Workspace user behind the token; default tester@example.com. */
  userName?: string;
  /** life_cycle_state of failed runs; default TERMINATED (with result_state FAILED). */
  failedLifeCycleState?: 'TERMINATED' | 'INTERNAL_ERROR';
  /**
   * The workspace's clock for the instants it reports (run start and end times, file and model
   * times); the wall clock by default. Durations (run and start times) stay in real time.
   */
  clock?: () => number;
}

const DEFAULT_ERROR_CODES: Record<number, string> = {
  429: 'REQUEST_LIMIT_EXCEEDED',
  500: 'INTERNAL_ERROR',
  503: 'TEMPORARILY_UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export async function startDatabricksEmulator(
  options: DatabricksEmulatorOptions = {},
): Promise<DatabricksEmulator> {
  const token = options.token ?? `dapi${randomBytes(16).toString('hex')}`;
  const clientId = options.clientId ?? randomBytes(8).toString('hex');
  const clientSecret = options.clientSecret ?? `dose${randomBytes(16).toString('hex')}`;
  let url = '';
  const timers = new Timers();
  const ctx: Ctx = {
    url: () => url,
    userName: options.userName ?? 'tester@example.com',
    timers,
    now: options.clock ?? (() => Date.now()),
  };

  const auth = createAuth(ctx, {
    token,
    clientId,
    clientSecret,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
  });
  const runMs = options.runMs ?? 50;
  const jobs = createJobs(ctx, { runMs, failedLifeCycleState: options.failedLifeCycleState ?? 'TERMINATED' });
  const pipelines = createPipelines(ctx, { updateMs: options.updateMs ?? 50 });
  const workspace = createWorkspace(ctx);
  const files = createFiles(ctx);
  const catalog = createCatalog(files);
  const models = createModels(ctx);
  const warehouses = createWarehouses(ctx, {
    startMs: options.startMs ?? 100,
    warehouses: options.warehouses ?? [],
  });
  const lakeview = createLakeview(ctx, {
    workspace,
    warehouseExists: (id) => warehouses.warehouseState(id) !== undefined,
  });
  const routes: Route[] = [
    ...auth.routes,
    ...jobs.routes,
    ...pipelines.routes,
    ...workspace.routes,
    ...files.routes,
    ...catalog.routes,
    ...models.routes,
    ...warehouses.routes,
    ...lakeview.routes,
  ];

  const calls: RecordedCall[] = [];
  const faults: Array<{ matches: (method: string, path: string) => boolean; queue: Fault[] }> = [];
  const faultQueues = new Map<string, Fault[]>();

  async function dispatch(req: ApiRequest): Promise<ApiReply> {
    try {
      const candidates = routes.filter((r) => r.pattern.test(req.path));
      const found = candidates.find((r) => r.method === req.method);
      if (!found?.public) auth.check(req.headers);
      if (!found) {
        throw new ApiError(404, 'ENDPOINT_NOT_FOUND', `No API found for '${req.method} ${req.path}'`);
      }
      const params = (found.pattern.exec(req.path) ?? []).slice(1).map((p) => p ?? '');
      return await found.handler(req, params);
    } catch (err) {
      if (err instanceof ApiError) return err.reply();
      return {
        status: 500,
        json: { error_code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err) },
      };
    }
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const call: RecordedCall = {
      method,
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      body: describeBody(u.pathname, req.headers['content-type'], body),
      status: 0,
      at: Date.now(),
    };
    calls.push(call);

    const fault = faults.find((f) => f.queue.length > 0 && f.matches(method, u.pathname))?.queue.shift();
    if (fault) call.fault = fault.kind;
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      const errorCode = fault.errorCode ?? DEFAULT_ERROR_CODES[fault.status] ?? 'INTERNAL_ERROR';
      const headers: Record<string, string> =
        fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) };
      const message = fault.message ?? `Emulated ${fault.status} ${errorCode}`;
      call.status = fault.status;
      send(res, method, new ApiError(fault.status, errorCode, message, headers).reply());
      return;
    }
    if (fault?.kind === 'delay') {
      await timers.sleep(fault.ms);
      if (res.destroyed) return;
    }
    const apiReq: ApiRequest = {
      method,
      path: u.pathname,
      query: u.searchParams,
      headers: req.headers,
      body,
      json: () => parseJson(body),
    };
    const reply = await dispatch(apiReq);
    call.status = reply.status;
    if (fault?.kind === 'lose_answer') {
      req.socket.destroy();
      return;
    }
    send(res, method, reply);
  }

  const server = createServer((req, res) => {
    answer(req, res).catch(() => {
      if (!res.headersSent) res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    token,
    clientId,
    clientSecret,
    calls,
    callsTo: (r) => {
      const matches = routeMatcher(r);
      return calls.filter((c) => matches(c.method, c.path));
    },
    fault(r, ...more) {
      let queue = faultQueues.get(r);
      if (!queue) {
        queue = [];
        faultQueues.set(r, queue);
        faults.push({ matches: routeMatcher(r), queue });
      }
      for (const one of more) queue.push(one);
    },
    clearFaults() {
      for (const { queue } of faults) queue.length = 0;
    },
    jobs: jobs.jobs,
    runs: jobs.runs,
    pipelines: pipelines.pipelines,
    dashboards: lakeview.dashboards,
    workspaceObject: workspace.workspaceObject,
    volumeFile: files.volumeFile,
    writeVolumeFile: files.writeVolumeFile,
    createVolume: catalog.createVolume,
    registerModelVersion: models.registerModelVersion,
    setWarehouseState: warehouses.setWarehouseState,
    warehouseStarts: warehouses.warehouseStarts,
    warehouseState: warehouses.warehouseState,
    onRun: jobs.onRun,
    onUpdate: pipelines.onUpdate,
    oauthTokensIssued: auth.oauthTokensIssued,
    expireOAuthTokens: auth.expireOAuthTokens,
    async close() {
      timers.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function routeMatcher(r: string): (method: string, path: string) => boolean {
  if (r.trim() === '*') return () => true;
  const m = /^\s*([A-Za-z*]+)\s+(\S+)\s*$/.exec(r);
  const method = (m?.[1] ?? '*').toUpperCase();
  const prefix = m?.[2] ?? r.trim();
  const exact = prefix.endsWith('$');
  const p = exact ? prefix.slice(0, -1) : prefix;
  return (callMethod, path) =>
    (method === '*' || method === callMethod) && (exact ? path === p : path.startsWith(p));
}

function parseJson(body: Buffer): JsonObject {
  const text = body.toString('utf8').trim();
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      'MALFORMED_REQUEST',
      'Invalid JSON given in the body of the request - failed to parse',
    );
  }
  if (!isObject(parsed)) {
    throw new ApiError(
      400,
      'MALFORMED_REQUEST',
      'Invalid JSON given in the body of the request - expected a map',
    );
  }
  return parsed;
}

function describeBody(path: string, contentType: string | undefined, body: Buffer): unknown {
  if (body.length === 0) return undefined;
  if (path.startsWith('/oidc/')) {
    const form = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    delete form.client_secret;
    return form;
  }
  if (path.startsWith('/api/2.0/fs/') || (contentType !== undefined && !contentType.includes('json'))) {
    return { bytes: body.length };
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return { bytes: body.length };
  }
}

function send(res: ServerResponse, method: string, reply: ApiReply): void {
  if (res.destroyed) return;
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  let payload: Buffer | undefined;
  if (reply.bytes) {
    payload = reply.bytes;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (reply.json !== undefined) {
    payload = Buffer.from(JSON.stringify(reply.json));
    headers['content-type'] = 'application/json';
  }
  if (payload) headers['content-length'] = String(payload.length);
  res.writeHead(reply.status, headers);
  res.end(method === 'HEAD' || reply.status === 204 ? undefined : payload);
}
