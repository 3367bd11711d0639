"""Every statement of the project's Databricks SQL on Spark SQL in ANSI mode: each query of
sql/queries, the five of sql/dashboard.sql and the statements of sql/setup.sql that Apache Spark has,
run through ``spark.sql`` with named parameters against Delta tables shaped as the pipeline writes
them, with typical and edge values for every parameter (the first run's NULL cursor, a cursor after
everything, zero rows, an asset that does not exist, empty tables). A statement Spark rejects fails
its test with Spark's error.

Run from databricks/spark: ../../.venv-spark/bin/python -B -m unittest -v test_sql_ansi
"""

from __future__ import annotations

import math
import os
import sys
import time
import unittest
import warnings
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

import sql_fixtures as fx
from session import CATALOG, local_spark, unavailable

LIB = fx.ROOT / "databricks" / "lib"  # crypto_risk, for the anomalies contract (ANOMALIES_COLUMNS)
if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))

UTC = timezone.utc
FULL, EMPTY = "crm_sql", "crm_sql_empty"
"""Two schemas made by sql/setup.sql: one with the dataset, one whose tables stay empty."""

PARAMETER_WORKAROUND = ("spark.sql.legacy.parameterSubstitution.constantsOnly", "true")
"""Spark 4.1 substitutes parameter markers in the parser (ParserInterface.parsePlanWithParameters),
and Delta's SQL extension parser (io.delta.sql.parser.DeltaSqlParser, delta-spark 4.2.0) does not
forward the parameters, so with Delta configured every ``spark.sql(text, args=...)`` fails with
UNBOUND_SQL_PARAMETER (https://github.com/delta-io/delta/issues/7640,
https://github.com/apache/spark/issues/55392). This legacy session conf restores Spark 4.0's binding
during analysis, where markers stand only where a literal may (what Databricks documents for
parameter markers: https://docs.databricks.com/sql/language-manual/sql-ref-parameter-marker.html).
test_parameter_workaround_is_still_needed fails once a release fixes it."""

SETUP_UNSUPPORTED: Dict[str, str] = {
    "CREATE VOLUME": "Unity Catalog volumes "
    "(https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-create-volume.html) do not exist "
    "in Apache Spark: its parser rejects CREATE VOLUME (PARSE_SYNTAX_ERROR). setup.sql runs it by "
    "EXECUTE IMMEDIATE of the variable it built, so that EXECUTE IMMEDIATE is skipped when the variable "
    "holds a CREATE VOLUME statement (the SET VARIABLE that builds it runs, and the text is checked).",
}
"""The setup.sql statements this module does not run, by the statement kind they execute."""

PRIMARY_KEY = ",\n  CONSTRAINT anomalies_pk PRIMARY KEY (asset, window_end)\n"
"""setup.sql's informational key: Unity Catalog tables only (https://docs.databricks.com/aws/en/tables/constraints);
open-source Delta's catalog refuses it with UNSUPPORTED_FEATURE.TABLE_OPERATION, so that CREATE TABLE
runs as written (and must fail with exactly that), then without this clause (the rest unchanged)."""


def naive(value: datetime) -> datetime:
    """A UTC instant as pyspark returns TIMESTAMP values (naive, in the Python process's zone: UTC here)."""
    return value.astimezone(UTC).replace(tzinfo=None)


def condition(err: BaseException) -> str:
    """The error condition of a Spark exception (PySparkException.getCondition, pyspark 4)."""
    get = getattr(err, "getCondition", None)
    return (get() if callable(get) else None) or ""


