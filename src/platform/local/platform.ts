import type { Clock } from '../../clock.js';
import type { ModelSettings } from '../../config.js';
import { ExitCode, UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SimEvent } from '../../market/record.js';
import { sqlFile } from '../../sql-files.js';
import { createSharedReads, type ReadParam } from '../lakehouse-reads.js';
import type { JobRun, JobStatus, PipelineEngine, Platform, StageStatus, StatusReport } from '../port.js';
import { assertReadOnlySql } from '../read-only-sql.js';
import { type Db, openDb } from './db.js';
import { createLocalLabels } from './labels.js';
import { createLocalLanding } from './landing.js';
import { migrate } from './migrations.js';
import { createLocalModels } from './models.js';
import { runLocalPipeline } from './pipeline.js';
import { createLocalQuarantine } from './quarantine.js';
import { createLocalRetrains } from './retrain.js';
import { rewindWatermark } from './watermarks.js';

export interface LocalPlatformDeps {
  dbPath: string;
  landingDir: string;
  model: ModelSettings;
  /** Landing files per pipeline transaction at most (default 500). */
  pipelineGroupFiles?: number;
  /** Runs a landing file may fail before it is moved to the quarantine (default 3). */
  pipelineMaxAttempts?: number;
  clock: Clock;
  logger: Logger;
}

/** The embedded default: the lakehouse in one DuckDB file, landing files in a folder. */
/** The embedded platform has the in-process engine always; tests and tools may read its database. */
export type LocalPlatform = Platform & { readonly engine: PipelineEngine; readonly db: Db };

export async function createLocalPlatform(deps: LocalPlatformDeps): Promise<LocalPlatform> {
  const db = await openDb(deps.dbPath);
  await migrate(db, 'local');
  const landing = createLocalLanding(deps.landingDir);
  const quarantine = createLocalQuarantine({
    db,
    landingRoot: deps.landingDir,
    clock: deps.clock,
    maxAttempts: deps.pipelineMaxAttempts ?? 3,
  });
  const quarantineStatus = quarantineStatusOf(quarantine);
  const models = createLocalModels(db, deps.model, deps.logger);
  const recordJobRun = async (run: JobRun) => {
    await db.run(
      `INSERT INTO job_runs VALUES (:job, CAST(:started AS TIMESTAMP), CAST(:finished AS TIMESTAMP),
         :result, :summary, CAST(:detail AS JSON))`,
      {
        job: run.job,
        started: run.startedAt.toISOString(),
        finished: run.finishedAt.toISOString(),
        result: run.result,
        summary: run.summary,
        detail: JSON.stringify(run.detail ?? null),
      },
    );
  };
  const recordGroundTruth = async (events: readonly SimEvent[]) => {
    if (events.length === 0) return;
    await db.run(
      `INSERT OR IGNORE INTO sim_events
       SELECT e.asset, e.kind, CAST(e.start AS TIMESTAMPTZ), CAST(e."end" AS TIMESTAMPTZ), e.magnitude
       FROM (SELECT unnest(from_json(:events,
         '[{"asset":"VARCHAR","kind":"VARCHAR","start":"VARCHAR","end":"VARCHAR","magnitude":"DOUBLE"}]')) AS e)`,
      { events: JSON.stringify(events) },
    );
  };
  const labels = createLocalLabels(db);
  const retrains = createLocalRetrains({
    train: (r) => models.train(r),
    recordJobRun,
    clock: deps.clock,
    logger: deps.logger,
  });

  const shared = createSharedReads((file, params) => db.all(sqlFile(file), duckParams(params)));

  return {
    kind: 'local',
    db,
    botStore: async () => db,

    pipeline: {
      landing,

      state: {
        async get<T>(key: string) {
          const rows = await db.all<{ value: string }>(
            'SELECT CAST(value AS VARCHAR) AS value FROM kv_state WHERE key = :key',
            {
              key,
            },
          );
          return rows[0] ? (JSON.parse(rows[0].value) as T) : undefined;
        },
        async set(key, value) {
          await db.run(
            'INSERT OR REPLACE INTO kv_state VALUES (:key, CAST(:value AS JSON), CAST(:at AS TIMESTAMP))',
            {
              key,
              value: JSON.stringify(value),
              at: deps.clock.now().toISOString(),
            },
          );
        },
      },

      recordGroundTruth,
      recordLabels: (list) => labels.record(list),
      recordJobRun,
      train: (request) => models.train(request),
      models: () => models.report(),
      promote: (version) => models.promote(version, deps.clock.now()),
      retrain: (request) => retrains.retrain(request),
      retrainRun: (id) => retrains.retrainRun(id),
    },

    engine: {
      runPipeline: () =>
        runLocalPipeline({
          db,
          landingRoot: deps.landingDir,
          groupFiles: deps.pipelineGroupFiles ?? 500,
          listLanding: () => landing.list(),
          quarantine,
          clock: deps.clock,
          logger: deps.logger,
        }),

      quarantined: () => quarantine.list(),
      retryQuarantined: (file) => quarantine.retry(file),
      rewindWatermark: (stage, to, now) => rewindWatermark(db, stage, to, now),
      infer: (request) => models.infer(request),
    },

    reads: {
      assets: shared.assets,
      priceSeries: shared.priceSeries,
      topAnomalies: shared.topAnomalies,
      scoredSince: shared.scoredSince,
      labelCounts: (windows) => labels.counts(windows),
      labelPrecision: () => labels.precision(),

      async status(now: Date): Promise<StatusReport> {
        const age = (latest: string | null) =>
          latest === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(latest)) / 1000));
        const files = await landing.list();
        const [processed] = await db.all<{ n: number }>('SELECT count(*) AS n FROM pipeline_files');
        const latestFile = files.at(-1);
        const landingStage: StageStatus = {
          stage: 'landing',
          rows: files.length,
          latest: latestFile ? landingTime(latestFile) : null,
          age_seconds: null,
          counters: { files: files.length, pending_files: Math.max(0, files.length - (processed?.n ?? 0)) },
        };
        landingStage.age_seconds = age(landingStage.latest);
        const stageRows = await db.all<Record<string, number | string | null>>(
          sqlFile('local/status_stages'),
        );
        const stages: StageStatus[] = [landingStage];
        for (const row of stageRows) {
          const { stage, rows, latest, ...rest } = row;
          const counters: Record<string, number> = {};
          for (const [k, v] of Object.entries(rest)) if (v !== null) counters[k] = Number(v);
          stages.push({
            stage: stage as StageStatus['stage'],
            rows: Number(rows),
            latest: (latest as string | null) ?? null,
            age_seconds: age((latest as string | null) ?? null),
            counters,
          });
        }
        const watermarks = await db.all<{ stage: string; max_event_ts: string }>(
          'SELECT * FROM pipeline_watermarks',
        );
        const mark = (stage: string, delayMinutes: number) => {
          const row = watermarks.find((w) => w.stage === stage);
          return row ? new Date(Date.parse(row.max_event_ts) - delayMinutes * 60_000).toISOString() : null;
        };
        const assets = await db.all<{ asset: string; sources: string[] }>(sqlFile('local/status_assets'));
        const jobs = await db.all<JobStatus>(sqlFile('local/status_jobs'));
        return {
          platform: 'local',
          generated_at: now.toISOString(),
          assets: assets.map((a) => ({ ...a, simulated: a.sources.includes('simulator') })),
          stages,
          watermarks: { silver: mark('silver', 20), gold: mark('gold', 2) },
          jobs,
          anomalies_24h: await shared.anomaliesSince(new Date(now.getTime() - 24 * 3_600_000)),
          quarantine: await quarantineStatus(files),
          model: { champion: await models.champion(), versions: (await models.versions()).length },
        };
      },

      readiness: async () => ({ ready: true, state: 'embedded' }),
      ensureReady: async () => {},

      async readOnlySql(text, maxRows) {
        let types: string[];
        try {
          types = await db.statementTypes(text);
        } catch (err) {
          // DuckDB binds while preparing, with external access off: a COPY … TO or read_text('/etc/…')
          // is refused here. The token check names a write as one; the rest reach files.
          if (reachesFiles(err)) {
            assertReadOnlySql(text, 'duckdb');
            throw filesRefused(err);
          }
          throw new UserError(`The query is not valid SQL: ${firstLine(err)}`, {
            exitCode: ExitCode.Usage,
            cause: err,
          });
        }
        if (types.length !== 1) {
          throw new UserError(`Give exactly one statement (got ${types.length}).`, {
            exitCode: ExitCode.Usage,
          });
        }
        if (types[0] !== 'SELECT' && types[0] !== 'EXPLAIN') {
          throw new UserError(
            `Only read-only queries (SELECT, EXPLAIN) are allowed here; this is a ${types[0]} statement. Nothing was run.`,
            { exitCode: ExitCode.Usage },
          );
        }
        // DuckDB types `EXPLAIN ANALYZE …` as EXPLAIN, yet it runs the statement (a COPY … TO then
        // writes a file that no rollback removes): the token check refuses it.
        assertReadOnlySql(text, 'duckdb');
        // The database is opened with external access off (db.ts): read_text, read_csv, glob and
        // the like are refused by DuckDB itself, and the rolled-back transaction undoes anything else.
        try {
          return await db.readOnly((tx) => tx.query(text, maxRows));
        } catch (err) {
          if (reachesFiles(err)) throw filesRefused(err);
          throw new UserError(`The query failed: ${firstLine(err)}`, {
            exitCode: ExitCode.Usage,
            cause: err,
          });
        }
      },
    },

    close: () => db.close(),
  };
}

