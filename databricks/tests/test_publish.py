"""The files inference publishes for the bot (crypto_risk.publish, contract version 1): the feed file's
bounds and order, the snapshot's leaderboard and window semantics (those of
sql/queries/top_leaderboard.sql and top_windows.sql), null for NaN, the atomic write, pruning, and
the golden fixtures tests/fixtures/databricks/*.json that the TypeScript reader parses.

Run from the repository root: /usr/bin/python3 -B -m unittest discover -s databricks/tests
CRYPTO_RISK_REGENERATE=1 rewrites the golden fixtures from the helpers.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pandas as pd

from fixtures import FEED_FIXTURE, NOTEBOOKS, SNAPSHOT_FIXTURE, publish_inputs

from crypto_risk import publish
from crypto_risk.publish import (
    MAX_FEED_WINDOWS,
    changed_windows,
    encode_json,
    feed_file_name,
    feed_payload,
    iso_ms,
    price_series,
    prune_feed_files,
    serving_snapshot,
    write_json_atomically,
)

NOW = pd.Timestamp("2025-03-01T00:10:00")
MODEL = "workspace.crypto.crypto_anomaly_iforest"


def scored(rows: list) -> pd.DataFrame:
    """Scored windows (asset, window_end, score[, source]) as the notebook's MERGE source gives them."""
    frame = pd.DataFrame(
        [
            {
                "asset": row[0],
                "symbol": row[0][:3],
                "window_end": pd.Timestamp(row[1]),
                "price_avg": 100.0,
                "ret_window": 0.01,
                "anomaly_score": row[2],
                "is_anomaly": int(row[2] < 0),
                "model_version": 2,
                "scored_at": NOW,
                "source": row[3] if len(row) > 3 else "coingecko",
            }
            for row in rows
        ],
        columns=list(publish.SCORED_COLUMNS) + ["source"],
    )
    return frame


def gold(rows: list) -> pd.DataFrame:
    """Gold windows with scores: (asset, window_end, price, score or None[, source])."""
    return pd.DataFrame(
        [
            {
                "asset": row[0],
                "symbol": row[0][:3],
                "window_end": pd.Timestamp(row[1]),
                "price_avg": row[2],
                "anomaly_score": row[3],
                "is_anomaly": None if row[3] is None else int(row[3] < 0),
                "source": row[4] if len(row) > 4 else "coingecko",
            }
            for row in rows
        ],
        columns=list(publish.SERIES_COLUMNS) + ["source"],
    )


def regenerate() -> bool:
    return os.environ.get("CRYPTO_RISK_REGENERATE") == "1"


def pretty(payload: dict) -> str:
    """How the golden fixtures are stored (readable; the bot parses the compact form the same)."""
    return json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


