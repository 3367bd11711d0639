"""Training and inference semantics of the local engine, for the Databricks notebooks.

- Training (``src/model/training.ts``): at least MIN_PERIOD_ROWS windows in the period; split by
  time: the windows before the one at position ⌊0.8·n⌋ (ordered by window_end, then asset) train,
  the rest (every window from that instant on) is the holdout; scikit-learn's IsolationForest with
  n_estimators, contamination and random_state from the job; metrics are the mean, sample standard
  deviation and flagged share (decision_function < 0) of both parts, and the offset.
- Inference (``src/platform/local/models.ts``): each asset resumes after its own latest scored
  window, never before the look-back; a re-score also takes every window after its start; Gold is
  read with a warm-up of TRAILING_WINDOWS + 1 windows before the span so lags and trailing
  statistics are warm; a window is anomalous (``is_anomaly``) when decision_function < 0 or its
  return or range reason is at least ALERT_TIMES × usual (``features.is_alert``).
- Job parameters: the notebooks' parameters, checked before anything uses them.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from .features import TRAILING_WINDOWS, Features, is_alert

MIN_TRAIN_ROWS = 100
"""Fewer training windows than this give no model."""

HOLDOUT_SHARE = 0.2
"""The latest share of the period is held out to see how scores hold up on newer data."""

MIN_PERIOD_ROWS = math.ceil(MIN_TRAIN_ROWS / (1 - HOLDOUT_SHARE))
"""Windows a training period needs at least (125), so that MIN_TRAIN_ROWS remain after the holdout."""

WINDOW = timedelta(minutes=5)
WARMUP = (TRAILING_WINDOWS + 1) * WINDOW
"""Gold history read before a period, so lags and trailing statistics are warm at its start."""

ANOMALIES_COLUMNS: Tuple[Tuple[str, str, str], ...] = (
    ("asset", "STRING NOT NULL", "CoinGecko id, lower case"),
    ("symbol", "STRING", "ticker symbol"),
    ("window_end", "TIMESTAMP NOT NULL", "end of the 5-minute Gold window (exclusive), UTC"),
    ("price_avg", "DOUBLE", "mean price in the window (USD)"),
    ("price_vol", "DOUBLE", "sample standard deviation of the price in the window"),
    ("ret_window", "DOUBLE", "price_max / price_min - 1 in the window"),
    ("vol_sum", "DOUBLE", "summed volume of the window (USD)"),
    ("ret_prev", "DOUBLE", "price_avg / previous window price_avg - 1"),
    ("anomaly_score", "DOUBLE NOT NULL", "IsolationForest decision_function: below 0 is anomalous"),
    ("is_anomaly", "INT NOT NULL", "1 when the window alerts: anomaly_score < 0, or a return or range at 12x usual or more"),
    ("model_version", "INT NOT NULL", "Unity Catalog model version that scored the window"),
    ("scored_at", "TIMESTAMP NOT NULL", "when inference scored the window"),
    ("reasons", "STRING", "why the window is unusual: JSON array of reasons, most telling first"),
    ("data_issue", "STRING", "gap or frozen: a data problem next to the window, not a market anomaly"),
)
"""The anomalies table (DESIGN.md contract): name, Databricks SQL type, comment. ``sql/setup.sql``
creates the same columns; the inference notebook creates the table from this when it is missing."""

Contamination = Union[str, float]


class TooLittleData(ValueError):
    """The training period has fewer than MIN_PERIOD_ROWS windows: no model is made."""


@dataclass(frozen=True)
class FittedModel:
    """A forest fitted on the earlier part of a period, and how it scores both parts."""

    model: IsolationForest
    train_rows: int
    holdout_rows: int
    metrics: Dict[str, Optional[float]]
    cut: Optional[pd.Timestamp]
    """First window_end of the holdout (None when there is none)."""


def split_by_time(rows: pd.DataFrame) -> Tuple[np.ndarray, np.ndarray]:
    """Boolean masks (over ``rows`` as given) of the training part and the holdout.

    Rows are ordered by window_end then asset; the cut is the window_end of the row at position
    ⌊n·(1 − HOLDOUT_SHARE)⌋; every row before the cut trains, every row at or after it is held out
    (so windows of one instant never straddle the split).
    """
    n = len(rows)
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    ends = pd.to_datetime(rows["window_end"], utc=True).reset_index(drop=True)
    order = pd.DataFrame({"end": ends, "asset": rows["asset"].reset_index(drop=True)}).sort_values(
        ["end", "asset"], kind="mergesort"
    )
    position = math.floor(n * (1 - HOLDOUT_SHARE))
    if position >= n:
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    cut = order["end"].iloc[position]
    train = (ends < cut).to_numpy()
    return train, ~train


def fit_forest(X: pd.DataFrame, trees: int, contamination: Contamination, seed: int) -> IsolationForest:
    """scikit-learn's IsolationForest (ψ = min(256, n) samples per tree) fitted on X.

    With a numeric contamination, ``offset_`` is numpy's percentile of the training scores at
    100 × contamination, so that share of the training rows gets decision_function < 0.
    """
    forest = IsolationForest(n_estimators=trees, contamination=contamination, random_state=seed, max_samples="auto")
    with warnings.catch_warnings():
        # scikit-learn < 1.3 warns about its own internal call when fitted on a DataFrame.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return forest.fit(X)


def describe_scores(scores: np.ndarray) -> Dict[str, float]:
    """Mean, sample standard deviation (0 for one score) and the share below 0 (flagged)."""
    values = np.asarray(scores, dtype=float)
    n = len(values)
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if n > 1 else 0.0,
        "flagged": float((values < 0).sum() / n),
    }


def fit_model(features: Features, trees: int, contamination: Contamination, seed: int) -> FittedModel:
    """Fits on the earlier 80 % of the period's windows (by time) and measures both parts.

    ``features`` must be the period's windows only (filtered after computing the features with
    their warm-up). Raises TooLittleData below MIN_PERIOD_ROWS windows.
    """
    if len(features) < MIN_PERIOD_ROWS:
        raise TooLittleData(
            f"Too little data to train: {len(features)} Gold windows in the period "
            f"(at least {MIN_PERIOD_ROWS} are needed). Let ingest and the pipeline run longer, "
            "or set the job parameter now at the end of replayed history. No model was made."
        )
    train, holdout = split_by_time(features.rows)
    model = fit_forest(features.X[train], trees, contamination, seed)
    train_stats = describe_scores(model.decision_function(features.X[train]))
    holdout_stats = describe_scores(model.decision_function(features.X[holdout])) if holdout.any() else None
    ends = pd.to_datetime(features.rows["window_end"], utc=True)
    return FittedModel(
        model=model,
        train_rows=int(train.sum()),
        holdout_rows=int(holdout.sum()),
        metrics={
            "train_mean": train_stats["mean"],
            "train_std": train_stats["std"],
            "holdout_mean": holdout_stats["mean"] if holdout_stats else None,
            "holdout_std": holdout_stats["std"] if holdout_stats else None,
            "train_flagged_share": train_stats["flagged"],
            "holdout_flagged_share": holdout_stats["flagged"] if holdout_stats else None,
            "offset": float(model.offset_),
        },
        cut=ends[holdout].min() if holdout.any() else None,
    )


def dedupe_windows(gold: pd.DataFrame) -> pd.DataFrame:
    """One Gold row per (asset, window_end), the latest emitted (by ``emitted_at`` when the column is
    there, else the last one given): what ``row_number() OVER (PARTITION BY asset, window_end ORDER
    BY emitted_at DESC) = 1`` keeps. Lags and trailing statistics need each window once."""
    if gold.empty:
        return gold.reset_index(drop=True)
    frame = gold.reset_index(drop=True)
    frame = frame.assign(_end=pd.to_datetime(frame["window_end"], utc=True), _seq=np.arange(len(frame)))
    keys = ["_emitted", "_seq"] if "emitted_at" in frame.columns else ["_seq"]
    if "emitted_at" in frame.columns:
        frame["_emitted"] = pd.to_datetime(frame["emitted_at"], utc=True)
    frame = frame.sort_values(keys, kind="mergesort", na_position="first")
    kept = frame.drop_duplicates(["asset", "_end"], keep="last").sort_values("_seq")
    return kept.drop(columns=[c for c in ("_end", "_seq", "_emitted") if c in kept.columns]).reset_index(drop=True)


@dataclass(frozen=True)
class InferencePlan:
    """What one inference run reads and scores."""

    now: datetime
    lookback_start: datetime
    read_from: datetime
    """Scoring starts after this instant for the earliest asset (Gold is read from gold_since)."""
    starts: Dict[str, datetime] = field(default_factory=dict)
    """Per asset: windows ending after this instant are scored."""

    @property
    def gold_since(self) -> datetime:
        """Gold windows ending after this instant are read (the span plus its warm-up)."""
        return self.read_from - WARMUP

    def start_of(self, asset: str) -> datetime:
        """Windows of ``asset`` ending after this instant are scored (also for an asset new to Gold)."""
        return self.starts.get(asset, self.lookback_start)


def inference_plan(
    now: datetime,
    lookback: timedelta,
    gold_assets: Iterable[str],
    resume: Mapping[str, datetime],
    rescore_since: Optional[datetime] = None,
) -> Optional[InferencePlan]:
    """The span of an inference run, or None when there is nothing to score.

    ``gold_assets``: assets with Gold windows ending after now − lookback; ``resume``: per asset, the
    latest window_end already in the anomalies table. Each asset starts after its own latest scored
    window (assets can lag each other in Gold), or after ``rescore_since`` when that is earlier,
    and never before the look-back.
    """
    now = _utc(now)
    lookback_start = now - lookback
    rescore = _utc(rescore_since) if rescore_since is not None else None
    resume = {asset: _utc(ts) for asset, ts in resume.items() if ts is not None}
    assets = sorted(set(gold_assets))
    if not assets:
        return None

    def start(asset: str) -> datetime:
        own = resume.get(asset, lookback_start)
        return max(min(rescore, own) if rescore is not None else own, lookback_start)

    earliest = min(resume.get(asset, lookback_start) for asset in assets)
    first = min(rescore, earliest) if rescore is not None else earliest
    starts = {asset: start(asset) for asset in sorted(set(assets) | set(resume))}
    return InferencePlan(now=now, lookback_start=lookback_start, read_from=max(first, lookback_start), starts=starts)


def select_for_scoring(features: Features, plan: InferencePlan) -> Features:
    """The feature rows inference scores: per asset, the windows ending after its start and not
    after the plan's clock."""
    ends = pd.to_datetime(features.rows["window_end"], utc=True)
    starts = pd.to_datetime(features.rows["asset"].map(lambda a: plan.start_of(a)), utc=True)
    return features.where(((ends > starts) & (ends <= pd.Timestamp(plan.now))).to_numpy())


