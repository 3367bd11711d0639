import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { Config, DatabricksSettings, ModelSettings } from '../../config.js';
import { formatDuration, formatTime } from '../../domain/format.js';
import { type EffectiveSchedule, SCHEDULES_KEY, scheduleStateOf } from '../../domain/schedules.js';
import { ExitCode, UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SimEvent } from '../../market/record.js';
import { sqlFile } from '../../sql-files.js';
import { createLabelReads } from '../label-reads.js';
import { createSharedReads } from '../lakehouse-reads.js';
import { landingName, toJsonLines } from '../landing-files.js';
import type { Db } from '../local/db.js';
import type {
  Deployment,
  JobRun,
  JobStatus,
  LakehouseRead,
  ModelVersion,
  PlanItem,
  Platform,
  RetrainRun,
  ScoredWindow,
  StageStatus,
  StateStore,
  StatusReport,
  TrainResult,
} from '../port.js';
import { assertReadOnlySql } from '../read-only-sql.js';
import { createJobScheduleApi, jobSchedulesOf } from './job-schedules.js';
import { createProvisioner, publishedDashboardAddress } from './provision.js';
import {
  FEED_FILE,
  FEED_SERIES_MS,
  type FeedFile,
  feedFileSchema,
  type PublishedSeries,
  parsePublished,
  type ServingSnapshot,
  SNAPSHOT_PATH,
  SNAPSHOT_PERIODS,
  SNAPSHOT_SERIES_MS,
  seriesWithin,
  snapshotSchema,
  snapshotTop,
} from './published.js';
import { JOB_NAMES, MODEL_NAME, PIPELINE_NAME, resources, runNowBody } from './resources.js';
import { DatabricksError, type DatabricksRest } from './rest.js';
import { parseTrainOutput, type TrainOutput } from './train-output.js';
import type { SqlParam, Warehouse } from './warehouse.js';

/** The scoring job's task that publishes the feed file (resources.ts). */
const INFER_TASK = 'infer';
/** The training job's task, whose exit value has the labels' comparison (resources.ts). */
const TRAIN_TASK = 'train';
/** With no feed cursor yet, windows scored this long ago are still read (the feed announces none older). */
const FEED_HORIZON_MS = 24 * 3_600_000;
/** Pages of scoring runs read at most per feed check (25 runs each: more than the horizon holds). */
const MAX_RUN_PAGES = 10;
/**
 * The serving snapshot answers only while it is at most this old (three scoring intervals); older,
 * the scoring job is failing or paused and the warehouse is asked instead.
 */
const SNAPSHOT_MAX_AGE_MS = 30 * 60_000;
/** How long a read snapshot is used before the volume is read again. */
const SNAPSHOT_CACHE_MS = 60_000;

export interface DatabricksPlatformDeps {
  settings: DatabricksSettings;
  model: ModelSettings;
  assets: readonly string[];
  rest: DatabricksRest;
  warehouse: Warehouse;
  clock: Clock;
  logger: Logger;
  /** How often a running job's state is read while waiting for it. */
  pollMs?: number;
  /** How long `train` waits for its run before saying it goes on in the workspace (default 2 h). */
  trainTimeoutMs?: number;
  /** Opens the bot's own store (a DuckDB file beside the configuration's data folder), once. */
  openBotStore: () => Promise<Db>;
  /** The configured schedules (SCHEDULE_*): the jobs' defaults. */
  schedule: Config['schedule'];
}

/** A schedule set from chat, as `provision` lists it: kept, with who set it when. */
function scheduleItem(s: EffectiveSchedule): PlanItem {
  const what = s.paused
    ? `paused ${s.paused_until ? `until ${formatTime(s.paused_until)}` : 'until resumed'}${s.cron !== s.default_cron ? ` (on ${s.cron})` : ''}`
    : `runs on ${s.cron} (default ${s.default_cron})`;
  return {
    kind: 'schedule',
    name: s.job,
    action: 'unchanged',
    detail: `kept as set from chat: ${what}, by ${s.set_by ?? '?'} at ${s.set_at ? formatTime(s.set_at) : '?'}`,
  };
}

interface Run {
  run_id: number;
  job_id: number;
  state?: { life_cycle_state?: string; result_state?: string; state_message?: string };
  start_time?: number;
  end_time?: number;
  run_page_url?: string;
  tasks?: Array<{ task_key: string; run_id: number }>;
}

interface UcModel {
  aliases?: Array<{ alias_name: string; version_num: number }>;
}

interface UcVersion {
  version: number;
  created_at?: number;
  run_id?: string;
}

