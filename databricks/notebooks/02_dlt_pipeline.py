# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · Bronze → Silver → Gold (Lakeflow Declarative Pipelines)
# MAGIC
# MAGIC The source of the pipeline; it runs only as a pipeline (`import dlt`), not as a job task.
# MAGIC Its semantics are those of the local engine (`sql/local/pipeline_batch.sql`):
# MAGIC
# MAGIC - **`prices_bronze`**: every landed line, read by Auto Loader (`cloudFiles`, JSON, a fixed schema
# MAGIC   with `schemaEvolutionMode = rescue`): a field of another type or a field the schema lacks goes to
# MAGIC   `_rescued_data`; a line that is not a JSON object keeps its text in `_rescued` (and is counted by
# MAGIC   the `well_formed_json` expectation); plus `load_ts` and `source_file` (`_metadata.file_path`).
# MAGIC - **`prices_silver`**: typed strictly (`asset = lower(id)`, `price`, `volume`, `event_ts` from
# MAGIC   `last_updated`, `ingest_ts`, `event_key = asset|event_ts`); dropped, in this order and all
# MAGIC   *before* the watermark sees them: rows missing id, price or event time; rows out of bounds
# MAGIC   (price not finite, `<= 0` or `>= 1e9` USD; volume, when present, not finite, `< 0` or `>= 1e13`
# MAGIC   USD: no coin trades near a billion USD nor has a daily volume near 1e13, and one such value
# MAGIC   would overflow the Gold aggregates); events more than 10 minutes after their load time, or after
# MAGIC   the ingest time they claim (a bad clock or a lying record would otherwise push the watermark into
# MAGIC   the future and make every real tick after it late); then a 20-minute watermark on `event_ts` and
# MAGIC   `dropDuplicatesWithinWatermark(["event_key"])` (bounded state, unlike the original's
# MAGIC   `dropDuplicates`).
# MAGIC - **`metrics_gold`**: 5-minute tumbling windows per asset `[start, start + 5 min)`, emitted once
# MAGIC   (append) when the 2-minute watermark passes their end: `price_avg`, `price_vol` (sample standard
# MAGIC   deviation), `price_min`, `price_max`, `vol_sum`, `ret_window = price_max / price_min − 1`,
# MAGIC   `ticks`, `source`.
# MAGIC - **`labels`**: the feedback from the channel (👍 Real / 👎 Noise), one JSONL file per click that the
# MAGIC   bot writes to the volume's `labels/` folder (`src/domain/labels.ts`), read by Auto Loader with a
# MAGIC   fixed schema like Bronze; a line that is not a JSON object, or lacks a field, or has a label other
# MAGIC   than `real`/`noise`, is dropped and counted (`well_formed_label`, `valid_label`); then AUTO CDC
# MAGIC   (SCD type 1) keyed by `(asset, window_end, user)` and sequenced by `labelled_at` keeps each
# MAGIC   person's latest label of a window, as the local `labels` table does (its primary key).
# MAGIC
# MAGIC Pipeline configuration (set by the bot's provisioner and `databricks.yml`): `crypto_risk.catalog`,
# MAGIC `crypto_risk.schema` and `crypto_risk.volume` name the landing volume (defaults `workspace`,
# MAGIC `crypto`, `landing`); the tables are published to the pipeline's own catalog and schema, which are
# MAGIC the same two. Serverless. The session time zone does not matter: event keys are rendered in UTC.

# COMMAND ----------

import re

import dlt
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

spark = globals()["spark"]  # defined by the pipeline runtime; named here for readers and linters

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


def setting(name: str, default: str) -> str:
    """A pipeline configuration value `crypto_risk.<name>`, checked against the identifier pattern."""
    value = (spark.conf.get(f"crypto_risk.{name}", default) or default).strip()
    if not IDENTIFIER.match(value):
        raise ValueError(f"pipeline setting crypto_risk.{name} = {value!r} must be lower-case letters, digits and _")
    return value


