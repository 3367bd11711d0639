"""Runs a Databricks notebook source file (``databricks/notebooks/*.py``) on the local Spark session.

The seam between the notebooks and a Databricks workspace in the tests: ``run_notebook`` executes
the file as it is (in the Databricks source format ``# MAGIC`` lines and ``# COMMAND ----------``
separators are Python comments, so the whole file is one script) in fresh globals, with the
working directory the notebook's folder, and returns what the notebook passed to
``dbutils.notebook.exit``. What it stands in for, and nothing more:

- ``spark``: the SparkSession Databricks defines in a notebook (here ``session.local_spark()``, given
  by the caller);
- ``display(df)``: the notebook's table output (https://docs.databricks.com/aws/en/notebooks/visualizations/ ):
  here a Spark DataFrame is collected (so the query runs, as display runs it) and nothing is shown;
- ``dbutils.widgets.text(name, default)`` and ``dbutils.widgets.get(name)``: a job's parameters reach
  a notebook as widgets; ``get`` returns the parameter the job passed, else the widget's default,
  and raises for a name no widget declares, as Databricks does
  (https://docs.databricks.com/aws/en/dev-tools/databricks-utils#widgets-utility-dbutilswidgets ,
  https://docs.databricks.com/aws/en/jobs/notebook#job-parameters ); a parameter passed without a
  widget is readable too, as on Databricks;
- ``dbutils.notebook.exit(value)``: ends the run there with ``value`` as the run's output
  (https://docs.databricks.com/aws/en/dev-tools/databricks-utils#notebook-utility-dbutilsnotebook );
  here a private exception caught by the runner, which returns the value (None when the notebook
  runs to its end without exit);
- ``dbutils.library.restartPython()``: restarts Python after ``%pip install`` (a no-op here: the
  packages are the virtual environment's, and the ``%pip`` cell is a comment);
- the working directory: a notebook's own folder (Databricks Runtime 14 and serverless:
  https://docs.databricks.com/aws/en/files/cwd-dbr-14 ), so its ``../lib`` is ``databricks/lib``;
  restored after the run, with ``sys.path`` as it was.

Anything else a notebook touches (the registry, the volume path) is a job parameter the test sets.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class _Exit(Exception):
    """Raised by ``dbutils.notebook.exit``: ends the notebook, caught by ``run_notebook``."""

    def __init__(self, value: Any) -> None:
        super().__init__("dbutils.notebook.exit")
        self.value = value


class Widgets:
    """``dbutils.widgets``: text widgets whose values are the job's parameters."""

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self._parameters = {name: str(value) for name, value in parameters.items()}
        self._defaults: Dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: Optional[str] = None) -> None:
        self._defaults[name] = str(defaultValue)

    def get(self, name: str) -> str:
        if name in self._parameters:
            return self._parameters[name]
        if name in self._defaults:
            return self._defaults[name]
        # Databricks raises (InputWidgetNotDefined) for a widget no cell declared.
        raise ValueError(f"InputWidgetNotDefined: no input widget named {name} is defined")


class _Notebook:
    def exit(self, value: Any) -> None:
        raise _Exit(value)


class _Library:
    def restartPython(self) -> None:
        pass


class DBUtils:
    """The parts of ``dbutils`` the notebooks use: ``widgets``, ``notebook.exit``, ``library.restartPython``."""

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.widgets = Widgets(parameters)
        self.notebook = _Notebook()
        self.library = _Library()


def display(value: Any = None, *args: Any, **kwargs: Any) -> None:
    """Runs a Spark DataFrame's query (as ``display`` does) and shows nothing."""
    if hasattr(value, "collect") and hasattr(value, "schema"):
        value.collect()


def run_notebook(spark: Any, name: str, parameters: Optional[Mapping[str, Any]] = None) -> Any:
    """Runs ``databricks/notebooks/<name>.py`` with ``spark`` and the job ``parameters``; returns the
    value given to ``dbutils.notebook.exit`` (None when there is none). A failing notebook raises."""
    path = NOTEBOOKS / (name if name.endswith(".py") else f"{name}.py")
    code = compile(path.read_text(encoding="utf8"), str(path), "exec")
    namespace: Dict[str, Any] = {
        "__name__": "__main__",
        "__file__": str(path),
        "spark": spark,
        "display": display,
        "dbutils": DBUtils(parameters or {}),
    }
    cwd, saved_path = os.getcwd(), list(sys.path)
    os.chdir(path.parent)
    try:
        exec(code, namespace)
    except _Exit as done:
        return done.value
    finally:
        os.chdir(cwd)
        sys.path[:] = saved_path
    return None