/** DuckDB takes instants as ISO-8601 strings, which the queries CAST. */
function duckParams(params: Record<string, ReadParam>): Record<string, string | number | null> {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
  );
}

/** Quarantined and failing landing files for status, with the newest reason of either. */
function quarantineStatusOf(quarantine: ReturnType<typeof createLocalQuarantine>) {
  return async (landed: readonly string[]): Promise<NonNullable<StatusReport['quarantine']>> => {
    const moved = await quarantine.list();
    const failing = await quarantine.failing(landed);
    const candidates = [
      ...moved
        .slice(0, 1)
        .map((q) => ({ file: q.file, reason: q.reason, at: q.quarantined_at, quarantined: true })),
      ...failing
        .slice(0, 1)
        .map((f) => ({ file: f.file, reason: f.last_error, at: f.last_failed_at, quarantined: false })),
    ].sort((a, b) => (b.at ?? '').localeCompare(a.at ?? ''));
    return { quarantined: moved.length, failing: failing.length, newest: candidates[0] ?? null };
  };
}

/** The ingest time encoded in a landing file name (`…/20250107T000100000Z-…`). */
function landingTime(file: string): string | null {
  const m = /\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-/.exec(file);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z` : null;
}

/** DuckDB's refusal when a statement would touch a file or an extension (external access is off). */
function reachesFiles(err: unknown): boolean {
  return /^(Error: )?Permission Error/.test(firstLine(err));
}

function filesRefused(err: unknown): UserError {
  return new UserError(
    'The sql command reads the lakehouse tables only: this query reaches files or extensions, which are turned off. Nothing was run.',
    { exitCode: ExitCode.Usage, cause: err },
  );
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