class SqlAnsiTest(unittest.TestCase):
    spark = None
    saved_tz: Optional[str] = None
    data: fx.Dataset
    setup_log: Dict[str, List[Tuple[int, str]]] = {}

    @classmethod
    def setUpClass(cls) -> None:
        reason = unavailable()
        if reason:
            raise unittest.SkipTest(reason)
        # pyspark converts naive datetimes in the Python process's zone; results compare as UTC.
        cls.saved_tz = os.environ.get("TZ")
        os.environ["TZ"] = "UTC"
        time.tzset()
        cls.spark = local_spark()
        # py4j leaves the socket of each collect() to the garbage collector; unittest shows each.
        warnings.filterwarnings("ignore", category=ResourceWarning, message="unclosed <socket")
        # One shuffle partition: the dataset is a few hundred rows, and the machine's cores are shared.
        cls.spark.conf.set("spark.sql.shuffle.partitions", "1")
        try:
            cls.data = fx.dataset(datetime.now(UTC))
            cls.setup_log = {schema: cls.run_setup(schema) for schema in (FULL, EMPTY)}
            for schema in (FULL, EMPTY):
                cls.spark.sql(f"USE {CATALOG}.{schema}")
                for table in fx.PIPELINE_TABLES:
                    cls.spark.sql(fx.pipeline_ddl(table))
            cls.spark.sql(f"USE {CATALOG}.{FULL}")
            cls.insert("metrics_gold", [g.row() for g in cls.data.gold])
            cls.insert("anomalies", [s.row() for s in cls.data.scored])
            cls.insert("prices_silver", cls.data.silver)
        except BaseException:
            cls.spark.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.spark is not None:
            cls.spark.stop()
        if cls.saved_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = cls.saved_tz
        time.tzset()

    # -- helpers ------------------------------------------------------------------------------

    @classmethod
    def sql(cls, statement: str, params: Optional[dict] = None):
        """spark.sql with exactly the markers the statement names bound (as the bot's warehouse client
        does). pyspark's spark.sql makes each value a literal with lit() (pyspark/sql/session.py:
        https://spark.apache.org/docs/latest/api/python/reference/pyspark.sql/api/pyspark.sql.SparkSession.sql.html):
        a datetime is a TIMESTAMP (as the driver binds a Date), an int an INT, a str a STRING, and None
        an untyped NULL (VOID), which is what the driver sends for null (src/platform/databricks/warehouse.ts)."""
        params = params or {}
        names = fx.markers(statement)
        missing = [name for name in names if name not in params]
        if missing:
            raise AssertionError(f"no value for the markers {missing} of: {statement[:120]!r}")
        return cls.spark.sql(statement, args={name: params[name] for name in names})

    def run_sql(self, label: str, statement: str, params: Optional[dict] = None) -> Tuple[List[str], list]:
        """Columns and rows of a statement; Spark's error fails the test, named by the statement."""
        try:
            frame = self.sql(statement, params)
            return frame.columns, frame.collect()
        except Exception as err:  # a rejected statement is the finding: fail with Spark's own error
            self.fail(f"Spark rejected {label} with {params!r}: {condition(err) or type(err).__name__}: "
                      f"{str(err).splitlines()[0] if str(err) else err!r}")

    @classmethod
    def insert(cls, table: str, rows: list) -> None:
        from pyspark.sql.types import StructField, StructType

        # Nullable fields for the frame; the table's NOT NULL constraints check the values on write.
        schema = StructType([StructField(f.name, f.dataType) for f in cls.spark.table(table).schema.fields])
        cls.spark.createDataFrame(rows, schema).write.format("delta").mode("append").saveAsTable(table)

    @classmethod
    def run_setup(cls, schema: str) -> List[Tuple[int, str]]:
        """Runs sql/setup.sql statement by statement in this session, as its header says; returns what
        happened to each statement: ran, ran without the primary key, or skipped (SETUP_UNSUPPORTED)."""
        params = {"catalog": CATALOG, "schema": schema, "volume": "landing"}
        log: List[Tuple[int, str]] = []
        for index, statement in enumerate(fx.statements("setup.sql")):
            text = fx.code(statement)
            if text == "EXECUTE IMMEDIATE crm_setup_ddl":
                built = cls.spark.sql("SELECT crm_setup_ddl").first()[0]
                kind = next((k for k in SETUP_UNSUPPORTED if built.startswith(k + " ")), None)
                if kind:
                    log.append((index, f"skipped: {kind}: {built}"))
                    continue
            if PRIMARY_KEY in statement:
                try:
                    cls.sql(statement, params).collect()
                except Exception as err:
                    if condition(err) != "UNSUPPORTED_FEATURE.TABLE_OPERATION" or "table constraint" not in str(err):
                        raise
                else:
                    raise AssertionError("Delta's catalog took the PRIMARY KEY constraint: drop the workaround")
                cls.sql(statement.replace(PRIMARY_KEY, "\n"), params).collect()
                log.append((index, "ran without the primary key"))
                continue
            cls.sql(statement, params).collect()
            log.append((index, "ran"))
        return log

    def use(self, schema: str) -> None:
        self.spark.sql(f"USE {CATALOG}.{schema}")

    def tearDown(self) -> None:
        self.use(FULL)

    # -- the workaround and ANSI mode ---------------------------------------------------------

    def test_session_is_ansi(self) -> None:
        self.assertEqual(self.spark.conf.get("spark.sql.ansi.enabled"), "true")

    def test_parameter_workaround_is_still_needed(self) -> None:
        self.spark.conf.set(PARAMETER_WORKAROUND[0], "false")
        try:
            with self.assertRaises(Exception) as caught:
                self.spark.sql("SELECT :x AS x", args={"x": 1}).collect()
            self.assertEqual(condition(caught.exception), "UNBOUND_SQL_PARAMETER")
        finally:
            self.spark.conf.set(*PARAMETER_WORKAROUND)
        self.assertEqual(self.spark.sql("SELECT :x AS x", args={"x": 1}).first().x, 1)

    def test_ansi_rejects_an_empty_string_cursor_even_behind_a_null_guard(self) -> None:
        """Issue 10: CAST('' AS TIMESTAMP) raises CAST_INVALID_INPUT under ANSI
        (https://docs.databricks.com/sql/language-manual/functions/cast.html) while Spark plans the
        query (constant folding), so a `:cursor IS NULL OR` guard that is true does not save it; nor
        does the old sentinel form `:cursor = '' OR ... CAST(:cursor AS TIMESTAMP)`."""
        guarded = ("SELECT count(*) AS n FROM anomalies AS a "
                   "WHERE :cursor IS NULL OR a.scored_at > CAST('' AS TIMESTAMP)")
        sentinel = ("SELECT count(*) AS n FROM anomalies AS a "
                    "WHERE :cursor = '' OR a.scored_at > CAST(:cursor AS TIMESTAMP)")
        for schema, statement, cursor in ((FULL, guarded, None), (EMPTY, guarded, None), (FULL, sentinel, "")):
            self.use(schema)
            with self.subTest(schema=schema, statement=statement):
                with self.assertRaises(Exception) as caught:
                    self.sql(statement, {"cursor": cursor}).collect()
                self.assertEqual(condition(caught.exception), "CAST_INVALID_INPUT")
        self.use(FULL)
        # The shipped form with a NULL cursor is valid on the same tables.
        _, rows = self.run_sql("scored_since", fx.query("scored_since"), {"cursor": None, "limit": 1})
        self.assertEqual(len(rows), 1)

    # -- sql/setup.sql ------------------------------------------------------------------------

    def test_setup_runs_every_statement_spark_has(self) -> None:
        statements = fx.statements("setup.sql")
        for schema, log in self.setup_log.items():
            with self.subTest(schema=schema):
                self.assertEqual([i for i, _ in log], list(range(len(statements))))
                skipped = [(i, what) for i, what in log if what.startswith("skipped")]
                # Exactly one: the EXECUTE IMMEDIATE of the CREATE VOLUME the variable holds.
                self.assertEqual(len(skipped), 1, log)
                self.assertEqual(skipped[0][1], "skipped: CREATE VOLUME: CREATE VOLUME IF NOT EXISTS "
                                 f"`{CATALOG}`.`{schema}`.`landing` COMMENT 'Landing JSONL batches: "
                                 "landing/date=YYYY-MM-DD/hour=HH/<batch>.jsonl, one file per ingest batch'")
                self.assertEqual([what for _, what in log].count("ran without the primary key"), 1)
        comment = self.spark.sql(f"DESCRIBE SCHEMA EXTENDED {CATALOG}.{FULL}").collect()
        self.assertIn("crypto-risk-monitor: CoinGecko prices", " ".join(str(r) for r in comment))

    def test_skipped_setup_statements_are_what_spark_rejects(self) -> None:
        with self.assertRaises(Exception) as caught:
            self.spark.sql(f"CREATE VOLUME IF NOT EXISTS `{CATALOG}`.`{FULL}`.`landing`").collect()
        self.assertEqual(condition(caught.exception), "PARSE_SYNTAX_ERROR")

    def test_setup_anomalies_table_has_the_contract_columns(self) -> None:
        from crypto_risk.scoring import ANOMALIES_COLUMNS

        for schema in (FULL, EMPTY):
            fields = self.spark.table(f"{CATALOG}.{schema}.anomalies").schema.fields
            self.assertEqual(
                [(f.name, f.dataType.simpleString().upper() + ("" if f.nullable else " NOT NULL"),
                  f.metadata.get("comment")) for f in fields],
                list(ANOMALIES_COLUMNS),
            )

    def test_pipeline_tables_match_the_local_engine(self) -> None:
        self.assertEqual(self.spark.table("metrics_gold").columns, fx.local_columns("metrics_gold"))
        silver = self.spark.table("prices_silver").columns
        self.assertEqual([c for c in silver if c != "source_file"], fx.local_columns("prices_silver"))

    def test_setup_is_idempotent(self) -> None:
        before = self.spark.table("anomalies").count()
        log = self.run_setup(FULL)
        self.assertEqual(len(log), len(self.setup_log[FULL]))
        self.assertEqual(self.spark.table("anomalies").count(), before)

    # -- sql/queries --------------------------------------------------------------------------

    def empty(self, label: str, statement: str, params: Optional[dict] = None) -> List[str]:
        """Runs the statement on the empty tables and asserts it returns no row; its columns."""
        self.use(EMPTY)
        try:
            columns, rows = self.run_sql(f"{label} (empty tables)", statement, params)
        finally:
            self.use(FULL)
        self.assertEqual(rows, [], label)
        return columns

    def test_assets(self) -> None:
        statement = fx.query("assets")
        columns, rows = self.run_sql("assets", statement)
        self.assertEqual(columns, ["asset"])
        self.assertEqual([r.asset for r in rows], sorted(a for a, *_ in fx.ASSETS))
        self.assertEqual(self.empty("assets", statement), ["asset"])

    def test_anomalies_since(self) -> None:
        statement = fx.query("anomalies_since")
        base = self.data.base
        for label, since in (("a day", base - timedelta(days=1)), ("a week", base - timedelta(days=7)),
                             ("after the last window", base)):
            with self.subTest(label):
                columns, rows = self.run_sql(f"anomalies_since {label}", statement, {"since": since})
                self.assertEqual(columns, ["n"])
                expected = [s for s in self.data.scored if s.is_anomaly and naive(s.window_end) > naive(since)]
                self.assertEqual(rows[0].n, len(expected))
        self.use(EMPTY)
        try:
            _, rows = self.run_sql("anomalies_since (empty tables)", statement, {"since": base})
        finally:
            self.use(FULL)
        self.assertEqual(rows[0].n, 0)

    def test_freshness(self) -> None:
        statement = fx.query("freshness")
        columns, rows = self.run_sql("freshness", statement)
        self.assertEqual(columns, ["stage", "rows", "latest"])
        d = self.data
        self.assertEqual(
            [tuple(r) for r in rows],
            [("silver", len(d.silver), naive(max(s[5] for s in d.silver))),
             ("gold", len(d.gold), naive(d.base)),
             ("anomalies", len(d.scored), naive(max(s.window_end for s in d.scored)))],
        )
        self.use(EMPTY)
        _, rows = self.run_sql("freshness (empty tables)", statement)
        self.assertEqual([tuple(r) for r in rows], [("silver", 0, None), ("gold", 0, None), ("anomalies", 0, None)])

    def test_price_series(self) -> None:
        statement = fx.query("price_series")
        columns = ["window_end", "price_avg", "symbol", "source", "is_anomaly", "anomaly_score", "reasons"]
        base = self.data.base
        scores = {(s.asset, s.window_end): s for s in self.data.scored}
        since, until = base - timedelta(hours=1), base
        for asset, source in (("bitcoin", "coingecko"), ("solana", "simulator")):
            with self.subTest(asset=asset):
                got_columns, rows = self.run_sql("price_series", statement,
                                                 {"asset": asset, "since": since, "until": until})
                self.assertEqual(got_columns, columns)
                expected = sorted(g.window_end for g in self.data.gold
                                  if g.asset == asset and since < g.window_end <= until)
                self.assertEqual(len(expected), 12)  # (since, until]: the hour's 12 windows, since excluded
                self.assertEqual([r.window_end for r in rows], [naive(end) for end in expected])
                self.assertEqual({r.source for r in rows}, {source})
                for r in rows:
                    s = scores.get((asset, r.window_end.replace(tzinfo=UTC)))
                    self.assertEqual(r.is_anomaly, bool(s and s.is_anomaly))
                    self.assertEqual(r.anomaly_score, s.anomaly_score if s else None)  # unscored: NULL
                    self.assertEqual(r.reasons, s.reasons if s else None)
        # Edge values: an empty range, a range after everything, an unknown asset, reversed bounds,
        # NULL bounds (never sent, but not an error under ANSI), and empty tables.
        for label, params in (
            ("since = until", {"asset": "bitcoin", "since": base, "until": base}),
            ("after everything", {"asset": "bitcoin", "since": base, "until": base + timedelta(days=1)}),
            ("unknown asset", {"asset": "no-such-coin", "since": base - timedelta(days=30), "until": base}),
            ("NULL bounds", {"asset": "bitcoin", "since": None, "until": None}),
        ):
            with self.subTest(label):
                _, rows = self.run_sql(f"price_series {label}", statement, params)
                self.assertEqual(rows, [])
        self.assertEqual(self.empty("price_series", statement, {"asset": "bitcoin", "since": since, "until": until}),
                         columns)

    def scored_order(self, rows: List[fx.Scored]) -> List[fx.Scored]:
        return sorted(rows, key=lambda s: (s.scored_at, s.asset, s.window_end))

    def test_scored_since(self) -> None:
        statement = fx.query("scored_since")
        columns = ["asset", "symbol", "window_end", "price_avg", "ret_window", "anomaly_score", "is_anomaly",
                   "model_version", "scored_at", "simulated", "reasons", "data_issue"]
        everything = self.scored_order(self.data.scored)
        latest = everything[-1].scored_at
        middle = everything[len(everything) // 2].scored_at
        big = len(everything) + 10
        for label, cursor, limit, expected in (
            ("first run (NULL cursor)", None, big, everything),
            ("first run, limited", None, 25, everything[:25]),
            ("a cursor in the middle", middle, big, [s for s in everything if s.scored_at > middle]),
            ("the latest scored_at", latest, big, []),
            ("a cursor after everything", latest + timedelta(days=365), big, []),
            ("limit 0", None, 0, []),
        ):
            with self.subTest(label):
                got_columns, rows = self.run_sql(f"scored_since {label}", statement, {"cursor": cursor, "limit": limit})
                self.assertEqual(got_columns, columns)
                self.assertEqual([(r.asset, r.window_end, r.scored_at) for r in rows],
                                 [(s.asset, naive(s.window_end), naive(s.scored_at)) for s in expected])
                for r, s in zip(rows, expected):
                    self.assertIs(r.is_anomaly, bool(s.is_anomaly))
                    self.assertIs(r.simulated, "simulator" in s.source)
                    self.assertEqual((r.model_version, r.anomaly_score), (s.model_version, s.anomaly_score))
                    self.assertEqual((r.reasons, r.data_issue), (s.reasons, s.data_issue))
        self.assertEqual(self.empty("scored_since", statement, {"cursor": None, "limit": 100}), columns)
        self.empty("scored_since", statement, {"cursor": latest, "limit": 100})

    def leaderboard(self, since: datetime, until: datetime, asset: Optional[str]) -> List[tuple]:
        """What top_leaderboard.sql returns, from the dataset."""
        out = []
        for name in sorted({s.asset for s in self.data.scored_between(since, until, asset)}):
            rows = self.data.scored_between(since, until, name)
            flagged = [s for s in rows if s.is_anomaly]
            out.append((
                name,
                max(rows, key=lambda s: s.window_end).symbol,
                len(flagged),
                len(rows),
                sum(s.anomaly_score for s in flagged) / len(flagged) if flagged else None,
                naive(max(s.window_end for s in flagged)) if flagged else None,
                any("simulator" in s.source for s in rows),
            ))
        return sorted(out, key=lambda r: (-r[2], math.inf if r[4] is None else r[4], r[0]))

    def test_top_leaderboard(self) -> None:
        statement = fx.query("top_leaderboard")
        columns = ["asset", "symbol", "anomalies", "windows_scored", "mean_score", "last_event", "simulated"]
        base = self.data.base
        day = (base - timedelta(days=1), base)
        for label, since, until, asset, count in (
            ("a day, all assets (NULL asset)", *day, None, 3),
            ("a day, one asset", *day, "ethereum", 1),
            ("ten days, bitcoin with its old windows", base - timedelta(days=10), base, "bitcoin", 1),
            ("an unknown asset", *day, "no-such-coin", 0),
            ("after everything", base + WINDOW, base + timedelta(days=1), None, 0),
        ):
            with self.subTest(label):
                got_columns, rows = self.run_sql(f"top_leaderboard {label}", statement,
                                                 {"since": since, "until": until, "asset": asset})
                self.assertEqual(got_columns, columns)
                self.assertEqual(len(rows), count)
                expected = self.leaderboard(since, until, asset)
                self.assertEqual([tuple(r)[:4] + tuple(r)[5:] for r in rows], [e[:4] + e[5:] for e in expected])
                for r, e in zip(rows, expected):
                    if e[4] is None:
                        self.assertIsNone(r.mean_score)
                    else:
                        self.assertAlmostEqual(r.mean_score, e[4], places=9)
        self.assertEqual(self.empty("top_leaderboard", statement, {"since": day[0], "until": day[1], "asset": None}),
                         columns)

    def test_top_windows(self) -> None:
        statement = fx.query("top_windows")
        columns = ["asset", "symbol", "window_end", "price_avg", "ret_window", "anomaly_score", "model_version",
                   "simulated", "reasons", "data_issue"]
        base = self.data.base
        day = (base - timedelta(days=1), base)

        def expected(since: datetime, until: datetime, asset: Optional[str], limit: int) -> List[tuple]:
            flagged = [s for s in self.data.scored_between(since, until, asset) if s.is_anomaly]
            flagged.sort(key=lambda s: (s.anomaly_score, -s.window_end.timestamp(), s.asset))
            return [(s.asset, naive(s.window_end), s.anomaly_score, "simulator" in s.source, s.reasons, s.data_issue)
                    for s in flagged[:limit]]

        for label, since, until, asset, limit in (
            ("a day, all assets, top 5", *day, None, 5),
            ("a day, solana", *day, "solana", 10),
            ("ten days, bitcoin", base - timedelta(days=10), base, "bitcoin", 1000),
            ("limit 0", *day, None, 0),
            ("an unknown asset", *day, "no-such-coin", 10),
            ("after everything", base + WINDOW, base + timedelta(days=1), None, 10),
        ):
            with self.subTest(label):
                got_columns, rows = self.run_sql(f"top_windows {label}", statement,
                                                 {"since": since, "until": until, "asset": asset, "limit": limit})
                self.assertEqual(got_columns, columns)
                want = expected(since, until, asset, limit)
                self.assertEqual([(r.asset, r.window_end, r.anomaly_score, r.simulated, r.reasons, r.data_issue)
                                  for r in rows], want)
                if label.startswith("a day, all assets, top"):
                    self.assertEqual(len(rows), 5)
        self.assertEqual(self.empty("top_windows", statement, {"since": day[0], "until": day[1], "asset": None,
                                                                "limit": 10}), columns)

    # -- sql/dashboard.sql --------------------------------------------------------------------

    def dashboard(self, name: str, schema: str = FULL, **params) -> Tuple[List[str], list, datetime, datetime]:
        """A dashboard query on ``schema`` (by :catalog/:schema, as the dashboard binds them), with the
        instants before and after it ran: its periods end at current_timestamp()."""
        statement = fx.dashboard_queries()[name]
        before = datetime.now(UTC)
        columns, rows = self.run_sql(f"dashboard {name}", statement, {"catalog": CATALOG, "schema": schema, **params})
        return columns, rows, before, datetime.now(UTC)

    def test_dashboard_has_its_five_queries(self) -> None:
        self.assertEqual(list(fx.dashboard_queries()), ["recent_anomalies", "price_with_anomaly_markers",
                                                        "leaderboard_24h", "anomaly_rate", "score_distribution"])

    def test_dashboard_recent_anomalies(self) -> None:
        columns, rows, before, after = self.dashboard("recent_anomalies")
        self.assertEqual(columns, ["asset", "symbol", "window_end", "window_end_utc", "price_avg", "ret_prev",
                                   "ret_window", "vol_sum", "anomaly_score", "reasons", "data_issue", "model_version",
                                   "scored_at"])
        week = [s for s in self.data.scored if s.is_anomaly and s.window_end > after - timedelta(days=7)]
        week.sort(key=lambda s: (-s.window_end.timestamp(), s.anomaly_score, s.asset))
        self.assertLess(len(week), 200)  # the LIMIT does not cut this dataset
        self.assertEqual([(r.asset, r.window_end) for r in rows], [(s.asset, naive(s.window_end)) for s in week])
        self.assertIn(naive(self.data.base - fx.OLD_AGES[0]), [r.window_end for r in rows])  # 3 days old: in
        self.assertNotIn(naive(self.data.base - fx.OLD_AGES[1]), [r.window_end for r in rows])  # 8 days: out
        for r in rows:
            self.assertEqual(r.window_end_utc, r.window_end.strftime("%Y-%m-%d %H:%M") + " UTC")
        self.assertEqual(self.dashboard("recent_anomalies", EMPTY)[1], [])

    def test_dashboard_price_with_anomaly_markers(self) -> None:
        columns = ["window_end", "price_avg", "price_min", "price_max", "ticks", "is_anomaly", "anomaly_marker",
                   "reasons", "anomaly_score", "model_version"]
        scores = {(s.asset, naive(s.window_end)): s for s in self.data.scored}

        def windows(asset: str, hours: int, now: datetime) -> int:
            return sum(1 for g in self.data.gold if g.asset == asset and g.window_end > now - timedelta(hours=hours))

        # :hours from a widget: a number, its text, text that is not a number, NULL, zero.
        for hours, asset, expected_hours in ((24, "bitcoin", 24), ("24", "solana", 24), (1, "ethereum", 1),
                                             ("abc", "bitcoin", None), (None, "bitcoin", None), (0, "bitcoin", None),
                                             (24, "no-such-coin", None)):
            with self.subTest(hours=hours, asset=asset):
                got_columns, rows, before, after = self.dashboard("price_with_anomaly_markers", asset=asset,
                                                                  hours=hours)
                self.assertEqual(got_columns, columns)
                if expected_hours is None:
                    self.assertEqual(rows, [])
                    continue
                self.assertGreaterEqual(len(rows), windows(asset, expected_hours, after))
                self.assertLessEqual(len(rows), windows(asset, expected_hours, before))
                self.assertGreater(len(rows), 0)
                if expected_hours == 24:
                    self.assertEqual(len(rows), fx.DAY_WINDOWS)  # the day, and not the older windows
                for r in rows:
                    s = scores.get((asset, r.window_end))
                    flagged = bool(s and s.is_anomaly)
                    self.assertEqual(r.is_anomaly, 1 if flagged else 0)
                    self.assertEqual(r.anomaly_marker, r.price_avg if flagged else None)
                    self.assertEqual(r.reasons, s.reasons if flagged else None)
                    self.assertEqual(r.model_version, s.model_version if s else None)
        self.assertEqual(self.dashboard("price_with_anomaly_markers", EMPTY, asset="bitcoin", hours=24)[1], [])

    def test_dashboard_leaderboard_24h(self) -> None:
        columns, rows, before, after = self.dashboard("leaderboard_24h")
        self.assertEqual(columns, ["asset", "symbol", "anomalies", "windows_scored", "anomaly_rate", "worst_score",
                                   "worst_window_end", "last_anomaly"])
        expected = []
        for asset, symbol, *_ in fx.ASSETS:
            day = [s for s in self.data.scored if s.asset == asset and s.window_end > after - timedelta(hours=24)]
            flagged = [s for s in day if s.is_anomaly]
            worst = min(day, key=lambda s: s.anomaly_score)
            expected.append((asset, symbol, len(flagged), len(day), len(flagged) / len(day), worst.anomaly_score,
                             naive(worst.window_end), naive(max(s.window_end for s in flagged))))
        expected.sort(key=lambda e: (-e[4], -e[2], e[0]))
        self.assertEqual([tuple(r) for r in rows], expected)
        self.assertEqual(self.dashboard("leaderboard_24h", EMPTY)[1], [])

    def test_dashboard_anomaly_rate(self) -> None:
        columns = ["asset", "hour_start", "hour_start_utc", "windows_scored", "anomalies", "anomaly_rate", "complete"]
        for hours in (24,):
            with self.subTest(hours=hours):
                got_columns, rows, before, after = self.dashboard("anomaly_rate", hours=hours)
                self.assertEqual(got_columns, columns)
                buckets: Dict[Tuple[datetime, str], List[fx.Scored]] = {}
                for s in self.data.scored:
                    if s.window_end > after - timedelta(hours=24):
                        start = s.window_end - fx.WINDOW
                        hour = start.replace(minute=0, second=0, microsecond=0)
                        buckets.setdefault((hour, s.asset), []).append(s)
                expected = []
                for (hour, asset), scored in sorted(buckets.items()):
                    flagged = sum(s.is_anomaly for s in scored)
                    expected.append((asset, naive(hour), hour.strftime("%Y-%m-%d %H:00 UTC"), len(scored), flagged,
                                     flagged / len(scored), len(scored) == 12))
                self.assertEqual([tuple(r) for r in rows], expected)
                self.assertTrue(any(r.complete for r in rows) and not all(r.complete for r in rows))
        for hours in ("abc", None):
            with self.subTest(hours=hours):
                self.assertEqual(self.dashboard("anomaly_rate", hours=hours)[1], [])
        self.assertEqual(self.dashboard("anomaly_rate", EMPTY, hours=24)[1], [])

    def test_dashboard_score_distribution(self) -> None:
        columns, rows, before, after = self.dashboard("score_distribution", hours=24)
        self.assertEqual(columns, ["model_version", "score_bin", "windows", "flagged"])
        counts: Dict[Tuple[int, int], List[int]] = {}
        for s in self.data.scored:
            if s.window_end > after - timedelta(hours=24):
                n = counts.setdefault((s.model_version, math.floor(s.anomaly_score / 0.02)), [0, 0])
                n[0] += 1
                n[1] += s.is_anomaly
        self.assertEqual([(r.model_version, round(float(r.score_bin) / 0.02), r.windows, r.flagged) for r in rows],
                         [(v, b, n, f) for (v, b), (n, f) in sorted(counts.items())])
        for r in rows:  # an edge at 0: a bin is all flagged or none
            self.assertEqual(r.flagged, r.windows if r.score_bin < 0 else 0)
        for hours in ("abc", 0):
            with self.subTest(hours=hours):
                self.assertEqual(self.dashboard("score_distribution", hours=hours)[1], [])
        self.assertEqual(self.dashboard("score_distribution", EMPTY, hours=24)[1], [])

    def labelled(self) -> list:
        """Labels of three scored windows (two people, two model versions) and of a window never scored."""
        scored = sorted(self.data.scored, key=lambda s: (s.asset, s.window_end))[:3]
        at = self.data.base + timedelta(minutes=1)
        rows = [(s.asset, naive(s.window_end), user, value, s.model_version, naive(at), "labels/x.jsonl")
                for s, (user, value) in zip(scored + scored[:1], (("U1", "real"), ("U1", "noise"), ("U2", "real"),
                                                                  ("U2", "noise")))]
        rows.append(("bitcoin", naive(self.data.base + timedelta(days=1)), "U1", "real", 99, naive(at), "x"))
        if self.spark.table("labels").count() == 0:
            self.insert("labels", rows)
        return rows

    def test_label_counts(self) -> None:
        statement = fx.query("label_counts")
        rows = self.labelled()
        first = rows[0]
        params = {"assets": f"{first[0]},nothing", "since": first[1], "until": first[1]}
        columns, got = self.run_sql("label_counts", statement, params)
        self.assertEqual(columns, ["asset", "window_end", "labeller", "label", "labelled_at"])
        self.assertEqual(sorted((r.labeller, r.label) for r in got),
                         sorted((r[2], r[3]) for r in rows if r[0] == first[0] and r[1] == first[1]))
        self.assertEqual(self.run_sql("label_counts none", statement, {**params, "assets": "nothing"})[1], [])
        self.assertEqual(self.empty("label_counts", statement, params), columns)

    def test_label_precision(self) -> None:
        statement = fx.query("label_precision")
        rows = self.labelled()
        columns, got = self.run_sql("label_precision", statement)
        self.assertEqual(columns, ["model_version", "windows", "real_labels", "noise_labels"])
        expected: Dict[int, list] = {}
        for asset, end, _, value, version, *_ in rows[:4]:  # the last label's window is not scored
            n = expected.setdefault(version, [set(), 0, 0])
            n[0].add((asset, end))
            n[1 if value == "real" else 2] += 1
        self.assertEqual([(r.model_version, r.windows, r.real_labels, r.noise_labels) for r in got],
                         [(v, len(w), real, noise) for v, (w, real, noise) in sorted(expected.items(), reverse=True)])
        self.assertEqual(self.empty("label_precision", statement), columns)

    def test_every_statement_is_covered(self) -> None:
        """Every query file and dashboard query has its test here (a new one needs one)."""
        queries = sorted(p.stem for p in (fx.SQL / "queries").glob("*.sql"))
        self.assertEqual(queries, sorted(n[len("test_"):] for n in dir(self)
                                         if n.startswith("test_") and n[len("test_"):] in queries))
        for name in fx.dashboard_queries():
            self.assertTrue(hasattr(self, f"test_dashboard_{name}"), name)


WINDOW = fx.WINDOW

if __name__ == "__main__":
    unittest.main()
