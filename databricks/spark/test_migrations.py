"""The Delta tables' migrations (databricks/lib/crypto_risk/migrations.py) on a local Spark with Delta
Lake: on an empty schema every step runs; a schema made by the notebooks before the versioning (the
anomalies table there, no schema_version) is recognised as version 1; a later step brings version 1
to the latest with the rows kept; a second run changes nothing; a schema at a version the code does
not know is refused, and nothing changes.

Run from databricks/spark: ../../.venv-spark/bin/python -B -m unittest -v test_migrations
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import unittest
from pathlib import Path

import session

REASON = session.unavailable()
LIB = Path(__file__).resolve().parent.parent / "lib"
if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))

from crypto_risk import ANOMALIES_COLUMNS, anomalies_ddl, constraints_unsupported
from crypto_risk.migrations import STEPS, SchemaVersionError, Step, migrate

ROW = ("'bitcoin', 'btc', TIMESTAMP '2025-03-03 00:05:00', 60000.0, 12.5, 0.002, 1e6, NULL, -0.1, 1, 1, "
       "TIMESTAMP '2025-03-03 00:11:00'")


def namer(schema: str):
    return lambda name: f"{session.CATALOG}.{schema}.{name}"


def _add_note(spark, table) -> None:
    """A later step as a real one would be written: a column added only when missing."""
    names = [field.name for field in spark.table(table("anomalies")).schema.fields]
    if "note" not in names:
        spark.sql(f"ALTER TABLE {table('anomalies')} ADD COLUMNS (note STRING)")


LATER = tuple(STEPS) + (Step(len(STEPS) + 1, "anomalies_note", _add_note),)


@unittest.skipIf(REASON, REASON or "")
class DeltaMigrationsTest(unittest.TestCase):
    spark = None
    work = ""

    @classmethod
    def setUpClass(cls) -> None:
        cls.work = tempfile.mkdtemp(prefix="crm-migrations-")
        cls.spark = session.local_spark(cls.work)
        cls.spark.conf.set("spark.databricks.delta.snapshotPartitions", "1")

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.spark is not None:
            cls.spark.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def schema(self, name: str):
        self.spark.sql(f"DROP SCHEMA IF EXISTS {session.CATALOG}.{name} CASCADE")
        self.spark.sql(f"CREATE SCHEMA {session.CATALOG}.{name}")
        return namer(name)

    def versions(self, table) -> list:
        rows = self.spark.sql(f"SELECT version, name, applied_at FROM {table('schema_version')} ORDER BY version")
        return [(r["version"], r["name"], r["applied_at"]) for r in rows.collect()]

    def history(self, table, name: str) -> int:
        """The Delta table's latest commit version (a change adds one)."""
        return self.spark.sql(f"DESCRIBE HISTORY {table(name)}").agg({"version": "max"}).collect()[0][0]

    def insert_row(self, table) -> None:
        self.spark.sql(f"INSERT INTO {table('anomalies')} VALUES ({ROW})")

    def test_an_empty_schema_gets_every_step(self) -> None:
        table = self.schema("mig_empty")
        self.assertEqual(migrate(self.spark, table), [s.version for s in STEPS])
        columns = [f.name for f in self.spark.table(table("anomalies")).schema.fields]
        self.assertEqual(columns, [name for name, _, _ in ANOMALIES_COLUMNS])
        self.assertEqual([(v, n) for v, n, _ in self.versions(table)], [(s.version, s.name) for s in STEPS])
        # a second run is a no-op: no step, no commit to either table
        before = (self.versions(table), self.history(table, "anomalies"), self.history(table, "schema_version"))
        self.assertEqual(migrate(self.spark, table), [])
        after = (self.versions(table), self.history(table, "anomalies"), self.history(table, "schema_version"))
        self.assertEqual(after, before)

    def test_a_schema_made_before_the_versioning_is_version_1(self) -> None:
        table = self.schema("mig_legacy")
        # what 04_infer_iforest ran before the migrations (the columns before reasons and data_issue)
        before = ANOMALIES_COLUMNS[:12]
        try:
            self.spark.sql(anomalies_ddl(table("anomalies"), columns=before))
        except Exception as err:
            if not constraints_unsupported(err):
                raise
            self.spark.sql(anomalies_ddl(table("anomalies"), primary_key=False, columns=before))
        self.insert_row(table)
        commits = self.history(table, "anomalies")

        self.assertEqual(migrate(self.spark, table, STEPS[:1]), [1])

        self.assertEqual([(v, n) for v, n, _ in self.versions(table)], [(1, "anomalies")])
        self.assertEqual(self.history(table, "anomalies"), commits, "step 1 changed nothing")
        self.assertEqual(self.spark.table(table("anomalies")).count(), 1)
        # and the later steps bring it from version 1 to the latest, the row kept
        self.assertEqual(migrate(self.spark, table, LATER), [s.version for s in LATER[1:]])
        rows = self.spark.table(table("anomalies")).collect()
        self.assertEqual([(r["asset"], r["anomaly_score"], r["reasons"], r["note"]) for r in rows],
                         [("bitcoin", -0.1, None, None)])
        self.assertEqual([(v, n) for v, n, _ in self.versions(table)], [(s.version, s.name) for s in LATER])
        self.assertEqual(migrate(self.spark, table, LATER), [])

    def test_a_schema_newer_than_the_code_is_refused_unchanged(self) -> None:
        table = self.schema("mig_newer")
        migrate(self.spark, table, LATER)
        before = (self.versions(table), self.history(table, "anomalies"), self.history(table, "schema_version"))
        with self.assertRaises(SchemaVersionError) as refused:
            migrate(self.spark, table)
        self.assertIn(f"records schema version {len(LATER)} (anomalies_note), newer than this release of the notebooks "
                      f"knows (version {len(STEPS)})", str(refused.exception))
        self.assertIn("Nothing was changed.", str(refused.exception))
        after = (self.versions(table), self.history(table, "anomalies"), self.history(table, "schema_version"))
        self.assertEqual(after, before)


if __name__ == "__main__":
    unittest.main()
