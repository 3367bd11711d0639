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

Whatever the set, every row also carries ``reasons`` (JSON text) and ``data_issue`` (``gap``,
``frozen`` or None): why the window is unusual, by the rules of ``src/model/reasons.ts`` (each
measurement behind ``default`` as a multiple of the asset's usual over its trailing day; one counts
at REASON_TIMES × usual; data reasons first, then by the forest's own feature magnitude; at most
MAX_REASONS), from the same measurements, so both engines store the same reasons. ``is_alert`` is
reasons.ts's ``isAlert``: whether a scored window alerts, from its score and stored reasons.

The trailing median is exactly the TypeScript one (``TrailingMedian`` below): a window of the last
288 *slots*, where a window without a value (no previous window, a non-positive price or volume)
takes a slot but adds no value, and the median needs at least 12 values in the window. Missing
values are ``None`` or NaN here (JSON has no NaN, so NaN never is a value).
"""

from __future__ import annotations

import json
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

ROW_COLUMNS = ("asset", "symbol", "window_end", "price_avg", "price_vol", "ret_window", "vol_sum", "ret_prev",
               "reasons", "data_issue")
"""The columns of ``Features.rows``: what the anomalies table keeps of each window."""

REASON_TIMES = 3.0
"""A measurement is a reason from this multiple of the asset's usual on."""

ALERT_TIMES = 12.0
"""A window alerts when the forest flags it or its stored return or range reason is at least this
multiple of the asset's usual (``isAlert`` and ALERT_TIMES of src/model/reasons.ts, which say how
bench/detection chose it)."""

ALERT_FEATURES = ("return", "range")

MAX_REASONS = 3
WINDOW_MINUTES = 5


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
    explained: List[Tuple[str, Optional[str]]] = []
    make = _seed_features if feature_set == "seed" else _default_features
    for _, series in gold.groupby("asset", sort=True):
        r, v = make(series)
        ret_prev.extend(r)
        vectors.extend(v)
        explained.extend(explain_series([_measurement(m) for m in _measure_series(series)]))

    rows = gold.loc[:, [c for c in ROW_COLUMNS if c not in ("ret_prev", "reasons", "data_issue")]].copy()
    rows["ret_prev"] = np.array([math.nan if r is None else r for r in ret_prev], dtype=float)
    rows["reasons"] = pd.Series([text for text, _ in explained], dtype=object)
    rows["data_issue"] = pd.Series([issue for _, issue in explained], dtype=object)
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
    ret_prev: List[Optional[float]] = []
    out: List[List[float]] = []
    for m in _measure_series(series):
        ret_prev.append(m.ret_prev)
        ret_z = 0.0
        if m.log_ret is not None and m.ret_scale is not None and m.ret_scale > 0:
            ret_z = _signed_log(m.log_ret / (ROBUST_SCALE * m.ret_scale))
        range_rel = math.log1p(_ratio(m.range_ratio, m.range_median))
        volume_z = 0.0
        if m.vol is not None and (m.vol_median or 0) > 0:
            volume_z = math.log(m.vol / m.vol_median)
        gap = math.log1p(max(0.0, m.step_windows - 1)) if m.has_prev else 0.0
        out.append([_finite_or_zero(x) for x in (ret_z, range_rel, volume_z, gap)])
    return ret_prev, out


@dataclass(frozen=True)
class _Measured:
    """What the ``default`` features and the reasons are made of, per window, before any transform."""

    has_prev: bool
    ret_prev: Optional[float]
    log_ret: Optional[float]
    ret_scale: Optional[float]
    range_ratio: Optional[float]
    range_median: Optional[float]
    range_drop: Optional[float]
    vol: Optional[float]
    vol_median: Optional[float]
    step_windows: float
    still: bool


def _measure_series(series: pd.DataFrame) -> List[_Measured]:
    price = _values(series["price_avg"])
    low = _values(series["price_min"])
    high = _values(series["price_max"])
    volume = _values(series["vol_sum"])
    ms = series["_ms"].tolist()
    abs_ret = TrailingMedian(TRAILING_WINDOWS)
    ranges = TrailingMedian(TRAILING_WINDOWS)
    volumes = TrailingMedian(TRAILING_WINDOWS)
    out: List[_Measured] = []
    for i, p in enumerate(price):
        prev = price[i - 1] if i > 0 else None
        r = _ratio_minus_one(p, prev) if i > 0 else None
        log_ret = math.log(p / prev) if prev is not None and p is not None and prev > 0 and p > 0 else None
        range_ratio = None
        range_drop = None
        if low[i] is not None and high[i] is not None and low[i] > 0:
            range_ratio = high[i] / low[i] - 1
            if high[i] > 0:
                range_drop = (high[i] - low[i]) / high[i]
        vol = volume[i] if volume[i] is not None and volume[i] > 0 else None
        still = (i > 0 and low[i] is not None and low[i] == high[i] and prev is not None
                 and abs(low[i] - prev) <= 1e-12 * abs(prev))
        out.append(_Measured(
            has_prev=i > 0,
            ret_prev=r if r is not None and math.isfinite(r) else None,
            log_ret=log_ret,
            ret_scale=abs_ret.median(),
            range_ratio=range_ratio,
            range_median=ranges.median(),
            range_drop=range_drop,
            vol=vol,
            vol_median=volumes.median(),
            step_windows=(ms[i] - ms[i - 1]) / WINDOW_MS if i > 0 else 0.0,
            still=bool(still),
        ))
        abs_ret.push(None if log_ret is None else abs(log_ret))
        ranges.push(range_ratio)
        volumes.push(vol)
    return out