interface MlflowRun {
  run?: {
    info?: { start_time?: number; end_time?: number };
    data?: {
      metrics?: Array<{ key: string; value: number }>;
      params?: Array<{ key: string; value: string }>;
      tags?: Array<{ key: string; value: string }>;
    };
  };
}

/**
 * The real deployment behind the Platform port: landing files in the Unity Catalog volume (Files
 * API), reads on the SQL warehouse (`@databricks/sql`), operations through the Jobs, Pipelines and
 * Unity Catalog REST APIs. Pipeline, inference and training run as Databricks jobs (see
 * resources.ts); this process ingests, reads, starts runs and follows them. Status never starts
 * the warehouse; the feed reads it only after a new successful inference run.
 */
/** Databricks always has a deployment to reconcile (and no in-process engine). */
export type DatabricksPlatform = Platform & { readonly deployment: Deployment };

export function createDatabricksPlatform(deps: DatabricksPlatformDeps): DatabricksPlatform {
  const { settings, rest, warehouse, clock, logger } = deps;
  const modelName = `${settings.catalog}.${settings.schema}.${MODEL_NAME}`;
  const volume = `/api/2.0/fs/files/Volumes/${settings.catalog}/${settings.schema}/${settings.volume}`;
  const modelPath = `/api/2.1/unity-catalog/models/${modelName}`;
  const jobIds = new Map<string, number>();
  const requestedBy = new Map<number, string>();
  /** The champion when each run started here (Unity Catalog keeps no history of aliases). */
  const championBefore = new Map<number, ModelVersion | null>();
  const botRuns = new Map<string, JobRun>();
  /**
   * The scoring runs already read, by run id: when each ended and its feed file (null: none, the
   * run failed, or the file could not be understood). Runs that ended before the feed's horizon are
   * forgotten.
   */
  const seenRuns = new Map<number, { endedAt: number; file: FeedFile | null }>();
  /** The newest feed file's series per asset (for the charts of the messages it feeds). */
  const feedSeries = new Map<string, { series: PublishedSeries; asOf: string }>();
  let served: { readAt: number; snapshot: ServingSnapshot | null } | undefined;

  async function jobId(name: string): Promise<number> {
    const known = jobIds.get(name);
    if (known !== undefined) return known;
    const res = await rest.get<{ jobs?: Array<{ job_id: number; settings: { name: string } }> }>(
      '/api/2.2/jobs/list',
      { name, limit: 25 },
    );
    const found = res.jobs?.find((j) => j.settings.name === name);
    if (!found) {
      throw new UserError(
        `The Databricks job ${name} does not exist: run \`crypto-risk provision --apply\` first.`,
      );
    }
    jobIds.set(name, found.job_id);
    return found.job_id;
  }

  async function runs(
    name: string,
    filter: { active_only?: boolean; completed_only?: boolean },
    limit = 5,
  ): Promise<Run[]> {
    const res = await rest.get<{ runs?: Run[] }>('/api/2.2/jobs/runs/list', {
      job_id: await jobId(name),
      limit,
      ...filter,
    });
    return res.runs ?? [];
  }

  /**
   * Every version of the model, newest first, without MLflow details; null when there is no model.
   * List model versions is paginated and in no particular order: a page may be empty and still
   * carry a `next_page_token`, and only its absence ends the list; `max_results` above the server's
   * page length (1000) is capped to it
   * (https://docs.databricks.com/api/uc-registered-models/v1/list-model-versions). So every page
   * is read and the order is ours.
   */
  async function listVersions(): Promise<{ aliases: UcModel['aliases']; versions: UcVersion[] } | null> {
    let model: UcModel;
    try {
      model = await rest.get<UcModel>(modelPath, { include_aliases: true });
    } catch (err) {
      if (err instanceof DatabricksError && err.status === 404) return null;
      throw err;
    }
    const versions: UcVersion[] = [];
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      const page: { model_versions?: UcVersion[]; next_page_token?: string } = await rest.get(
        `${modelPath}/versions`,
        { max_results: 1000, ...(pageToken ? { page_token: pageToken } : {}) },
      );
      for (const version of page.model_versions ?? []) versions.push(version);
      pageToken = page.next_page_token || undefined;
      if (pageToken !== undefined) {
        if (seen.has(pageToken)) throw new Error(`the model versions list repeated page token ${pageToken}`);
        seen.add(pageToken);
      }
    } while (pageToken !== undefined);
    versions.sort((a, b) => Number(b.version) - Number(a.version));
    return { aliases: model.aliases ?? [], versions };
  }

  /** A version with the MLflow run behind it (one runs/get call). */
  async function withRun(listed: { aliases: UcModel['aliases'] }, v: UcVersion): Promise<ModelVersion> {
    const mlflow = v.run_id
      ? await rest
          .get<MlflowRun>('/api/2.0/mlflow/runs/get', { run_id: v.run_id })
          .catch(() => ({}) as MlflowRun)
      : {};
    return modelVersion(
      v,
      mlflow,
      (listed.aliases ?? [])
        .filter((a) => Number(a.version_num) === Number(v.version))
        .map((a) => a.alias_name),
    );
  }

  /** Every version with its MLflow run, newest first (for `models`, which lists them all). */
  async function models(): Promise<ModelVersion[]> {
    const listed = await listVersions();
    if (!listed) return [];
    const out: ModelVersion[] = new Array(listed.versions.length);
    let next = 0;
    // A few runs/get calls at a time, not one burst per version (the API rate-limits with 429).
    const worker = async () => {
      for (let i = next++; i < listed.versions.length; i = next++) {
        out[i] = await withRun(listed, listed.versions[i] as UcVersion);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, listed.versions.length) }, worker));
    return out;
  }

  /**
   * The latest version (highest number) and the champion (the version its alias names), with
   * their MLflow runs only: at most two runs/get calls whatever the number of versions.
   */
  async function modelSummary(): Promise<{
    latest: ModelVersion | null;
    champion: ModelVersion | null;
    count: number;
  }> {
    const listed = await listVersions();
    if (!listed) return { latest: null, champion: null, count: 0 };
    const newest = listed.versions[0];
    const championNum = (listed.aliases ?? []).find((a) => a.alias_name === 'champion')?.version_num;
    const championVersion =
      championNum === undefined
        ? undefined
        : (listed.versions.find((v) => Number(v.version) === Number(championNum)) ?? {
            version: Number(championNum),
          });
    const latest = newest ? await withRun(listed, newest) : null;
    const champion =
      championVersion === undefined
        ? null
        : latest && latest.version === Number(championVersion.version)
          ? latest
          : await withRun(listed, championVersion);
    return { latest, champion, count: listed.versions.length };
  }

  async function toRetrainRun(run: Run): Promise<RetrainRun> {
    const life = run.state?.life_cycle_state ?? 'PENDING';
    const result = run.state?.result_state;
    const state: RetrainRun['state'] =
      life === 'TERMINATED' && result === 'SUCCESS'
        ? 'succeeded'
        : ['TERMINATED', 'SKIPPED', 'INTERNAL_ERROR'].includes(life)
          ? 'failed'
          : life === 'RUNNING' || life === 'TERMINATING'
            ? 'running'
            : 'queued';
    const iso = (ms?: number) => (ms ? new Date(ms).toISOString() : null);
    let trained: TrainResult | null = null;
    if (state === 'succeeded') {
      const { latest, champion } = await modelSummary();
      if (latest) {
        trained = {
          version: latest,
          promoted:
            champion?.version === latest.version &&
            championBefore.get(run.run_id)?.version !== latest.version,
          champion,
          previous_champion: championBefore.get(run.run_id) ?? null,
          ...(await trainOutputOf(run)),
        };
      }
    }
    return {
      id: String(run.run_id),
      state,
      requested_by: requestedBy.get(run.run_id) ?? 'schedule',
      created_at: iso(run.start_time) ?? clock.now().toISOString(),
      started_at: iso(run.start_time),
      finished_at: state === 'succeeded' || state === 'failed' ? iso(run.end_time) : null,
      result: trained,
      error:
        state === 'failed'
          ? `${result ?? life}: ${run.state?.state_message ?? 'the training job failed'}${run.run_page_url ? ` (${run.run_page_url})` : ''}`
          : null,
    };
  }

  /**
   * The labels' comparison and refusal a training run's notebook reported in its exit value
   * (runs/get-output of its task run: https://docs.databricks.com/api/workspace/jobs/getrunoutput).
   * Without them (a run that did not report them, or an output that cannot be read) the reply
   * says no labels were compared.
   */
  async function trainOutputOf(run: Run): Promise<TrainOutput> {
    const task =
      run.tasks?.find((t) => t.task_key === TRAIN_TASK) ??
      (run.tasks?.length === 1 ? run.tasks[0] : undefined);
    if (!task) return {};
    try {
      const output = await rest.get<{ notebook_output?: { result?: string } }>(
        '/api/2.2/jobs/runs/get-output',
        {
          run_id: task.run_id,
        },
      );
      return parseTrainOutput(output.notebook_output?.result);
    } catch (err) {
      logger.warn(
        { run_id: run.run_id, err: err instanceof Error ? err.message : String(err) },
        'retrain: the training run output could not be read; its labels comparison is not shown',
      );
      return {};
    }
  }

  async function retrain(request: { requestedBy: string }) {
    const active = await runs(JOB_NAMES.train, { active_only: true }, 1);
    if (active[0]) return { run: await toRetrainRun(active[0]), started: false };
    const before = (await modelSummary()).champion;
    // The token makes a retried run-now return the same run instead of starting a second one.
    const started = await rest.post<{ run_id: number }>(
      '/api/2.2/jobs/run-now',
      runNowBody(await jobId(JOB_NAMES.train), randomUUID()),
      { idempotent: true },
    );
    requestedBy.set(started.run_id, request.requestedBy);
    championBefore.set(started.run_id, before);
    const run = await rest.get<Run>('/api/2.2/jobs/runs/get', { run_id: started.run_id });
    return { run: await toRetrainRun(run), started: true };
  }

  async function retrainRun(id: string): Promise<RetrainRun | undefined> {
    try {
      return await toRetrainRun(await rest.get<Run>('/api/2.2/jobs/runs/get', { run_id: id }));
    } catch (err) {
      // The Jobs API answers an unknown run with 400 INVALID_PARAMETER_VALUE "Run … does not exist."
      if (err instanceof DatabricksError && (err.status === 404 || /does not exist/.test(err.message)))
        return undefined;
      throw err;
    }
  }

  /** The training job's active run, else its latest completed one; null when it has none (or no job). */
  async function newestTrainingRun(): Promise<RetrainRun | null> {
    const none = () => [] as Run[];
    const [active] = await runs(JOB_NAMES.train, { active_only: true }, 1).catch(none);
    const [newest] = active ? [active] : await runs(JOB_NAMES.train, { completed_only: true }, 1).catch(none);
    return newest ? toRetrainRun(newest) : null;
  }

  /**
   * The feed files of the scoring runs that ended after `afterMs`, oldest first. runs/list pages
   * newest first; paging stops at a run read before (everything older was read then) or one that
   * ended by `afterMs`, so a steady feed makes one runs/list call a check. New runs are read oldest
   * first: when one fails (a network error), no newer one is marked read and the next check retries.
   */
  async function feedFilesSince(afterMs: number): Promise<FeedFile[]> {
    const fresh: Run[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_RUN_PAGES; page++) {
      const res: { runs?: Run[]; next_page_token?: string } = await rest.get('/api/2.2/jobs/runs/list', {
        job_id: await jobId(JOB_NAMES.score),
        completed_only: true,
        expand_tasks: true,
        limit: 25,
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      const listed = res.runs ?? [];
      const end = listed.findIndex((r) => seenRuns.has(r.run_id) || (r.end_time ?? 0) <= afterMs);
      for (const run of end === -1 ? listed : listed.slice(0, end)) fresh.push(run);
      pageToken = res.next_page_token || undefined;
      if (end !== -1 || !pageToken) break;
    }
    fresh.sort((a, b) => (a.start_time ?? 0) - (b.start_time ?? 0) || a.run_id - b.run_id);
    for (const run of fresh) {
      const file = run.state?.result_state === 'SUCCESS' ? await feedOf(run) : null;
      seenRuns.set(run.run_id, { endedAt: run.end_time ?? 0, file });
    }
    for (const [id, seen] of seenRuns) if (seen.endedAt <= afterMs) seenRuns.delete(id);
    return [...seenRuns.values()]
      .filter((seen) => seen.file !== null)
      .sort((a, b) => a.endedAt - b.endedAt)
      .map((seen) => seen.file as FeedFile);
  }

  /**
   * A scoring run's feed file: the inference task's exit value names it (runs/get-output answers
   * for one task run, not for a run of several tasks:
   * https://docs.databricks.com/api/workspace/jobs/getrunoutput), and the Files API reads it. A run
   * without a file (no anomalies) or with one that cannot be understood (logged) is null; a failed
   * call throws.
   */
  async function feedOf(run: Run): Promise<FeedFile | null> {
    const task = run.tasks?.find((t) => t.task_key === INFER_TASK);
    if (!task) {
      logger.warn({ run_id: run.run_id }, `feed: the scoring run has no ${INFER_TASK} task; skipped`);
      return null;
    }
    const output = await rest.get<{ notebook_output?: { result?: string } }>(
      '/api/2.2/jobs/runs/get-output',
      {
        run_id: task.run_id,
      },
    );
    const file = await readFeedFile(run.run_id, output.notebook_output?.result);
    if (file) {
      served = undefined; // a newer run: the snapshot was replaced too
      for (const [asset, series] of Object.entries(file.series)) {
        const known = feedSeries.get(asset);
        if (!known || known.asOf <= file.scored_at) feedSeries.set(asset, { series, asOf: file.scored_at });
      }
    }
    return file;
  }

  async function readFeedFile(runId: number, exitValue: string | undefined): Promise<FeedFile | null> {
    let name: unknown;
    try {
      name = exitValue ? (JSON.parse(exitValue) as { feed_file?: unknown }).feed_file : undefined;
    } catch {
      logger.warn({ run_id: runId }, 'feed: the inference exit value is not JSON; no feed file read');
      return null;
    }
    if (name === undefined || name === null) return null;
    if (typeof name !== 'string' || !FEED_FILE.test(name)) {
      logger.warn({ run_id: runId, feed_file: String(name) }, 'feed: not a feed file name; not read');
      return null;
    }
    const bytes = await rest.getBytes(`${volume}/${name}`);
    if (!bytes) {
      logger.warn({ run_id: runId, feed_file: name }, 'feed: the feed file is gone (pruned?); skipped');
      return null;
    }
    try {
      return parsePublished(feedFileSchema, bytes, `The feed file ${name}`);
    } catch (err) {
      logger.error({ run_id: runId, err: String(err) }, 'feed: the feed file was refused; skipped');
      return null;
    }
  }

  /**
   * The serving snapshot when it is fresh (made within SNAPSHOT_MAX_AGE_MS), else null: read from
   * the volume at most once a minute, and again after a newer scoring run was seen.
   */
  async function snapshot(): Promise<ServingSnapshot | null> {
    const now = clock.now().getTime();
    if (!served || now - served.readAt > SNAPSHOT_CACHE_MS) {
      let value: ServingSnapshot | null = null;
      try {
        const bytes = await rest.getBytes(`${volume}/${SNAPSHOT_PATH}`);
        if (bytes) value = parsePublished(snapshotSchema, bytes, `The serving snapshot ${SNAPSHOT_PATH}`);
      } catch (err) {
        logger.warn({ err: String(err) }, 'serving snapshot: not read; answering from the SQL warehouse');
      }
      served = { readAt: now, snapshot: value };
    }
    const value = served.snapshot;
    return value && now - Date.parse(value.generated_at) <= SNAPSHOT_MAX_AGE_MS ? value : null;
  }

  /** A published series of the asset covering `spanMs` back from its instant: the feed's, else the snapshot's. */
  async function publishedSeries(asset: string, spanMs: number) {
    const fromFeed = feedSeries.get(asset);
    const newestSnapshot = served?.snapshot?.generated_at ?? '';
    if (
      fromFeed &&
      spanMs <= FEED_SERIES_MS &&
      fromFeed.asOf >= newestSnapshot &&
      clock.now().getTime() - Date.parse(fromFeed.asOf) <= SNAPSHOT_MAX_AGE_MS
    ) {
      return fromFeed;
    }
    if (spanMs > SNAPSHOT_SERIES_MS) return undefined;
    const snap = await snapshot();
    if (!snap) return undefined;
    const empty = {
      symbol: null,
      simulated: false,
      window_end: [],
      price_avg: [],
      anomaly_score: [],
      is_anomaly: [],
    };
    return { series: snap.series[asset] ?? empty, asOf: snap.generated_at };
  }

  async function answersFromSnapshot(request: LakehouseRead): Promise<boolean> {
    if (request.kind === 'chart' && request.sinceMs > SNAPSHOT_SERIES_MS) return false;
    if (request.kind === 'top' && !SNAPSHOT_PERIODS.has(request.sinceMs)) return false;
    const snap = await snapshot();
    return snap !== null && (request.kind === 'chart' || request.limit <= snap.windows_per_asset);
  }

  // The reads the warehouse answers like DuckDB does: the same SQL files (lakehouse-reads.ts).
  const shared = createSharedReads(async <T>(name: string, params: Record<string, SqlParam>) => {
    await warehouse.ensureRunning();
    return warehouse.query<T>(sqlFile(name), params);
  });
  // Never ensureRunning here: the callers check the warehouse is running first.
  const labelReads = createLabelReads(<T>(name: string, params: Record<string, SqlParam>) =>
    warehouse.query<T>(sqlFile(name), params),
  );
  let botStore: Promise<Db> | undefined;
  /**
   * Small JSON documents in the volume's _state/ folder: the market sources' state and the
   * schedules set from chat, which the bot and the command line (provision) both read.
   */
  const stateStore: StateStore = {
    async get<T>(key: string) {
      const bytes = await rest.getBytes(`${volume}/_state/${encodeURIComponent(key)}.json`);
      return bytes ? (JSON.parse(bytes.toString('utf8')) as T) : undefined;
    },
    async set(key, value) {
      await rest.putBytes(
        `${volume}/_state/${encodeURIComponent(key)}.json`,
        Buffer.from(JSON.stringify(value)),
        {
          overwrite: 'true',
        },
      );
    },
  };
  const jobScheduleApi = createJobScheduleApi(rest);

  return {
    kind: 'databricks',
    botStore: () => {
      botStore ??= deps.openBotStore();
      return botStore;
    },

    pipeline: {
      landing: {
        async write(batch) {
          const name = landingName(batch);
          const body = Buffer.from(toJsonLines(batch));
          // The Files API makes an upload visible only once it is complete: no partial file.
          await rest.putBytes(`${volume}/landing/${name}`, body, { overwrite: 'false' });
          return { file: name, records: batch.records.length, bytes: body.length };
        },
      },

      state: stateStore,

      async recordGroundTruth(events: readonly SimEvent[]) {
        if (events.length === 0) return;
        const body = Buffer.from(`${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
        await rest.putBytes(
          `${volume}/_ground_truth/${clock.now().toISOString().replace(/[-:.]/g, '')}.jsonl`,
          body,
          {
            overwrite: 'true',
          },
        );
      },

      // Labels from the channel go to the volume as files (no warehouse start for a click); the
      // pipeline loads them into its `labels` table, which labelCounts/labelPrecision read.
      async recordLabels(labels) {
        if (labels.length === 0) return;
        const body = Buffer.from(`${labels.map((l) => JSON.stringify(l)).join('\n')}\n`);
        const stamp = clock.now().toISOString().replace(/[-:.]/g, '');
        await rest.putBytes(`${volume}/labels/${stamp}-${randomUUID()}.jsonl`, body, { overwrite: 'false' });
      },

      async recordJobRun(run) {
        botRuns.set(run.job, run);
      },

      async train(request) {
        const { run } = await retrain({ requestedBy: 'command line' });
        if (request.featureSet && request.featureSet !== deps.model.featureSet) {
          logger.warn(
            'the feature set of a Databricks training run comes from the job parameters; --features is ignored',
          );
        }
        const waitMs = deps.trainTimeoutMs ?? 2 * 3_600_000;
        const deadline = clock.now().getTime() + waitMs;
        for (;;) {
          const current = await retrainRun(run.id);
          if (current?.state === 'failed') throw new UserError(`Training failed: ${current.error}`);
          if (current?.state === 'succeeded' && current.result) return current.result;
          if (clock.now().getTime() >= deadline) {
            throw new UserError(
              `The training run ${run.id} has not finished after ${formatDuration(waitMs)}; ` +
                `it goes on in the ${JOB_NAMES.train} job: follow it in the workspace, or \`crypto-risk models\` later.`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 2_000));
        }
      },

      async models() {
        const all = await models();
        return { champion: all.find((m) => m.aliases.includes('champion'))?.version ?? null, versions: all };
      },

      async promote(version) {
        const listed = await listVersions();
        const found = listed?.versions.find((v) => Number(v.version) === version);
        const target = listed && found ? await withRun(listed, found) : undefined;
        if (!target) {
          throw new UserError(
            `There is no model version ${version} of ${modelName}; see \`crypto-risk models\`.`,
            {
              exitCode: ExitCode.Usage,
            },
          );
        }
        await rest.put(`${modelPath}/aliases/champion`, aliasBody(version));
        return { ...target, aliases: [...new Set([...target.aliases, 'champion'])].sort() };
      },

      retrain,
      retrainRun,
    },

    reads: {
      async scoredSince(cursor, limit) {
        // From the feed files the scoring runs published (Files API): no SQL, no warehouse start.
        // Runs that ended before the horizon hold only windows too old to announce.
        const after = cursor === null ? undefined : Date.parse(cursor);
        const horizon = clock.now().getTime() - FEED_HORIZON_MS;
        const windows: ScoredWindow[] = [];
        for (const file of await feedFilesSince(Math.max(after ?? horizon, horizon))) {
          for (const w of file.windows) {
            if (after === undefined || Date.parse(w.scored_at) > after) windows.push(w);
          }
        }
        return windows
          .sort(
            (a, b) =>
              a.scored_at.localeCompare(b.scored_at) ||
              a.asset.localeCompare(b.asset) ||
              a.window_end.localeCompare(b.window_end),
          )
          .slice(0, limit);
      },

      async assets() {
        const snap = await snapshot();
        if (snap) return Object.keys(snap.series).sort();
        return shared.assets();
      },

      async priceSeries(asset, since, until) {
        const span = until.getTime() - since.getTime();
        const published = await publishedSeries(asset, span);
        if (published) {
          const end = new Date(published.asOf);
          const series = seriesWithin(
            asset,
            published.series,
            new Date(end.getTime() - span),
            end,
            published.asOf,
          );
          // the published series have no reasons; the snapshot's most anomalous windows do (the chart's label)
          const reasons = new Map(
            (served?.snapshot?.periods['7d'].windows ?? [])
              .filter((w) => w.asset === asset && w.reasons)
              .map((w) => [w.window_end, w.reasons]),
          );
          return {
            ...series,
            points: series.points.map((p) =>
              p.is_anomaly && reasons.has(p.window_end) ? { ...p, reasons: reasons.get(p.window_end) } : p,
            ),
          };
        }
        return shared.priceSeries(asset, since, until);
      },

      async topAnomalies(query) {
        const period = SNAPSHOT_PERIODS.get(query.until.getTime() - query.since.getTime());
        const snap = period ? await snapshot() : null;
        if (period && snap && query.limit <= snap.windows_per_asset) {
          return snapshotTop(snap, period, {
            limit: query.limit,
            ...(query.asset ? { asset: query.asset } : {}),
          });
        }
        return shared.topAnomalies(query);
      },

      async status(now) {
        const state = await warehouse.state();
        const pipelines = await rest.get<{
          statuses?: Array<{
            pipeline_id: string;
            name: string;
            state?: string;
            latest_updates?: Array<{ state?: string; creation_time?: string }>;
          }>;
        }>('/api/2.0/pipelines', { filter: `name LIKE '${PIPELINE_NAME}'` });
        const pipeline = pipelines.statuses?.find((p) => p.name === PIPELINE_NAME);
        const jobs: JobStatus[] = [];
        for (const name of Object.values(JOB_NAMES)) {
          const last = (await runs(name, { completed_only: true }, 1).catch(() => []))[0];
          if (!last) continue;
          jobs.push({
            job: name,
            started_at: new Date(last.start_time ?? 0).toISOString(),
            finished_at: new Date(last.end_time ?? last.start_time ?? 0).toISOString(),
            duration_ms: Math.max(0, (last.end_time ?? 0) - (last.start_time ?? 0)),
            result: last.state?.result_state === 'SUCCESS' ? 'succeeded' : 'failed',
            summary: `${last.state?.result_state ?? last.state?.life_cycle_state ?? ''}${last.state?.state_message ? `: ${last.state.state_message}` : ''}`,
          });
        }
        for (const run of botRuns.values()) {
          jobs.push({
            job: `bot ${run.job}`,
            started_at: run.startedAt.toISOString(),
            finished_at: run.finishedAt.toISOString(),
            duration_ms: run.finishedAt.getTime() - run.startedAt.getTime(),
            result: run.result,
            summary: run.summary,
          });
        }
        const model = await modelSummary();
        // No version yet (a new workspace): what the first training run is doing, if there is one.
        const trainingRun = model.count === 0 ? await newestTrainingRun() : undefined;
        const report: StatusReport = {
          platform: 'databricks',
          generated_at: now.toISOString(),
          assets: [],
          stages: [],
          watermarks: { silver: null, gold: null },
          jobs,
          anomalies_24h: 0,
          model: {
            champion: model.champion,
            versions: model.count,
            ...(trainingRun !== undefined ? { training_run: trainingRun } : {}),
          },
          databricks: {
            warehouse: state,
            pipeline: pipeline
              ? {
                  state: pipeline.state ?? 'UNKNOWN',
                  last_update: pipeline.latest_updates?.[0]?.state ?? null,
                  last_update_at: pipeline.latest_updates?.[0]?.creation_time ?? null,
                }
              : null,
          },
        };
        if (state !== 'RUNNING') {
          (report.databricks as NonNullable<StatusReport['databricks']>).freshness_note =
            `The SQL warehouse is ${state}; table freshness is read only while it runs (status never starts it).`;
          return report;
        }
        const stages = await warehouse.query<{
          stage: StageStatus['stage'];
          rows: number;
          latest: string | null;
        }>(sqlFile('queries/freshness'));
        report.stages = stages.map((s) => ({
          stage: s.stage,
          rows: Number(s.rows),
          latest: s.latest,
          age_seconds:
            s.latest === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(s.latest)) / 1000)),
          counters: {},
        }));
        report.anomalies_24h = await shared.anomaliesSince(new Date(now.getTime() - 24 * 3_600_000));
        return report;
      },

      async readiness(request) {
        const state = await warehouse.state();
        if (state === 'RUNNING' || !request) return { ready: state === 'RUNNING', state };
        return { ready: await answersFromSnapshot(request), state };
      },

      // The pipeline's `labels` table (02_dlt_pipeline.py) by SQL, only while the warehouse runs, as
      // status reads freshness: a click or a status never starts it; undefined says "not now".
      async labelCounts(windows) {
        if ((await warehouse.state()) !== 'RUNNING') return undefined;
        return labelReads.counts(windows);
      },

      async labelPrecision() {
        if ((await warehouse.state()) !== 'RUNNING') return undefined;
        return labelReads.precision();
      },

      ensureReady: () => warehouse.ensureRunning(),

      async readOnlySql(text, maxRows) {
        // Decided on tokens before anything reaches the warehouse (see read-only-sql.ts).
        const statement = assertReadOnlySql(text, 'databricks');
        await warehouse.ensureRunning();
        const rows = await warehouse.query(statement);
        return {
          columns: Object.keys(rows[0] ?? {}),
          rows: rows.slice(0, maxRows),
          truncated: rows.length > maxRows,
        };
      },
    },

    deployment: {
      async provision(apply) {
        // The jobs' schedules as set from chat (the state store), so that apply keeps them.
        const state = scheduleStateOf(await stateStore.get(SCHEDULES_KEY));
        const { schedules, changed } = jobSchedulesOf(state, deps.schedule, clock.now());
        const defined = resources(settings, deps.model, deps.assets, schedules);
        const provisioner = createProvisioner({ rest, settings, resources: defined, logger });
        const result = await (apply ? provisioner.apply() : provisioner.plan());
        return { ...result, items: [...result.items, ...changed.map(scheduleItem)] };
      },
      dashboardUrl: () => publishedDashboardAddress(rest, settings),
      scheduleOf: (job) => jobScheduleApi.scheduleOf(job),
      applySchedule: (job, schedule) => jobScheduleApi.applySchedule(job, schedule),
    },

    async close() {
      await warehouse.close();
      if (botStore) await (await botStore).close();
    },
  };
}