def score_rows(features: Features, scores: np.ndarray, model_version: int, scored_at: datetime) -> pd.DataFrame:
    """Rows of the anomalies table (ANOMALIES_COLUMNS, in order) for scored feature rows."""
    scores = np.asarray(scores, dtype=float)
    if len(scores) != len(features):
        raise ValueError(f"{len(scores)} scores for {len(features)} feature rows")
    out = features.rows.loc[:, ["asset", "symbol", "window_end", "price_avg", "price_vol", "ret_window",
                                "vol_sum", "ret_prev", "reasons", "data_issue"]].copy()
    out["anomaly_score"] = scores
    out["is_anomaly"] = np.array([is_alert(s, r) for s, r in zip(scores, out["reasons"])], dtype=np.int32)
    out["model_version"] = np.int32(model_version)
    out["scored_at"] = pd.Timestamp(_utc(scored_at))
    return out.loc[:, [name for name, _, _ in ANOMALIES_COLUMNS]].reset_index(drop=True)


def anomaly_records(rows: pd.DataFrame) -> List[tuple]:
    """Rows of ``score_rows`` as tuples of plain Python values (str, float, int, aware datetime, None
    for a missing value, never NaN), in ANOMALIES_COLUMNS order: what ``spark.createDataFrame`` takes
    with the table's schema, whatever its pandas conversion does with NaN and numpy types."""
    names = [name for name, _, _ in ANOMALIES_COLUMNS]
    out: List[tuple] = []
    for record in rows.loc[:, names].itertuples(index=False, name=None):
        out.append(tuple(_plain(value) for value in record))
    return out