class ValuesTest(unittest.TestCase):
    def test_timestamps_are_iso_utc_with_milliseconds(self) -> None:
        self.assertEqual(iso_ms(pd.Timestamp("2025-03-01T00:10:00")), "2025-03-01T00:10:00.000Z")
        self.assertEqual(iso_ms(datetime(2025, 3, 1, 1, 10, 0, 123456, tzinfo=timezone(timedelta(hours=1)))),
                         "2025-03-01T00:10:00.123Z")
        self.assertEqual(iso_ms("2025-03-01T00:10:00Z"), "2025-03-01T00:10:00.000Z")
        self.assertIsNone(iso_ms(None))
        self.assertIsNone(iso_ms(pd.NaT))

    def test_feed_file_names_encode_the_instant(self) -> None:
        self.assertEqual(feed_file_name(NOW), "20250301T001000000Z.json")
        self.assertEqual(feed_file_name(datetime(2025, 3, 1, 0, 10, 0, 7000, tzinfo=timezone.utc)),
                         "20250301T001000007Z.json")
        self.assertEqual(publish.feed_file_instant("20250301T001000007Z.json"),
                         datetime(2025, 3, 1, 0, 10, 0, 7000, tzinfo=timezone.utc))
        for name in ("20250301T001000Z.json", "x20250301T001000000Z.json", "20251301T001000000Z.json", "a.json"):
            self.assertIsNone(publish.feed_file_instant(name), name)

    def test_nan_and_infinity_are_null(self) -> None:
        rows = scored([("bitcoin", "2025-03-01T00:05:00", -0.2)])
        rows.loc[0, "price_avg"] = float("nan")
        rows.loc[0, "ret_window"] = float("inf")
        series = gold([("bitcoin", "2025-03-01T00:05:00", float("nan"), -0.2),
                       ("bitcoin", "2025-03-01T00:10:00", float("-inf"), None)])
        payload = feed_payload(rows, series, NOW, MODEL, 2)
        window = payload["windows"][0]
        self.assertIsNone(window["price_avg"])
        self.assertIsNone(window["ret_window"])
        self.assertEqual(payload["series"]["bitcoin"]["price_avg"], [None, None])
        self.assertEqual(payload["series"]["bitcoin"]["anomaly_score"], [-0.2, None])
        self.assertEqual(payload["series"]["bitcoin"]["is_anomaly"], [True, False])
        text = encode_json(payload).decode("utf8")
        self.assertNotIn("NaN", text)
        self.assertNotIn("Infinity", text)
        with self.assertRaises(ValueError):
            encode_json({"x": math.nan})

    def test_compact_utf8(self) -> None:
        self.assertEqual(encode_json({"a": [1, None], "b": "é"}), '{"a":[1,null],"b":"é"}'.encode("utf8"))


class ChangedWindowsTest(unittest.TestCase):
    def test_inserted_or_changed_and_anomalous_now_or_before(self) -> None:
        rows = scored([
            ("a", "2025-03-01T00:00:00", -0.1),  # new, anomalous: reported
            ("b", "2025-03-01T00:00:00", 0.1),  # new, normal: not
            ("c", "2025-03-01T00:00:00", 0.1),  # re-scored, was anomalous: reported (cleared)
            ("d", "2025-03-01T00:00:00", -0.1),  # the same again: not
            ("e", "2025-03-01T00:00:00", -0.1),  # another model version, same score: reported
            ("f", "2025-03-01T00:00:00", 0.2),  # re-scored, normal before and now: not
        ])
        rows["_old_version"] = [None, None, 2, 2, 1, 2]
        rows["_old_score"] = [None, None, -0.3, -0.1, -0.1, 0.3]
        rows["_old_flag"] = [None, None, 1, 1, 1, 0]
        self.assertEqual(list(changed_windows(rows)["asset"]), ["a", "c", "e"])

    def test_nothing_compared(self) -> None:
        empty = scored([("a", "2025-03-01T00:00:00", -0.1)]).iloc[0:0].assign(
            _old_version=[], _old_score=[], _old_flag=[])
        self.assertEqual(len(changed_windows(empty)), 0)