/**
 * A Unity Catalog model version with the MLflow run that trained it, read the way
 * databricks/notebooks/03_train_iforest.py logs it: params feature_set, trees, contamination,
 * seed, max_samples, since, until; metrics train/holdout mean, std and flagged share, offset, rows,
 * train_rows, holdout_rows; the tag crypto_risk.assets.
 */
function modelVersion(v: UcVersion, mlflow: MlflowRun, aliases: string[]): ModelVersion {
  const params = Object.fromEntries((mlflow.run?.data?.params ?? []).map((p) => [p.key, p.value]));
  const tags = Object.fromEntries((mlflow.run?.data?.tags ?? []).map((t) => [t.key, t.value]));
  const metrics = Object.fromEntries((mlflow.run?.data?.metrics ?? []).map((m) => [m.key, m.value]));
  const num = (key: string) => (metrics[key] === undefined ? null : Number(metrics[key]));
  const contamination =
    params.contamination === 'auto' || params.contamination === undefined
      ? 'auto'
      : Number(params.contamination);
  return {
    version: Number(v.version),
    created_at: new Date(v.created_at ?? mlflow.run?.info?.end_time ?? 0).toISOString(),
    feature_set: params.feature_set ?? 'unknown',
    params: {
      trees: Number(params.trees ?? params.n_estimators ?? 0),
      max_samples: Number(params.max_samples ?? 256),
      contamination,
      seed: Number(params.seed ?? params.random_state ?? 0),
    },
    training: {
      since: params.since ?? '',
      until: params.until ?? '',
      rows: Number(metrics.rows ?? 0),
      train_rows: Number(metrics.train_rows ?? 0),
      holdout_rows: Number(metrics.holdout_rows ?? 0),
      assets: (tags['crypto_risk.assets'] ?? params.assets ?? '').split(',').filter(Boolean),
    },
    metrics: {
      train_mean: num('train_mean') ?? 0,
      train_std: num('train_std') ?? 0,
      holdout_mean: num('holdout_mean'),
      holdout_std: num('holdout_std'),
      train_flagged_share: num('train_flagged_share') ?? 0,
      holdout_flagged_share: num('holdout_flagged_share'),
      offset: num('offset') ?? 0,
    },
    aliases,
  };
}

/**
 * The body of setting a model alias (exported so that tests/unit/databricks-wire-types.test.ts
 * types it against Databricks' wire models).
 */
export const aliasBody = (version: number) => ({ version_num: version });
