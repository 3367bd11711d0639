import type { ModelSettings } from '../../config.js';
import { ExitCode, UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import {
  computeFeatures,
  type FeatureRow,
  type FeatureSetName,
  type GoldWindow,
  TRAILING_WINDOWS,
} from '../../model/features.js';
import { type IsolationForest, loadIsolationForest } from '../../model/isolation-forest.js';
import {
  clearlyWorse,
  isRealWindow,
  LABEL_PROMOTION_RULE_TEXT,
  refusalSentence,
  ruleApplies,
  scoreOnLabels,
} from '../../model/label-comparison.js';
import { isAlert } from '../../model/reasons.js';
import { fitModel, MIN_PERIOD_ROWS } from '../../model/training.js';
import { sqlFile } from '../../sql-files.js';
import type {
  AnomalyRow,
  InferRequest,
  InferResult,
  LabelComparison,
  ModelsReport,
  ModelVersion,
  TrainRequest,
  TrainResult,
} from '../port.js';
import type { Db } from './db.js';

const CHAMPION = 'champion';
const WINDOW_MS = 5 * 60_000;
/** Gold history read before a period so lags and trailing statistics are warm at its start. */
const WARMUP_MS = (TRAILING_WINDOWS + 1) * WINDOW_MS;

/** The model registry, training and inference of the local platform (one DuckDB file). */
export function createLocalModels(db: Db, settings: ModelSettings, logger: Logger) {
  async function versions(): Promise<ModelVersion[]> {
    const rows = await db.all<{
      version: number;
      created_at: string;
      feature_set: string;
      params: string;
      training: string;
      metrics: string;
      aliases: string[];
    }>(
      `SELECT v.version, v.created_at, v.feature_set, CAST(v.params AS VARCHAR) AS params,
         CAST(v.training AS VARCHAR) AS training, CAST(v.metrics AS VARCHAR) AS metrics,
         coalesce(list(a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL), []) AS aliases
       FROM model_versions AS v LEFT JOIN model_aliases AS a ON a.version = v.version
       GROUP BY ALL ORDER BY v.version DESC`,
    );
    return rows.map((r) => ({
      version: r.version,
      created_at: r.created_at,
      feature_set: r.feature_set,
      params: JSON.parse(r.params),
      training: JSON.parse(r.training),
      metrics: JSON.parse(r.metrics),
      aliases: r.aliases,
    }));
  }

  async function champion(): Promise<ModelVersion | null> {
    return (await versions()).find((v) => v.aliases.includes(CHAMPION)) ?? null;
  }

  /** Gold windows in (since, until] plus the warm-up history before `since`. */
  async function goldWithWarmup(since: Date, until: Date, maxRows: number): Promise<GoldWindow[]> {
    return db.all<GoldWindow>(sqlFile('local/gold_windows'), {
      since: new Date(since.getTime() - WARMUP_MS).toISOString(),
      until: until.toISOString(),
      max_rows: maxRows,
    });
  }

  async function storedForest(version: number): Promise<IsolationForest> {
    const [stored] = await db.all<{ model: string }>(
      'SELECT CAST(model AS VARCHAR) AS model FROM model_versions WHERE version = :version',
      { version },
    );
    return loadIsolationForest(JSON.parse(stored?.model as string));
  }

  /**
   * The candidate and the champion on the labelled windows (src/model/label-comparison.ts): each
   * window's features as inference computes them (its Gold window with the trailing history before
   * it, in the model's feature set), each model's alert by isAlert. Labelled windows whose Gold
   * window is gone are left out (no labels at all: zero windows, nothing compared).
   */
  async function compareOnLabels(
    candidate: { forest: IsolationForest; featureSet: FeatureSetName },
    previous: ModelVersion | null,
  ): Promise<LabelComparison> {
    const labelled = await db.all<{ asset: string; window_end: string; real: number; noise: number }>(
      `SELECT asset, window_end, count(*) FILTER (WHERE label = 'real') AS real,
         count(*) FILTER (WHERE label = 'noise') AS noise
       FROM labels GROUP BY asset, window_end ORDER BY asset, window_end`,
    );
    if (labelled.length === 0) {
      const none = scoreOnLabels([], []);
      return {
        windows: 0,
        real: 0,
        noise: 0,
        candidate: none,
        champion: previous ? { version: previous.version, ...none } : null,
        rule_applies: false,
        rule: LABEL_PROMOTION_RULE_TEXT,
      };
    }
    const truthOf = new Map(
      labelled.map((l) => [`${l.asset}|${l.window_end}`, isRealWindow(Number(l.real), Number(l.noise))]),
    );
    let first = labelled[0]?.window_end as string;
    let last = first;
    for (const l of labelled) {
      first = earliestOf(first, l.window_end);
      last = latest(last, l.window_end);
    }
    // Just before the first labelled window, so it is read, with the warm-up inference reads too.
    const gold = await goldWithWarmup(
      new Date(Date.parse(first) - 1),
      new Date(last),
      Number.MAX_SAFE_INTEGER,
    );
    const rowsIn = (set: FeatureSetName) =>
      computeFeatures(gold, set).filter((r) => truthOf.has(`${r.asset}|${r.window_end}`));
    const alertsOf = (forest: IsolationForest, rows: readonly FeatureRow[]) => {
      const scores = rows.length > 0 ? forest.decisionFunction(rows.map((r) => r.features)) : [];
      return rows.map((r, i) => isAlert(scores[i] as number, r.reasons));
    };
    const candidateRows = rowsIn(candidate.featureSet);
    const truth = candidateRows.map((r) => truthOf.get(`${r.asset}|${r.window_end}`) === true);
    const real = truth.filter(Boolean).length;
    let champion: LabelComparison['champion'] = null;
    if (previous) {
      // Same windows in the same order (computeFeatures keeps every window it is given).
      const championRows =
        previous.feature_set === candidate.featureSet
          ? candidateRows
          : rowsIn(previous.feature_set as FeatureSetName);
      champion = {
        version: previous.version,
        ...scoreOnLabels(truth, alertsOf(await storedForest(previous.version), championRows)),
      };
    }
    const counts = { windows: truth.length, real, noise: truth.length - real };
    return {
      ...counts,
      candidate: scoreOnLabels(truth, alertsOf(candidate.forest, candidateRows)),
      champion,
      rule_applies: previous !== null && ruleApplies(counts),
      rule: LABEL_PROMOTION_RULE_TEXT,
    };
  }

  return {
    versions,
    champion,

    async train(request: TrainRequest): Promise<TrainResult> {
      const featureSet = request.featureSet ?? settings.featureSet;
      const until = request.now;
      const since = new Date(until.getTime() - settings.lookbackMs);
      const gold = await goldWithWarmup(since, until, settings.maxRows);
      const rows = computeFeatures(gold, featureSet).filter((r) => r.window_end > since.toISOString());
      const period = `${since.toISOString()} – ${until.toISOString()}`;
      if (rows.length < MIN_PERIOD_ROWS) {
        throw new UserError(
          `Too little data to train: ${rows.length} Gold windows in ${period} (at least ${MIN_PERIOD_ROWS} are needed). ` +
            'Let ingest and the pipeline run longer, or pass --now at the end of replayed history. No model was made.',
        );
      }
      const fitted = fitModel(rows, settings);
      const previous = await champion();
      const labels = await compareOnLabels({ forest: fitted.forest, featureSet }, previous);
      // Automatic promotion holds back a candidate clearly worse on the channel's labels.
      const worse = clearlyWorse(labels);
      const promote = settings.promotion === 'auto' && !worse;
      const version = await db.transaction(async (tx) => {
        const [next] = await tx.all<{ v: number }>(
          'SELECT coalesce(max(version), 0) + 1 AS v FROM model_versions',
        );
        const v = next?.v ?? 1;
        await tx.run(
          `INSERT INTO model_versions VALUES (:version, CAST(:created AS TIMESTAMP), :feature_set,
             CAST(:params AS JSON), CAST(:training AS JSON), CAST(:metrics AS JSON), CAST(:model AS JSON))`,
          {
            version: v,
            created: until.toISOString(),
            feature_set: featureSet,
            params: JSON.stringify({
              trees: settings.trees,
              max_samples: fitted.forest.maxSamples,
              contamination: settings.contamination,
              seed: settings.seed,
            }),
            training: JSON.stringify({
              since: since.toISOString(),
              until: until.toISOString(),
              rows: rows.length,
              train_rows: fitted.trainRows,
              holdout_rows: fitted.holdoutRows,
              assets: [...new Set(rows.map((r) => r.asset))].sort(),
            }),
            metrics: JSON.stringify(fitted.metrics),
            model: JSON.stringify(fitted.forest.toJSON()),
          },
        );
        if (promote) {
          await tx.run(
            'INSERT OR REPLACE INTO model_aliases VALUES (:alias, :version, CAST(:at AS TIMESTAMP))',
            {
              alias: CHAMPION,
              version: v,
              at: until.toISOString(),
            },
          );
        }
        return v;
      });
      const all = await versions();
      return {
        version: all.find((m) => m.version === version) as ModelVersion,
        promoted: promote,
        champion: all.find((m) => m.aliases.includes(CHAMPION)) ?? null,
        previous_champion: previous,
        labels,
        ...(settings.promotion === 'auto' && worse ? { refused: refusalSentence(labels, version) } : {}),
      };
    },

    async infer(request: InferRequest): Promise<InferResult> {
      const model = (await champion()) ?? (await versions())[0];
      if (!model) {
        throw new UserError('There is no model to score with yet: run `crypto-risk train` first.');
      }
      const forest = await storedForest(model.version);

      // Each asset resumes after its own latest scored window (assets can lag each other in Gold);
      // a re-score also takes every window after `rescoreSince`. Nothing older than the lookback.
      const lookback = new Date(request.now.getTime() - settings.lookbackMs).toISOString();
      const rescore = request.rescoreSince?.toISOString();
      const resume = new Map(
        (
          await db.all<{ asset: string; last: string }>(
            'SELECT asset, max(window_end) AS last FROM anomalies GROUP BY asset',
          )
        ).map((r) => [r.asset, r.last]),
      );
      const startOf = (asset: string): string => {
        const own = resume.get(asset) ?? lookback;
        return latest(rescore !== undefined ? earliestOf(rescore, own) : own, lookback);
      };
      const [earliest] = await db.all<{ start: string | null }>(
        `SELECT min(coalesce(a.last, CAST(:lookback AS TIMESTAMP))) AS start
         FROM (SELECT DISTINCT asset FROM metrics_gold WHERE window_end > CAST(:lookback AS TIMESTAMP)) AS g
         LEFT JOIN (SELECT asset, max(window_end) AS last FROM anomalies GROUP BY asset) AS a USING (asset)`,
        { lookback },
      );
      const none: InferResult = {
        model_version: model.version,
        scored: 0,
        inserted: 0,
        updated: 0,
        new_anomalies: [],
      };
      if (!earliest?.start) return none;
      const first = rescore !== undefined ? earliestOf(rescore, earliest.start) : earliest.start;
      const readFrom = new Date(latest(first, lookback));
      const gold = await goldWithWarmup(readFrom, request.now, Number.MAX_SAFE_INTEGER);
      const rows = computeFeatures(gold, model.feature_set as 'seed' | 'default').filter(
        (r) => r.window_end > startOf(r.asset),
      );
      if (rows.length === 0) return none;

      const scores = forest.decisionFunction(rows.map((r) => r.features));
      const scoredAt = request.now.toISOString();
      const payload = JSON.stringify(
        rows.map((r, i) => toAnomaly(r, scores[i] as number, model.version, scoredAt)),
      );
      logger.debug({ windows: rows.length, model: model.version }, 'inference merging scores');
      return db.transaction(async (tx) => {
        await tx.run(sqlFile('local/stage_scores'), { rows: payload });
        const [counts] = await tx.all<{ inserted: number; updated: number }>(
          `SELECT count(*) FILTER (WHERE a.asset IS NULL) AS inserted,
             count(*) FILTER (WHERE a.asset IS NOT NULL AND (a.model_version <> s.model_version
               OR a.anomaly_score <> s.anomaly_score OR a.is_anomaly <> s.is_anomaly)) AS updated
           FROM staged_scores AS s LEFT JOIN anomalies AS a USING (asset, window_end)`,
        );
        const fresh = await tx.all<AnomalyRow>(
          `SELECT s.asset, s.symbol, s.window_end, s.price_avg, s.ret_window, s.anomaly_score, s.model_version,
             coalesce(g.source, '') LIKE '%simulator%' AS simulated
           FROM staged_scores AS s
           LEFT JOIN anomalies AS a USING (asset, window_end)
           LEFT JOIN metrics_gold AS g USING (asset, window_end)
           WHERE s.is_anomaly = 1 AND coalesce(a.is_anomaly, 0) = 0
           ORDER BY s.anomaly_score, s.window_end, s.asset`,
        );
        await tx.run(sqlFile('local/merge_anomalies'));
        // The staged rows are merged: dropped, they no longer hold memory until the next scoring.
        await tx.run('DROP TABLE IF EXISTS staged_scores');
        return {
          model_version: model.version,
          scored: rows.length,
          inserted: counts?.inserted ?? 0,
          updated: counts?.updated ?? 0,
          new_anomalies: fresh,
        };
      });
    },

    async promote(version: number, at: Date): Promise<ModelVersion> {
      const target = (await versions()).find((v) => v.version === version);
      if (!target) {
        throw new UserError(`There is no model version ${version}; see \`crypto-risk models\`.`, {
          exitCode: ExitCode.Usage,
        });
      }
      await db.run('INSERT OR REPLACE INTO model_aliases VALUES (:alias, :version, CAST(:at AS TIMESTAMP))', {
        alias: CHAMPION,
        version,
        at: at.toISOString(),
      });
      return { ...target, aliases: [...new Set([...target.aliases, CHAMPION])].sort() };
    },

    async report(): Promise<ModelsReport> {
      const all = await versions();
      return { champion: all.find((v) => v.aliases.includes(CHAMPION))?.version ?? null, versions: all };
    },
  };
}

/** The earlier / later of two ISO-8601 UTC instants (they compare as text). */
function earliestOf(a: string, b: string): string {
  return a < b ? a : b;
}

function latest(a: string, b: string): string {
  return a < b ? b : a;
}

function toAnomaly(r: FeatureRow, score: number, version: number, scoredAt: string) {
  return {
    asset: r.asset,
    symbol: r.symbol,
    window_end: r.window_end,
    price_avg: r.price_avg,
    price_vol: r.price_vol,
    ret_window: r.ret_window,
    vol_sum: r.vol_sum,
    ret_prev: r.ret_prev,
    anomaly_score: score,
    // the forest's flag or a price move far beyond the asset's usual (src/model/reasons.ts)
    is_anomaly: isAlert(score, r.reasons) ? 1 : 0,
    model_version: version,
    scored_at: scoredAt,
    reasons: r.reasons,
    data_issue: r.data_issue,
  };
}
