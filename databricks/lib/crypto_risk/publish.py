"""What the inference notebook publishes for the bot, besides the anomalies table: a feed file per run
and one serving snapshot, JSON files in the volume that the bot reads through the Files API instead
of starting a SQL warehouse (contract version 1, described in ``databricks/README.md``, "Feed file
and serving snapshot"; the TypeScript reader parses ``tests/fixtures/databricks/*.json``).

- ``feed/<YYYYMMDD>T<HHMMSS><mmm>Z.json`` (named by the run's clock ``now``): the windows this run
  inserted or changed that are anomalous now or were before (so a message can be updated when a
  re-score clears it), at most MAX_FEED_WINDOWS, and each of their assets' last 24 h of prices;
  at most MAX_FEED_BYTES. No file when there is no such window.
- ``serving/snapshot.json`` (overwritten every run): the 24 h and 7 d leaderboards and most anomalous
  windows (the semantics of ``sql/queries/top_leaderboard.sql`` and ``top_windows.sql``) and every
  asset's last 7 days of prices with flags and scores.

Everything here takes pandas DataFrames (the notebook's ``.toPandas()`` of its own Spark queries),
so it runs and is tested without Spark. Timestamps may be naive (taken as UTC, as Spark gives them
with the session time zone UTC), aware, or ISO-8601 text; they are written as ISO-8601 UTC with
milliseconds and ``Z``. NaN and ±inf are written as null.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np
import pandas as pd

FORMAT_VERSION = 1
FEED_FORMAT = "crypto-risk-feed"
SERVING_FORMAT = "crypto-risk-serving"

FEED_DIR = "feed"
"""Folder of the feed files, in the volume beside ``landing/``."""
SNAPSHOT_PATH = "serving/snapshot.json"
"""The serving snapshot, relative to the volume."""

MAX_FEED_WINDOWS = 200
"""Windows a feed file holds at most (the lowest scores are kept; the rest are counted)."""
MAX_FEED_BYTES = 1 << 20
"""Size of a feed file at most (1 MiB): series are dropped, fewest windows first, to fit."""
WINDOWS_PER_ASSET = 50
"""Anomalous windows of one asset a snapshot period lists at most."""

FEED_SERIES_SPAN = timedelta(hours=24)
SNAPSHOT_SERIES_SPAN = timedelta(days=7)
PERIODS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))
FEED_KEEP = timedelta(days=7)
TEMPORARY_KEEP = timedelta(days=1)

SIMULATOR = "simulator"
"""Gold's ``source`` containing this marks a simulated window (as ``sql/queries/scored_since.sql``)."""

FEED_NAME = re.compile(r"^(\d{8})T(\d{6})(\d{3})Z\.json$")


# --- values ------------------------------------------------------------------------------------


def utc_timestamp(value: Any) -> Optional[pd.Timestamp]:
    """An aware UTC pandas Timestamp (naive input is UTC), or None for a missing value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def iso_ms(value: Any) -> Optional[str]:
    """``2025-03-01T00:10:00.000Z`` (milliseconds, truncated), or None for a missing value."""
    stamp = utc_timestamp(value)
    if stamp is None:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def feed_file_name(now: Any) -> str:
    """The feed file of the run scored at ``now``: ``20250301T001000000Z.json``."""
    stamp = utc_timestamp(now)
    if stamp is None:
        raise ValueError("a feed file needs the run's instant")
    return stamp.strftime("%Y%m%dT%H%M%S") + f"{stamp.microsecond // 1000:03d}Z.json"


def feed_file_instant(name: str) -> Optional[datetime]:
    """The instant a feed file's name encodes (aware UTC), or None when the name is not one."""
    match = FEED_NAME.match(name)
    if not match:
        return None
    try:
        base = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return base.replace(tzinfo=timezone.utc) + timedelta(milliseconds=int(match.group(3)))


def _number(value: Any) -> Optional[float]:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _integer(value: Any) -> Optional[int]:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return int(value)


