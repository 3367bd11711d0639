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


# --- The published files (crypto_risk.publish) -------------------------------------------------

PUBLISH_FIXTURES = ROOT / "tests" / "fixtures" / "databricks"
FEED_FIXTURE = PUBLISH_FIXTURES / "feed-file.json"
SNAPSHOT_FIXTURE = PUBLISH_FIXTURES / "serving-snapshot.json"
PUBLISH_NOW = "2025-03-01T00:10:00Z"
PUBLISH_MODEL = "workspace.crypto.crypto_anomaly_iforest"

# asset, symbol, window_end, price_avg, source, emitted_at: Gold as the notebook reads it. bitcoin's
# 00:00 window was emitted twice (the later one wins); ethereum's 00:05 has no price; the first
# bitcoin window is exactly now − 7 d (in the periods, which include both ends, not in the series).
_GOLD = [
    ("bitcoin", "btc", "2025-02-22T00:10:00", 84000.0, "coingecko", "2025-02-22T00:12:00"),
    ("bitcoin", "btc", "2025-02-25T12:00:00", 86000.5, "coingecko", "2025-02-25T12:02:00"),
    ("bitcoin", "btc", "2025-02-28T23:50:00", 85010.25, "coingecko", "2025-02-28T23:52:00"),
    ("bitcoin", "btc", "2025-03-01T00:00:00", 84000.0, "coingecko", "2025-03-01T00:01:00"),
    ("bitcoin", "btc", "2025-03-01T00:00:00", 84990.75, "coingecko", "2025-03-01T00:02:00"),
    ("bitcoin", "btc", "2025-03-01T00:05:00", 83500.0, "coingecko", "2025-03-01T00:07:00"),
    ("bitcoin", "btc", "2025-03-01T00:10:00", 83620.5, "coingecko", "2025-03-01T00:12:00"),
    ("simcoin", "sim", "2025-02-28T23:55:00", 1.5, "simulator", "2025-02-28T23:57:00"),
    ("simcoin", "sim", "2025-03-01T00:00:00", 1.25, "simulator", "2025-03-01T00:02:00"),
    ("simcoin", "sim", "2025-03-01T00:05:00", 2.0, "simulator", "2025-03-01T00:07:00"),
    ("simcoin", "sim", "2025-03-01T00:10:00", 2.125, "simulator", "2025-03-01T00:12:00"),
    ("ethereum", "eth", "2025-02-26T08:00:00", 2300.0, "coingecko", "2025-02-26T08:02:00"),
    ("ethereum", "eth", "2025-03-01T00:05:00", None, "coingecko", "2025-03-01T00:07:00"),
]

# asset, window_end, anomaly_score, model_version, scored_at: the anomalies table after the MERGE.
_SCORES = [
    ("bitcoin", "2025-02-22T00:10:00", -0.05, 3, "2025-02-22T00:20:00"),
    ("bitcoin", "2025-02-25T12:00:00", 0.12, 3, "2025-02-25T12:10:00"),
    ("bitcoin", "2025-02-28T23:50:00", -0.021, 3, "2025-03-01T00:00:00"),
    ("bitcoin", "2025-03-01T00:00:00", 0.034, 4, "2025-03-01T00:10:00"),
    ("bitcoin", "2025-03-01T00:05:00", -0.1125, 4, "2025-03-01T00:10:00"),
    ("simcoin", "2025-03-01T00:00:00", -0.25, 4, "2025-03-01T00:10:00"),
    ("simcoin", "2025-03-01T00:05:00", 0.01, 4, "2025-03-01T00:10:00"),
    ("ethereum", "2025-02-26T08:00:00", 0.2, 3, "2025-02-26T08:10:00"),
    ("ethereum", "2025-03-01T00:05:00", 0.075, 4, "2025-03-01T00:10:00"),
]

# asset, window_end, old model_version, old score, old flag (None: inserted by this run): the MERGE
# source of the run at PUBLISH_NOW, compared with the table before it.
_COMPARED = [
    ("bitcoin", "2025-03-01T00:00:00", 3, -0.01, 1),  # re-scored by v4: cleared
    ("bitcoin", "2025-03-01T00:05:00", None, None, None),  # new, anomalous
    ("simcoin", "2025-03-01T00:00:00", 4, -0.25, 1),  # the same score again: not reported
    ("simcoin", "2025-03-01T00:05:00", None, None, None),  # new, normal: not reported
    ("ethereum", "2025-03-01T00:05:00", 3, -0.3, 1),  # re-scored by v4: cleared
]


def publish_inputs() -> Dict[str, Any]:
    """The deterministic input of tests/fixtures/databricks/*.json, as the notebook's ``.toPandas()``
    gives it (naive UTC timestamps): ``gold_with_scores``, ``anomalies`` (with Gold's source),
    ``compared`` (the MERGE source with the old values), ``now``, ``model``, ``version``."""
    gold = pd.DataFrame(_GOLD, columns=["asset", "symbol", "window_end", "price_avg", "source", "emitted_at"])
    for column in ("window_end", "emitted_at"):
        gold[column] = pd.to_datetime(gold[column])
    scores = pd.DataFrame(_SCORES, columns=["asset", "window_end", "anomaly_score", "model_version", "scored_at"])
    for column in ("window_end", "scored_at"):
        scores[column] = pd.to_datetime(scores[column])
    scores["is_anomaly"] = (scores["anomaly_score"] < 0).astype("int32")
    gold_with_scores = gold.merge(scores[["asset", "window_end", "anomaly_score", "is_anomaly"]],
                                  on=["asset", "window_end"], how="left")
    latest = gold.sort_values("emitted_at").drop_duplicates(["asset", "window_end"], keep="last")
    table = scores.merge(latest[["asset", "window_end", "symbol", "price_avg", "source"]],
                         on=["asset", "window_end"], how="left")
    table["ret_window"] = (table["price_avg"] / 1e6).round(9)
    # reasons as crypto_risk.features writes them; None for a row scored before reasons were kept
    table["reasons"] = None
    table["data_issue"] = None
    drop = (table["asset"] == "bitcoin") & (table["window_end"] == pd.Timestamp("2025-03-01T00:05:00"))
    table.loc[drop, "reasons"] = '[{"feature":"return","value":-0.0175,"times":14.2}]'
    after_gap = (table["asset"] == "ethereum") & (table["window_end"] == pd.Timestamp("2025-03-01T00:05:00"))
    table.loc[after_gap, "reasons"] = '[{"feature":"gap","value":15,"times":null}]'
    table.loc[after_gap, "data_issue"] = "gap"
    anomalies = table[["asset", "symbol", "window_end", "price_avg", "ret_window", "anomaly_score", "is_anomaly",
                       "model_version", "reasons", "data_issue", "source"]]
    old = pd.DataFrame(_COMPARED, columns=["asset", "window_end", "_old_version", "_old_score", "_old_flag"])
    old["window_end"] = pd.to_datetime(old["window_end"])
    compared = old.merge(table, on=["asset", "window_end"], how="left")
    return {
        "gold_with_scores": gold_with_scores,
        "anomalies": anomalies,
        "compared": compared,
        "now": pd.Timestamp(PUBLISH_NOW),
        "model": PUBLISH_MODEL,
        "version": 4,
    }