def anomalies_schema() -> str:
    """The anomalies columns as a Spark DDL schema string (``asset STRING, symbol STRING, …``)."""
    return ", ".join(f"{name} {sql_type.replace(' NOT NULL', '')}" for name, sql_type, _ in ANOMALIES_COLUMNS)


def anomalies_ddl(table: str, primary_key: bool = True,
                  columns: Tuple[Tuple[str, str, str], ...] = ANOMALIES_COLUMNS) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the anomalies table (the columns of ``sql/setup.sql``) named
    ``table`` (``catalog.schema.anomalies`` from ``JobParams.table``, whose parts are checked
    identifiers, so the name is written into the statement as it is).

    ``primary_key``: with the informational ``PRIMARY KEY (asset, window_end)`` constraint, which only
    Unity Catalog tables take (https://docs.databricks.com/aws/en/tables/constraints); open-source
    Delta's catalog refuses it (``UNSUPPORTED_FEATURE.TABLE_OPERATION``), so 04 creates the table
    without it there (``constraints_unsupported``). Nothing enforces the key either way: the MERGE
    keeps it. ``columns``: the table's columns (a test makes the table of an earlier release).
    """
    columns = ",\n  ".join(f"{name} {sql_type} COMMENT '{comment}'" for name, sql_type, comment in columns)
    key = ",\n  CONSTRAINT anomalies_pk PRIMARY KEY (asset, window_end)" if primary_key else ""
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns}{key}\n) USING DELTA"


def constraints_unsupported(err: BaseException) -> bool:
    """Whether Spark refused a table constraint because the catalog has none (open-source Delta's
    ``spark_catalog``; Unity Catalog takes them): the error condition
    ``UNSUPPORTED_FEATURE.TABLE_OPERATION`` naming a table constraint."""
    condition = getattr(err, "getCondition", None) or getattr(err, "getErrorClass", None)
    try:
        name = condition() if callable(condition) else ""
    except Exception:  # an exception from the JVM without a condition
        name = ""
    text = str(err)
    return "UNSUPPORTED_FEATURE.TABLE_OPERATION" in f"{name} {text}" and "table constraint" in text.lower()


def _plain(value: object) -> object:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return _utc(value.to_pydatetime())
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, (np.integer, bool, np.bool_)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def _utc(value: datetime) -> datetime:
    """An aware UTC datetime (a naive one is taken as UTC)."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# --- Job parameters ---------------------------------------------------------------------------
# The notebooks' parameters, checked before any SQL or MLflow call uses them, with the rules of the
# bot's settings (src/config.ts): catalog, schema, volume, model and alias names match
# ^[a-z_][a-z0-9_]{0,63}$ (so they can go into SQL and a Unity Catalog model name unquoted); a
# duration looks like 90m, 24h, 7d or 2w (at most 90 days). Every problem is reported at once.

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_DURATION = timedelta(days=90)

PARAMETER_DEFAULTS: Dict[str, str] = {
    "catalog": "workspace",
    "schema": "crypto",
    "volume": "landing",
    "model_name": "crypto_anomaly_iforest",  # a name in catalog.schema, or a full catalog.schema.name
    "alias": "champion",
    "feature_set": "default",
    "contamination": "0.005",
    "trees": "200",
    "seed": "42",
    "lookback_days": "7",
    "lookback": "",  # a duration (e.g. 36h); when set it wins over lookback_days
    "max_rows": "200000",
    "promotion": "auto",
    "now": "",  # an ISO-8601 instant to evaluate the look-back at (replayed history); empty: the clock
    "rescore": "",  # inference: also re-score every window after now − this duration (e.g. 24h)
    "experiment": "",  # training: an MLflow experiment path; empty: the notebook's own
    # Where the notebooks meet the platform; the defaults are Databricks, a test of the notebooks on
    # open-source Spark and MLflow (databricks/spark) passes its own.
    "registry_uri": "databricks-uc",  # the model registry: Unity Catalog
    "tracking_uri": "",  # MLflow tracking; empty: the workspace's (the notebook's default)
    "volume_path": "",  # the folder of feed/ and serving/; empty: /Volumes/<catalog>/<schema>/<volume>
}
"""Every job parameter the notebooks read, and its default (as text, the way widgets hold it). The
bot's provisioner and databricks/databricks.yml pass catalog, schema, volume, model_name, alias,
feature_set, contamination, trees, seed, lookback_days, max_rows and promotion; registry_uri,
tracking_uri and volume_path are only set by the tests of the notebooks on open-source Spark."""


def check_identifier(value: str, what: str = "name") -> str:
    """``value`` if it is a safe lower-case identifier, else ValueError."""
    if not IDENTIFIER.match(value or ""):
        raise ValueError(f"{what} {value!r} must be lower-case letters, digits and _ (at most 64)")
    return value


def parse_duration(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d``, ``2w`` → timedelta (1 minute to 90 days)."""
    match = DURATION.match((text or "").strip().lower())
    if not match:
        raise ValueError(f"{text!r} must be a duration like 90m, 24h, 7d or 2w")
    value = int(match.group(1)) * _UNITS[match.group(2)]
    if not timedelta(0) < value <= MAX_DURATION:
        raise ValueError(f"{text!r} must be a duration from 1m to 90d")
    return value


def parse_instant(text: str) -> Optional[datetime]:
    """ISO-8601 text → an aware UTC datetime; '' → None. Text without a zone is taken as UTC."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", text))
    except ValueError:
        raise ValueError(f"{text!r} must be an ISO-8601 instant such as 2025-01-22T12:31:00Z") from None
    return _utc(value)


