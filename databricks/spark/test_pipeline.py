"""The pipeline notebook (databricks/notebooks/02_dlt_pipeline.py) on Spark Structured Streaming with
Delta Lake, through the seam in pipeline_runner.py, and its parity with the embedded DuckDB pipeline.

- The seam itself (no Spark): the stand-in ``dlt`` records datasets and rules in the written order;
  Auto Loader becomes the JSON file source with the notebook's schema, recursive, one file per
  micro-batch, and ``/Volumes/…`` a local folder.
- Parity: the first day of the shared real BTC minutes (../shared/data/btcusd_bitstamp_1min_part1.csv)
  landed by the bot's own code (parity_duckdb.ts: replay records, landing files, one per 6 hours, and
  in them a malformed line, missing fields, an event from the future (one with a lying ingest time),
  prices and volumes out of bounds (zero, 1e308, negative, 1e14), duplicates,
  rows late for Silver and rows late for Gold) and run through the local DuckDB pipeline; the same
  landing files, laid out like the volume, through the notebook on Spark. Both must give the same
  Silver count, the same counters by stage and reason, and the same Gold windows (values within 1e-9
  relative).

Late rows are where the two engines' definitions differ, so the input keeps clear of those zones
(the parity holds for it; it is not a proof that the definitions agree):

- Spark filters late rows with the previous micro-batch's watermark by default
  (``spark.sql.streaming.statefulOperator.allowMultiple``); the local engine with the watermark of the
  file itself. The parity run sets the option to false, which uses the batch's own watermark.
- Spark's row-level late test is ``event_ts <= watermark`` (dedup in Silver); the local engine's
  ``event_ts < watermark``: a row exactly at the watermark is late in Spark, kept in DuckDB.
- In a windowed aggregation (Gold) Spark drops a row only when its window has closed
  (``window.end <= watermark``); the local engine drops every row older than the watermark.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED_CSV = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "btcusd_bitstamp_1min_part1.csv"))
REASON = session.unavailable()
REL = 1e-9
GOLD_VALUES = ("price_avg", "price_vol", "price_min", "price_max", "vol_sum", "ret_window")
SPARK = None
WORK = None


def setUpModule():
    global SPARK, WORK
    if REASON:
        return
    WORK = tempfile.mkdtemp(prefix="crm-pipeline-")
    SPARK = session.local_spark(os.path.join(WORK, "warehouse"))
    # Delta reads its log with this many tasks (50 by default): one is plenty for a few files.
    SPARK.conf.set("spark.databricks.delta.snapshotPartitions", "1")


def tearDownModule():
    if SPARK is not None:
        SPARK.stop()
    if WORK:
        shutil.rmtree(WORK, ignore_errors=True)


class _Recorder:
    """A DataStreamReader stand-in that records what the seam asks of it."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return self

        return call


class _FakeSpark:
    def __init__(self):
        self.reader = _Recorder()

    @property
    def readStream(self):
        return self.reader


