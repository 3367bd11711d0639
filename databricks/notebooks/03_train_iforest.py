# Databricks notebook source
# MAGIC %md
# MAGIC # 03 · Train the IsolationForest
# MAGIC
# MAGIC The local engine's training (`src/platform/local/models.ts`, `src/model/training.ts`) on Databricks:
# MAGIC
# MAGIC 1. read Gold (`metrics_gold`) over the look-back ending at the clock, plus a day of warm-up for
# MAGIC    lags and trailing statistics, at most `max_rows` (the latest) windows;
# MAGIC 2. compute the feature set (`seed` or `default`, `databricks/lib/crypto_risk/features.py`, the same
# MAGIC    definitions as `src/model/features.ts`) and keep the period's windows (at least 125);
# MAGIC 3. fit scikit-learn's IsolationForest (`trees`, `contamination`, `seed`) on the earlier 80 % by time
# MAGIC    and measure both parts (mean and standard deviation of `decision_function`, flagged share);
# MAGIC 4. log parameters, metrics and the model (with a signature) to MLflow, register it in Unity Catalog
# MAGIC    as `<catalog>.<schema>.<model_name>` and, with `promotion = auto`, point the alias (`champion`)
# MAGIC    at the new version; with `manual` the alias stays until someone moves it;
# MAGIC 5. before that, where the pipeline's `labels` table exists, score the labelled windows with the new
# MAGIC    version and the champion and compare them (`crypto_risk.labels`, the rule of
# MAGIC    `src/model/label-comparison.ts`): automatic promotion leaves the alias where it is when the new
# MAGIC    version is clearly worse on the labels (the output's `refused` says why; `labels` has both scores).
# MAGIC
# MAGIC Job parameters (all optional; defaults in `crypto_risk.PARAMETER_DEFAULTS`): `catalog`, `schema`,
# MAGIC `model_name` (a name in the schema or `catalog.schema.name`), `alias`, `feature_set`,
# MAGIC `contamination` (a share in (0, 0.5] or `auto`), `trees`, `seed`, `lookback_days` (or `lookback`,
# MAGIC a duration such as `36h`, which wins), `max_rows`, `promotion` (`auto` | `manual`), `now` (an
# MAGIC ISO-8601 instant to train on replayed history; empty for the wall clock), `experiment` (an MLflow
# MAGIC experiment path; empty for the notebook's own). `registry_uri` (default `databricks-uc`, Unity
# MAGIC Catalog) and `tracking_uri` (default empty: the workspace's) are for running this notebook on
# MAGIC open-source Spark and MLflow in tests (`databricks/spark`). The run's output
# MAGIC (`dbutils.notebook.exit`) is a JSON summary the bot can read.
# MAGIC
# MAGIC The helpers are imported from `../lib` (workspace files beside this folder).

# COMMAND ----------

# MAGIC %pip install --quiet "mlflow-skinny[databricks]==3.17.2"

# COMMAND ----------

# Assumed: serverless environment version 4 (Python 3.12.3, released 2025-08-13; the versions and their
# system environments: https://docs.databricks.com/aws/en/release-notes/serverless/environment-version/ ,
# the installed libraries of version 4: https://docs.databricks.com/aws/en/release-notes/serverless/environment-version/four ).
# Its base environment has scikit-learn, pandas and numpy, used as they are (not reinstalled, so
# training and inference use the same scikit-learn); only MLflow 3 is installed, pinned, with the
# "databricks" extra for Unity Catalog registration (the MLflow 3 model API, `name=` instead of
# `artifact_path=`: https://mlflow.org/docs/latest/ml/mlflow-3 ).
dbutils = globals()["dbutils"]  # defined by the Databricks runtime; named here for readers and linters
dbutils.library.restartPython()

# COMMAND ----------

import json
import os
import sys

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from pyspark.sql import functions as F

spark = globals()["spark"]
dbutils = globals()["dbutils"]
display = globals()["display"]

# The notebook's folder is the working directory (Databricks Runtime 14 and serverless); the helpers
# are workspace files in ../lib.
LIB = os.path.abspath(os.path.join(os.getcwd(), "..", "lib"))
if LIB not in sys.path:
    sys.path.insert(0, LIB)

