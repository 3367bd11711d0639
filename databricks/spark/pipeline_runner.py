"""Runs the Lakeflow Declarative Pipeline notebook (``databricks/notebooks/02_dlt_pipeline.py``) on
open-source Apache Spark Structured Streaming with Delta Lake, unchanged.

The notebook is a pipeline *source*: ``import dlt``, functions decorated with ``@dlt.table`` /
``@dlt.view`` that return streaming DataFrames, and ``@dlt.expect*`` data-quality rules
(https://docs.databricks.com/aws/en/dlt-ref/dlt-python-ref-table,
https://docs.databricks.com/aws/en/dlt/expectations). Open-source Spark 4.1 has Spark Declarative
Pipelines (``pyspark.pipelines``, run by the ``spark-pipelines`` CLI over Spark Connect,
https://spark.apache.org/docs/latest/declarative-pipelines-programming-guide.html), but it has no
expectations and no Auto Loader, and its decorators register into a Connect-side graph. So this
runner is the seam instead; it executes the notebook's source with

- a stand-in ``dlt`` module (``table``, ``view``, ``expect``, ``expect_or_drop``,
  ``expect_or_fail``) that records each dataset's function and rules;
- a ``spark`` whose ``readStream`` (1) turns Auto Loader (``format("cloudFiles")`` with
  ``cloudFiles.format``) into the built-in file source of that format with the same schema,
  ``recursiveFileLookup`` (Auto Loader lists the folder recursively and, with
  ``cloudFiles.partitionColumns = ""``, infers no ``date=``/``hour=`` columns), and drops the
  ``cloudFiles.*`` and ``rescuedDataColumn`` options open-source Spark does not know; (2) maps
  ``/Volumes/<catalog>/<schema>/<volume>/…`` to a local folder laid out like the volume; (3) reads one
  file per micro-batch (``maxFilesPerTrigger = 1``, on the landing folder and on the Delta tables),
  so each landing file is one micro-batch through every stage, as in the local engine
  (``sql/local/pipeline_batch.sql``); (4) resolves ``readStream.table(<view>)`` to the view's
  DataFrame.

Then it materialises every table in the order the notebook defines them (each reads only tables
defined before it) as a streaming query, append mode, Delta, ``trigger(availableNow=True)``, with a
checkpoint per table, and collects from the queries' progress what the pipeline event log reports on
Databricks: rows passing and failing each expectation, and rows dropped by a watermark.

Expectations: the rules of a dataset are applied to the DataFrame its function returns, in the order
they are written; ``expect_or_drop`` rules are filters, and a row is counted against the first drop
rule it fails only (Databricks counts each rule independently; the local engine gives one verdict per
row, in this order); a rule that evaluates to NULL fails; ``expect`` rules count failures among the
rows that pass every drop rule and keep them; ``expect_or_fail`` stops the run. Counts come from
``DataFrame.observe`` (observed metrics in the streaming progress).

Watermark drops: Silver's late rows are the dedup operator's ``numRowsDroppedByWatermark``, its
duplicates what remains; Gold's late rows are derived (``gold_late_rows``), since the aggregation
counts late partial aggregates, not rows. The session decides which watermark filters late rows:
Spark's default (``spark.sql.streaming.statefulOperator.allowMultiple = true``) uses the previous
micro-batch's, so Databricks keeps rows that arrive one batch late; with ``false`` it is the batch's
own, as in the local engine (the parity test sets that).

A streaming table fed by ``create_auto_cdc_flow`` (SCD type 1 upserts only) is run with
``foreachBatch``: its source's rules counted per batch, the latest row per key by ``sequence_by``, and
a Delta MERGE that replaces a row only with a greater sequence (``_run_auto_cdc``).

Not reproduced: Auto Loader's schema evolution and ``_rescued_data`` (a field of the wrong type makes
the whole line a corrupt record here, the open-source JSON reader's PERMISSIVE mode, instead of
going to ``_rescued_data``), Auto Loader's file notification and its own batching
(``cloudFiles.maxFilesPerTrigger``, 1000 files by default), the pipeline's event log, Unity Catalog,
table properties and comments (recorded, not applied), full refresh, and materialized views.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from pyspark.sql import functions as F

NOTEBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notebooks", "02_dlt_pipeline.py")
AUTO_LOADER_DROPPED_OPTIONS = ("rescuedDataColumn",)


@dataclass
class Expectation:
    name: str
    condition: str
    action: str  # "warn" | "drop" | "fail"


@dataclass
class AutoCdcFlow:
    """``dlt.create_auto_cdc_flow`` (formerly ``apply_changes``) into a streaming table, SCD type 1
    (https://docs.databricks.com/aws/en/dlt-ref/dlt-python-ref-apply-changes)."""

    source: str
    keys: List[str]
    sequence_by: str
    except_column_list: List[str] = field(default_factory=list)


@dataclass
class Dataset:
    name: str
    kind: str  # "table" | "view"
    function: Optional[Callable[[], Any]]  # None: a streaming table fed by a flow
    expectations: List[Expectation] = field(default_factory=list)
    comment: Optional[str] = None
    table_properties: Dict[str, str] = field(default_factory=dict)
    flow: Optional[AutoCdcFlow] = None


class ExpectationFailed(RuntimeError):
    pass


def stand_in_dlt(graph: "Graph") -> types.ModuleType:
    """A module with the decorators of Databricks' ``dlt`` the notebook uses, recording into ``graph``."""
    module = types.ModuleType("dlt")

    def _pending(function) -> List[Expectation]:
        if not hasattr(function, "__dlt_expectations__"):
            function.__dlt_expectations__ = []
        return function.__dlt_expectations__

    def _expect(action: str):
        def decorator_factory(name: str, condition: str):
            def decorate(function):
                # decorators apply bottom-up: insert first so the list keeps the written order
                _pending(function).insert(0, Expectation(name, condition, action))
                return function

            return decorate

        return decorator_factory

    def _dataset(kind: str):
        def decorator_factory(function=None, *, name=None, comment=None, table_properties=None, **_ignored):
            def decorate(fn):
                graph.add(Dataset(name or fn.__name__, kind, fn, list(getattr(fn, "__dlt_expectations__", [])),
                                  comment, dict(table_properties or {})))
                return fn

            return decorate(function) if callable(function) else decorate

        return decorator_factory

    def create_streaming_table(name, *, comment=None, table_properties=None, schema=None, **_ignored):
        if schema is not None:
            raise NotImplementedError("create_streaming_table(schema=...) is not stood in for")
        graph.add(Dataset(name, "table", None, [], comment, dict(table_properties or {})))

    def create_auto_cdc_flow(*, target, source, keys, sequence_by, stored_as_scd_type=1, except_column_list=None,
                             **others):
        # Only the upsert of SCD type 1 is stood in for: no deletes, truncates, column lists or history.
        unsupported = {k: v for k, v in others.items() if v not in (None, False)}
        if str(stored_as_scd_type) != "1" or unsupported:
            raise NotImplementedError(f"create_auto_cdc_flow: only SCD type 1 upserts are stood in for ({unsupported})")
        dataset = graph.datasets.get(target)
        if dataset is None or dataset.function is not None or dataset.flow is not None:
            raise ValueError(f"create_auto_cdc_flow: {target} must be a streaming table declared before, with no flow")
        dataset.flow = AutoCdcFlow(source, list(keys), sequence_by, list(except_column_list or []))

    module.table = _dataset("table")
    module.create_streaming_table = create_streaming_table
    module.create_auto_cdc_flow = create_auto_cdc_flow
    module.apply_changes = create_auto_cdc_flow  # the former name, same signature
    module.view = _dataset("view")
    module.expect = _expect("warn")
    module.expect_or_drop = _expect("drop")
    module.expect_or_fail = _expect("fail")
    return module


class _StreamReader:
    """``spark.readStream`` as the notebook uses it, with the Auto Loader seam (see the module doc)."""

    def __init__(self, graph: "Graph"):
        self._graph = graph
        self._format: Optional[str] = None
        self._auto_loader = False
        self._options: Dict[str, str] = {}
        self._schema = None

    def format(self, source: str) -> "_StreamReader":
        self._auto_loader = source == "cloudFiles"
        self._format = None if self._auto_loader else source
        return self

    def option(self, key: str, value) -> "_StreamReader":
        if self._auto_loader and key == "cloudFiles.format":
            self._format = str(value)
        elif self._auto_loader and (key.startswith("cloudFiles.") or key in AUTO_LOADER_DROPPED_OPTIONS):
            self._graph.ignored_options.append(key)
        else:
            self._options[key] = str(value)
        return self

    def options(self, **options) -> "_StreamReader":
        for key, value in options.items():
            self.option(key, value)
        return self

    def schema(self, schema) -> "_StreamReader":
        self._schema = schema
        return self

    def _reader(self):
        reader = self._graph.spark.readStream
        if self._format:
            reader = reader.format(self._format)
        if self._schema is not None:
            reader = reader.schema(self._schema)
        options = {"maxFilesPerTrigger": "1", **self._options}
        if self._auto_loader:
            options.setdefault("recursiveFileLookup", "true")
        return reader.options(**options)

    def load(self, path: Optional[str] = None):
        if self._auto_loader and not self._format:
            raise ValueError("Auto Loader needs cloudFiles.format")
        return self._reader().load(self._graph.local_path(path)) if path else self._reader().load()

    def table(self, name: str):
        dataset = self._graph.datasets.get(name)
        if dataset is not None and dataset.kind == "view":
            self._graph.views_read.append(name)
            return self._graph.dataframe(name)
        # From the table's first version, commit by commit (a Delta stream otherwise starts with a
        # snapshot of the current version, whose files are not read in the order they were committed).
        self._options.setdefault("startingVersion", "0")
        return self._reader().table(name)


class _Session:
    """The notebook's ``spark``: the real session, but ``readStream`` is the seam above."""

    def __init__(self, graph: "Graph"):
        self._graph = graph

    def __getattr__(self, name: str):
        return getattr(self._graph.spark, name)

    @property
    def readStream(self) -> _StreamReader:
        return _StreamReader(self._graph)


class Graph:
    """The datasets of one pipeline source and the local run of them."""

    def __init__(self, spark, volumes_root: str, checkpoints: str):
        self.spark = spark
        self.volumes_root = volumes_root
        self.checkpoints = checkpoints
        self.datasets: Dict[str, Dataset] = {}
        self.ignored_options: List[str] = []
        self.views_read: List[str] = []  # by the table being built (their rules are observed in its query)

    def add(self, dataset: Dataset) -> None:
        if dataset.name in self.datasets:
            raise ValueError(f"dataset {dataset.name} is defined twice")
        self.datasets[dataset.name] = dataset

    def local_path(self, path: str) -> str:
        if path.startswith("/Volumes/"):
            return os.path.join(self.volumes_root, path[len("/Volumes/"):])
        return path

    def dataframe(self, name: str):
        """The dataset's DataFrame with its expectations applied (observed, then filtered)."""
        dataset = self.datasets[name]
        df = dataset.function()
        if not dataset.expectations:
            return df
        drops = [e for e in dataset.expectations if e.action in ("drop", "fail")]
        warns = [e for e in dataset.expectations if e.action == "warn"]
        passed = [F.coalesce(F.expr(e.condition), F.lit(False)) for e in drops]
        metrics, alive = [F.count(F.lit(1)).alias("rows")], F.lit(True)
        for e, ok in zip(drops, passed):
            metrics.append(F.count_if(alive & ~ok).alias(e.name))
            alive = alive & ok
        for e in warns:
            metrics.append(F.count_if(alive & ~F.coalesce(F.expr(e.condition), F.lit(False))).alias(e.name))
        df = df.observe(f"expectations.{name}", *metrics)
        return df.where(alive) if drops else df

    def run(self) -> Dict[str, Dict[str, Any]]:
        """Every table, in definition order, as an availableNow streaming query into Delta."""
        # One shuffle partition: a micro-batch writes one file per table, so the next table, reading one
        # file per micro-batch, sees the same batches (the number is fixed in a query's checkpoint).
        self.spark.conf.set("spark.sql.shuffle.partitions", "1")
        self.spark.conf.set("spark.sql.streaming.numRecentProgressUpdates", "100000")
        results: Dict[str, Dict[str, Any]] = {}
        for dataset in self.datasets.values():
            if dataset.kind != "table":
                continue
            self.views_read = []
            if dataset.flow is not None:
                results[dataset.name] = self._run_auto_cdc(dataset)
                continue
            query = (
                self.dataframe(dataset.name)
                .writeStream.format("delta")
                .outputMode("append")
                .option("checkpointLocation", os.path.join(self.checkpoints, dataset.name))
                .trigger(availableNow=True)
                .toTable(dataset.name)
            )
            query.awaitTermination()
            results[dataset.name] = self._summary(dataset, query.recentProgress, list(self.views_read))
        return results

    def _run_auto_cdc(self, dataset: Dataset) -> Dict[str, Any]:
        """A streaming table fed by AUTO CDC, SCD type 1: each micro-batch of the source (its rules
        applied and counted here, per batch) keeps the row with the greatest sequence per key, then a
        Delta MERGE upserts it, replacing a row only with a greater sequence (an event that arrives
        late never replaces a newer one, as AUTO CDC orders by ``sequence_by``)."""
        from delta.tables import DeltaTable
        from pyspark.sql import Window

        flow = dataset.flow
        source = self.datasets.get(flow.source)
        if source is not None and source.kind == "view":
            raw, rules, views = source.function(), source.expectations, [flow.source]
        else:
            raw, rules, views = _StreamReader(self).table(flow.source), [], []
        columns = [c for c in raw.columns if c not in flow.except_column_list]
        self.spark.createDataFrame([], raw.select(*columns).schema).write.format("delta").mode("ignore").saveAsTable(
            dataset.name)
        failed = {e.name: 0 for e in rules}
        drops = [e for e in rules if e.action in ("drop", "fail")]
        warns = [e for e in rules if e.action == "warn"]
        key = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in flow.keys)
        seq = flow.sequence_by

        def upsert(batch, _batch_id):
            batch = batch.persist()
            try:
                alive, metrics = F.lit(True), []
                for e in drops:
                    ok = F.coalesce(F.expr(e.condition), F.lit(False))
                    metrics.append(F.count_if(alive & ~ok).alias(e.name))
                    alive = alive & ok
                for e in warns:
                    metrics.append(F.count_if(alive & ~F.coalesce(F.expr(e.condition), F.lit(False))).alias(e.name))
                if metrics:
                    for name, count in batch.agg(*metrics).first().asDict().items():
                        failed[name] += int(count or 0)
                        if count and next(e for e in rules if e.name == name).action == "fail":
                            raise ExpectationFailed(f"{flow.source}: {name} failed for {count} rows")
                latest = Window.partitionBy(*[F.col(k) for k in flow.keys]).orderBy(F.col(seq).desc())
                rows = (batch.where(alive).withColumn("__n", F.row_number().over(latest)).where("__n = 1")
                        .select(*columns))
                (DeltaTable.forName(self.spark, dataset.name).alias("t").merge(rows.alias("s"), key)
                 .whenMatchedUpdateAll(condition=f"s.`{seq}` > t.`{seq}`").whenNotMatchedInsertAll().execute())
            finally:
                batch.unpersist()

        query = (
            raw.writeStream.foreachBatch(upsert)
            .option("checkpointLocation", os.path.join(self.checkpoints, dataset.name))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        summary = self._summary(dataset, query.recentProgress, views)
        for name, count in failed.items():
            summary["expectations"][name]["failed"] = count
        return summary

    def _summary(self, dataset: Dataset, progress, views: List[str]) -> Dict[str, Any]:
        rules = dataset.expectations + [e for v in views for e in self.datasets[v].expectations]
        expectations = {e.name: {"action": e.action, "failed": 0} for e in rules}
        by_watermark, batches, rows_in, per_batch = 0, 0, 0, []
        for p in progress:
            p = p if isinstance(p, dict) else p.jsonValue() if hasattr(p, "jsonValue") else dict(p)
            batches += 1
            rows_in += int(p.get("numInputRows") or 0)
            per_batch.append((int(p.get("numInputRows") or 0), (p.get("eventTime") or {}).get("watermark")))
            for op in p.get("stateOperators") or []:
                by_watermark += int(op.get("numRowsDroppedByWatermark") or 0)
            for metric_name, row in (p.get("observedMetrics") or {}).items():
                values = row if isinstance(row, dict) else row.asDict()
                for e_name, count in values.items():
                    if e_name in expectations:
                        expectations[e_name]["failed"] += int(count or 0)
                        if expectations[e_name]["action"] == "fail" and count:
                            raise ExpectationFailed(f"{metric_name}: {e_name} failed for {count} rows")
        rows = self.spark.read.table(dataset.name).count()
        return {"batches": batches, "per_batch": per_batch, "rows_read": rows_in, "rows": rows, "dropped_by_watermark": by_watermark,
                "expectations": expectations}


def load_notebook(spark, volumes_root: str, checkpoints: str, notebook: str = NOTEBOOK) -> Graph:
    """Executes the pipeline notebook's source with the stand-in ``dlt`` and ``spark``; returns its graph."""
    graph = Graph(spark, volumes_root, checkpoints)
    with open(notebook, encoding="utf-8") as handle:
        source = handle.read()
    saved = sys.modules.get("dlt")
    sys.modules["dlt"] = stand_in_dlt(graph)
    try:
        exec(compile(source, notebook, "exec"), {"__name__": "pipeline_source", "spark": _Session(graph)})
    finally:
        if saved is None:
            sys.modules.pop("dlt", None)
        else:
            sys.modules["dlt"] = saved
    return graph


def gold_late_rows(spark, results: Dict[str, Dict[str, Any]]) -> int:
    """Silver rows the Gold aggregation dropped as late.

    The aggregation's ``numRowsDroppedByWatermark`` counts partial aggregates (one per window and
    partition), not input rows. A Silver row is either in an emitted window (its ``ticks``), in a
    window still open (its end after the last watermark: such a row is never late), or late.
    """
    marks = [w for _, w in results["metrics_gold"]["per_batch"] if w]
    last = max(marks) if marks else "1970-01-01T00:00:00.000Z"
    emitted = spark.read.table("metrics_gold").agg(F.coalesce(F.sum("ticks"), F.lit(0))).first()[0]
    open_rows = (
        spark.read.table("prices_silver")
        .where(F.window("event_ts", "5 minutes").end > F.to_timestamp(F.lit(last)))
        .count()
    )
    return int(results["prices_silver"]["rows"] - emitted - open_rows)


def stage_counts(results: Dict[str, Dict[str, Any]], spark=None) -> Dict[str, Dict[str, int]]:
    """The run's counters named as the local engine's ``pipeline_metrics`` (src/platform/port.ts StageCounts).

    Gold's late rows need ``spark`` (see ``gold_late_rows``); without it they are the operator's
    count of late partial aggregates.
    """
    bronze, silver, gold = results["prices_bronze"], results["prices_silver"], results["metrics_gold"]
    gold_late = gold_late_rows(spark, results) if spark is not None else gold["dropped_by_watermark"]
    fail = lambda table, rule: int(table["expectations"][rule]["failed"])  # noqa: E731
    zero = dict(rows_in=0, rows_out=0, rescued=0, dropped_missing=0, dropped_bounds=0, dropped_future=0,
                dropped_late=0, dropped_duplicate=0, windows_emitted=0)
    rescued = fail(bronze, "well_formed_json")
    objects = bronze["rows"] - rescued
    missing, bounds = fail(silver, "core_fields_present"), fail(silver, "within_bounds")
    future = fail(silver, "not_from_the_future")
    late = silver["dropped_by_watermark"]
    return {
        "bronze": {**zero, "rows_in": bronze["rows"], "rows_out": objects, "rescued": rescued},
        "silver": {**zero, "rows_in": objects, "rows_out": silver["rows"], "dropped_missing": missing,
                   "dropped_bounds": bounds, "dropped_future": future, "dropped_late": late,
                   "dropped_duplicate": objects - missing - bounds - future - late - silver["rows"]},
        "gold": {**zero, "rows_in": silver["rows"], "rows_out": silver["rows"] - gold_late,
                 "dropped_late": gold_late, "windows_emitted": gold["rows"]},
    }
