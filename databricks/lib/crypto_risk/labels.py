"""The new version and the champion on the channel's labels, and when automatic promotion refuses it.

The same rule as ``src/model/label-comparison.ts`` (the embedded platform's training):

- a labelled window's truth is the majority of its people's labels (each person once, their latest
  label); a tie counts as real (a missed real event costs the desk more than one more alert);
- a model alerts on a window by ``features.is_alert`` on its own score of the window's features,
  computed as inference computes them;
- precision = real windows among the alerted ones (None when nothing alerted); recall = alerted
  windows among the real ones (None without real windows); F1 their harmonic mean (0 when no real
  window alerted).

The comparison is a plain dict in the shape of ``LabelComparison`` (``src/platform/port.ts``), so the
training notebook's exit JSON carries it to the bot as it is. ``databricks/tests/test_labels.py``
checks these functions against the TypeScript's outputs (``tests/fixtures/labels/cases.json``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from .features import Features, is_alert

MIN_WINDOWS = 10
"""Labelled windows needed before the labels can hold a promotion back."""
MIN_EACH = 3
"""Of them, at least this many real and this many noise."""
MAX_F1_DROP = 0.1
"""A candidate is clearly worse when its F1 is below the champion's by more than this."""

RULE_TEXT = (
    f"With automatic promotion a new version is not made champion when, on at least {MIN_WINDOWS} "
    f"labelled windows with at least {MIN_EACH} real and {MIN_EACH} noise, "
    f"its F1 on the labels is more than {MAX_F1_DROP} below the champion's."
)
"""The rule in words (LABEL_PROMOTION_RULE_TEXT)."""


def is_real_window(real: int, noise: int) -> bool:
    """Whether a labelled window counts as real: the majority of its labels, ties real."""
    return real >= noise


def window_truth(rows: Iterable[Mapping[str, Any]]) -> Dict[Tuple[str, pd.Timestamp], bool]:
    """Each labelled window's truth, keyed by ``window_key`` (asset, window_end), from label rows (``asset``,
    ``window_end``, ``user``, ``label``). A person counts once per window: their latest label (by
    ``labelled_at`` when given; the pipeline's ``labels`` table already keeps only that one)."""
    latest: Dict[Tuple[str, pd.Timestamp, Any], Tuple[Any, str]] = {}
    for r in rows:
        key = (*window_key(r["asset"], r["window_end"]), r.get("user"))
        at = r.get("labelled_at")
        known = latest.get(key)
        if known is None or (at is not None and known[0] is not None and at >= known[0]):
            latest[key] = (at, r["label"])
    counts: Dict[Tuple[str, pd.Timestamp], List[int]] = {}
    for (asset, window_end, _), (_, label) in latest.items():
        c = counts.setdefault((asset, window_end), [0, 0])
        if label == "real":
            c[0] += 1
        elif label == "noise":
            c[1] += 1
    return {key: is_real_window(real, noise) for key, (real, noise) in counts.items() if real + noise > 0}


def score_on_labels(truth: Sequence[bool], alerts: Sequence[bool]) -> Dict[str, Any]:
    """A model's alerted count, precision, recall and F1 on labelled windows (``truth[i]``: real;
    ``alerts[i]``: it alerts), as scoreOnLabels."""
    alerted = hits = real = 0
    for i, is_real in enumerate(truth):
        alert = i < len(alerts) and bool(alerts[i])
        alerted += alert
        real += bool(is_real)
        hits += alert and bool(is_real)
    precision = hits / alerted if alerted > 0 else None
    recall = hits / real if real > 0 else None
    if recall is None:
        f1 = None
    elif hits == 0:
        f1 = 0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {"alerted": alerted, "precision": precision, "recall": recall, "f1": f1}


def rule_applies(comparison: Mapping[str, Any]) -> bool:
    """Whether there are enough labels, of both kinds, for the rule to apply."""
    return (
        comparison["windows"] >= MIN_WINDOWS
        and comparison["real"] >= MIN_EACH
        and comparison["noise"] >= MIN_EACH
    )


