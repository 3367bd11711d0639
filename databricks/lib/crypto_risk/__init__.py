"""Pure-Python helpers of the Databricks notebooks (pandas, numpy and scikit-learn only, no Spark).

They implement what the local engine of crypto-risk-monitor does in TypeScript, so that the two
platforms compute the same features, split and measure training the same way, and resume
inference the same way:

- ``features``: the feature sets ``seed`` and ``default`` over Gold windows
  (``src/model/features.ts``);
- ``registry``: which model version inference scores with (alias, else latest, else none: the
  run then ends with "no model yet");
- ``scoring``: the time-based 80/20 training split, the IsolationForest fit and its metrics
  (``src/model/training.ts``), the inference selection: per-asset resume, look-back, warm-up
  and deduplication (``src/platform/local/models.ts``), and the job parameters, checked before
  any SQL or MLflow call uses them;
- ``publish``: the files inference publishes for the bot after its MERGE (contract version 1): a
  feed file per run (``feed/<instant>.json``: the run's new and re-scored anomalous windows, their
  assets' last 24 h of prices) and the serving snapshot (``serving/snapshot.json``: 24 h and 7 d
  leaderboards and top windows, every asset's last 7 days), written atomically, old feed files pruned.

The notebooks in ``databricks/notebooks`` put ``databricks/lib`` on ``sys.path`` and import this
package; ``databricks/tests`` checks it against the TypeScript engine's fixtures.
"""

from .features import (
    FEATURE_NAMES,
    GOLD_COLUMNS,
    MIN_TRAILING,
    TRAILING_WINDOWS,
    Features,
    TrailingMedian,
    compute_features,
)
from .publish import (
    FEED_DIR,
    MAX_FEED_BYTES,
    MAX_FEED_WINDOWS,
    SNAPSHOT_PATH,
    WINDOWS_PER_ASSET,
    changed_windows,
    encode_json,
    feed_file_name,
    feed_payload,
    iso_ms,
    price_series,
    prune_feed_files,
    serving_snapshot,
    write_json_atomically,
)
from .registry import NOT_FOUND, ChosenVersion, choose_model_version, is_not_found, no_model_summary
from .scoring import (
    ANOMALIES_COLUMNS,
    HOLDOUT_SHARE,
    MIN_PERIOD_ROWS,
    MIN_TRAIN_ROWS,
    PARAMETER_DEFAULTS,
    WARMUP,
    FittedModel,
    JobParams,
    TooLittleData,
    anomalies_ddl,
    anomalies_schema,
    anomaly_records,
    check_identifier,
    constraints_unsupported,
    dedupe_windows,
    describe_scores,
    fit_forest,
    fit_model,
    inference_plan,
    parse_duration,
    parse_instant,
    parse_job_params,
    score_rows,
    select_for_scoring,
    split_by_time,
)

__all__ = [
    "FEED_DIR",
    "MAX_FEED_BYTES",
    "MAX_FEED_WINDOWS",
    "SNAPSHOT_PATH",
    "WINDOWS_PER_ASSET",
    "changed_windows",
    "encode_json",
    "feed_file_name",
    "feed_payload",
    "iso_ms",
    "price_series",
    "prune_feed_files",
    "serving_snapshot",
    "write_json_atomically",
    "ANOMALIES_COLUMNS",
    "FEATURE_NAMES",
    "GOLD_COLUMNS",
    "HOLDOUT_SHARE",
    "MIN_PERIOD_ROWS",
    "MIN_TRAILING",
    "MIN_TRAIN_ROWS",
    "NOT_FOUND",
    "ChosenVersion",
    "PARAMETER_DEFAULTS",
    "TRAILING_WINDOWS",
    "WARMUP",
    "Features",
    "FittedModel",
    "JobParams",
    "TooLittleData",
    "TrailingMedian",
    "anomalies_ddl",
    "anomalies_schema",
    "anomaly_records",
    "check_identifier",
    "choose_model_version",
    "constraints_unsupported",
    "compute_features",
    "dedupe_windows",
    "describe_scores",
    "fit_forest",
    "fit_model",
    "inference_plan",
    "is_not_found",
    "no_model_summary",
    "parse_duration",
    "parse_instant",
    "parse_job_params",
    "score_rows",
    "select_for_scoring",
    "split_by_time",
]