@dataclass(frozen=True)
class Measurement:
    """A window's measurements as multiples of its asset's usual (``Measurement`` of reasons.ts)."""

    ret: Optional[float]
    ret_times: Optional[float]
    range_drop: Optional[float]
    range_times: Optional[float]
    volume: Optional[float]
    volume_times: Optional[float]
    missing: int
    still: bool


def _measurement(m: _Measured) -> Measurement:
    def finite(x: Optional[float]) -> Optional[float]:
        return x if x is not None and math.isfinite(x) else None

    ret_times = None
    if m.log_ret is not None and m.ret_scale is not None and m.ret_scale > 0:
        ret_times = finite(abs(m.log_ret) / (ROBUST_SCALE * m.ret_scale))
    range_times = None
    if m.range_ratio is not None and m.range_median is not None and m.range_median > 0:
        range_times = finite(m.range_ratio / m.range_median)
    volume_times = None
    if m.vol is not None and m.vol_median is not None and m.vol_median > 0:
        volume_times = finite(m.vol / m.vol_median)
    return Measurement(
        ret=finite(m.ret_prev),
        ret_times=ret_times,
        range_drop=finite(m.range_drop),
        range_times=range_times,
        volume=m.vol,
        volume_times=volume_times,
        # round half to even here, half away from zero in JavaScript: step_windows is a whole number
        missing=max(0, int(round(m.step_windows - 1))) if m.has_prev else 0,
        still=m.still,
    )


def explain_series(measurements: Sequence[Measurement]) -> List[Tuple[str, Optional[str]]]:
    """(reasons as JSON text, data_issue) of each window of one asset's series, in time order
    (``explainSeries`` of reasons.ts): ``frozen`` once the price stood still in two windows in a row,
    and for the first window after such a run; ``gap`` when windows are missing just before it."""
    out: List[Tuple[str, Optional[str]]] = []
    run = 0
    for m in measurements:
        before = run
        run = run + 1 if m.still else 0
        frozen_for = run if run >= 2 else (before if not m.still and before >= 2 else 0)
        reasons: List[Dict[str, object]] = []
        if m.missing > 0:
            reasons.append({"feature": "gap", "value": m.missing * WINDOW_MINUTES, "times": None})
        if frozen_for > 0:
            # the still windows and the one before them, whose average they repeat
            reasons.append({"feature": "frozen", "value": (frozen_for + 1) * WINDOW_MINUTES, "times": None})
        market: List[Tuple[float, Dict[str, object]]] = []
        for feature, value, times, magnitude in (
            ("return", m.ret, m.ret_times, math.log1p(m.ret_times or 0.0)),
            ("range", m.range_drop, m.range_times, math.log1p(m.range_times or 0.0)),
            ("volume", m.volume, m.volume_times, math.log(m.volume_times) if m.volume_times else 0.0),
        ):
            if value is not None and times is not None and times >= REASON_TIMES:
                market.append((magnitude, {"feature": feature, "value": value, "times": times}))
        market.sort(key=lambda item: -item[0])  # stable: equal magnitudes keep return, range, volume
        reasons.extend(reason for _, reason in market)
        issue = "gap" if m.missing > 0 else ("frozen" if frozen_for > 0 else None)
        out.append((json.dumps(reasons[:MAX_REASONS], separators=(",", ":")), issue))
    return out


def is_alert(score: float, reasons: Optional[str]) -> bool:
    """Whether a scored window alerts (its ``is_anomaly``): ``score`` < 0, or a return or range reason
    of ``reasons`` (the stored JSON text) at ALERT_TIMES × usual or more."""
    if score < 0:
        return True
    if not reasons:
        return False
    try:
        parsed = json.loads(reasons)
    except ValueError:
        return False
    if not isinstance(parsed, list):
        return False
    return any(
        isinstance(r, dict) and r.get("feature") in ALERT_FEATURES and _number(r.get("value"))
        and _number(r.get("times")) and r["times"] >= ALERT_TIMES
        for r in parsed
    )


def _number(x: object) -> bool:
    """A JSON number (as parseReasons of reasons.ts accepts one; JSON true is no number)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


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