class FeedPayloadTest(unittest.TestCase):
    def test_order_oldest_first_then_asset(self) -> None:
        rows = scored([
            ("solana", "2025-03-01T00:05:00", -0.1),
            ("bitcoin", "2025-03-01T00:05:00", -0.2),
            ("ethereum", "2025-03-01T00:00:00", -0.3),
        ])
        payload = feed_payload(rows, gold([]), NOW, MODEL, 2)
        self.assertEqual([(w["window_end"], w["asset"]) for w in payload["windows"]], [
            ("2025-03-01T00:00:00.000Z", "ethereum"),
            ("2025-03-01T00:05:00.000Z", "bitcoin"),
            ("2025-03-01T00:05:00.000Z", "solana"),
        ])
        self.assertEqual(payload["omitted_windows"], 0)
        self.assertEqual(payload["series"], {})
        self.assertEqual(list(payload), ["format", "version", "scored_at", "model", "windows", "omitted_windows",
                                         "series"])
        self.assertEqual(list(payload["windows"][0]), ["asset", "symbol", "window_end", "price_avg", "ret_window",
                                                       "anomaly_score", "is_anomaly", "model_version", "scored_at",
                                                       "simulated", "reasons", "data_issue"])

    def test_at_most_200_windows_the_lowest_scores(self) -> None:
        start = pd.Timestamp("2025-02-28T00:15:00")
        # 205 windows; scores rise with time except five late, very low ones.
        rows = [("bitcoin", start + pd.Timedelta(minutes=5 * i), -0.001 * (i + 1)) for i in range(200)]
        rows += [("ethereum", start + pd.Timedelta(minutes=5 * i), -1.0 - i) for i in range(195, 200)]
        frame = scored(rows)
        payload = feed_payload(frame, gold([]), NOW, MODEL, 2)
        self.assertEqual(len(payload["windows"]), MAX_FEED_WINDOWS)
        self.assertEqual(payload["omitted_windows"], 5)
        kept = sorted(w["anomaly_score"] for w in payload["windows"])
        self.assertEqual(kept, sorted(frame["anomaly_score"])[:MAX_FEED_WINDOWS])
        self.assertNotIn(-0.001, kept)  # the five highest scores (bitcoin's first windows) went
        keys = [(w["window_end"], w["asset"]) for w in payload["windows"]]
        self.assertEqual(keys, sorted(keys))

    def test_201_windows_keep_200(self) -> None:
        start = pd.Timestamp("2025-02-28T00:15:00")
        frame = scored([("bitcoin", start + pd.Timedelta(minutes=5 * i), -0.5 + 0.001 * i) for i in range(201)])
        payload = feed_payload(frame, gold([]), NOW, MODEL, 2)
        self.assertEqual((len(payload["windows"]), payload["omitted_windows"]), (200, 1))
        self.assertEqual(payload["windows"][-1]["window_end"], iso_ms(start + pd.Timedelta(minutes=5 * 199)))

    def test_series_of_the_reported_assets_over_the_last_24_hours(self) -> None:
        rows = scored([("bitcoin", "2025-03-01T00:05:00", -0.2, "coingecko,simulator")])
        series = gold([
            ("bitcoin", "2025-02-28T00:10:00", 1.0, 0.1),  # exactly now − 24 h: out
            ("bitcoin", "2025-02-28T00:15:00", 2.0, None),
            ("bitcoin", "2025-03-01T00:05:00", 3.0, -0.2, "coingecko,simulator"),
            ("bitcoin", "2025-03-01T00:15:00", 4.0, None),  # after now: out
            ("ethereum", "2025-03-01T00:05:00", 5.0, 0.1),  # not reported: no series
        ])
        payload = feed_payload(rows, series, NOW, MODEL, 2)
        self.assertEqual(list(payload["series"]), ["bitcoin"])
        bitcoin = payload["series"]["bitcoin"]
        self.assertEqual(bitcoin["window_end"], ["2025-02-28T00:15:00.000Z", "2025-03-01T00:05:00.000Z"])
        self.assertEqual(bitcoin["price_avg"], [2.0, 3.0])
        self.assertEqual(bitcoin["anomaly_score"], [None, -0.2])
        self.assertEqual(bitcoin["is_anomaly"], [False, True])
        self.assertTrue(bitcoin["simulated"])
        self.assertTrue(payload["windows"][0]["simulated"])
        self.assertEqual(list(bitcoin), ["symbol", "simulated", "window_end", "price_avg", "anomaly_score",
                                         "is_anomaly"])

    def test_one_mebibyte_drops_series_of_the_assets_with_fewest_windows_first(self) -> None:
        rows = scored([("bitcoin", "2025-03-01T00:05:00", -0.2), ("bitcoin", "2025-03-01T00:10:00", -0.3),
                       ("ethereum", "2025-03-01T00:10:00", -0.1)])
        ends = pd.date_range("2025-02-28T00:15:00", "2025-03-01T00:10:00", freq="5min")
        series = gold([(asset, end, 1.0, None) for asset in ("bitcoin", "ethereum") for end in ends])
        full = feed_payload(rows, series, NOW, MODEL, 2)
        size = len(encode_json(full))
        one_series = len(encode_json({**full, "series": {"bitcoin": full["series"]["bitcoin"]}}))
        payload = feed_payload(rows, series, NOW, MODEL, 2, max_bytes=one_series)
        self.assertEqual(list(payload["series"]), ["bitcoin"])  # ethereum has one window, bitcoin two
        self.assertEqual(len(payload["windows"]), 3)  # windows stay
        none = feed_payload(rows, series, NOW, MODEL, 2, max_bytes=one_series - 1)
        self.assertEqual(none["series"], {})
        with self.assertRaises(ValueError):
            feed_payload(rows, series, NOW, MODEL, 2, max_bytes=100)
        self.assertLess(size, publish.MAX_FEED_BYTES)

    def test_the_default_bound_is_one_mebibyte(self) -> None:
        self.assertEqual(publish.MAX_FEED_BYTES, 1024 * 1024)
        rows = scored([("bitcoin", "2025-03-01T00:05:00", -0.2)])
        rows["symbol"] = "x" * (1024 * 1024)
        with self.assertRaises(ValueError):
            feed_payload(rows, gold([]), NOW, MODEL, 2)

    def test_duplicate_gold_windows_latest_emitted_wins(self) -> None:
        series = gold([("bitcoin", "2025-03-01T00:05:00", 1.0, None), ("bitcoin", "2025-03-01T00:05:00", 2.0, None)])
        series["emitted_at"] = [pd.Timestamp("2025-03-01T00:08:00"), pd.Timestamp("2025-03-01T00:07:00")]
        out = price_series(series, NOW - pd.Timedelta(hours=1), NOW)
        self.assertEqual(out["bitcoin"]["price_avg"], [1.0])