@dataclass(frozen=True)
class JobParams:
    """The checked parameters. ``now`` is None for the wall clock; ``rescore`` None for no re-score."""

    catalog: str
    schema: str
    volume: str
    model_full_name: str
    """The Unity Catalog model, ``catalog.schema.name``."""
    alias: str
    feature_set: str
    contamination: Contamination
    trees: int
    seed: int
    lookback: timedelta
    max_rows: int
    promotion: str
    now: Optional[datetime]
    rescore: Optional[timedelta]
    experiment: str
    registry_uri: str
    """The MLflow model registry: ``databricks-uc`` (Unity Catalog) unless a test passes a local one."""
    tracking_uri: str
    """The MLflow tracking server, '' for the workspace's (MLflow's default in a Databricks notebook)."""
    volume_path: str
    """The folder of ``feed/`` and ``serving/``, '' for the volume's, ``/Volumes/<catalog>/<schema>/<volume>``
    (a volume's path in a notebook: https://docs.databricks.com/aws/en/volumes/volume-files )."""

    def table(self, name: str) -> str:
        """``catalog.schema.name`` of one of this project's tables."""
        return f"{self.catalog}.{self.schema}.{check_identifier(name, 'table')}"

    def clock(self) -> datetime:
        """``now`` if set (replayed history), else the wall clock, as an aware UTC datetime."""
        return self.now if self.now is not None else datetime.now(timezone.utc)


