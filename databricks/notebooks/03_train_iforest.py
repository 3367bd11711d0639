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
# MAGIC    at the new version; with `manual` the alias stays until someone moves it.
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
    parse_job_params,
)

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
if params.promotion == "auto":
    client.set_registered_model_alias(model_name, params.alias, version.version)
    print(f"train: {model_name} v{version.version} is now {params.alias}")
else:
    print(f"train: {model_name} v{version.version} registered; {params.alias} unchanged (promotion = manual)")

# COMMAND ----------

dbutils.notebook.exit(json.dumps({
    "model": model_name,
    "version": int(version.version),
    "promoted": params.promotion == "auto",
    "alias": params.alias,
    "feature_set": params.feature_set,
    "run_id": run.info.run_id,
    "rows": len(period),
    "train_rows": fitted.train_rows,
    "holdout_rows": fitted.holdout_rows,
    "assets": assets,
    "metrics": fitted.metrics,
}))
