# Databricks notebook source
# MAGIC %md
# MAGIC # 04 · Score Gold windows into `anomalies`
# MAGIC
# MAGIC The local engine's inference (`src/platform/local/models.ts`) on Databricks:
# MAGIC
# MAGIC 1. load the Unity Catalog model version the alias (`champion`) points at, or the latest version
# MAGIC    when no version has the alias (manual promotion before the first promote);
# MAGIC 2. each asset resumes after its own latest window in `anomalies` (assets can lag each other in
# MAGIC    Gold), never before the look-back; `rescore` (e.g. `24h`, after a new champion) also takes
# MAGIC    every window after now − rescore;
# MAGIC 3. read Gold from the earliest start minus a day of warm-up, compute the model's feature set (its
# MAGIC    `feature_set` tag), keep the selected windows and score them: `anomaly_score` =
# MAGIC    `decision_function`, `is_anomaly` = score < 0 or a return or range reason at `ALERT_TIMES` (12) ×
# MAGIC    usual or more (`crypto_risk.features.is_alert`, as `isAlert` of `src/model/reasons.ts`);
# MAGIC 4. MERGE into `anomalies` on `(asset, window_end)` from a source deduplicated with a window
# MAGIC    function (Delta fails when two source rows match one target row): new windows are inserted,
# MAGIC    a window scored again by another model or with another score is updated in place, the same
# MAGIC    score again changes nothing, so re-running is harmless;
# MAGIC 5. publish for the bot (`crypto_risk.publish`, read through the Files API instead of a SQL
# MAGIC    warehouse): a **feed file** `feed/<instant>.json` in the volume with this run's new and re-scored
# MAGIC    windows that are anomalous now or were before (at most 200) and their assets' last 24 h of
# MAGIC    prices (none when there is no such window), and the **serving snapshot**
# MAGIC    `serving/snapshot.json` (24 h and 7 d leaderboards, the most anomalous windows, every asset's
# MAGIC    last 7 days), both written atomically; feed files older than 7 days are deleted.
# MAGIC
# MAGIC Job parameters (all optional; defaults in `crypto_risk.PARAMETER_DEFAULTS`): `catalog`, `schema`,
# MAGIC `volume` (where `feed/` and `serving/` go, beside `landing/`), `model_name` (a name in the schema
# MAGIC or `catalog.schema.name`), `alias`, `lookback_days` (or `lookback`, a duration such as `36h`,
# MAGIC which wins), `rescore` (a duration, empty for none), `now` (an ISO-8601 instant for replayed
# MAGIC history), `feature_set` (only for a model version without a `feature_set` tag). `registry_uri`
# MAGIC (default `databricks-uc`, Unity Catalog), `tracking_uri` (default empty: the workspace's) and
# MAGIC `volume_path` (default empty: the volume) are for running this notebook on open-source Spark and
# MAGIC MLflow in tests (`databricks/spark`). The run's output is a JSON summary the bot can read (with
# MAGIC `feed_file`, `feed_windows` and `snapshot`).

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
from delta.tables import DeltaTable
from mlflow.tracking import MlflowClient
from pyspark.sql import Window
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
    ANOMALIES_COLUMNS,
    FEED_DIR,
    GOLD_COLUMNS,
    PARAMETER_DEFAULTS,
    SNAPSHOT_PATH,
    anomalies_schema,
    anomaly_records,
    changed_windows,
    choose_model_version,
    compute_features,
    dedupe_windows,
    feed_file_name,
    feed_payload,
    inference_plan,
    no_model_summary,
    parse_job_params,
    prune_feed_files,
    score_rows,
    select_for_scoring,
    serving_snapshot,
    write_json_atomically,
)
from crypto_risk.migrations import migrate
from crypto_risk.publish import SNAPSHOT_SERIES_SPAN

INFER_PARAMETERS = ("catalog", "schema", "volume", "model_name", "alias", "lookback_days", "lookback", "rescore", "now",
                    "feature_set", "registry_uri", "tracking_uri", "volume_path")
for name in INFER_PARAMETERS:
    dbutils.widgets.text(name, PARAMETER_DEFAULTS[name])


def widget(name: str) -> str:
    """A job parameter ('' when the job does not set it: the default applies)."""
    try:
        return dbutils.widgets.get(name)
    except Exception:  # a parameter this notebook does not declare
        return ""


params = parse_job_params(widget)
spark.conf.set("spark.sql.session.timeZone", "UTC")  # timestamps reach pandas as naive UTC
now = params.clock()
GOLD = params.table("metrics_gold")
ANOMALIES = params.table("anomalies")
# The volume of landing/ (a FUSE mount on serverless: https://docs.databricks.com/aws/en/volumes/volume-files),
# where the bot reads feed/ and serving/ through the Files API; a folder of its own when a test sets volume_path.
VOLUME = f"/Volumes/{params.catalog}/{params.schema}/{params.volume}"
if params.volume_path:
    VOLUME = params.volume_path