class ServingSnapshotTest(unittest.TestCase):
    @staticmethod
    def anomalies(rows: list) -> pd.DataFrame:
        frame = scored(rows)
        return frame.drop(columns=["scored_at"])

    def test_leaderboard_semantics(self) -> None:
        table = self.anomalies([
            ("bitcoin", "2025-03-01T00:00:00", -0.2),
            ("bitcoin", "2025-03-01T00:05:00", -0.4),
            ("bitcoin", "2025-03-01T00:10:00", 0.1),
            ("solana", "2025-03-01T00:00:00", -0.1),
            ("solana", "2025-03-01T00:05:00", -0.5, "simulator"),
            ("ethereum", "2025-03-01T00:05:00", 0.3),  # no anomaly: listed, nulls
            ("aave", "2025-02-28T23:00:00", -0.9),
        ])
        table.loc[table["asset"] == "bitcoin", "symbol"] = ["old", "old", "btc"]
        board = serving_snapshot(table, gold([]), NOW, MODEL, 2)["periods"]["24h"]["leaderboard"]
        # anomalies desc; then mean_score asc (solana −0.3 before bitcoin −0.3? equal: by asset); nulls last
        self.assertEqual([e["asset"] for e in board], ["bitcoin", "solana", "aave", "ethereum"])
        bitcoin, solana, aave, ethereum = board
        self.assertEqual(bitcoin, {"asset": "bitcoin", "symbol": "btc", "anomalies": 2, "windows_scored": 3,
                                   "mean_score": bitcoin["mean_score"], "last_event": "2025-03-01T00:05:00.000Z",
                                   "simulated": False})
        self.assertAlmostEqual(bitcoin["mean_score"], -0.3)
        self.assertAlmostEqual(solana["mean_score"], -0.3)
        self.assertTrue(solana["simulated"])
        self.assertEqual((aave["anomalies"], aave["mean_score"]), (1, -0.9))
        self.assertEqual((ethereum["anomalies"], ethereum["windows_scored"], ethereum["mean_score"],
                          ethereum["last_event"]), (0, 1, None, None))

    def test_mean_score_ascending_among_equal_counts_nulls_last(self) -> None:
        table = self.anomalies([("b", "2025-03-01T00:00:00", -0.1), ("a", "2025-03-01T00:00:00", -0.2),
                                ("c", "2025-03-01T00:00:00", 0.2), ("d", "2025-03-01T00:00:00", 0.1)])
        board = serving_snapshot(table, gold([]), NOW, MODEL, 2)["periods"]["7d"]["leaderboard"]
        self.assertEqual([e["asset"] for e in board], ["a", "b", "c", "d"])

    def test_periods_include_both_ends(self) -> None:
        table = self.anomalies([
            ("bitcoin", "2025-02-28T00:10:00", -0.1),  # now − 24 h: in 24h
            ("bitcoin", "2025-02-28T00:09:59", -0.2),  # just before: 7d only
            ("bitcoin", "2025-02-22T00:10:00", -0.3),  # now − 7 d: in 7d
            ("bitcoin", "2025-02-22T00:09:00", -0.4),  # before: in neither
            ("bitcoin", "2025-03-01T00:10:00", 0.5),  # now: in both
            ("bitcoin", "2025-03-01T00:15:00", -0.6),  # after now: in neither
        ])
        periods = serving_snapshot(table, gold([]), NOW, MODEL, 2)["periods"]
        self.assertEqual((periods["24h"]["since"], periods["24h"]["until"]),
                         ("2025-02-28T00:10:00.000Z", "2025-03-01T00:10:00.000Z"))
        self.assertEqual(periods["7d"]["since"], "2025-02-22T00:10:00.000Z")
        self.assertEqual(periods["24h"]["scored_windows"], 2)
        self.assertEqual(periods["7d"]["scored_windows"], 4)
        self.assertEqual([w["anomaly_score"] for w in periods["24h"]["windows"]], [-0.1])
        self.assertEqual([w["anomaly_score"] for w in periods["7d"]["windows"]], [-0.3, -0.2, -0.1])

    def test_windows_per_asset_lowest_scores_then_one_order(self) -> None:
        start = pd.Timestamp("2025-02-28T12:00:00")
        rows = [("bitcoin", start + pd.Timedelta(minutes=5 * i), -0.001 * (i + 1)) for i in range(60)]
        rows += [("ethereum", start + pd.Timedelta(minutes=5 * i), -0.5) for i in range(3)]  # ties
        rows += [("solana", start, -0.5)]
        snapshot = serving_snapshot(self.anomalies(rows), gold([]), NOW, MODEL, 2)
        windows = snapshot["periods"]["24h"]["windows"]
        self.assertEqual(snapshot["windows_per_asset"], 50)
        self.assertEqual(sum(w["asset"] == "bitcoin" for w in windows), 50)
        self.assertAlmostEqual(max(w["anomaly_score"] for w in windows if w["asset"] == "bitcoin"), -0.011)
        self.assertEqual(len(windows), 54)
        keys = [(w["anomaly_score"], -pd.Timestamp(w["window_end"]).value, w["asset"]) for w in windows]
        self.assertEqual(keys, sorted(keys))
        ties = [(w["asset"], w["window_end"]) for w in windows if w["anomaly_score"] == -0.5]
        self.assertEqual(ties, [("ethereum", iso_ms(start + pd.Timedelta(minutes=10))),
                                ("ethereum", iso_ms(start + pd.Timedelta(minutes=5))),
                                ("ethereum", iso_ms(start)), ("solana", iso_ms(start))])
        self.assertEqual(list(windows[0]), ["asset", "symbol", "window_end", "price_avg", "ret_window",
                                            "anomaly_score", "model_version", "simulated", "reasons", "data_issue"])

    def test_series_of_every_asset_over_seven_days(self) -> None:
        series = gold([("bitcoin", "2025-02-22T00:10:00", 1.0, None), ("bitcoin", "2025-02-22T00:15:00", 2.0, 0.1),
                       ("dogecoin", "2025-03-01T00:10:00", 3.0, None, "simulator")])
        snapshot = serving_snapshot(self.anomalies([]), series, NOW, MODEL, 2)
        self.assertEqual(list(snapshot["series"]), ["bitcoin", "dogecoin"])
        self.assertEqual(snapshot["series"]["bitcoin"]["window_end"], ["2025-02-22T00:15:00.000Z"])
        self.assertTrue(snapshot["series"]["dogecoin"]["simulated"])
        self.assertEqual(snapshot["periods"]["24h"]["leaderboard"], [])
        self.assertEqual(snapshot["periods"]["24h"]["scored_windows"], 0)


