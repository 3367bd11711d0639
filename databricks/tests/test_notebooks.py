"""Static checks of the notebooks (they cannot run here: no Spark, dlt or MLflow): the Databricks
source format, the helper names they import, the parameters they read, and no hard-coded names; and
of the Databricks SQL files (sql/setup.sql, sql/dashboard.sql): parameters, not pasted names.

Run from the repository root: /usr/bin/python3 -B -m unittest discover -s databricks/tests
"""

from __future__ import annotations

import ast
import re
import unittest

from fixtures import NOTEBOOKS, ROOT

import crypto_risk
from crypto_risk import PARAMETER_DEFAULTS as DEFAULTS

HEADER = "# Databricks notebook source\n"
SEPARATOR = "\n\n# COMMAND ----------\n\n"
NAMES = ("01_ingest_prices", "02_dlt_pipeline", "03_train_iforest", "04_infer_iforest")


def source(name: str) -> str:
    return (NOTEBOOKS / f"{name}.py").read_text(encoding="utf8")


class NotebookFormatTest(unittest.TestCase):
    def test_the_four_notebooks_are_databricks_source(self) -> None:
        self.assertEqual(sorted(p.stem for p in NOTEBOOKS.glob("*.py")), sorted(NAMES))
        for name in NAMES:
            with self.subTest(name):
                text = source(name)
                self.assertTrue(text.startswith(HEADER))
                cells = text[len(HEADER):].split(SEPARATOR)
                self.assertGreaterEqual(len(cells), 3)
                self.assertTrue(cells[0].startswith("# MAGIC %md\n"), "the first cell says what the notebook does")
                for cell in cells:
                    self.assertTrue(cell.strip(), "no empty cells")
                    magic = [line for line in cell.splitlines() if line.startswith("# MAGIC")]
                    if magic:  # a magic cell is magic from its first line
                        self.assertTrue(cell.startswith("# MAGIC %"), cell[:60])
                self.assertNotIn("\t", text)
                ast.parse(text, filename=f"{name}.py")

    def test_pip_installs_only_what_serverless_lacks_and_restarts(self) -> None:
        """03 and 04 install MLflow 3 only (serverless ships scikit-learn, pandas and numpy), the same
        pinned version in both, and restart Python; 01 and 02 install nothing."""
        installed = set()
        for name in NAMES:
            pips = re.findall(r"^# MAGIC %pip install (.*)$", source(name), re.M)
            if name in ("03_train_iforest", "04_infer_iforest"):
                self.assertEqual(len(pips), 1, name)
                requirements = re.findall(r'"([^"]+)"', pips[0])
                self.assertEqual(len(requirements), 1, name)
                self.assertRegex(requirements[0], r"^mlflow-skinny\[databricks\]==3\.\d+\.\d+$", name)
                installed.add(requirements[0])
                self.assertIn("dbutils.library.restartPython()", source(name))
                self.assertIn("serverless environment version", source(name))
            else:
                self.assertEqual(pips, [], name)
        self.assertEqual(len(installed), 1, "03 and 04 install the same MLflow")

    def test_every_pip_requirement_is_pinned(self) -> None:
        for name in NAMES:
            for line in re.findall(r"^# MAGIC %pip install (.*)$", source(name), re.M):
                words = [w.strip('"\'') for w in line.split() if not w.startswith("-")]
                self.assertTrue(words, f"{name}: {line}")
                for requirement in words:
                    self.assertRegex(requirement, r"^[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][0-9A-Za-z.]*$",
                                     f"{name}: {requirement} is not pinned with ==")

    def test_models_are_logged_with_mlflow_3_names(self) -> None:
        """MLflow 3 logs a model by ``name=``; ``artifact_path=`` is MLflow 2's."""
        for name in NAMES:
            for node in ast.walk(ast.parse(source(name))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "log_model":
                    keywords = {k.arg for k in node.keywords}
                    self.assertNotIn("artifact_path", keywords, name)
                    self.assertIn("name", keywords, name)


class NotebookCodeTest(unittest.TestCase):
    def test_helper_imports_exist(self) -> None:
        for name in NAMES:
            tree = ast.parse(source(name))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crypto_risk"):
                    module = __import__(node.module, fromlist=["_"])
                    for alias in node.names:
                        self.assertTrue(hasattr(module, alias.name), f"{name}: {node.module}.{alias.name}")

    def test_parameters_are_declared_job_parameters(self) -> None:
        for name in ("03_train_iforest", "04_infer_iforest"):
            tree = ast.parse(source(name))
            declared = [
                node for node in ast.walk(tree)
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "").endswith("_PARAMETERS")
            ]
            self.assertEqual(len(declared), 1, name)
            parameters = ast.literal_eval(declared[0].value)
            self.assertTrue(set(parameters) <= set(DEFAULTS), f"{name}: {set(parameters) - set(DEFAULTS)}")
            self.assertIn("parse_job_params(widget)", source(name))

    def test_no_hard_coded_catalog_schema_model_or_settings(self) -> None:
        """Names and model settings come from job parameters (defaults in crypto_risk.params)."""
        names = ("workspace", "crypto", "landing", "crypto_anomaly_iforest", "champion")
        for name in ("03_train_iforest", "04_infer_iforest"):
            for node in ast.walk(ast.parse(source(name))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    parts = re.split(r"[./ ]", node.value)
                    self.assertFalse(set(parts) & set(names), f"{name} hard-codes {node.value!r}")
                elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
                    self.assertNotIn(node.value, (0.02, 42, 200, 200_000), f"{name} hard-codes {node.value!r}")

    def test_registry_tracking_and_volume_come_from_parameters(self) -> None:
        """Unity Catalog's registry and the volume by default; the tests on open-source Spark and MLflow
        (databricks/spark/test_jobs.py) pass a local registry, tracking store and folder instead."""
        self.assertEqual((DEFAULTS["registry_uri"], DEFAULTS["tracking_uri"], DEFAULTS["volume_path"]),
                         ("databricks-uc", "", ""))
        for name in ("03_train_iforest", "04_infer_iforest"):
            text = source(name)
            self.assertNotIn('"databricks-uc"', text, name)
            self.assertIn("mlflow.set_registry_uri(params.registry_uri)", text, name)
            self.assertIn("if params.tracking_uri:\n    mlflow.set_tracking_uri(params.tracking_uri)", text, name)
            # the registry is set before the first registry call
            self.assertLess(text.index("mlflow.set_registry_uri("), text.index("MlflowClient()"), name)
        text = source("04_infer_iforest")
        self.assertIn('VOLUME = f"/Volumes/{params.catalog}/{params.schema}/{params.volume}"\n'
                      "if params.volume_path:\n    VOLUME = params.volume_path\n", text)
        self.assertEqual(text.count("/Volumes/"), 1)
        # the tables at the latest schema version (crypto_risk.migrations), before the model is looked up
        self.assertIn("\nmigrate(spark, params.table)\n", text)
        self.assertLess(text.index("migrate(spark, params.table)"), text.index("MlflowClient()"))

    def test_tables_are_created_by_the_migrations_only(self) -> None:
        """No notebook creates a table of its own: the steps of crypto_risk.migrations do (02's tables
        are the pipeline's, declared with dlt)."""
        for name in NAMES:
            text = source(name)
            self.assertNotIn("CREATE TABLE", text.upper(), name)
            self.assertNotIn("anomalies_ddl", text, name)
            self.assertNotIn("saveAsTable", text, name)

    def test_databricks_globals_are_declared_not_ignored(self) -> None:
        for name in NAMES:
            text = source(name)
            for global_name in ("spark", "dbutils", "display"):
                if re.search(rf"\b{global_name}[.(]", text):
                    self.assertIn(f'{global_name} = globals()["{global_name}"]', text, f"{name}: {global_name}")
            self.assertNotIn("noqa", text)
            self.assertNotIn("pyflakes", text)

    def test_pipeline_expectations(self) -> None:
        text = source("02_dlt_pipeline")
        for expected in (
            '"cloudFiles.schemaEvolutionMode", "rescue"',
            '"rescuedDataColumn", "_rescued_data"',
            "_metadata.file_path",
            '@dlt.expect_or_drop("core_fields_present", ',
            '@dlt.expect_or_drop(\n    "within_bounds",\n    "NOT isnan(price) AND price > 0 AND price < 1e9 "',
            '"AND (volume IS NULL OR (NOT isnan(volume) AND volume >= 0 AND volume < 1e13))"',
            '"event_ts <= least(coalesce(ingest_ts, load_ts), load_ts) + INTERVAL 10 MINUTES"',
            '.withWatermark("event_ts", "20 minutes")',
            '.dropDuplicatesWithinWatermark(["event_key"])',
            '.withWatermark("event_ts", "2 minutes")',
            'F.window("event_ts", "5 minutes")',
            'F.stddev_samp("price")',
        ):
            self.assertIn(expected, text)

    def test_pipeline_uses_only_what_the_spark_runner_stands_in_for(self) -> None:
        """databricks/spark/pipeline_runner.py runs 02 on open-source Spark with a stand-in `dlt`
        (table, view, expect, expect_or_drop, expect_or_fail, create_streaming_table and
        create_auto_cdc_flow as SCD type 1 upserts) and maps Auto Loader and /Volumes/."""
        text = source("02_dlt_pipeline")
        self.assertEqual(set(re.findall(r"\bdlt\.(\w+)", text)) - {"table", "view", "expect", "expect_or_drop",
                                                                   "expect_or_fail", "create_streaming_table",
                                                                   "create_auto_cdc_flow"}, set())
        self.assertIn("stored_as_scd_type=1", text)
        self.assertEqual(set(re.findall(r'readStream\.format\("(\w+)"\)', text)), {"cloudFiles"})
        self.assertIn('.option("cloudFiles.format", "json")', text)

    def test_exported_names_are_importable(self) -> None:
        for exported in crypto_risk.__all__:
            self.assertTrue(hasattr(crypto_risk, exported), exported)


class SqlFilesTest(unittest.TestCase):
    @staticmethod
    def statements(name: str) -> list:
        text = (ROOT / "sql" / name).read_text(encoding="utf8")
        self_check = [line for line in text.splitlines() if ";" in line and not line.endswith(";")]
        assert not self_check, f"{name}: a semicolon that does not end a statement: {self_check}"
        return [s.strip() for s in text.split(";\n") if s.strip()]

    def test_setup_creates_schema_volume_and_anomalies_by_parameters(self) -> None:
        statements = self.statements("setup.sql")
        code = [" ".join(line for line in s.splitlines() if not line.startswith("--")) for s in statements]
        # CREATE SCHEMA and CREATE VOLUME take no IDENTIFIER clause: built in a variable, run by EXECUTE IMMEDIATE.
        self.assertEqual(len(code), 6)
        self.assertIn("DECLARE OR REPLACE VARIABLE crm_setup_ddl STRING", code[0])
        self.assertIn("'CREATE SCHEMA IF NOT EXISTS '", code[1])
        self.assertIn("EXECUTE IMMEDIATE crm_setup_ddl", code[2])
        self.assertIn("'CREATE VOLUME IF NOT EXISTS '", code[3])
        self.assertIn("EXECUTE IMMEDIATE crm_setup_ddl", code[4])
        self.assertIn("CREATE TABLE IF NOT EXISTS IDENTIFIER(:catalog || '.' || :schema || '.anomalies')", code[5])
        self.assertNotIn("CREATE CATALOG", "\n".join(code))

    def test_dashboard_has_the_five_queries_on_parameters(self) -> None:
        statements = self.statements("dashboard.sql")
        names = [re.search(r"^-- name: (\w+)$", s, re.M).group(1) for s in statements]
        self.assertEqual(names, ["recent_anomalies", "price_with_anomaly_markers", "leaderboard_24h", "anomaly_rate",
                                 "score_distribution"])
        for statement in statements:
            code = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
            tables = re.findall(r"\b(?:FROM|JOIN)\s+(IDENTIFIER\([^)]*\)|\S+)", code)
            self.assertTrue(tables)
            for table in tables:
                self.assertTrue(table.startswith("IDENTIFIER(:catalog || '.' || :schema || '."), table)
            self.assertTrue(set(re.findall(r"(?<![:\w]):([a-z_]+)", code)) <= {"catalog", "schema", "asset", "hours"})
            self.assertNotIn("date_trunc", code.lower())  # buckets in UTC, not the session time zone
            self.assertNotRegex(code, r"count_if\([^)]*\)\s*/")  # rates through try_divide


if __name__ == "__main__":
    unittest.main()