# The tables this notebook writes, at the latest schema version before anything else (in case setup has
# not run: step 1 is the anomalies table sql/setup.sql creates, step 2 adds reasons and data_issue to one
# made before them); a schema a newer release migrated is refused here, before anything changes.
migrate(spark, params.table)

# COMMAND ----------

# The model: the alias's version, else the latest version; none yet (a new workspace before the first
# training run) ends the run successfully with "no model yet" instead of failing every 10 minutes.
# Unity Catalog's registry (`databricks-uc`: https://docs.databricks.com/aws/en/mlflow/models-in-uc ) unless
# the job names another; the workspace's tracking server unless the job names one.
if params.tracking_uri:
    mlflow.set_tracking_uri(params.tracking_uri)
mlflow.set_registry_uri(params.registry_uri)
client = MlflowClient()
model_name = params.model_full_name
chosen = choose_model_version(
    lambda: client.get_model_version_by_alias(model_name, params.alias),
    lambda: client.search_model_versions(f"name = '{model_name}'"),
)
if chosen is None:
    print(f"infer: no model yet: {model_name} has no version; nothing scored")
    dbutils.notebook.exit(json.dumps(no_model_summary(model_name, params.alias)))  # ends the run here
model_version = chosen.version
if not chosen.by_alias:
    print(f"infer: no version of {model_name} is {params.alias}; using the latest, v{model_version.version}")
version = int(model_version.version)
feature_set = (model_version.tags or {}).get("feature_set") or params.feature_set
model = mlflow.sklearn.load_model(f"models:/{model_name}/{version}")

# COMMAND ----------

# What to score: per asset, after its latest scored window (never before the look-back).
lookback_start = now - params.lookback
resume = {
    row["asset"]: row["last"]
    for row in spark.table(ANOMALIES).groupBy("asset").agg(F.max("window_end").alias("last")).collect()
}
gold_assets = [
    row["asset"]
    for row in spark.table(GOLD).where(F.col("window_end") > F.lit(lookback_start)).select("asset").distinct().collect()
]
plan = inference_plan(
    now, params.lookback, gold_assets, resume, rescore_since=now - params.rescore if params.rescore else None
)


def gold_sources(since):
    """Gold's source per (asset, window_end) ending in [since, now], one row per key (the sources of every
    emitted row, as the pipeline joins them): what marks a window simulated."""
    return (
        spark.table(GOLD)
        .where((F.col("window_end") >= F.lit(since)) & (F.col("window_end") <= F.lit(now)))
        .groupBy("asset", "window_end")
        .agg(F.concat_ws(",", F.array_sort(F.collect_set("source"))).alias("source"))
    )


summary = {"model": model_name, "model_version": version, "feature_set": feature_set, "scored": 0, "inserted": 0,
           "updated": 0, "new_anomalies": 0}
rows = None  # the scored windows, when there are any
compared = None  # the feed file's windows (pandas), when the MERGE inserted or changed any
if plan is not None:
    gold = (
        spark.table(GOLD)
        .where((F.col("window_end") > F.lit(plan.gold_since)) & (F.col("window_end") <= F.lit(now)))
        .select(*GOLD_COLUMNS, "emitted_at")
        .toPandas()
    )
    selected = select_for_scoring(compute_features(dedupe_windows(gold), feature_set), plan)
    if len(selected) > 0:
        rows = score_rows(selected, model.decision_function(selected.X), version, now)

# COMMAND ----------