class FilesTest(unittest.TestCase):
    def test_atomic_write_leaves_no_temporary(self) -> None:
        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, "serving", "snapshot.json")
            written = write_json_atomically(path, {"a": 1})
            self.assertEqual(written, len(b'{"a":1}'))
            self.assertEqual(Path(path).read_bytes(), b'{"a":1}')
            write_json_atomically(path, {"a": [2, None]})
            self.assertEqual(json.loads(Path(path).read_text("utf8")), {"a": [2, None]})
            self.assertEqual(os.listdir(os.path.dirname(path)), ["snapshot.json"])

    def test_a_failed_write_keeps_the_old_file_and_no_temporary(self) -> None:
        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, "snapshot.json")
            write_json_atomically(path, {"a": 1})
            with mock.patch.object(publish.os, "replace", side_effect=OSError("no rename")):
                with self.assertRaises(OSError):
                    write_json_atomically(path, {"a": 2})
            with self.assertRaises(ValueError):
                write_json_atomically(path, {"a": math.nan})
            self.assertEqual(os.listdir(root), ["snapshot.json"])
            self.assertEqual(Path(path).read_bytes(), b'{"a":1}')

    def test_the_temporary_is_hidden_in_the_same_folder(self) -> None:
        seen = []
        real = os.replace

        def spy(source: str, target: str) -> None:
            seen.append((source, target))
            real(source, target)

        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, "feed", feed_file_name(NOW))
            with mock.patch.object(publish.os, "replace", side_effect=spy):
                write_json_atomically(path, {})
            (source, target), = seen
            self.assertEqual(os.path.dirname(source), os.path.dirname(target))
            self.assertTrue(os.path.basename(source).startswith("."))

    def test_prune_by_the_instant_in_the_name(self) -> None:
        with tempfile.TemporaryDirectory() as root:
            names = {
                "20250222T001000000Z.json": True,  # exactly now − 7 d: kept
                "20250222T000959999Z.json": False,  # older: removed
                "20250101T000000000Z.json": False,
                "20250301T001000000Z.json": True,
                "notes.json": True,  # not a feed file name: ignored
                "20250101T000000Z.json": True,
            }
            for name in names:
                Path(root, name).write_text("{}")
            fresh, stale = Path(root, ".20250301T001000000Z.json.a.tmp"), Path(root, ".old.tmp")
            fresh.write_text("")
            stale.write_text("")
            day_ago = NOW.tz_localize("UTC").timestamp() - 86_401
            os.utime(stale, (day_ago, day_ago))
            os.utime(fresh, (day_ago + 7200, day_ago + 7200))
            removed = prune_feed_files(root, NOW)
            self.assertEqual(removed, sorted([".old.tmp"] + [n for n, keep in names.items() if not keep]))
            self.assertEqual(sorted(os.listdir(root)), sorted([fresh.name] + [n for n, keep in names.items() if keep]))
            self.assertEqual(prune_feed_files(os.path.join(root, "missing"), NOW), [])
            self.assertEqual(prune_feed_files(root, NOW, keep=timedelta(days=100)), [])

    def test_prune_with_the_wall_clock(self) -> None:
        with tempfile.TemporaryDirectory() as root:
            now = datetime.now(timezone.utc)
            Path(root, feed_file_name(now)).write_text("{}")
            Path(root, feed_file_name(now - timedelta(days=8))).write_text("{}")
            self.assertEqual(prune_feed_files(root, now), [feed_file_name(now - timedelta(days=8))])
            self.assertLess(abs(time.time() - now.timestamp()), 60)