def _text(value: Any) -> Optional[str]:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _flag(value: Any) -> bool:
    """1/True → True; 0, False and a missing value → False."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    return bool(int(value))


def _simulated(sources: pd.Series) -> pd.Series:
    return sources.fillna("").astype(str).str.contains(SIMULATOR, regex=False)


def _frame(rows: pd.DataFrame, required: Sequence[str]) -> pd.DataFrame:
    missing = [name for name in required if name not in rows.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    out = rows.reset_index(drop=True).copy()
    out["_end"] = pd.to_datetime(out["window_end"], utc=True)
    if "source" not in out.columns:
        out["source"] = None
    return out


# --- the feed file -----------------------------------------------------------------------------

SCORED_COLUMNS = ("asset", "symbol", "window_end", "price_avg", "ret_window", "anomaly_score", "is_anomaly",
                  "model_version", "scored_at")
"""Columns of a scored window (``changed`` in ``feed_payload``), plus ``source`` (Gold's, may be null), and
``reasons`` and ``data_issue`` where the table has them (null when not)."""

SERIES_COLUMNS = ("asset", "symbol", "window_end", "price_avg", "anomaly_score", "is_anomaly")
"""Columns of Gold windows left-joined with their scores (``anomaly_score`` and ``is_anomaly`` null when
unscored), plus ``source``, and ``emitted_at`` when Gold holds a window more than once."""


def changed_windows(compared: pd.DataFrame) -> pd.DataFrame:
    """The rows of a MERGE source a feed file reports: inserted (no ``_old_version``) or changed (another
    model_version, score or flag than ``_old_version``, ``_old_score``, ``_old_flag``), and anomalous now
    (``is_anomaly`` = 1) or before (``_old_flag`` = 1). ``compared`` is the source left-joined with the
    table as it was before the MERGE."""
    if compared.empty:
        return compared.reset_index(drop=True)
    old_version = compared["_old_version"]
    inserted = old_version.isna()
    differs = (
        (old_version != compared["model_version"])
        | (compared["_old_score"] != compared["anomaly_score"])
        | (compared["_old_flag"] != compared["is_anomaly"])
    )
    flagged = compared["is_anomaly"].fillna(0).astype(int) == 1
    was_flagged = compared["_old_flag"].fillna(0).astype(int) == 1
    keep = (inserted | (~inserted & differs)) & (flagged | was_flagged)
    return compared[keep.to_numpy()].reset_index(drop=True)


def price_series(gold_with_scores: pd.DataFrame, since: Any, until: Any,
                 assets: Optional[Iterable[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Per asset (sorted), its Gold windows with window_end in (since, until], oldest first, as parallel
    arrays: ``window_end``, ``price_avg``, ``anomaly_score`` (null when unscored), ``is_anomaly`` (false
    when unscored); ``symbol`` of the latest window; ``simulated`` when any window's source says so.
    One row per (asset, window_end): the latest ``emitted_at`` (else the last given) wins."""
    frame = _frame(gold_with_scores, SERIES_COLUMNS)
    low, high = utc_timestamp(since), utc_timestamp(until)
    frame = frame[(frame["_end"] > low) & (frame["_end"] <= high)]
    if assets is not None:
        frame = frame[frame["asset"].isin(set(assets))]
    frame = frame.assign(_seq=np.arange(len(frame)))
    order = ["_seq"]
    if "emitted_at" in frame.columns:
        frame = frame.assign(_emitted=pd.to_datetime(frame["emitted_at"], utc=True))
        order = ["_emitted", "_seq"]
    frame = frame.sort_values(order, kind="mergesort", na_position="first")
    frame = frame.drop_duplicates(["asset", "_end"], keep="last").sort_values(["asset", "_end"], kind="mergesort")
    out: Dict[str, Dict[str, Any]] = {}
    for asset, rows in frame.groupby("asset", sort=True):
        out[str(asset)] = {
            "symbol": _text(rows["symbol"].iloc[-1]),
            "simulated": bool(_simulated(rows["source"]).any()),
            "window_end": [iso_ms(v) for v in rows["_end"]],
            "price_avg": [_number(v) for v in rows["price_avg"]],
            "anomaly_score": [_number(v) for v in rows["anomaly_score"]],
            "is_anomaly": [_flag(v) for v in rows["is_anomaly"]],
        }
    return out


def _window(row: pd.Series, feed: bool = False) -> Dict[str, Any]:
    """A scored window as the feed file (``feed``: with its flag and scored_at) or the snapshot lists it."""
    return {
        "asset": str(row["asset"]),
        "symbol": _text(row["symbol"]),
        "window_end": iso_ms(row["_end"]),
        "price_avg": _number(row["price_avg"]),
        "ret_window": _number(row["ret_window"]),
        "anomaly_score": _number(row["anomaly_score"]),
        **({"is_anomaly": _flag(row["is_anomaly"])} if feed else {}),
        "model_version": _integer(row["model_version"]),
        **({"scored_at": iso_ms(row["scored_at"])} if feed else {}),
        "simulated": bool(_simulated(pd.Series([row["source"]])).iloc[0]),
        # why it is unusual (crypto_risk.features.explain_series); null for a row scored before reasons
        "reasons": _text(row.get("reasons")),
        "data_issue": _text(row.get("data_issue")),
    }


def feed_payload(
    changed: pd.DataFrame,
    gold_with_scores: pd.DataFrame,
    now: Any,
    model_name: str,
    model_version: int,
    max_windows: int = MAX_FEED_WINDOWS,
    max_bytes: int = MAX_FEED_BYTES,
) -> Dict[str, Any]:
    """The feed file of one run (a dict; ``encode_json`` gives its bytes).

    ``changed``: the windows to report (``changed_windows``; SCORED_COLUMNS plus ``source``);
    ``gold_with_scores``: Gold windows left-joined with the anomalies table after the MERGE
    (SERIES_COLUMNS plus ``source``), at least over (now − 24 h, now] for the reported assets.
    Windows are ordered by window_end, then asset; beyond ``max_windows`` the lowest scores are kept
    and the rest counted in ``omitted_windows``. Series over (now − 24 h, now] of every reported
    asset; when the JSON exceeds ``max_bytes``, the series of the assets with the fewest windows go
    first (ties: by asset name), and ValueError when even without series it does not fit.
    """
    rows = _frame(changed, SCORED_COLUMNS)
    rows = rows.sort_values(["_end", "asset"], kind="mergesort").reset_index(drop=True)
    omitted = max(len(rows) - max_windows, 0)
    if omitted:
        lowest = rows.assign(_score=pd.to_numeric(rows["anomaly_score"], errors="coerce")).sort_values(
            ["_score", "_end", "asset"], kind="mergesort", na_position="last").head(max_windows)
        rows = rows.loc[sorted(lowest.index)].reset_index(drop=True)
    windows = [_window(row, feed=True) for _, row in rows.iterrows()]
    stamp = utc_timestamp(now)
    series = price_series(gold_with_scores, stamp - FEED_SERIES_SPAN, stamp, assets=rows["asset"].unique())
    payload: Dict[str, Any] = {
        "format": FEED_FORMAT,
        "version": FORMAT_VERSION,
        "scored_at": iso_ms(stamp),
        "model": {"name": model_name, "version": int(model_version)},
        "windows": windows,
        "omitted_windows": int(omitted),
        "series": series,
    }
    counts = rows["asset"].value_counts()
    droppable = sorted(series, key=lambda asset: (int(counts.get(asset, 0)), asset))
    while len(encode_json(payload)) > max_bytes:
        if not droppable:
            raise ValueError(f"the feed file of {payload['scored_at']} exceeds {max_bytes} bytes without series")
        del series[droppable.pop(0)]
    return payload


# --- the serving snapshot ----------------------------------------------------------------------

ANOMALY_COLUMNS = ("asset", "symbol", "window_end", "price_avg", "ret_window", "anomaly_score", "is_anomaly",
                   "model_version")
"""Columns of the anomalies rows a snapshot summarises, plus ``source`` (Gold's, may be null), and
``reasons`` and ``data_issue`` where the table has them."""


def _mean(values: pd.Series) -> Optional[float]:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return _number(values.mean()) if len(values) else None


def leaderboard(period: pd.DataFrame) -> List[Dict[str, Any]]:
    """``top_leaderboard.sql`` over the rows of one period: one entry per asset with a scored window,
    ordered by anomalies desc, mean_score asc (nulls last), asset."""
    entries = []
    for asset, rows in period.groupby("asset", sort=True):
        flagged = rows[rows["_flag"]]
        entries.append({
            "asset": str(asset),
            "symbol": _text(rows.sort_values("_end", kind="mergesort")["symbol"].iloc[-1]),
            "anomalies": int(len(flagged)),
            "windows_scored": int(len(rows)),
            "mean_score": _mean(flagged["anomaly_score"]),
            "last_event": iso_ms(flagged["_end"].max()) if len(flagged) else None,
            "simulated": bool(_simulated(rows["source"]).any()),
        })
    entries.sort(key=lambda e: (-e["anomalies"], e["mean_score"] is None,
                                e["mean_score"] if e["mean_score"] is not None else 0.0, e["asset"]))
    return entries


def top_windows(period: pd.DataFrame, per_asset: int = WINDOWS_PER_ASSET) -> List[Dict[str, Any]]:
    """``top_windows.sql`` per asset: each asset's ``per_asset`` anomalous windows with the lowest score,
    together ordered by anomaly_score asc, window_end desc, asset."""
    flagged = period[period["_flag"]].assign(_score=pd.to_numeric(period["anomaly_score"], errors="coerce"))
    flagged = flagged.assign(_back=-flagged["_end"].map(lambda t: t.value))
    flagged = flagged.sort_values(["_score", "_back", "asset"], kind="mergesort")
    kept = flagged.groupby("asset", sort=False).head(per_asset)
    return [_window(row) for _, row in kept.iterrows()]


def serving_snapshot(
    anomalies: pd.DataFrame,
    gold_with_scores: pd.DataFrame,
    now: Any,
    model_name: str,
    model_version: int,
    windows_per_asset: int = WINDOWS_PER_ASSET,
) -> Dict[str, Any]:
    """The serving snapshot (a dict; ``encode_json`` gives its bytes).

    ``anomalies``: rows of the anomalies table (ANOMALY_COLUMNS plus Gold's ``source``, one row per
    (asset, window_end)) at least over [now − 7 d, now]; ``gold_with_scores``: Gold windows left-joined
    with their scores (SERIES_COLUMNS plus ``source``) at least over (now − 7 d, now]. Each period is
    [now − span, now], both ends included.
    """
    stamp = utc_timestamp(now)
    rows = _frame(anomalies, ANOMALY_COLUMNS)
    rows["_flag"] = pd.to_numeric(rows["is_anomaly"], errors="coerce").fillna(0).astype(int) == 1
    periods: Dict[str, Any] = {}
    for key, span in PERIODS:
        since = stamp - span
        period = rows[(rows["_end"] >= since) & (rows["_end"] <= stamp)]
        board = leaderboard(period)
        periods[key] = {
            "since": iso_ms(since),
            "until": iso_ms(stamp),
            "scored_windows": int(sum(entry["windows_scored"] for entry in board)),
            "leaderboard": board,
            "windows": top_windows(period, windows_per_asset),
        }
    return {
        "format": SERVING_FORMAT,
        "version": FORMAT_VERSION,
        "generated_at": iso_ms(stamp),
        "model": {"name": model_name, "version": int(model_version)},
        "periods": periods,
        "windows_per_asset": int(windows_per_asset),
        "series": price_series(gold_with_scores, stamp - SNAPSHOT_SERIES_SPAN, stamp),
    }


# --- files -------------------------------------------------------------------------------------


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON (``,`` and ``:`` without spaces); NaN or ±inf raise ValueError."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def write_json_atomically(path: str, payload: Any) -> int:
    """Writes ``payload`` as compact JSON to ``path``: a hidden temporary file in the same folder (name
    starting with ``.``), flushed and fsynced, then renamed onto ``path`` (readers see the old file or
    the new one, never half of one). Creates the folder. Returns the bytes written."""
    data = encode_json(payload)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            try:
                os.fsync(out.fileno())
            except OSError as err:  # a file system without fsync (some FUSE mounts): the rename still orders
                if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return len(data)


def prune_feed_files(folder: str, now: Any, keep: timedelta = FEED_KEEP) -> List[str]:
    """Deletes the feed files in ``folder`` whose name-encoded instant is before now − keep, and hidden
    temporaries (``.``…) last modified before now − 1 day; other files stay. Returns the names removed
    (sorted); a missing folder removes nothing."""
    stamp = utc_timestamp(now)
    if stamp is None:
        raise ValueError("pruning needs the run's instant")
    cutoff = stamp.to_pydatetime() - keep
    stale = (stamp.to_pydatetime() - TEMPORARY_KEEP).timestamp()
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        instant = feed_file_instant(name)
        if instant is not None:
            old = instant < cutoff
        elif name.startswith("."):
            old = os.path.getmtime(path) < stale
        else:
            continue
        if old:
            try:
                os.remove(path)
            except FileNotFoundError:  # another run removed it first
                continue
            removed.append(name)
    return removed