# MERGE on (asset, window_end) from a source with one row per key (the latest scored_at wins): new
# windows are inserted, a window scored by another model or with another score is updated, the same
# score again is left alone.
if rows is not None:
    staged = spark.createDataFrame(anomaly_records(rows), schema=anomalies_schema())  # NaN → NULL
    latest_first = Window.partitionBy("asset", "window_end").orderBy(F.col("scored_at").desc())
    source = staged.withColumn("_rank", F.row_number().over(latest_first)).where(F.col("_rank") == 1).drop("_rank")

    old = spark.table(ANOMALIES).select(
        "asset",
        "window_end",
        F.col("model_version").alias("_old_version"),
        F.col("anomaly_score").alias("_old_score"),
        F.col("is_anomaly").alias("_old_flag"),
    )
    was_scored = F.col("_old_version").isNotNull()
    differs = (
        (F.col("_old_version") != F.col("model_version"))
        | (F.col("_old_score") != F.col("anomaly_score"))
        | (F.col("_old_flag") != F.col("is_anomaly"))
    )
    newly_flagged = (F.col("is_anomaly") == 1) & (F.coalesce(F.col("_old_flag"), F.lit(0)) == 0)
    compared_rows = source.join(old, ["asset", "window_end"], "left")
    counts = (
        compared_rows
        .agg(
            F.count(F.lit(1)).alias("scored"),
            F.sum(F.when(~was_scored, 1).otherwise(0)).alias("inserted"),
            F.sum(F.when(was_scored & differs, 1).otherwise(0)).alias("updated"),
            F.sum(F.when(newly_flagged, 1).otherwise(0)).alias("new_anomalies"),
        )
        .first()
    )

    # The source beside the table as it is before the MERGE (old flag included), with Gold's source, read
    # now: the feed file reports what this MERGE inserts or changes that is or was anomalous.
    compared = changed_windows(
        compared_rows.join(gold_sources(plan.read_from), ["asset", "window_end"], "left").toPandas()
    )

    changed = ("t.model_version <> s.model_version OR t.anomaly_score <> s.anomaly_score OR t.is_anomaly <> s.is_anomaly"
               " OR NOT (t.reasons <=> s.reasons) OR NOT (t.data_issue <=> s.data_issue)")
    (
        DeltaTable.forName(spark, ANOMALIES).alias("t")
        .merge(source.alias("s"), "t.asset = s.asset AND t.window_end = s.window_end")
        .whenMatchedUpdate(
            condition=changed,
            set={name: f"s.{name}" for name, _, _ in ANOMALIES_COLUMNS if name not in ("asset", "window_end")},
        )
        .whenNotMatchedInsertAll()
        .execute()
    )
    summary.update({key: int(counts[key] or 0) for key in ("scored", "inserted", "updated", "new_anomalies")})
    flagged = rows[rows["is_anomaly"] == 1].sort_values("anomaly_score")
    if len(flagged) > 0:
        display(flagged.head(20))

# COMMAND ----------

# Publish for the bot, after the MERGE: the feed file (only when this run reported windows; named by
# the run's instant, so a re-run at the same `now` overwrites it) and the snapshot (every run). Each is
# written to a hidden temporary file in its folder and renamed onto its name, so the Files API never
# serves half a file. Gold over (now − 7 d, now] left-joined with the table as it is now.
week = now - SNAPSHOT_SERIES_SPAN  # the snapshot's longest period and its series
scores_now = spark.table(ANOMALIES).where((F.col("window_end") >= F.lit(week)) & (F.col("window_end") <= F.lit(now)))
gold_week = (
    spark.table(GOLD)
    .where((F.col("window_end") > F.lit(week)) & (F.col("window_end") <= F.lit(now)))
    .select("asset", "symbol", "window_end", "price_avg", "source", "emitted_at")
    .join(scores_now.select("asset", "window_end", "anomaly_score", "is_anomaly"), ["asset", "window_end"], "left")
    .toPandas()
)
anomalies_week = (
    scores_now.select("asset", "symbol", "window_end", "price_avg", "ret_window", "anomaly_score", "is_anomaly",
                      "model_version", "reasons", "data_issue")
    .join(gold_sources(week), ["asset", "window_end"], "left")
    .toPandas()
)

summary.update({"feed_file": None, "feed_windows": 0, "snapshot": SNAPSHOT_PATH})
if compared is not None and len(compared) > 0:
    feed = feed_payload(compared, gold_week, now, model_name, version)
    feed_file = f"{FEED_DIR}/{feed_file_name(now)}"
    written = write_json_atomically(f"{VOLUME}/{feed_file}", feed)
    summary.update({"feed_file": feed_file, "feed_windows": len(feed["windows"])})
    print(f"infer: {feed_file}: {len(feed['windows'])} windows ({feed['omitted_windows']} omitted), "
          f"{len(feed['series'])} series, {written:,} bytes")
snapshot = serving_snapshot(anomalies_week, gold_week, now, model_name, version)
written = write_json_atomically(f"{VOLUME}/{SNAPSHOT_PATH}", snapshot)
print(f"infer: {SNAPSHOT_PATH}: {len(snapshot['series'])} assets, {written:,} bytes")
removed = prune_feed_files(f"{VOLUME}/{FEED_DIR}", now)
if removed:
    print(f"infer: removed {len(removed)} feed files older than 7 days")

# COMMAND ----------

print(f"infer: {summary['scored']:,} windows scored with {model_name} v{version} "
      f"({summary['inserted']:,} new, {summary['updated']:,} re-scored), {summary['new_anomalies']} new anomalies")
dbutils.notebook.exit(json.dumps(summary))