class GoldenFixturesTest(unittest.TestCase):
    """tests/fixtures/databricks/feed-file.json and serving-snapshot.json are what the helpers make of
    fixtures.publish_inputs(); the TypeScript reader is tested on the same files."""

    def check(self, path: Path, payload: dict) -> None:
        text = pretty(payload)
        if regenerate():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf8")
        self.assertEqual(path.read_text(encoding="utf8"), text, f"{path.name}: rerun with CRYPTO_RISK_REGENERATE=1")
        self.assertEqual(json.loads(encode_json(payload)), json.loads(text))

    def test_feed_file(self) -> None:
        given = publish_inputs()
        changed = changed_windows(given["compared"])
        payload = feed_payload(changed, given["gold_with_scores"], given["now"], given["model"], given["version"])
        self.assertEqual([(w["asset"], w["is_anomaly"]) for w in payload["windows"]],
                         [("bitcoin", False), ("bitcoin", True), ("ethereum", False)])
        self.assertEqual(feed_file_name(given["now"]), "20250301T001000000Z.json")
        self.check(FEED_FIXTURE, payload)

    def test_serving_snapshot(self) -> None:
        given = publish_inputs()
        payload = serving_snapshot(given["anomalies"], given["gold_with_scores"], given["now"], given["model"],
                                   given["version"])
        self.assertEqual(sorted(payload["series"]), ["bitcoin", "ethereum", "simcoin"])
        self.check(SNAPSHOT_FIXTURE, payload)


