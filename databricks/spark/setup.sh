#!/bin/sh
# The Spark test environment (npm run spark:setup): a Python virtual environment .venv-spark with the
# pinned pyspark, delta-spark, mlflow, scikit-learn and pandas (requirements.txt), then one local Spark
# session so that Delta's jars come from Maven Central now and are cached (~/.ivy2.5.2). Needs Python
# 3.10+ and Java 17 or later. Idempotent: an existing environment is kept and brought to the pins.
set -e
cd "$(dirname "$0")/../.."
[ -x .venv-spark/bin/python ] || "${PYTHON_FOR_SPARK:-python3}" -m venv .venv-spark
.venv-spark/bin/pip install --quiet --disable-pip-version-check -r databricks/spark/requirements.txt
cd databricks/spark
../../.venv-spark/bin/python -c 'import session, sys; r = session.unavailable(); r and sys.exit(r); session.local_spark().stop(); print("Spark environment ready: .venv-spark")'