CATALOG, SCHEMA, VOLUME = setting("catalog", "workspace"), setting("schema", "crypto"), setting("volume", "landing")
LANDING = f"/Volumes/{CATALOG}/{SCHEMA}/{VOLUME}/landing"
LABELS = f"/Volumes/{CATALOG}/{SCHEMA}/{VOLUME}/labels"

# The fields the pipeline reads, typed; everything else a record carries lands in _rescued_data.
LANDED = StructType([
    StructField("id", StringType()),
    StructField("symbol", StringType()),
    StructField("name", StringType()),
    StructField("current_price", DoubleType()),
    StructField("total_volume", DoubleType()),
    StructField("last_updated", StringType()),
    StructField("ingest_ts", StringType()),
    StructField("ingest_source", StringType()),
    StructField("_corrupt_record", StringType()),  # the text of a line that is not a JSON object
])

# A label as the bot writes it (src/domain/labels.ts); the times stay text until typed below.
LABELLED = StructType([
    StructField("asset", StringType()),
    StructField("window_end", StringType()),
    StructField("user", StringType()),
    StructField("label", StringType()),
    StructField("model_version", LongType()),
    StructField("labelled_at", StringType()),
    StructField("_corrupt_record", StringType()),
])

# COMMAND ----------


@dlt.table(
    name="prices_bronze",
    comment="Every landed JSONL line: typed fields, _rescued_data (unexpected fields or types), "
    "_rescued (a malformed line), load_ts and source_file.",
    table_properties={"quality": "bronze"},
)
@dlt.expect("well_formed_json", "_rescued IS NULL")
def prices_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaEvolutionMode", "rescue")
        .option("cloudFiles.partitionColumns", "")  # date=/hour= folders are layout, not columns
        .option("rescuedDataColumn", "_rescued_data")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .option("mode", "PERMISSIVE")
        .option("pathGlobFilter", "*.jsonl")
        .schema(LANDED)
        .load(LANDING)
        .withColumnRenamed("_corrupt_record", "_rescued")
        .withColumn("source_file", F.col("_metadata.file_path"))
        .withColumn("load_ts", F.current_timestamp())
    )


# COMMAND ----------