class InferenceNotebookPublishesTest(unittest.TestCase):
    """04_infer_iforest cannot run here; what it must do with these helpers, checked in its source."""

    def test_the_notebook_publishes_after_the_merge(self) -> None:
        text = (NOTEBOOKS / "04_infer_iforest.py").read_text(encoding="utf8")
        merge = text.index(".merge(source.alias")
        for needle in ("changed_windows(", "compared_rows.join(gold_sources(plan.read_from)"):
            self.assertLess(text.index(needle), merge, needle)  # the old values are read before the MERGE
        for needle in ("feed_payload(compared, gold_week, now, model_name, version)",
                       'write_json_atomically(f"{VOLUME}/{feed_file}", feed)',
                       "serving_snapshot(anomalies_week, gold_week, now, model_name, version)",
                       'write_json_atomically(f"{VOLUME}/{SNAPSHOT_PATH}", snapshot)',
                       'prune_feed_files(f"{VOLUME}/{FEED_DIR}", now)',
                       '"feed_file": None, "feed_windows": 0, "snapshot": SNAPSHOT_PATH'):
            self.assertGreater(text.index(needle), merge, needle)
        self.assertIn("if compared is not None and len(compared) > 0:", text)
        self.assertIn('VOLUME = f"/Volumes/{params.catalog}/{params.schema}/{params.volume}"', text)
        self.assertIn('"volume"', text[text.index("INFER_PARAMETERS"):text.index("for name in INFER_PARAMETERS")])
        # the "no model yet" exit comes before anything is published
        self.assertLess(text.index("no_model_summary(model_name, params.alias)"), text.index("write_json_atomically(f"))

    def test_paths_of_the_contract(self) -> None:
        self.assertEqual(publish.FEED_DIR, "feed")
        self.assertEqual(publish.SNAPSHOT_PATH, "serving/snapshot.json")


if __name__ == "__main__":
    unittest.main()
