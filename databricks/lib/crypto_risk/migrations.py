"""Versioned, forward-only migrations of the Delta tables the notebooks create.

``STEPS`` is the list of steps, numbered from 1 and never edited once released (a change is a new step
at the end); a ``schema_version`` Delta table in the configured schema records each step applied
(version, name, applied_at). ``migrate`` runs, at the start of a notebook that creates tables, the
steps not applied yet, in order.

Step 1 is the table the notebooks created before the versioning (``anomalies``, with the DDL of
``scoring.anomalies_ddl``): ``CREATE TABLE IF NOT EXISTS``, so on a schema made by those notebooks (the
table there, no ``schema_version``) it changes nothing and the schema is recorded as version 1.
Step 2 adds the ``reasons`` and ``data_issue`` columns to an anomalies table made before them (a
table step 1 makes already has them).

Delta has no transaction across statements: a step is recorded after its statements succeed, so a run
that fails in between runs the step again. Every step must therefore be safe to run twice (IF NOT
EXISTS, a column added only when missing).

A schema at a version this code does not know (a newer release wrote it), or whose recorded steps are
not this code's, is refused with ``SchemaVersionError`` before anything changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

from .scoring import ANOMALIES_COLUMNS, anomalies_ddl, constraints_unsupported

VERSION_TABLE = "schema_version"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

Table = Callable[[str], str]
"""``catalog.schema.name`` of a table of this project (``JobParams.table``)."""


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    apply: Callable[[Any, Table], None]
    """Runs the step's statements with ``spark.sql`` (``spark``, the table namer)."""


class SchemaVersionError(ValueError):
    """The schema's recorded version is not one this code can migrate from; nothing was changed."""


def _create_anomalies(spark: Any, table: Table) -> None:
    # With the informational primary key where the catalog takes one (Unity Catalog), else without
    # (open-source Delta's catalog refuses table constraints): see anomalies_ddl.
    try:
        spark.sql(anomalies_ddl(table("anomalies")))
    except Exception as err:
        if not constraints_unsupported(err):
            raise
        spark.sql(anomalies_ddl(table("anomalies"), primary_key=False))


def _add_anomaly_reasons(spark: Any, table: Table) -> None:
    # Only the columns still missing, so a step that failed after the ALTER can run again (Delta's
    # ADD COLUMNS refuses a column that exists: https://docs.databricks.com/aws/en/sql/language-manual/sql-ref-syntax-ddl-alter-table-manage-column ).
    name = table("anomalies")
    present = {c.lower() for c in spark.table(name).columns}
    missing = [f"{column} {sql_type} COMMENT '{comment}'" for column, sql_type, comment in ANOMALIES_COLUMNS
               if column in ANOMALY_REASON_COLUMNS and column not in present]
    if missing:
        spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({', '.join(missing)})")


ANOMALY_REASON_COLUMNS = ("reasons", "data_issue")
"""The columns step 2 adds to an anomalies table made before them."""

STEPS: Tuple[Step, ...] = (
    Step(1, "anomalies", _create_anomalies),
    Step(2, "anomaly_reasons", _add_anomaly_reasons),
)


def version_table_ddl(table: Table) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table(VERSION_TABLE)} (\n"
            "  version INT NOT NULL COMMENT 'the step number (crypto_risk.migrations.STEPS)',\n"
            "  name STRING NOT NULL COMMENT 'the step name',\n"
            "  applied_at TIMESTAMP NOT NULL COMMENT 'when the step was applied (UTC)'\n"
            ") USING DELTA")


def applied_steps(spark: Any, table: Table) -> List[Tuple[int, str]]:
    """The (version, name) of the steps recorded in the schema, oldest first; [] with no version table."""
    if not spark.catalog.tableExists(table(VERSION_TABLE)):
        return []
    rows = spark.sql(f"SELECT version, name FROM {table(VERSION_TABLE)} ORDER BY version").collect()
    return [(int(row["version"]), str(row["name"])) for row in rows]


def check_steps(steps: Sequence[Step]) -> None:
    """Versions 1, 2, … without gaps, with names that can go into SQL as they are (a programming error)."""
    for i, step in enumerate(steps):
        if step.version != i + 1 or not _NAME.match(step.name):
            raise ValueError(f"migration step {i + 1} is numbered {step.version} and named {step.name!r}")


def migrate(spark: Any, table: Table, steps: Optional[Sequence[Step]] = None) -> List[int]:
    """Brings the schema's tables to the latest version; returns the versions applied ([] when at the
    latest already). ``steps`` is for tests that build an earlier version."""
    steps = STEPS if steps is None else steps
    check_steps(steps)
    applied = applied_steps(spark, table)
    for version, name in applied:
        if version > len(steps):
            raise SchemaVersionError(
                f"{table(VERSION_TABLE)} records schema version {version} ({name}), newer than this release "
                f"of the notebooks knows (version {len(steps)}): a newer release wrote it. Deploy that "
                "release (or newer), or point the job at another schema. Nothing was changed.")
        if steps[version - 1].name != name:
            raise SchemaVersionError(
                f"{table(VERSION_TABLE)} records schema version {version} as {name!r}, but this release's "
                f"version {version} is {steps[version - 1].name!r}: another build wrote it. Deploy that "
                "build, or point the job at another schema. Nothing was changed.")
    current = max((version for version, _ in applied), default=0)
    done: List[int] = []
    for step in steps[current:]:
        spark.sql(version_table_ddl(table))
        step.apply(spark, table)
        spark.sql(f"INSERT INTO {table(VERSION_TABLE)} (version, name, applied_at) "
                  f"VALUES ({step.version}, '{step.name}', current_timestamp())")
        done.append(step.version)
    return done