@dlt.view(name="prices_typed", comment="Bronze rows typed strictly, before the watermark: invalid rows never move it.")
@dlt.expect_or_drop("core_fields_present", "asset IS NOT NULL AND price IS NOT NULL AND event_ts IS NOT NULL")
@dlt.expect_or_drop(
    "within_bounds",
    "NOT isnan(price) AND price > 0 AND price < 1e9 "
    "AND (volume IS NULL OR (NOT isnan(volume) AND volume >= 0 AND volume < 1e13))",
)
@dlt.expect_or_drop(
    "not_from_the_future",
    "event_ts <= least(coalesce(ingest_ts, load_ts), load_ts) + INTERVAL 10 MINUTES",
)
def prices_typed():
    # event_key = asset|event_ts, the time as ISO-8601 UTC in milliseconds (as the local engine writes
    # it) whatever the session time zone: to_utc_timestamp(ts, session zone) renders as UTC there.
    utc_text = F.date_format(F.expr("to_utc_timestamp(event_ts, current_timezone())"), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    return (
        spark.readStream.table("prices_bronze")
        .where(F.col("_rescued").isNull())
        .select(
            F.expr("nullif(lower(trim(id)), '')").alias("asset"),
            F.col("symbol"),
            F.col("name"),
            F.col("current_price").alias("price"),
            F.col("total_volume").alias("volume"),
            F.expr("try_cast(last_updated AS TIMESTAMP)").alias("event_ts"),
            F.expr("try_cast(ingest_ts AS TIMESTAMP)").alias("ingest_ts"),
            F.col("load_ts"),
            F.col("ingest_source").alias("source"),
            F.col("source_file"),
        )
        .withColumn("event_key", F.concat_ws("|", F.col("asset"), utc_text))
    )


@dlt.table(
    name="prices_silver",
    comment="Typed, validated prices, deduplicated on event_key within a 20-minute watermark.",
    table_properties={"quality": "silver"},
)
def prices_silver():
    return (
        spark.readStream.table("prices_typed")
        .withWatermark("event_ts", "20 minutes")
        .dropDuplicatesWithinWatermark(["event_key"])
        .select("asset", "symbol", "name", "price", "volume", "event_ts", "ingest_ts", "load_ts", "event_key",
                "source", "source_file")
    )


# COMMAND ----------


@dlt.table(
    name="metrics_gold",
    comment="5-minute tumbling windows per asset, emitted once after a 2-minute watermark.",
    table_properties={"quality": "gold"},
)
def metrics_gold():
    windows = (
        spark.readStream.table("prices_silver")
        .withWatermark("event_ts", "2 minutes")
        .groupBy(F.col("asset"), F.window("event_ts", "5 minutes").alias("w"))
        .agg(
            F.max_by("symbol", "event_ts").alias("symbol"),
            F.avg("price").alias("price_avg"),
            F.stddev_samp("price").alias("price_vol"),
            F.min("price").alias("price_min"),
            F.max("price").alias("price_max"),
            F.sum("volume").alias("vol_sum"),
            F.count(F.lit(1)).alias("ticks"),
            F.concat_ws(",", F.array_sort(F.collect_set("source"))).alias("source"),
        )
    )
    return windows.select(
        "asset",
        "symbol",
        F.col("w.start").alias("window_start"),
        F.col("w.end").alias("window_end"),
        "price_avg",
        "price_vol",
        "price_min",
        "price_max",
        "vol_sum",
        F.when(F.col("price_min") > 0, F.col("price_max") / F.col("price_min") - 1).alias("ret_window"),
        "ticks",
        "source",
        F.current_timestamp().alias("emitted_at"),
    )


# COMMAND ----------


# The label lines typed as Bronze types the landed ones; the rules drop what the table must not hold
# (expectations on a view apply where the view is read: https://docs.databricks.com/aws/en/dlt/expectations).
@dlt.view(name="labels_typed", comment="Label lines typed; malformed lines and invalid labels dropped and counted.")
@dlt.expect_or_drop("well_formed_label", "_rescued IS NULL")
@dlt.expect_or_drop(
    "valid_label",
    "asset IS NOT NULL AND window_end IS NOT NULL AND `user` IS NOT NULL AND label IN ('real', 'noise') "
    "AND model_version IS NOT NULL AND labelled_at IS NOT NULL",
)
def labels_typed():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaEvolutionMode", "rescue")
        .option("rescuedDataColumn", "_rescued_data")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .option("mode", "PERMISSIVE")
        .option("pathGlobFilter", "*.jsonl")
        .schema(LABELLED)
        .load(LABELS)
        .select(
            F.col("_corrupt_record").alias("_rescued"),
            F.expr("nullif(trim(asset), '')").alias("asset"),
            F.expr("try_cast(window_end AS TIMESTAMP)").alias("window_end"),
            F.expr("nullif(trim(`user`), '')").alias("user"),  # quoted: `user` alone is also a function
            F.col("label"),
            F.expr("try_cast(model_version AS INT)").alias("model_version"),
            F.expr("try_cast(labelled_at AS TIMESTAMP)").alias("labelled_at"),
            F.col("_metadata.file_path").alias("source_file"),
        )
    )


# One row per person per window, their latest click: AUTO CDC, SCD type 1, sequenced by labelled_at, so
# a click that arrives late never replaces a newer one
# (https://docs.databricks.com/aws/en/dlt-ref/dlt-python-ref-apply-changes).
dlt.create_streaming_table(
    name="labels",
    comment="The channel's labels of the feed's windows: the latest per (asset, window_end, user).",
    table_properties={"quality": "silver"},
)
dlt.create_auto_cdc_flow(
    target="labels",
    source="labels_typed",
    keys=["asset", "window_end", "user"],
    sequence_by="labelled_at",
    except_column_list=["_rescued"],
    stored_as_scd_type=1,
)
