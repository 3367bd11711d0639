import { randomBytes } from 'node:crypto';
import type { ml, catalog as uc } from '@databricks/sdk-experimental';
import {
  ApiError,
  type Ctx,
  doesNotExist,
  invalid,
  ok,
  optBool,
  optInt,
  optString,
  type Route,
  reqInt,
  route,
} from './core.js';
import { answer, wire } from './wire.js';

/**
 * Unity Catalog registered models (`/api/2.1/unity-catalog/models/...`: get with
 * `include_aliases`, versions list/get, aliases get/set/delete) and MLflow `runs/get`.
 *
 * Facts this follows (Databricks REST reference uc-registered-models and experiments/get-run):
 * aliases are listed on the model only with `include_aliases=true`; GET …/aliases/{alias} answers
 * the model version; PUT takes `{version_num}` and answers `{alias_name, version_num, …}`; a missing
 * model, version, alias or run is 404 RESOURCE_DOES_NOT_EXIST. Versions are registered by the test
 * (registerModelVersion) the way a training job would, with the MLflow run behind them.
 */

interface Version {
  version: number;
  run_id: string;
  source: string;
  created_at: number;
  updated_at: number;
}

interface Model {
  full_name: string;
  created_at: number;
  updated_at: number;
  versions: Map<number, Version>;
  aliases: Map<string, number>;
}

interface MlflowRun {
  run_id: string;
  experiment_id: string;
  start_time: number;
  end_time: number;
  metrics: Record<string, number>;
  params: Record<string, string>;
}

const EXPERIMENT_ID = '4242424242424242';

/** The emulator's server page length for model versions (see the versions route). */
export const VERSIONS_PAGE = 25;

/** A stable order that is not the version order (a multiplicative hash of the number). */
const scramble = (version: number) => Math.imul(version, 2654435761) >>> 0;

/** Opaque page tokens of the versions list: an offset, and whether its empty page was served. */
function versionsToken(offset: number, emptyServed: boolean): string {
  return Buffer.from(JSON.stringify({ o: offset, e: emptyServed }), 'utf8').toString('base64url');
}

function versionsPage(token: string | undefined): { offset: number; emptyServed: boolean } {
  if (token === undefined || token === '') return { offset: 0, emptyServed: false };
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      o?: unknown;
      e?: unknown;
    };
    if (Number.isSafeInteger(parsed.o) && (parsed.o as number) >= 0)
      return { offset: parsed.o as number, emptyServed: parsed.e === true };
  } catch {
    // fall through
  }
  throw invalid(`Invalid page token: ${token}`);
}

export interface ModelVersionSpec {
  runId?: string;
  metrics?: Record<string, number>;
  params?: Record<string, string>;
  alias?: string;
}

