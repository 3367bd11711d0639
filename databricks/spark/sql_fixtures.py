"""What test_sql_ansi needs to run the project's SQL files on a local Spark: the files split into
statements as their headers say, the named parameter markers each statement uses, the pipeline's
tables (Delta DDL from the schemas of databricks/notebooks/02_dlt_pipeline.py), and a small dataset
(three assets, a day of 5-minute Gold windows, some scored anomalous) kept in Python so that tests
can compute what every query should return.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
WINDOW = timedelta(minutes=5)
UTC = timezone.utc


def statements(name: str) -> List[str]:
    """The statements of ``sql/<name>``: setup.sql and dashboard.sql end each statement with a
    semicolon at the end of a line and have no other semicolon (their headers; the same split as
    databricks/tests/test_notebooks.py)."""
    text = (SQL / name).read_text(encoding="utf8")
    stray = [line for line in text.splitlines() if ";" in line and not line.rstrip().endswith(";")]
    if stray:
        raise ValueError(f"{name}: a semicolon that does not end a statement: {stray}")
    parts = [part.strip() for part in re.split(r";[ \t]*(?:\n|$)", text)]
    return [part for part in parts if code(part)]


def code(statement: str) -> str:
    """The statement without its ``--`` comment lines (what names and markers are read from)."""
    return "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--")).strip()


def dashboard_queries() -> Dict[str, str]:
    """The dashboard's queries by their ``-- name:`` line."""
    out: Dict[str, str] = {}
    for statement in statements("dashboard.sql"):
        found = re.search(r"^-- name: (\w+)$", statement, re.M)
        if not found:
            raise ValueError(f"dashboard.sql: a statement without a `-- name:` line: {statement[:80]!r}")
        out[found.group(1)] = statement
    return out


def query(name: str) -> str:
    """A file of sql/queries: one statement, no terminating semicolon (its comments may have some)."""
    statement = (SQL / "queries" / f"{name}.sql").read_text(encoding="utf8").strip()
    if ";" in code(statement):
        raise ValueError(f"queries/{name}.sql: a semicolon outside comments")
    return statement


def markers(statement: str) -> List[str]:
    """The named parameter markers (``:name``) of a statement, in order of first use: outside
    comments and string literals, and not a ``::`` cast."""
    text = re.sub(r"'(?:[^']|'')*'", "''", code(statement))
    names: List[str] = []
    for name in re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", text):
        if name not in names:
            names.append(name)
    return names


# The pipeline's tables as 02_dlt_pipeline.py defines them (the columns and types of its select lists;
# count() is BIGINT, F.window's bounds are TIMESTAMP). The pipeline owns them on Databricks, so no SQL
# file creates them; the local engine's sql/local/migrations have the same Gold columns (test_sql_ansi
# compares).
PIPELINE_TABLES: Dict[str, str] = {
    "prices_silver": """
        asset STRING, symbol STRING, name STRING, price DOUBLE, volume DOUBLE, event_ts TIMESTAMP,
        ingest_ts TIMESTAMP, load_ts TIMESTAMP, event_key STRING, source STRING, source_file STRING""",
    "metrics_gold": """
        asset STRING, symbol STRING, window_start TIMESTAMP, window_end TIMESTAMP, price_avg DOUBLE,
        price_vol DOUBLE, price_min DOUBLE, price_max DOUBLE, vol_sum DOUBLE, ret_window DOUBLE,
        ticks BIGINT, source STRING, emitted_at TIMESTAMP""",
    # the pipeline's AUTO CDC target (02_dlt_pipeline.py: labels_typed without _rescued)
    "labels": """
        asset STRING, window_end TIMESTAMP, user STRING, label STRING, model_version INT, labelled_at TIMESTAMP,
        source_file STRING""",
}


def pipeline_ddl(table: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS {table} ({' '.join(PIPELINE_TABLES[table].split())}) USING DELTA"


def local_columns(table: str) -> List[str]:
    """The column names of ``table`` as the DuckDB engine's migrations (sql/local/migrations) create it."""
    text = "\n".join(p.read_text(encoding="utf8") for p in sorted((SQL / "local" / "migrations").glob("*.sql")))
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\);", text, re.S)
    if not body:
        raise ValueError(f"sql/local/migrations create no table {table}")
    lines = [line.split("--")[0].strip() for line in body.group(1).splitlines()]
    return [line.split()[0] for line in lines if line and not line.startswith("PRIMARY KEY")]


