"""The steps of crypto_risk.migrations without Spark: what they send to ``spark.sql`` (a stand-in that
records statements and answers like an empty schema). databricks/spark/test_migrations.py runs them on
a real Spark with Delta.

Run from the repository root: /usr/bin/python3 -B -m unittest discover -s databricks/tests
"""

from __future__ import annotations

import unittest

from fixtures import NOTEBOOKS  # also puts databricks/lib on sys.path

from crypto_risk.migrations import STEPS, SchemaVersionError, Step, check_steps, migrate
from crypto_risk.scoring import ANOMALIES_COLUMNS, anomalies_ddl


def table(name: str) -> str:
    return f"main.risk.{name}"


class _Catalog:
    def __init__(self, tables: set) -> None:
        self.tables = tables

    def tableExists(self, name: str) -> bool:
        return name in self.tables


class _Result:
    def __init__(self, rows: list) -> None:
        self.rows = rows

    def collect(self) -> list:
        return self.rows


class _Frame:
    def __init__(self, columns: list) -> None:
        self.columns = columns


class RecordingSpark:
    """Records the statements; refuses table constraints when told to, as open-source Delta does."""

    def __init__(self, versions: list = (), refuse_constraints: bool = False, columns: tuple = ()) -> None:
        self.statements: list = []
        self.versions = list(versions)
        self.refuse_constraints = refuse_constraints
        self.catalog = _Catalog({table("schema_version")} if versions else set())
        self.columns = list(columns) or [name for name, _, _ in ANOMALIES_COLUMNS]
        """The anomalies table's columns (all of them unless a test names an earlier release's)."""

    def table(self, name: str) -> "_Frame":
        return _Frame(self.columns)

    def sql(self, text: str) -> _Result:
        if self.refuse_constraints and "CONSTRAINT" in text:
            raise RuntimeError("[UNSUPPORTED_FEATURE.TABLE_OPERATION] Table `anomalies` does not support "
                               "table constraint.")
        self.statements.append(text)
        if text.startswith("SELECT version, name"):
            return _Result([{"version": v, "name": n} for v, n in self.versions])
        return _Result([])


class MigrationStepsTest(unittest.TestCase):
    def test_step_1_is_the_anomalies_table_the_notebooks_created(self) -> None:
        self.assertIn("from crypto_risk.migrations import migrate\n", (NOTEBOOKS / "04_infer_iforest.py").read_text())
        self.assertEqual([(s.version, s.name) for s in STEPS][:1], [(1, "anomalies")])
        spark = RecordingSpark()
        self.assertEqual(migrate(spark, table), [s.version for s in STEPS])
        self.assertIn(anomalies_ddl("main.risk.anomalies"), spark.statements)
        self.assertTrue(spark.statements[0].startswith("CREATE TABLE IF NOT EXISTS main.risk.schema_version ("))
        self.assertIn("INSERT INTO main.risk.schema_version (version, name, applied_at) "
                      "VALUES (1, 'anomalies', current_timestamp())", spark.statements)

    def test_without_the_key_only_where_the_catalog_refuses_constraints(self) -> None:
        spark = RecordingSpark(refuse_constraints=True)
        migrate(spark, table)
        self.assertIn(anomalies_ddl("main.risk.anomalies", primary_key=False), spark.statements)

        class Denied(RecordingSpark):
            def sql(self, text: str) -> _Result:
                if "anomalies (" in text:
                    raise RuntimeError("[PERMISSION_DENIED] no CREATE TABLE on schema")
                return super().sql(text)

        denied = Denied()
        with self.assertRaisesRegex(RuntimeError, "PERMISSION_DENIED"):
            migrate(denied, table)
        self.assertFalse(any(s.startswith("INSERT") for s in denied.statements), "no version row for a failed step")

    def test_recorded_versions(self) -> None:
        latest = [(s.version, s.name) for s in STEPS]
        spark = RecordingSpark(versions=latest)
        self.assertEqual(migrate(spark, table), [])
        self.assertEqual([s for s in spark.statements if not s.startswith("SELECT")], [])
        newer = RecordingSpark(versions=latest + [(len(STEPS) + 1, "from_the_future")])
        with self.assertRaisesRegex(SchemaVersionError, rf"schema version {len(STEPS) + 1} \(from_the_future\), newer than"):
            migrate(newer, table)
        self.assertTrue(all(s.startswith("SELECT") for s in newer.statements))
        other = RecordingSpark(versions=[(1, "something_else")])
        with self.assertRaisesRegex(SchemaVersionError, "another build"):
            migrate(other, table)

    def test_step_2_adds_reasons_and_data_issue_to_an_earlier_table(self) -> None:
        self.assertEqual([(s.version, s.name) for s in STEPS][1:2], [(2, "anomaly_reasons")])
        earlier = [name for name, _, _ in ANOMALIES_COLUMNS if name not in ("reasons", "data_issue")]
        spark = RecordingSpark(versions=[(1, "anomalies")], columns=tuple(earlier))
        self.assertEqual(migrate(spark, table), [s.version for s in STEPS[1:]])
        alter = [s for s in spark.statements if s.startswith("ALTER TABLE")]
        self.assertEqual(alter, [
            "ALTER TABLE main.risk.anomalies ADD COLUMNS ("
            "reasons STRING COMMENT 'why the window is unusual: JSON array of reasons, most telling first', "
            "data_issue STRING COMMENT 'gap or frozen: a data problem next to the window, not a market anomaly')"])
        # half done before (one column there): only the other is added; all there: nothing
        half = RecordingSpark(versions=[(1, "anomalies")], columns=tuple(earlier + ["reasons"]))
        migrate(half, table)
        self.assertEqual([s for s in half.statements if s.startswith("ALTER")],
                         ["ALTER TABLE main.risk.anomalies ADD COLUMNS (data_issue STRING COMMENT "
                          "'gap or frozen: a data problem next to the window, not a market anomaly')"])
        done = RecordingSpark(versions=[(1, "anomalies")])
        migrate(done, table)
        self.assertFalse(any(s.startswith("ALTER") for s in done.statements))

    def test_steps_are_numbered_without_gaps(self) -> None:
        check_steps(STEPS)
        with self.assertRaises(ValueError):
            check_steps([Step(2, "two", lambda s, t: None)])
        with self.assertRaises(ValueError):
            check_steps([Step(1, "Bad Name", lambda s, t: None)])


if __name__ == "__main__":
    unittest.main()
