"""Shared paths and loaders of the Python tests: the helpers under databricks/lib and the fixtures
the TypeScript engine is tested against (tests/fixtures at the repository root)."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "databricks" / "lib"
NOTEBOOKS = ROOT / "databricks" / "notebooks"
FEATURES_FIXTURE = ROOT / "tests" / "fixtures" / "features" / "windows.json"
IFOREST_FIXTURES = ROOT / "tests" / "fixtures" / "iforest"

if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))


@lru_cache(maxsize=None)
def load_json(path: Path) -> Dict[str, Any]:
    return json.loads(path.read_text(encoding="utf8"))


def features_fixture() -> Dict[str, Any]:
    """tests/fixtures/features/windows.json (written by generate.ts beside it)."""
    return load_json(FEATURES_FIXTURE)


def fixture_windows() -> pd.DataFrame:
    """The fixture's Gold windows as the notebooks get them from Spark (window_end as text here)."""
    windows = features_fixture()["windows"]
    return pd.DataFrame(windows["rows"], columns=windows["columns"])


def iforest_fixture(name: str) -> Dict[str, Any]:
    """tests/fixtures/iforest/<name>.json (scikit-learn's IsolationForest, see generate.py there)."""
    return load_json(IFOREST_FIXTURES / f"{name}.json")


def iso_ms(series: pd.Series) -> pd.Series:
    """UTC timestamps as the TypeScript engine writes them: 2025-01-06T00:05:00.000Z."""
    return series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