class TestSeam(unittest.TestCase):
    """pipeline_runner's stand-ins, without Spark (pyspark is imported for its functions only)."""

    @classmethod
    def setUpClass(cls):
        try:
            import pipeline_runner
        except ImportError as err:
            raise unittest.SkipTest(f"pyspark is not installed in this Python ({err})")
        cls.pr = pipeline_runner

    def test_stand_in_dlt_records_the_datasets_and_rules_in_written_order(self):
        graph = self.pr.Graph(_FakeSpark(), "/local/volumes", "/local/checkpoints")
        dlt = self.pr.stand_in_dlt(graph)

        @dlt.table(name="t", comment="c", table_properties={"quality": "silver"})
        @dlt.expect("warn_me", "x > 0")
        @dlt.expect_or_drop("first", "a IS NOT NULL")
        @dlt.expect_or_drop("second", "b IS NOT NULL")
        def t():
            return None

        @dlt.view
        def v():
            return None

        self.assertEqual(list(graph.datasets), ["t", "v"])
        self.assertEqual([(e.name, e.action) for e in graph.datasets["t"].expectations],
                         [("warn_me", "warn"), ("first", "drop"), ("second", "drop")])
        self.assertEqual(graph.datasets["t"].table_properties, {"quality": "silver"})
        self.assertEqual(graph.datasets["v"].kind, "view")

    def test_auto_loader_becomes_the_json_file_source(self):
        fake = _FakeSpark()
        graph = self.pr.Graph(fake, "/local/volumes", "/local/checkpoints")
        reader = self.pr._Session(graph).readStream
        (reader.format("cloudFiles").option("cloudFiles.format", "json")
         .option("cloudFiles.schemaEvolutionMode", "rescue").option("rescuedDataColumn", "_rescued_data")
         .option("mode", "PERMISSIVE").schema("SCHEMA").load("/Volumes/c/s/v/landing"))
        calls = fake.reader.calls
        self.assertIn(("format", ("json",), {}), calls)
        self.assertIn(("schema", ("SCHEMA",), {}), calls)
        options = next(kw for name, _, kw in calls if name == "options")
        self.assertEqual(options, {"maxFilesPerTrigger": "1", "mode": "PERMISSIVE", "recursiveFileLookup": "true"})
        self.assertEqual(calls[-1], ("load", ("/local/volumes/c/s/v/landing",), {}))
        self.assertEqual(sorted(graph.ignored_options), ["cloudFiles.schemaEvolutionMode", "rescuedDataColumn"])

    def test_tables_are_read_from_their_first_version_one_file_per_batch(self):
        fake = _FakeSpark()
        graph = self.pr.Graph(fake, "/local/volumes", "/local/checkpoints")
        self.pr._Session(graph).readStream.table("prices_bronze")
        options = next(kw for name, _, kw in fake.reader.calls if name == "options")
        self.assertEqual(options, {"maxFilesPerTrigger": "1", "startingVersion": "0"})
        self.assertEqual(fake.reader.calls[-1], ("table", ("prices_bronze",), {}))

    def test_the_notebook_defines_bronze_silver_gold(self):
        class Conf:
            def get(self, key, default=None):
                return default

        fake = _FakeSpark()
        fake.conf = Conf()
        graph = self.pr.load_notebook(fake, "/local/volumes", "/local/checkpoints")
        self.assertEqual([(d.name, d.kind) for d in graph.datasets.values()],
                         [("prices_bronze", "table"), ("prices_typed", "view"), ("prices_silver", "table"),
                          ("metrics_gold", "table"), ("labels_typed", "view"), ("labels", "table")])
        self.assertEqual([e.name for e in graph.datasets["prices_typed"].expectations],
                         ["core_fields_present", "within_bounds", "not_from_the_future"])
        self.assertEqual([e.name for e in graph.datasets["labels_typed"].expectations],
                         ["well_formed_label", "valid_label"])
        flow = graph.datasets["labels"].flow
        self.assertEqual((flow.source, flow.keys, flow.sequence_by), ("labels_typed", ["asset", "window_end", "user"],
                                                                      "labelled_at"))


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL, abs_tol=0.0) or (a == 0 and b == 0)


def _iso(value) -> str:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return str(value)