ASSETS: Tuple[Tuple[str, str, str, float], ...] = (
    ("bitcoin", "btc", "coingecko", 60_000.0),
    ("ethereum", "eth", "coingecko", 3_000.0),
    ("solana", "sol", "simulator", 150.0),
)
DAY_WINDOWS = 276
"""Windows per asset ending at base, base - 5 min, ... (23 hours): the dashboard's "last 24 hours"
holds all of them, and none of its period boundaries falls near a window while the module runs
(for up to an hour after the data is made)."""
UNSCORED = 2
"""The newest windows of each asset that inference has not scored yet (Gold only)."""
OLD_AGES = (timedelta(days=3), timedelta(days=8))
"""Two older bitcoin windows, both flagged: inside the dashboard's 7 days, and outside it."""


@dataclass(frozen=True)
class Gold:
    asset: str
    symbol: str
    window_end: datetime
    price_avg: float
    source: str

    def row(self) -> tuple:
        start = self.window_end - WINDOW
        low, high = self.price_avg * 0.999, self.price_avg * 1.001
        return (self.asset, self.symbol, start, self.window_end, self.price_avg, self.price_avg * 0.0004,
                low, high, 1_000_000.0, high / low - 1, 5, self.source, self.window_end + timedelta(minutes=2))


@dataclass(frozen=True)
class Scored:
    asset: str
    symbol: str
    window_end: datetime
    price_avg: float
    anomaly_score: float
    model_version: int
    scored_at: datetime
    source: str

    @property
    def is_anomaly(self) -> int:
        return 1 if self.anomaly_score < 0 else 0

    @property
    def reasons(self) -> Optional[str]:
        """What infer stores as a flagged window's reasons (src/model/reasons.ts); a normal one has none."""
        if not self.is_anomaly:
            return None
        return json.dumps([{"feature": "return", "value": 0.002, "times": round(-self.anomaly_score * 40, 2)}])

    @property
    def data_issue(self) -> Optional[str]:
        """Every seventh flagged window stands for a gap in the data."""
        return "gap" if self.is_anomaly and self.window_end.minute % 35 == 0 else None

    def row(self) -> tuple:
        return (self.asset, self.symbol, self.window_end, self.price_avg, self.price_avg * 0.0004, 0.002,
                1_000_000.0, 0.0001, self.anomaly_score, self.is_anomaly, self.model_version, self.scored_at,
                self.reasons, self.data_issue)


@dataclass(frozen=True)
class Dataset:
    base: datetime
    """The newest window_end (a 5-minute boundary at or before the time the data was made)."""
    gold: List[Gold]
    scored: List[Scored]
    silver: List[tuple]

    def scored_between(self, since: datetime, until: datetime, asset: Optional[str] = None) -> List[Scored]:
        return [s for s in self.scored if since <= s.window_end <= until and asset in (None, s.asset)]


def dataset(now: datetime) -> Dataset:
    """The fixture: deterministic given ``now``; about 870 Gold and anomalies rows, 100 Silver rows."""
    base = now.astimezone(UTC).replace(second=0, microsecond=0)
    base -= timedelta(minutes=base.minute % 5)
    gold: List[Gold] = []
    scored: List[Scored] = []
    for a, (asset, symbol, source, price) in enumerate(ASSETS):
        ends = [(k, base - k * WINDOW) for k in range(DAY_WINDOWS)]
        if asset == "bitcoin":
            ends += [(DAY_WINDOWS + i, base - age) for i, age in enumerate(OLD_AGES)]
        for k, end in ends:
            window = Gold(asset, symbol, end, price * (1 + 0.001 * ((k * 7 + a) % 11)), source)
            gold.append(window)
            if k < UNSCORED:
                continue
            flagged = k >= DAY_WINDOWS or (k + 3 * a) % 23 == 5
            # Distinct scores (the k and asset terms), so "the worst window" is one window.
            score = (-0.01 - 0.003 * ((k + a) % 9) if flagged else 0.015 + 0.004 * ((k * 3 + a) % 13)) \
                - 0.00001 * k - 0.000001 * a
            # Version 1 scored the older part, version 2 the newer; each window 3 minutes (plus the
            # asset's second) after it closed, so scored_at values are distinct.
            scored.append(Scored(asset, symbol, end, window.price_avg, round(score, 6), 1 if k >= DAY_WINDOWS // 2 else 2,
                                 end + timedelta(minutes=3, seconds=a), source))
    silver = []
    for asset, symbol, source, price in ASSETS:
        for i in range(36):  # the last 3 hours of ticks (only freshness reads Silver)
            ts = base - timedelta(minutes=5 * i + 1)
            silver.append((asset, symbol, asset.title(), price, 1_000_000.0, ts, ts + timedelta(seconds=30),
                           ts + timedelta(seconds=40), f"{asset}|{ts.strftime('%Y-%m-%dT%H:%M:%S.000Z')}", source,
                           f"landing/date={ts:%Y-%m-%d}/hour={ts:%H}/batch.jsonl"))
    return Dataset(base, gold, scored, silver)
