"""Feature sets over Gold windows: the same definitions as ``src/model/features.ts``.

Both sets are computed per asset over its windows in time order, before any filtering to a
training or scoring period, so that lags and trailing statistics see the history just before it.

- ``seed``: the original project's features ``price_avg, price_vol, ret_window, vol_sum, ret_prev``
  (null and ±inf → 0). Raw levels: the highest-priced, highest-volume asset dominates.
- ``default``: scale-free features, each relative to the asset's own trailing day (the previous
  288 windows, of which at least 12 must have a value):

  - ``ret_z``: the log return against the previous window over its trailing robust scale
    (1.4826 × median |log return|), as sign(z)·ln(1 + |z|);
  - ``range_rel``: ln(1 + the window's high/low range over its trailing median);
  - ``volume_z``: ln(vol_sum over its trailing median);
  - ``gap``: ln(1 + windows missing since the previous one), a stalled or frozen feed.

  A statistic without enough history is 0 (neutral).

The trailing median is exactly the TypeScript one (``TrailingMedian`` below): a window of the last
288 *slots*, where a window without a value (no previous window, a non-positive price or volume)
takes a slot but adds no value, and the median needs at least 12 values in the window. Missing
values are ``None`` or NaN here (JSON has no NaN, so NaN never is a value).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

FEATURE_NAMES: Dict[str, Tuple[str, ...]] = {
    "seed": ("price_avg", "price_vol", "ret_window", "vol_sum", "ret_prev"),
    "default": ("ret_z", "range_rel", "volume_z", "gap"),
}
"""Model input columns of each feature set, in order."""

TRAILING_WINDOWS = 288
"""Trailing history of the relative features: one day of 5-minute windows."""

MIN_TRAILING = 12
"""Values a trailing median needs at least."""

WINDOW_MS = 5 * 60_000
ROBUST_SCALE = 1.4826

GOLD_COLUMNS = ("asset", "symbol", "window_end", "price_avg", "price_vol", "price_min", "price_max",
                "vol_sum", "ret_window")
"""The Gold columns the features read."""

ROW_COLUMNS = ("asset", "symbol", "window_end", "price_avg", "price_vol", "ret_window", "vol_sum", "ret_prev")
"""The columns of ``Features.rows``: what the anomalies table keeps of each window."""


class TrailingMedian:
    """The median of the last ``size`` values pushed, or None with fewer than MIN_TRAILING values.

    ``None`` takes a slot of the window but adds no value (like pandas' rolling windows over NaN).
    A sorted copy of the window's values is kept, so a push costs a binary search and one shift.
    """

    def __init__(self, size: int, min_values: int = MIN_TRAILING) -> None:
        self._size = size
        self._min = min_values
        self._window: Deque[Optional[float]] = deque()
        self._sorted: List[float] = []

    def push(self, value: Optional[float]) -> None:
        self._window.append(value)
        if value is not None:
            insort(self._sorted, value)
        if len(self._window) > self._size:
            gone = self._window.popleft()
            if gone is not None:
                del self._sorted[bisect_left(self._sorted, gone)]

    def median(self) -> Optional[float]:
        n = len(self._sorted)
        if n < self._min:
            return None
        mid = n >> 1
        if n % 2 == 1:
            return self._sorted[mid]
        return (self._sorted[mid - 1] + self._sorted[mid]) / 2


@dataclass(frozen=True)
class Features:
    """Feature rows of windows, ordered by asset then window_end (index 0..n-1 in both frames).

    ``rows`` has ROW_COLUMNS (window_end as a UTC timestamp, ret_prev NaN where undefined); ``X`` has
    the feature set's columns (FEATURE_NAMES), every value finite.
    """

    feature_set: str
    rows: pd.DataFrame
    X: pd.DataFrame

    def __len__(self) -> int:
        return len(self.rows)

    def where(self, mask: Sequence[bool]) -> "Features":
        """The rows where ``mask`` is true, renumbered from 0."""
        keep = np.asarray(mask, dtype=bool)
        return Features(
            self.feature_set,
            self.rows[keep].reset_index(drop=True),
            self.X[keep].reset_index(drop=True),
        )


def compute_features(windows: pd.DataFrame, feature_set: str) -> Features:
    """Features of Gold windows of any assets (GOLD_COLUMNS; window_end anything pandas reads as a
    UTC time: ISO-8601 text, naive UTC or aware timestamps). Windows must be unique per
    (asset, window_end): see ``scoring.dedupe_windows``."""
    if feature_set not in FEATURE_NAMES:
        raise ValueError(f"unknown feature set {feature_set!r}: use one of {', '.join(sorted(FEATURE_NAMES))}")
    missing = [c for c in GOLD_COLUMNS if c not in windows.columns]
    if missing:
        raise ValueError(f"Gold windows lack the column(s) {', '.join(missing)}")

    gold = windows.loc[:, list(GOLD_COLUMNS)].copy()
    gold["window_end"] = pd.to_datetime(gold["window_end"], utc=True)
    gold["_ms"] = gold["window_end"].values.astype("datetime64[ms]").astype(np.int64)
    gold = gold.sort_values(["asset", "_ms"], kind="mergesort").reset_index(drop=True)

    ret_prev: List[Optional[float]] = []
    vectors: List[List[float]] = []
    make = _seed_features if feature_set == "seed" else _default_features
    for _, series in gold.groupby("asset", sort=True):
        r, v = make(series)
        ret_prev.extend(r)
        vectors.extend(v)

    rows = gold.loc[:, [c for c in ROW_COLUMNS if c != "ret_prev"]].copy()
    rows["ret_prev"] = np.array([math.nan if r is None else r for r in ret_prev], dtype=float)
    for column in ("price_avg", "price_vol", "ret_window", "vol_sum"):
        rows[column] = pd.to_numeric(rows[column], errors="coerce").astype(float)
    X = pd.DataFrame(vectors, columns=list(FEATURE_NAMES[feature_set]), dtype=float)
    if X.empty:
        X = pd.DataFrame({c: pd.Series(dtype=float) for c in FEATURE_NAMES[feature_set]})
    return Features(feature_set, rows.reset_index(drop=True), X)


def _seed_features(series: pd.DataFrame) -> Tuple[List[Optional[float]], List[List[float]]]:
    price = _values(series["price_avg"])
    vol = _values(series["price_vol"])
    ret = _values(series["ret_window"])
    volume = _values(series["vol_sum"])
    ret_prev: List[Optional[float]] = []
    out: List[List[float]] = []
    for i, p in enumerate(price):
        r = _ratio_minus_one(p, price[i - 1]) if i > 0 else None
        ret_prev.append(r if r is not None and math.isfinite(r) else None)
        out.append([_finite_or_zero(x) for x in (p, vol[i], ret[i], volume[i], r)])
    return ret_prev, out


def _default_features(series: pd.DataFrame) -> Tuple[List[Optional[float]], List[List[float]]]:
    price = _values(series["price_avg"])
    low = _values(series["price_min"])
    high = _values(series["price_max"])
    volume = _values(series["vol_sum"])
    ms = series["_ms"].tolist()
    abs_ret = TrailingMedian(TRAILING_WINDOWS)
    ranges = TrailingMedian(TRAILING_WINDOWS)
    volumes = TrailingMedian(TRAILING_WINDOWS)
    ret_prev: List[Optional[float]] = []
    out: List[List[float]] = []
    for i, p in enumerate(price):
        prev = price[i - 1] if i > 0 else None
        r = _ratio_minus_one(p, prev) if i > 0 else None
        ret_prev.append(r if r is not None and math.isfinite(r) else None)
        log_ret = math.log(p / prev) if prev is not None and p is not None and prev > 0 and p > 0 else None
        range_ratio = None
        if low[i] is not None and high[i] is not None and low[i] > 0:
            range_ratio = high[i] / low[i] - 1
        vol = volume[i] if volume[i] is not None and volume[i] > 0 else None

        scale = abs_ret.median()
        ret_z = 0.0
        if log_ret is not None and scale is not None and scale > 0:
            ret_z = _signed_log(log_ret / (ROBUST_SCALE * scale))
        range_rel = math.log1p(_ratio(range_ratio, ranges.median()))
        median_volume = volumes.median()
        volume_z = math.log(vol / median_volume) if vol is not None and (median_volume or 0) > 0 else 0.0
        gap = math.log1p(max(0.0, (ms[i] - ms[i - 1]) / WINDOW_MS - 1)) if i > 0 else 0.0
        out.append([_finite_or_zero(x) for x in (ret_z, range_rel, volume_z, gap)])

        abs_ret.push(None if log_ret is None else abs(log_ret))
        ranges.push(range_ratio)
        volumes.push(vol)
    return ret_prev, out


def _values(column: pd.Series) -> List[Optional[float]]:
    """A column as floats, None for a missing value (None or NaN)."""
    out: List[Optional[float]] = []
    for v in column.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append(None)
        else:
            out.append(float(v))
    return out


def _ratio_minus_one(value: Optional[float], previous: Optional[float]) -> Optional[float]:
    """value / previous − 1 with IEEE semantics (±inf, NaN) as JavaScript computes it."""
    if value is None or previous is None:
        return None
    if previous == 0:
        return math.nan if value == 0 else math.copysign(math.inf, value) * math.copysign(1.0, previous) - 1
    return value / previous - 1


def _ratio(value: Optional[float], median: Optional[float]) -> float:
    return value / median if value is not None and median is not None and median > 0 else 0.0


def _signed_log(x: float) -> float:
    if math.isnan(x):
        return x
    return math.copysign(math.log1p(abs(x)), x) if x != 0 else 0.0


def _finite_or_zero(value: Optional[float]) -> float:
    return value if value is not None and math.isfinite(value) else 0.0