def parse_job_params(get: Callable[[str], Optional[str]]) -> JobParams:
    """Reads every parameter with ``get(name)`` ('' or None → its default) and checks them all;
    raises one ValueError that lists every problem."""
    raw = {name: _text(get(name), default) for name, default in PARAMETER_DEFAULTS.items()}
    problems: List[str] = []

    def check(name: str, parse: Callable[[str], object]) -> object:
        try:
            return parse(raw[name])
        except ValueError as err:
            problems.append(f"{name}: {err}")
            return None

    for name in ("catalog", "schema", "volume", "alias"):
        check(name, lambda v, n=name: check_identifier(v, n))
    model = check("model_name", lambda v: _model_name(v, raw["catalog"], raw["schema"]))
    feature_set = check("feature_set", lambda v: _choice(v, ("default", "seed")))
    contamination = check("contamination", _contamination)
    trees = check("trees", lambda v: _int_in(v, 10, 2000))
    seed = check("seed", lambda v: _int_in(v, 0, 2**31 - 1))
    days = check("lookback_days", lambda v: _int_in(v, 1, 90))
    lookback = check("lookback", lambda v: parse_duration(v) if v else None)
    max_rows = check("max_rows", lambda v: _int_in(v, 100, 5_000_000))
    promotion = check("promotion", lambda v: _choice(v, ("auto", "manual")))
    now = check("now", parse_instant)
    rescore = check("rescore", lambda v: parse_duration(v) if v else None)
    check("volume_path", lambda v: v if not v or v.startswith("/") else _fail(f"{v!r} must be an absolute path"))
    if problems:
        raise ValueError("Bad job parameters: " + "; ".join(problems))
    return JobParams(
        catalog=raw["catalog"],
        schema=raw["schema"],
        volume=raw["volume"],
        model_full_name=str(model),
        alias=raw["alias"],
        feature_set=str(feature_set),
        contamination=contamination,  # type: ignore[arg-type]
        trees=int(trees),  # type: ignore[arg-type]
        seed=int(seed),  # type: ignore[arg-type]
        lookback=lookback if lookback is not None else timedelta(days=int(days)),  # type: ignore[arg-type]
        max_rows=int(max_rows),  # type: ignore[arg-type]
        promotion=str(promotion),
        now=now,  # type: ignore[arg-type]
        rescore=rescore,  # type: ignore[arg-type]
        experiment=raw["experiment"],
        registry_uri=raw["registry_uri"],
        tracking_uri=raw["tracking_uri"],
        volume_path=raw["volume_path"].rstrip("/") or raw["volume_path"],
    )


def _fail(message: str) -> str:
    raise ValueError(message)


def _text(value: Optional[str], default: str) -> str:
    value = "" if value is None else str(value).strip()
    return value if value else default


def _model_name(value: str, catalog: str, schema: str) -> str:
    parts = value.split(".")
    if len(parts) == 1:
        parts = [catalog, schema, value]
    if len(parts) != 3:
        raise ValueError(f"{value!r} must be a model name or catalog.schema.name")
    return ".".join(check_identifier(part, "each part") for part in parts)


def _choice(value: str, choices: Tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{value!r} must be one of {', '.join(choices)}")
    return value


def _int_in(value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} must be a whole number from {low} to {high}") from None
    if not low <= number <= high:
        raise ValueError(f"{value!r} must be a whole number from {low} to {high}")
    return number


def _contamination(value: str) -> Contamination:
    if value == "auto":
        return "auto"
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 < number <= 0.5:
        raise ValueError(f"{value!r} must be auto or a number in (0, 0.5]")
    return number