from crypto_risk import (
    FEATURE_NAMES,
    GOLD_COLUMNS,
    PARAMETER_DEFAULTS,
    WARMUP,
    compute_features,
    dedupe_windows,
    fit_model,
    is_not_found,
    parse_job_params,
)
from crypto_risk.labels import (clearly_worse, compare_on_labels, comparison_summary, labelled_alerts,
                                 refusal_sentence, window_truth)

TRAIN_PARAMETERS = ("catalog", "schema", "model_name", "alias", "feature_set", "contamination", "trees", "seed",
                    "lookback_days", "lookback", "max_rows", "promotion", "now", "experiment", "registry_uri",
                    "tracking_uri")
for name in TRAIN_PARAMETERS:
    dbutils.widgets.text(name, PARAMETER_DEFAULTS[name])


def widget(name: str) -> str:
    """A job parameter ('' when the job does not set it: the default applies)."""
    try:
        return dbutils.widgets.get(name)
    except Exception:  # a parameter this notebook does not declare
        return ""


params = parse_job_params(widget)
spark.conf.set("spark.sql.session.timeZone", "UTC")  # timestamps reach pandas as naive UTC

# COMMAND ----------

until = params.clock()
since = until - params.lookback
gold = (
    spark.table(params.table("metrics_gold"))
    .where((F.col("window_end") > F.lit(since - WARMUP)) & (F.col("window_end") <= F.lit(until)))
    .orderBy(F.col("window_end").desc(), F.col("asset"))
    .limit(params.max_rows)
    .select(*GOLD_COLUMNS, "emitted_at")
    .toPandas()
)
features = compute_features(dedupe_windows(gold), params.feature_set)
period = features.where((features.rows["window_end"] > pd.Timestamp(since)).to_numpy())
print(f"train: {len(period):,} Gold windows in {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC "
      f"({len(gold):,} read with the warm-up), feature set {params.feature_set}")

# Raises TooLittleData (the run fails with its sentence) below 125 windows: no model is made.
fitted = fit_model(period, params.trees, params.contamination, params.seed)
display(pd.DataFrame([fitted.metrics]))

# COMMAND ----------

# Unity Catalog's registry (`databricks-uc`: https://docs.databricks.com/aws/en/mlflow/models-in-uc ) unless
# the job names another; the workspace's tracking server unless the job names one.
if params.tracking_uri:
    mlflow.set_tracking_uri(params.tracking_uri)
mlflow.set_registry_uri(params.registry_uri)
if params.experiment:
    mlflow.set_experiment(params.experiment)
model_name = params.model_full_name
assets = sorted(period.rows["asset"].unique())
signature = infer_signature(period.X, fitted.model.predict(period.X))

with mlflow.start_run(run_name=f"iforest {params.feature_set} {until:%Y-%m-%dT%H:%MZ}") as run:
    mlflow.log_params({
        "feature_set": params.feature_set,
        "features": ",".join(FEATURE_NAMES[params.feature_set]),
        "trees": params.trees,
        "contamination": params.contamination,
        "seed": params.seed,
        "max_samples": int(fitted.model.max_samples_),
        "lookback_hours": params.lookback.total_seconds() / 3600,
        "max_rows": params.max_rows,
        "since": since.isoformat(),
        "until": until.isoformat(),
    })
    mlflow.log_metrics({
        **{key: value for key, value in fitted.metrics.items() if value is not None},
        "rows": len(period),
        "train_rows": fitted.train_rows,
        "holdout_rows": fitted.holdout_rows,
    })
    mlflow.set_tags({"crypto_risk.feature_set": params.feature_set, "crypto_risk.assets": ",".join(assets)})
    logged = mlflow.sklearn.log_model(
        fitted.model,
        name="model",
        signature=signature,
        input_example=period.X.head(5),
    )