def compare_on_labels(
    truth: Sequence[bool],
    candidate_alerts: Sequence[bool],
    champion_alerts: Optional[Sequence[bool]],
    champion_version: Optional[int],
) -> Dict[str, Any]:
    """The comparison (LabelComparison): the candidate and, when there is one, the champion before
    the run on the same windows (their alerts in the order of ``truth``)."""
    real = sum(1 for t in truth if t)
    counts = {"windows": len(truth), "real": real, "noise": len(truth) - real}
    champion = None
    if champion_version is not None:
        champion = {"version": int(champion_version), **score_on_labels(truth, champion_alerts or [])}
    return {
        **counts,
        "candidate": score_on_labels(truth, candidate_alerts),
        "champion": champion,
        "rule_applies": champion is not None and rule_applies(counts),
        "rule": RULE_TEXT,
    }


def clearly_worse(comparison: Mapping[str, Any]) -> bool:
    """Whether the candidate is clearly worse than the champion on the labels (the rule applies)."""
    champion = comparison.get("champion")
    if not comparison.get("rule_applies") or not champion:
        return False
    return _f1(comparison["candidate"]["f1"]) < _f1(champion["f1"]) - MAX_F1_DROP


def refusal_sentence(comparison: Mapping[str, Any], candidate: int) -> str:
    """The sentence saying why a candidate stayed a challenger (refusalSentence)."""
    champion = comparison["champion"]
    return (
        f"Not promoted: on {comparison['windows']} labelled windows ({comparison['real']} real, "
        f"{comparison['noise']} noise) v{candidate} has F1 {_format_f1(comparison['candidate']['f1'])} "
        f"against champion v{champion['version']}'s {_format_f1(champion['f1'])}, "
        f"more than {MAX_F1_DROP} lower; it stays a challenger "
        f"(`crypto-risk promote {candidate}` makes it champion anyway)."
    )


def comparison_summary(comparison: Mapping[str, Any], candidate: int) -> str:
    """The comparison in one line, for the run's log."""
    champion = comparison.get("champion")
    return (
        f"on {comparison['windows']} labelled windows ({comparison['real']} real, {comparison['noise']} noise) "
        f"v{candidate} has F1 {_format_f1(comparison['candidate']['f1'])}"
        + (f", champion v{champion['version']} {_format_f1(champion['f1'])}" if champion else ", no champion")
    )


def _f1(value: Optional[float]) -> float:
    return 0 if value is None else value


def _format_f1(f1: Optional[float]) -> str:
    # toFixed(2) of JavaScript rounds the binary value as Python's format does.
    return "—" if f1 is None else f"{f1:.2f}"


def window_key(asset: str, window_end: Any) -> Tuple[str, pd.Timestamp]:
    """(asset, window_end as a UTC timestamp): label rows and feature rows meet on it whether their
    times are naive UTC (Spark's toPandas with the session in UTC), aware, or ISO-8601 text."""
    at = pd.Timestamp(window_end)
    return asset, at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")


def labelled_alerts(
    features: Features,
    truth: Mapping[Tuple[str, pd.Timestamp], bool],
    decision_function: Callable[[pd.DataFrame], Any],
) -> Tuple[List[bool], List[bool]]:
    """The truth and a model's alerts (``is_alert`` on its ``decision_function``) of the labelled
    windows among ``features`` (keys of ``truth`` from ``window_key``), in the features' order
    (asset, then window_end: the same windows in the same order for either feature set of the same
    Gold). Labelled windows without a feature row (their Gold window is gone) are left out."""
    keys = [window_key(a, w) for a, w in zip(features.rows["asset"], features.rows["window_end"])]
    keep = [k in truth for k in keys]
    chosen = features.where(keep)
    if len(chosen) == 0:
        return [], []
    scores = np.asarray(decision_function(chosen.X), dtype=float)
    alerts = [is_alert(float(s), r) for s, r in zip(scores, chosen.rows["reasons"])]
    return [truth[k] for k, kept in zip(keys, keep) if kept], alerts