@unittest.skipIf(REASON, REASON or "")
class TestParityWithDuckDb(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(SHARED_CSV):
            raise unittest.SkipTest(f"the shared real BTC minutes are absent ({os.path.relpath(SHARED_CSV, ROOT)}, "
                                    "see ../shared/data/README.md): no parity run")
        npx = shutil.which("npx")
        if not npx or not os.path.isdir(os.path.join(ROOT, "node_modules")):
            raise unittest.SkipTest("npx or node_modules is missing: the DuckDB side (parity_duckdb.ts) cannot run")
        import pipeline_runner

        cls.out = os.path.join(WORK, "parity")
        started = time.monotonic()
        subprocess.run([npx, "tsx", os.path.join("databricks", "spark", "parity_duckdb.ts"), SHARED_CSV, cls.out,
                        "--days", "1", "--hours-per-file", "6"], cwd=ROOT, check=True, timeout=240,
                       capture_output=True)
        with open(os.path.join(cls.out, "duckdb.json"), encoding="utf-8") as handle:
            cls.duckdb = json.load(handle)
        # The same files under a folder laid out like the volume /Volumes/workspace/crypto/landing;
        # modification times in name order (the file source reads the oldest first, as the bot names them).
        volumes = os.path.join(WORK, "Volumes")
        landing = os.path.join(volumes, "workspace", "crypto", "landing", "landing")
        shutil.copytree(os.path.join(cls.out, "landing"), landing)
        # The labels folder the provisioner creates (Auto Loader needs its folder to exist); no labels here.
        os.makedirs(os.path.join(volumes, "workspace", "crypto", "landing", "labels"), exist_ok=True)
        names = sorted(os.path.relpath(os.path.join(d, f), landing)
                       for d, _, files in os.walk(landing) for f in files if f.endswith(".jsonl"))
        base = time.time() - len(names) - 60
        for i, name in enumerate(names):
            os.utime(os.path.join(landing, name), (base + i, base + i))
        # Late rows by the watermark of the micro-batch itself, as the local engine defines them
        # (sql/local/pipeline_batch.sql). Spark >= 3.4 by default filters late rows with the previous
        # batch's watermark (and evicts with the current one), so rows up to one batch older than
        # the watermark still count (SPARK-40925, Structured Streaming guide, "multiple stateful
        # operators"); each table here has one stateful operator, which this setting requires.
        SPARK.conf.set("spark.sql.streaming.statefulOperator.allowMultiple", "false")
        SPARK.sql("CREATE SCHEMA IF NOT EXISTS crypto")
        SPARK.sql("USE crypto")
        graph = pipeline_runner.load_notebook(SPARK, volumes, os.path.join(WORK, "checkpoints"))
        cls.results = graph.run()
        cls.counts = pipeline_runner.stage_counts(cls.results, SPARK)
        cls.gold = [r.asDict() for r in SPARK.read.table("metrics_gold").orderBy("asset", "window_start").collect()]
        cls.silver_rows = SPARK.read.table("prices_silver").count()
        cls.seconds = time.monotonic() - started
        target = os.environ.get("CRYPTO_RISK_SPARK_OUT")
        if target:
            os.makedirs(target, exist_ok=True)
            with open(os.path.join(target, "pipeline_parity.json"), "w", encoding="utf-8") as handle:
                json.dump({"spark": cls.counts, "duckdb": cls.duckdb["counters"], "seconds": cls.seconds,
                           "ignored_options": graph.ignored_options}, handle, indent=1)

    def test_the_input_exercises_every_drop_reason(self):
        silver = next(c for c in self.duckdb["counters"] if c["stage"] == "silver")
        for reason in ("dropped_missing", "dropped_bounds", "dropped_future", "dropped_late", "dropped_duplicate"):
            self.assertGreater(silver[reason], 0, reason)
        self.assertGreater(next(c for c in self.duckdb["counters"] if c["stage"] == "gold")["dropped_late"], 0)
        self.assertGreater(next(c for c in self.duckdb["counters"] if c["stage"] == "bronze")["rescued"], 0)

    def test_same_silver_count(self):
        self.assertEqual(self.silver_rows, self.duckdb["silver_rows"])

    def test_same_counters_by_stage_and_reason(self):
        for row in self.duckdb["counters"]:
            stage = row["stage"]
            expected = {k: int(v) for k, v in row.items() if k != "stage"}
            self.assertEqual(self.counts[stage], expected, f"{stage}: Spark {self.counts[stage]} vs DuckDB {expected}")

    def test_same_gold_windows(self):
        expected = self.duckdb["gold"]
        self.assertEqual([(g["asset"], _iso(g["window_start"])) for g in self.gold],
                         [(e["asset"], e["window_start"]) for e in expected])
        for got, want in zip(self.gold, expected):
            where = f"{want['asset']} {want['window_start']}"
            self.assertEqual(_iso(got["window_end"]), want["window_end"], where)
            self.assertEqual((got["symbol"], got["ticks"], got["source"]), (want["symbol"], want["ticks"],
                                                                             want["source"]), where)
            for column in GOLD_VALUES:
                self.assertTrue(_close(got[column], want[column]),
                                f"{where} {column}: Spark {got[column]!r} vs DuckDB {want[column]!r}")


if __name__ == "__main__":
    unittest.main()


@unittest.skipIf(REASON, REASON or "")
class TestLabels(unittest.TestCase):
    """The ``labels`` table from the label files the bot writes (src/platform/databricks/platform.ts
    ``recordLabels``: one JSONL file per click in the volume's ``labels/`` folder)."""

    @classmethod
    def setUpClass(cls):
        import pipeline_runner

        volumes = os.path.join(WORK, "labels-volumes")
        root = os.path.join(volumes, "workspace", "crypto", "landing")
        os.makedirs(os.path.join(root, "landing"))  # no prices: only the labels flow has input
        folder = os.path.join(root, "labels")
        os.makedirs(folder)

        def label(asset, user, value, at, version=3):
            return json.dumps({"asset": asset, "window_end": "2025-03-01T00:10:00.000Z", "user": user,
                               "label": value, "model_version": version, "labelled_at": at})

        files = [
            [label("bitcoin", "U1", "real", "2025-03-01T00:12:00.000Z")],
            [label("bitcoin", "U2", "noise", "2025-03-01T00:13:00.000Z")],
            # U1 changes their mind: the second click replaces the first
            [label("bitcoin", "U1", "noise", "2025-03-01T00:14:00.000Z", version=4)],
            # a click that arrives after a newer one (U2's of 00:13) does not replace it
            [label("bitcoin", "U2", "real", "2025-03-01T00:11:00.000Z")],
            ['{"asset": "bitcoin", "window_end": ', label("ethereum", "U1", "maybe", "2025-03-01T00:15:00.000Z")],
        ]
        base = time.time() - len(files) - 60
        for i, lines in enumerate(files):
            path = os.path.join(folder, f"20250301T00{i:02d}00000Z-{i}.jsonl")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            os.utime(path, (base + i, base + i))  # the file source reads the oldest first
        SPARK.sql("CREATE SCHEMA IF NOT EXISTS labels_run")
        SPARK.sql("USE labels_run")
        try:
            graph = pipeline_runner.load_notebook(SPARK, volumes, os.path.join(WORK, "labels-checkpoints"))
            cls.results = graph.run()
            cls.rows = sorted((r["asset"], _iso(r["window_end"]), r["user"], r["label"], r["model_version"],
                               _iso(r["labelled_at"])) for r in SPARK.read.table("labels").collect())
            cls.columns = SPARK.read.table("labels").columns
        finally:
            SPARK.sql("USE default")

    def test_the_latest_label_per_person_and_window(self):
        self.assertEqual(self.rows, [
            ("bitcoin", "2025-03-01T00:10:00.000Z", "U1", "noise", 4, "2025-03-01T00:14:00.000Z"),
            ("bitcoin", "2025-03-01T00:10:00.000Z", "U2", "noise", 3, "2025-03-01T00:13:00.000Z"),
        ])
        self.assertEqual(self.columns, ["asset", "window_end", "user", "label", "model_version", "labelled_at",
                                        "source_file"])

    def test_the_malformed_line_and_the_invalid_label_are_counted(self):
        labels = self.results["labels"]
        self.assertEqual(labels["rows"], 2)
        self.assertEqual(labels["rows_read"], 6)
        self.assertEqual({k: v["failed"] for k, v in labels["expectations"].items()},
                         {"well_formed_label": 1, "valid_label": 1})