# Unity Catalog registration: a new version of <catalog>.<schema>.<model_name>, tagged with its
# feature set (inference computes the same features) and training period.
version = mlflow.register_model(logged.model_uri, model_name)
client = MlflowClient()
for key, value in {
    "feature_set": params.feature_set,
    "since": since.isoformat(),
    "until": until.isoformat(),
    "train_rows": str(fitted.train_rows),
    "holdout_rows": str(fitted.holdout_rows),
}.items():
    client.set_model_version_tag(model_name, version.version, key, value)

# COMMAND ----------

# The new version and the champion on the channel's labels (the rule of src/model/label-comparison.ts,
# in crypto_risk.labels): each labelled window's features as inference computes them (its Gold window
# with the warm-up before it, in each model's feature set), each model's alert by is_alert. A workspace
# provisioned before the pipeline had a `labels` table has none: nothing is compared then.
labels_table = params.table("labels")
comparison = None
if spark.catalog.tableExists(labels_table):
    label_rows = spark.table(labels_table).select("asset", "window_end", "user", "label", "labelled_at").toPandas()
    truth = window_truth(label_rows.to_dict("records"))
    try:
        champion = client.get_model_version_by_alias(model_name, params.alias)
    except Exception as err:  # MlflowException; only not-found means "no champion"
        if not is_not_found(err):
            raise
        champion = None
    if champion is not None and int(champion.version) == int(version.version):
        champion = None  # cannot happen (the alias has not moved yet); kept safe for reruns
    if truth:
        first = min(at for _, at in truth)
        last = max(at for _, at in truth)
        # From just before the first labelled window, with the warm-up inference reads too; no row cap.
        labelled_gold = dedupe_windows(
            spark.table(params.table("metrics_gold"))
            .where((F.col("window_end") > F.lit((first - pd.Timedelta(milliseconds=1) - WARMUP).to_pydatetime()))
                   & (F.col("window_end") <= F.lit(last.to_pydatetime())))
            .select(*GOLD_COLUMNS, "emitted_at")
            .toPandas()
        )
        by_set = {}

        def labelled_features(feature_set):
            if feature_set not in by_set:
                by_set[feature_set] = compute_features(labelled_gold, feature_set)
            return by_set[feature_set]

        window_truths, candidate_alerts = labelled_alerts(
            labelled_features(params.feature_set), truth, fitted.model.decision_function)
        champion_alerts = None
        if champion is not None:
            champion_set = (champion.tags or {}).get("feature_set") or params.feature_set
            champion_model = mlflow.sklearn.load_model(f"models:/{model_name}/{champion.version}")
            _, champion_alerts = labelled_alerts(labelled_features(champion_set), truth,
                                                 champion_model.decision_function)
    else:
        window_truths, candidate_alerts, champion_alerts = [], [], []
    comparison = compare_on_labels(window_truths, candidate_alerts, champion_alerts,
                                   int(champion.version) if champion is not None else None)
    print(f"train: {comparison_summary(comparison, int(version.version))}")
else:
    print(f"train: no {labels_table} table (provisioned before it); the labels are not compared")

# Automatic promotion holds back a candidate clearly worse on the channel's labels.
refused = (refusal_sentence(comparison, int(version.version))
           if params.promotion == "auto" and comparison is not None and clearly_worse(comparison) else None)
promoted = params.promotion == "auto" and refused is None
if promoted:
    client.set_registered_model_alias(model_name, params.alias, version.version)
    print(f"train: {model_name} v{version.version} is now {params.alias}")
elif refused:
    print(f"train: {refused}")
else:
    print(f"train: {model_name} v{version.version} registered; {params.alias} unchanged (promotion = manual)")

# COMMAND ----------

dbutils.notebook.exit(json.dumps({
    "model": model_name,
    "version": int(version.version),
    "promoted": promoted,
    "alias": params.alias,
    "feature_set": params.feature_set,
    "run_id": run.info.run_id,
    "rows": len(period),
    "train_rows": fitted.train_rows,
    "holdout_rows": fitted.holdout_rows,
    "assets": assets,
    "metrics": fitted.metrics,
    # TrainResult's `labels` (LabelComparison) and `refused` (src/platform/port.ts), read by the bot.
    **({"labels": comparison} if comparison is not None else {}),
    **({"refused": refused} if refused else {}),
}))
