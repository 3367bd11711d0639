"""The Python feature sets against the TypeScript engine (tests/fixtures/features/windows.json).

Run from the repository root: /usr/bin/python3 -B -m unittest discover -s databricks/tests
"""

from __future__ import annotations

import math
import unittest

import numpy as np
import pandas as pd

from fixtures import features_fixture, fixture_windows, iso_ms

from crypto_risk import FEATURE_NAMES, MIN_TRAILING, TRAILING_WINDOWS, TrailingMedian, compute_features
from crypto_risk.features import GOLD_COLUMNS

REL_TOL = 1e-9
"""Relative tolerance against the TypeScript values (logarithms may differ in the last bit)."""
ABS_TOL = 1e-15
"""For values that are 0 up to rounding in one engine (a log of a ratio of 1)."""


class FeatureParityTest(unittest.TestCase):
    """Same windows in, same features out, for both feature sets."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.fx = features_fixture()
        cls.windows = fixture_windows()

    def test_fixture_covers_the_edge_cases(self) -> None:
        w = self.windows
        self.assertEqual(sorted(w["asset"].unique()), ["bitcoin", "dogecoin", "edge-case", "solana"])
        per_asset = w.groupby("asset").size()
        self.assertTrue((per_asset > TRAILING_WINDOWS).all(), "every asset must outlive the trailing window")
        self.assertTrue(w["price_vol"].isna().any() and w["vol_sum"].isna().any())
        self.assertTrue((w["vol_sum"] == 0).any() and (w["price_min"] == 0).any())

    def test_rows_are_ordered_by_asset_then_window_end(self) -> None:
        for feature_set in ("seed", "default"):
            features = compute_features(self.windows, feature_set)
            keys = (features.rows["asset"] + "|" + iso_ms(features.rows["window_end"])).tolist()
            self.assertEqual(keys, self.fx["features"]["keys"], feature_set)

    def test_ret_prev_matches(self) -> None:
        features = compute_features(self.windows, "default")
        expected = np.array([math.nan if v is None else v for v in self.fx["features"]["ret_prev"]])
        actual = features.rows["ret_prev"].to_numpy()
        np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
        np.testing.assert_allclose(actual[~np.isnan(actual)], expected[~np.isnan(expected)], rtol=REL_TOL, atol=0)

    def test_seed_features_match(self) -> None:
        self._assert_features_match("seed")

    def test_default_features_match(self) -> None:
        self._assert_features_match("default")

    def _assert_features_match(self, feature_set: str) -> None:
        features = compute_features(self.windows, feature_set)
        self.assertEqual(list(features.X.columns), list(FEATURE_NAMES[feature_set]))
        expected = np.array(self.fx["features"][feature_set], dtype=float)
        actual = features.X.to_numpy()
        self.assertEqual(actual.shape, expected.shape)
        self.assertTrue(np.isfinite(actual).all())
        close = np.isclose(actual, expected, rtol=REL_TOL, atol=ABS_TOL)
        if not close.all():
            row, col = np.argwhere(~close)[0]
            self.fail(
                f"{feature_set}: {int((~close).sum())} values differ; first at {self.fx['features']['keys'][row]}, "
                f"{FEATURE_NAMES[feature_set][col]}: python {actual[row, col]!r}, typescript {expected[row, col]!r}"
            )
        # not a trivial pass: most relative features are non-zero once there is history
        if feature_set == "default":
            self.assertGreater((actual[:, :3] != 0).mean(), 0.9)

    def test_input_order_does_not_matter(self) -> None:
        shuffled = self.windows.sample(frac=1.0, random_state=3).reset_index(drop=True)
        a = compute_features(self.windows, "default")
        b = compute_features(shuffled, "default")
        pd.testing.assert_frame_equal(a.X, b.X)
        pd.testing.assert_frame_equal(a.rows, b.rows)

    def test_window_end_as_timestamps_gives_the_same_features(self) -> None:
        """Spark hands timestamps to pandas as naive UTC datetimes (session time zone UTC)."""
        naive = self.windows.assign(
            window_end=pd.to_datetime(self.windows["window_end"], utc=True).dt.tz_localize(None)
        )
        pd.testing.assert_frame_equal(
            compute_features(naive, "default").X, compute_features(self.windows, "default").X
        )


class FeatureSemanticsTest(unittest.TestCase):
    """The definitions on small hand-made series (the same cases as tests/unit/features.test.ts)."""

    @staticmethod
    def series(asset: str, prices, volumes=None, spread: float = 0.001) -> pd.DataFrame:
        volumes = volumes if volumes is not None else [100.0] * len(prices)
        rows = []
        for i, p in enumerate(prices):
            low = p * (1 - spread * (1 + (i % 5) / 10))
            high = p * (1 + spread)
            rows.append({
                "asset": asset,
                "symbol": asset[:3],
                "window_end": pd.Timestamp("2025-01-07T00:00:00Z") + pd.Timedelta(minutes=5 * (i + 1)),
                "price_avg": p,
                "price_vol": p * spread * (1 + (i % 3) / 10),
                "price_min": low,
                "price_max": high,
                "vol_sum": volumes[i],
                "ret_window": high / low - 1,
            })
        return pd.DataFrame(rows)

    @staticmethod
    def path(n: int, level: float):
        return [level * (1 + 0.01 * math.sin(i / 3) + 0.002 * (i % 7)) for i in range(n)]

    def test_seed_ret_prev_and_null_or_infinite_as_zero(self) -> None:
        windows = self.series("bitcoin", [100.0, 110.0, 99.0])
        windows.loc[2, "price_vol"] = None
        windows.loc[1, "vol_sum"] = math.inf
        features = compute_features(windows, "seed")
        self.assertTrue(math.isnan(features.rows["ret_prev"][0]))
        self.assertAlmostEqual(features.rows["ret_prev"][1], 0.1, places=12)
        self.assertAlmostEqual(features.rows["ret_prev"][2], -0.1, places=12)
        self.assertEqual(features.X["ret_prev"][0], 0)
        self.assertEqual(features.X["vol_sum"][1], 0)
        self.assertEqual(features.X["price_vol"][2], 0)
        self.assertEqual(features.X["price_avg"][2], 99)

    def test_default_is_scale_free(self) -> None:
        prices = self.path(400, 1.0)
        volumes = [50.0 + (i % 11) for i in range(400)]
        small = compute_features(self.series("cheap", prices, volumes), "default").X
        large = compute_features(
            self.series("dear", [p * 1000 for p in prices], [v * 1e6 for v in volumes]), "default"
        ).X
        np.testing.assert_allclose(small.to_numpy(), large.to_numpy(), rtol=0, atol=1e-9)

    def test_neutral_until_enough_history(self) -> None:
        X = compute_features(self.series("solana", self.path(30, 150.0), self.path(30, 1e6)), "default").X
        self.assertTrue((X.iloc[:MIN_TRAILING][["range_rel", "volume_z"]] == 0).all().all())
        self.assertTrue((X.iloc[MIN_TRAILING][["range_rel", "volume_z"]] != 0).all())
        self.assertEqual(X["ret_z"][MIN_TRAILING], 0)  # returns start one window later
        self.assertNotEqual(X["ret_z"][MIN_TRAILING + 1], 0)

    def test_jump_and_volume_spike_stand_out(self) -> None:
        prices = self.path(100, 3000.0)
        volumes = [1e6] * 100
        prices[80] = prices[79] * 1.08
        volumes[90] = 2e7
        X = compute_features(self.series("ethereum", prices, volumes), "default").X
        self.assertEqual(int(X["ret_z"].abs().idxmax()), 80)
        self.assertEqual(int(X["volume_z"].idxmax()), 90)
        self.assertAlmostEqual(X["volume_z"][90], math.log(20), places=6)

    def test_gap_feature(self) -> None:
        windows = self.series("cardano", self.path(40, 0.45))
        gapped = pd.concat([windows.iloc[:30], windows.iloc[34:]]).reset_index(drop=True)
        gaps = compute_features(gapped, "default").X["gap"]
        self.assertAlmostEqual(gaps[30], math.log1p(4), places=12)
        self.assertEqual(int((gaps != 0).sum()), 1)

    def test_no_future_data(self) -> None:
        prices = self.path(60, 40.0)
        before = compute_features(self.series("x", prices), "default").X
        prices[50] = 4000.0
        after = compute_features(self.series("x", prices), "default").X
        pd.testing.assert_frame_equal(before.iloc[:50], after.iloc[:50])
        self.assertFalse(before.iloc[50].equals(after.iloc[50]))

    def test_unknown_feature_set_and_missing_columns(self) -> None:
        windows = self.series("x", [1.0, 2.0])
        with self.assertRaisesRegex(ValueError, "unknown feature set"):
            compute_features(windows, "fancy")
        with self.assertRaisesRegex(ValueError, "price_min"):
            compute_features(windows.drop(columns=["price_min"]), "default")

    def test_no_windows(self) -> None:
        features = compute_features(pd.DataFrame(columns=list(GOLD_COLUMNS)), "seed")
        self.assertEqual(len(features), 0)
        self.assertEqual(list(features.X.columns), list(FEATURE_NAMES["seed"]))


class TrailingMedianTest(unittest.TestCase):
    def test_last_n_values_skipping_nulls_and_null_with_too_little_history(self) -> None:
        m = TrailingMedian(20)
        for i in range(1, MIN_TRAILING):
            m.push(float(i))
        self.assertIsNone(m.median())
        m.push(None)
        self.assertIsNone(m.median())
        m.push(100.0)
        self.assertEqual(m.median(), 6.5)  # 1..11 and 100: twelve values
        for _ in range(20):
            m.push(7.0)
        self.assertEqual(m.median(), 7.0)  # the window holds only the last twenty

    def test_null_slots_count_toward_the_window(self) -> None:
        """A null takes one of the 288 slots: twelve values followed by 288 nulls are forgotten."""
        m = TrailingMedian(TRAILING_WINDOWS)
        for i in range(MIN_TRAILING):
            m.push(float(i))
        for _ in range(TRAILING_WINDOWS - MIN_TRAILING):
            m.push(None)
        self.assertEqual(m.median(), 5.5)
        m.push(None)
        self.assertIsNone(m.median())  # the oldest value left the window

    def test_equals_pandas_rolling_median_shifted_by_one(self) -> None:
        """What the TypeScript doc comment says: pandas rolling(288, min_periods=12).median().shift(1)
        over the same values (NaN for null) gives the same medians (pandas 1.5 counts min_periods
        over non-NaN values, as TrailingMedian does); the helpers still use the explicit port."""
        rng = np.random.default_rng(11)
        values = [None if rng.random() < 0.35 else float(rng.normal()) for _ in range(1500)]
        m = TrailingMedian(TRAILING_WINDOWS)
        ours = []
        for v in values:
            ours.append(math.nan if m.median() is None else m.median())
            m.push(v)
        series = pd.Series([math.nan if v is None else v for v in values])
        rolling = series.rolling(TRAILING_WINDOWS, min_periods=MIN_TRAILING).median().shift(1)
        np.testing.assert_array_equal(np.array(ours), rolling.to_numpy())


if __name__ == "__main__":
    unittest.main()
