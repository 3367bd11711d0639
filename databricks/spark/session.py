"""A local Spark session like the one Databricks gives the notebooks, for running them in tests.

Open-source Apache Spark 4 (``pyspark``) with Delta Lake (``delta-spark``, whose jars come from Maven
Central at first use and are cached in ``~/.ivy2.5.2``), ``local[2]``, UTC, and ANSI mode on, as
Databricks SQL runs (https://docs.databricks.com/sql/language-manual/parameters/ansi_mode.html;
ANSI mode is also Spark 4's default). Tables live in a temporary warehouse folder; ``spark_catalog``
is Delta's catalog, so ``spark_catalog.<schema>.<table>`` stands where Unity Catalog's
``<catalog>.<schema>.<table>`` does on Databricks.

``unavailable()`` says why Spark cannot run here (no Java, no packages), for tests to skip with.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
from typing import Optional

CATALOG = "spark_catalog"


def unavailable() -> Optional[str]:
    """Why a local Spark cannot start here, or None when it can."""
    missing = [name for name in ("pyspark", "delta", "mlflow", "sklearn", "pandas") if importlib.util.find_spec(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed in this Python: run `npm run spark:setup` (README, the notebooks on Spark)"
    java = shutil.which("java") or (os.path.join(os.environ["JAVA_HOME"], "bin", "java") if "JAVA_HOME" in os.environ else None)
    if not java:
        return "no Java (java on PATH or JAVA_HOME) for Spark"
    try:
        subprocess.run([java, "-version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        return f"java could not be run ({err})"
    return None


def local_spark(warehouse: Optional[str] = None):
    """A SparkSession with Delta, local[2], UTC and ANSI mode, its tables under ``warehouse``."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    warehouse = warehouse or tempfile.mkdtemp(prefix="crypto-risk-spark-")
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("crypto-risk-monitor tests")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", os.path.join(warehouse, "tables"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={os.path.join(warehouse, 'derby')}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        # Delta's SQL parser drops the parameters of spark.sql(args=...) on Spark 4.1 (every marker
        # fails with UNBOUND_SQL_PARAMETER: delta-io/delta#7640, apache/spark#55392) unless parameters
        # are substituted as constants; Databricks binds them itself. test_sql_ansi checks it still is so.
        .config("spark.sql.legacy.parameterSubstitution.constantsOnly", "true")
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # PySpark logs every failed statement with its JVM stack; the tests report failures themselves.
    for name in ("pyspark", "SQLQueryContextLogger"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return spark