export function createModels(ctx: Ctx) {
  const models = new Map<string, Model>();
  const runs = new Map<string, MlflowRun>();

  function model(encoded: string): Model {
    const name = decodeURIComponent(encoded);
    const m = models.get(name);
    if (!m) throw doesNotExist(`Routine or Model '${name}' does not exist.`);
    return m;
  }

  function version(m: Model, n: number): Version {
    const v = m.versions.get(n);
    if (!v) throw doesNotExist(`Model Version with version ${n} of model '${m.full_name}' does not exist.`);
    return v;
  }

  function parts(full: string): { catalog_name: string; schema_name: string; name: string } {
    const [catalog_name = '', schema_name = '', name = ''] = full.split('.');
    return { catalog_name, schema_name, name };
  }

  const aliasesOf = (m: Model, n?: number) =>
    [...m.aliases.entries()]
      .filter(([, v]) => n === undefined || v === n)
      .map(([alias_name, version_num]) => ({ alias_name, version_num }));

  function versionJson(m: Model, v: Version, includeAliases: boolean): uc.ModelVersionInfo {
    const { catalog_name, schema_name, name } = parts(m.full_name);
    const aliases = aliasesOf(m, v.version);
    return wire<uc.ModelVersionInfo>()({
      model_name: name,
      catalog_name,
      schema_name,
      version: v.version,
      status: 'READY',
      source: v.source,
      run_id: v.run_id,
      storage_location: `s3://emulator-metastore/models/${m.full_name}/versions/${v.version}`,
      created_at: v.created_at,
      created_by: ctx.userName,
      updated_at: v.updated_at,
      updated_by: ctx.userName,
      id: `${m.full_name}/${v.version}`,
      ...(includeAliases && aliases.length > 0 ? { aliases } : {}),
    });
  }

  function modelJson(m: Model, includeAliases: boolean): uc.RegisteredModelInfo {
    const aliases = aliasesOf(m);
    return wire<uc.RegisteredModelInfo>()({
      full_name: m.full_name,
      ...parts(m.full_name),
      owner: ctx.userName,
      created_at: m.created_at,
      created_by: ctx.userName,
      updated_at: m.updated_at,
      updated_by: ctx.userName,
      storage_location: `s3://emulator-metastore/models/${m.full_name}`,
      ...(includeAliases && aliases.length > 0 ? { aliases } : {}),
    });
  }

  const M = '\\/api\\/2\\.1\\/unity-catalog\\/models\\/([^/]+)';
  const routes: Route[] = [
    // Create a registered model (https://docs.databricks.com/api/uc-registered-models/v1/create-registered-model):
    // a model with no versions yet, answered with its RegisteredModelInfo. The reference does not
    // say what a second create answers; the stricter choice is 409 RESOURCE_ALREADY_EXISTS, as for
    // volumes. (The parent schema is not checked here: catalog.ts keeps the schemas.)
    route('POST', /^\/api\/2\.1\/unity-catalog\/models$/, (req) => {
      const body = req.json();
      const full = [body.catalog_name, body.schema_name, body.name].map((p) => String(p ?? '')).join('.');
      if (!/^[^.]+\.[^.]+\.[^.]+$/.test(full))
        throw invalid('catalog_name, schema_name and name are required.');
      if (models.has(full))
        throw new ApiError(409, 'RESOURCE_ALREADY_EXISTS', `Registered model '${full}' already exists`);
      const now = ctx.now();
      const m: Model = {
        full_name: full,
        created_at: now,
        updated_at: now,
        versions: new Map(),
        aliases: new Map(),
      };
      models.set(full, m);
      return ok(modelJson(m, false));
    }),
    route('GET', new RegExp(`^${M}$`), (req, [name = '']) =>
      ok(modelJson(model(name), optBool(req.query, 'include_aliases') ?? false)),
    ),
    // List model versions (https://docs.databricks.com/api/uc-registered-models/v1/list-model-versions):
    // - "no guarantee of a specific ordering": answered in a scrambled, stable order (never sorted
    //   by version), so a client that takes the first item as the latest is caught;
    // - paginated by default: max_results unset or 0 gives the server's page length, a value
    //   above it is capped to it, a negative one is an invalid parameter. The real lengths are
    //   100 and 1000 "as of 1/3/2024" (server-configured); here both are VERSIONS_PAGE, smaller,
    //   so a model with a few dozen versions already spans pages;
    // - "a page may contain zero results while still providing a next_page_token ... until
    //   next_page_token is absent": every page after the first is preceded by an empty one;
    // - "the elements in the response will not contain any aliases or tags".
    route('GET', new RegExp(`^${M}/versions$`), (req, [name = '']) => {
      const m = model(name);
      const max = optInt(req.query, 'max_results') ?? 0;
      if (max < 0) throw invalid(`max_results must not be negative, got ${max}.`);
      const size = max === 0 ? VERSIONS_PAGE : Math.min(max, VERSIONS_PAGE);
      const all = [...m.versions.values()].sort((a, b) => scramble(a.version) - scramble(b.version));
      const at = versionsPage(optString(req.query, 'page_token'));
      if (at.offset > 0 && !at.emptyServed) {
        return answer<uc.ListModelVersionsResponse>()({ next_page_token: versionsToken(at.offset, true) });
      }
      const page = all.slice(at.offset, at.offset + size);
      const more = at.offset + size < all.length;
      return answer<uc.ListModelVersionsResponse>()({
        ...(page.length > 0 ? { model_versions: page.map((v) => versionJson(m, v, false)) } : {}),
        ...(more ? { next_page_token: versionsToken(at.offset + size, false) } : {}),
      });
    }),
    route('GET', new RegExp(`^${M}/versions/([^/]+)$`), (req, [name = '', n = '']) => {
      const m = model(name);
      const v = version(m, reqInt(new URLSearchParams({ version: n }), 'version'));
      return ok(versionJson(m, v, optBool(req.query, 'include_aliases') ?? false));
    }),
    route('GET', new RegExp(`^${M}/aliases/([^/]+)$`), (req, [name = '', alias = '']) => {
      const m = model(name);
      const n = m.aliases.get(decodeURIComponent(alias));
      if (n === undefined)
        throw doesNotExist(`Alias ${decodeURIComponent(alias)} does not exist on model '${m.full_name}'.`);
      return ok(versionJson(m, version(m, n), optBool(req.query, 'include_aliases') ?? false));
    }),
    route('PUT', new RegExp(`^${M}/aliases/([^/]+)$`), (req, [name = '', alias = '']) => {
      const m = model(name);
      const n = reqInt(req.json(), 'version_num');
      version(m, n);
      const aliasName = decodeURIComponent(alias);
      m.aliases.set(aliasName, n);
      m.updated_at = ctx.now();
      const { catalog_name, schema_name, name: model_name } = parts(m.full_name);
      return answer<uc.RegisteredModelAlias>()({
        alias_name: aliasName,
        version_num: n,
        catalog_name,
        schema_name,
        model_name,
        id: `${m.full_name}@${aliasName}`,
      });
    }),
    route('DELETE', new RegExp(`^${M}/aliases/([^/]+)$`), (_req, [name = '', alias = '']) => {
      const m = model(name);
      const aliasName = decodeURIComponent(alias);
      if (!m.aliases.delete(aliasName))
        throw doesNotExist(`Alias ${aliasName} does not exist on model '${m.full_name}'.`);
      m.updated_at = ctx.now();
      return ok({});
    }),
    route('GET', /^\/api\/2\.0\/mlflow\/runs\/get$/, (req) => {
      const id = optString(req.query, 'run_id') ?? optString(req.query, 'run_uuid');
      if (!id) throw invalid("Missing value for required parameter 'run_id'.");
      const r = runs.get(id);
      if (!r) throw doesNotExist(`Run '${id}' not found.`);
      return answer<ml.GetRunResponse>()({
        run: {
          info: {
            run_id: r.run_id,
            run_uuid: r.run_id,
            experiment_id: r.experiment_id,
            run_name: `train-${r.run_id.slice(0, 8)}`,
            user_id: ctx.userName,
            status: 'FINISHED',
            start_time: r.start_time,
            end_time: r.end_time,
            artifact_uri: `dbfs:/databricks/mlflow-tracking/${r.experiment_id}/${r.run_id}/artifacts`,
            lifecycle_stage: 'active',
          },
          data: {
            metrics: Object.entries(r.metrics).map(([key, value]) => ({
              key,
              value,
              timestamp: r.end_time,
              step: 0,
            })),
            params: Object.entries(r.params).map(([key, value]) => ({ key, value })),
            tags: [
              { key: 'mlflow.runName', value: `train-${r.run_id.slice(0, 8)}` },
              { key: 'mlflow.user', value: ctx.userName },
            ],
          },
          inputs: {},
        },
      });
    }),
  ];

  return {
    routes,
    registerModelVersion(fullName: string, spec: ModelVersionSpec): number {
      if (fullName.split('.').length !== 3)
        throw new Error(`model name must be catalog.schema.model, got ${fullName}`);
      const now = ctx.now();
      let m = models.get(fullName);
      if (!m) {
        m = {
          full_name: fullName,
          created_at: now,
          updated_at: now,
          versions: new Map(),
          aliases: new Map(),
        };
        models.set(fullName, m);
      }
      const runId = spec.runId ?? randomBytes(16).toString('hex');
      if (!runs.has(runId) || spec.metrics || spec.params) {
        runs.set(runId, {
          run_id: runId,
          experiment_id: EXPERIMENT_ID,
          start_time: now - 1000,
          end_time: now,
          metrics: { ...(spec.metrics ?? {}) },
          params: { ...(spec.params ?? {}) },
        });
      }
      let n = 1;
      for (const k of m.versions.keys()) n = Math.max(n, k + 1);
      m.versions.set(n, {
        version: n,
        run_id: runId,
        source: `dbfs:/databricks/mlflow-tracking/${EXPERIMENT_ID}/${runId}/artifacts/model`,
        created_at: now,
        updated_at: now,
      });
      if (spec.alias) m.aliases.set(spec.alias, n);
      m.updated_at = now;
      return n;
    },
  };
}

export type ModelsArea = ReturnType<typeof createModels>;
