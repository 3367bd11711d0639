"""Training and inference helpers: scikit-learn semantics (tests/fixtures/iforest), parity of a training
run with the TypeScript engine (tests/fixtures/features/windows.json), and the inference selection.

Run from the repository root: /usr/bin/python3 -B -m unittest discover -s databricks/tests
"""

from __future__ import annotations

import json
import math
import re
import unittest
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from fixtures import ROOT, features_fixture, fixture_windows, iforest_fixture, iso_ms

from crypto_risk import (
    ANOMALIES_COLUMNS,
    MIN_PERIOD_ROWS,
    WARMUP,
    Features,
    anomalies_ddl,
    anomalies_schema,
    anomaly_records,
    check_identifier,
    constraints_unsupported,
    TooLittleData,
    compute_features,
    dedupe_windows,
    describe_scores,
    fit_forest,
    fit_model,
    inference_plan,
    parse_duration,
    parse_instant,
    parse_job_params,
    score_rows,
    select_for_scoring,
    split_by_time,
)
from crypto_risk.features import ALERT_TIMES, is_alert

IFOREST_FIXTURES = ("gaussian", "heavy-tailed", "constant-column", "small")
UTC = timezone.utc


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def features_of(X: np.ndarray, ends) -> Features:
    """Feature rows around a plain matrix (one asset, the given window_end per row)."""
    n = len(X)
    rows = pd.DataFrame({
        "asset": ["a"] * n,
        "symbol": ["a"] * n,
        "window_end": pd.to_datetime(list(ends), utc=True),
        "price_avg": 1.0,
        "price_vol": 0.0,
        "ret_window": 0.0,
        "vol_sum": 1.0,
        "ret_prev": 0.0,
    })
    return Features("default", rows, pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]))


class SklearnSemanticsTest(unittest.TestCase):
    """fit_forest is scikit-learn's IsolationForest with the job's trees, contamination and seed; the
    same fixtures the TypeScript forest is tested against (tests/unit/isolation-forest.test.ts)."""

    def test_scores_offsets_and_flagged_shares_match_the_fixtures(self) -> None:
        for name in IFOREST_FIXTURES:
            with self.subTest(name):
                fx = iforest_fixture(name)
                X = np.array(fx["X"])
                forest = fit_forest(X, fx["n_estimators"], 0.02, fx["random_state"])
                self.assertEqual(forest.max_samples_, fx["max_samples"])
                scores = forest.score_samples(X)
                expected = np.array(fx["score_samples"])
                same_version = sklearn.__version__ == fx["sklearn"]
                if same_version:
                    # the same library and random_state: the same trees (the fixture is rounded to 1e-9)
                    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)
                else:
                    # another scikit-learn draws other trees: the tolerances of the TypeScript parity test
                    self.assertGreaterEqual(spearmanr(scores, expected).correlation, 0.95)
                    self.assertLess(np.abs(scores - expected).mean(), 0.008)
                for contamination, sk in fx["contamination"].items():
                    c = float(contamination)
                    # contamination only sets the offset: numpy's percentile of the training scores
                    offset = forest.offset_ if c == 0.02 else float(np.percentile(scores, 100 * c))
                    flagged = float(np.mean(scores < offset))
                    self.assertLessEqual(abs(offset - sk["offset"]), 1e-9 if same_version else 0.015)
                    self.assertLessEqual(abs(flagged - sk["flagged_share"]), 0 if same_version else 0.005)
                    self.assertLessEqual(abs(flagged - c), 1 / len(X) + 1e-12)
                # decision_function = score_samples − offset; a window is flagged when it is below 0
                decision = forest.decision_function(X)
                np.testing.assert_array_equal(decision, scores - forest.offset_)
                self.assertEqual(describe_scores(decision)["flagged"], float(np.mean(scores < forest.offset_)))
                if name == "small":  # ... which is exactly where predict says -1
                    np.testing.assert_array_equal(decision < 0, forest.predict(X) == -1)

    def test_auto_contamination_is_the_fixed_offset(self) -> None:
        X = np.array(iforest_fixture("small")["X"])
        forest = fit_forest(X, 50, "auto", 1)
        self.assertEqual(forest.offset_, -0.5)
        np.testing.assert_allclose(forest.decision_function(X), forest.score_samples(X) + 0.5, rtol=0, atol=1e-15)

    def test_fit_model_metrics_on_a_fixture(self) -> None:
        fx = iforest_fixture("small")
        X = np.array(fx["X"])
        ends = pd.Timestamp("2025-01-07T00:05:00Z") + pd.to_timedelta(np.arange(len(X)) * 5, unit="min")
        fitted = fit_model(features_of(X, ends), 200, 0.02, 42)
        self.assertEqual((fitted.train_rows, fitted.holdout_rows), (120, 30))
        m = fitted.metrics
        self.assertEqual(
            sorted(m),
            sorted(["train_mean", "train_std", "holdout_mean", "holdout_std", "train_flagged_share",
                    "holdout_flagged_share", "offset"]),
        )  # the keys of ModelMetrics (src/platform/port.ts)
        train = fitted.model.decision_function(pd.DataFrame(X[:120], columns=[f"f{i}" for i in range(3)]))
        self.assertAlmostEqual(m["train_mean"], float(np.mean(train)), places=12)
        self.assertAlmostEqual(m["train_std"], float(np.std(train, ddof=1)), places=12)
        # the share flagged in training is the contamination, to one row
        self.assertLessEqual(abs(m["train_flagged_share"] - 0.02), 1 / 120 + 1e-12)
        self.assertEqual(m["offset"], fitted.model.offset_)
        self.assertEqual(fitted.cut, ends[120])


class TrainingParityTest(unittest.TestCase):
    """The same period as the TypeScript training run in the fixture (200 trees, contamination 0.02,
    seed 42, default features): the split is identical; the forests differ only in their random
    draws, so scores agree within the tolerances of the TypeScript forest's own parity tests."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.ts = features_fixture()["training"]
        features = compute_features(fixture_windows(), cls.ts["feature_set"])
        since = pd.Timestamp(cls.ts["since"])
        cls.period = features.where((features.rows["window_end"] > since).to_numpy())
        cls.fitted = fit_model(cls.period, cls.ts["trees"], cls.ts["contamination"], cls.ts["seed"])
        cls.ours = cls.fitted.model.decision_function(cls.period.X)
        cls.theirs = np.array(cls.ts["decision"])

    def test_the_split_is_identical(self) -> None:
        self.assertEqual(len(self.period), self.ts["rows"])
        self.assertEqual(self.fitted.train_rows, self.ts["train_rows"])
        self.assertEqual(self.fitted.holdout_rows, self.ts["holdout_rows"])
        self.assertEqual(iso_ms(pd.Series([self.fitted.cut]))[0], self.ts["cut"])

    def test_flagged_shares_and_offset_agree(self) -> None:
        ours, theirs = self.fitted.metrics, self.ts["metrics"]
        self.assertLessEqual(abs(ours["train_flagged_share"] - theirs["train_flagged_share"]), 0.005)
        # two windows of the 231-window holdout
        self.assertLessEqual(abs(ours["holdout_flagged_share"] - theirs["holdout_flagged_share"]), 0.01)
        self.assertLess(abs(ours["offset"] - theirs["offset"]), 0.015)
        for key in ("train_mean", "holdout_mean"):
            self.assertLess(abs(ours[key] - theirs[key]), 0.025, key)
        for key in ("train_std", "holdout_std"):
            self.assertLess(abs(ours[key] - theirs[key]), 0.01, key)

    def test_the_same_rows_get_the_same_flags(self) -> None:
        self.assertGreaterEqual(spearmanr(self.ours, self.theirs).correlation, 0.95)
        ours, theirs = self.ours < 0, self.theirs < 0
        jaccard = (ours & theirs).sum() / (ours | theirs).sum()
        self.assertGreaterEqual(jaccard, 0.8, f"flags: python {ours.sum()}, typescript {theirs.sum()}")
        # scikit-learn's scores rank the TypeScript engine's flagged windows first
        self.assertGreaterEqual(roc_auc_score(theirs, -self.ours), 0.99)


class AlertRuleTest(unittest.TestCase):
    """is_anomaly: the forest's flag, or a return or range reason at ALERT_TIMES × usual (isAlert of
    src/model/reasons.ts), the same on the fixture's rows as the TypeScript engine decides."""

    def test_the_same_alerts_as_the_typescript_engine(self) -> None:
        ts = features_fixture()["training"]
        features = compute_features(fixture_windows(), ts["feature_set"])
        period = features.where((features.rows["window_end"] > pd.Timestamp(ts["since"])).to_numpy())
        decision = np.array(ts["decision"])
        rows = score_rows(period, decision, 1, utc("2025-01-07T12:00:00Z"))
        self.assertEqual(rows["is_anomaly"].tolist(), ts["alert"])
        # the rule adds alerts to the forest's flags and never drops one
        self.assertTrue((rows["is_anomaly"][decision < 0] == 1).all())
        added = rows[(rows["is_anomaly"] == 1) & (decision >= 0)]
        self.assertGreater(len(added), 0)
        for text in added["reasons"]:
            self.assertTrue(any(r["feature"] in ("return", "range") and r["times"] >= ALERT_TIMES
                                for r in json.loads(text)), text)

    def test_is_alert(self) -> None:
        def reasons(*items) -> str:
            return json.dumps([{"feature": f, "value": 0.05, "times": t} for f, t in items])

        self.assertEqual(ALERT_TIMES, 12.0)
        self.assertTrue(is_alert(-1e-12, None))  # the forest's flag alone
        self.assertFalse(is_alert(0.0, None))
        self.assertFalse(is_alert(0.0, "[]"))
        self.assertTrue(is_alert(0.1, reasons(("return", 12))))  # from ALERT_TIMES on
        self.assertTrue(is_alert(0.1, reasons(("volume", 40), ("range", 30.5))))
        self.assertFalse(is_alert(0.1, reasons(("return", 11.99), ("range", 11.5))))
        self.assertFalse(is_alert(0.1, reasons(("volume", 500))))  # volume alone never alerts
        self.assertFalse(is_alert(0.1, json.dumps([{"feature": "gap", "value": 30, "times": None}])))
        # what parseReasons of reasons.ts drops is no reason
        self.assertFalse(is_alert(0.1, "not json"))
        self.assertFalse(is_alert(0.1, json.dumps({"feature": "return", "value": 0.1, "times": 50})))
        self.assertFalse(is_alert(0.1, json.dumps([{"feature": "return", "value": 0.1, "times": True}])))
        self.assertFalse(is_alert(0.1, json.dumps([{"feature": "return", "value": None, "times": 50}])))


class SplitTest(unittest.TestCase):
    def test_windows_of_one_instant_never_straddle_the_cut(self) -> None:
        # 2 assets × 7 instants = 14 rows: position ⌊14 × 0.8⌋ = 11 falls on instant 5 (rows 10, 11)
        ends = pd.Timestamp("2025-01-07T00:05:00Z") + pd.to_timedelta(np.repeat(np.arange(7), 2) * 5, unit="min")
        rows = pd.DataFrame({"asset": ["b", "a"] * 7, "window_end": ends})
        train, holdout = split_by_time(rows.iloc[::-1].reset_index(drop=True))  # any input order
        self.assertEqual(int(train.sum()), 10)
        self.assertEqual(int(holdout.sum()), 4)
        ordered = rows.iloc[::-1].reset_index(drop=True)
        self.assertTrue((ordered["window_end"][train] < ends[10]).all())
        self.assertTrue((ordered["window_end"][holdout] >= ends[10]).all())

    def test_minimum_period(self) -> None:
        X = np.random.default_rng(1).normal(size=(MIN_PERIOD_ROWS, 2))
        ends = pd.Timestamp("2025-01-07T00:05:00Z") + pd.to_timedelta(np.arange(MIN_PERIOD_ROWS) * 5, unit="min")
        self.assertEqual(MIN_PERIOD_ROWS, 125)
        with self.assertRaisesRegex(TooLittleData, r"124 Gold windows.*at least 125"):
            fit_model(features_of(X[:-1], ends[:-1]), 20, 0.02, 1)
        fitted = fit_model(features_of(X, ends), 20, 0.02, 1)
        self.assertEqual((fitted.train_rows, fitted.holdout_rows), (100, 25))

    def test_describe_scores(self) -> None:
        stats = describe_scores(np.array([-0.1, 0.0, 0.1, 0.3]))
        self.assertAlmostEqual(stats["mean"], 0.075, places=15)
        self.assertAlmostEqual(stats["std"], float(np.std([-0.1, 0.0, 0.1, 0.3], ddof=1)), places=15)
        self.assertEqual(stats["flagged"], 0.25)  # 0 is not below 0
        self.assertEqual(describe_scores(np.array([0.2]))["std"], 0.0)


class InferenceSelectionTest(unittest.TestCase):
    """Per-asset resume, look-back, re-score and warm-up, as src/platform/local/models.ts infers."""

    NOW = utc("2025-01-07T12:00:00Z")
    LOOKBACK = timedelta(days=7)

    def test_first_run_scores_the_whole_lookback(self) -> None:
        plan = inference_plan(self.NOW, self.LOOKBACK, ["bitcoin", "solana"], {})
        start = self.NOW - self.LOOKBACK
        self.assertEqual(plan.read_from, start)
        self.assertEqual(plan.gold_since, start - WARMUP)
        self.assertEqual(WARMUP, timedelta(minutes=5 * 289))
        self.assertEqual(plan.start_of("bitcoin"), start)
        self.assertEqual(plan.start_of("never-seen"), start)

    def test_each_asset_resumes_after_its_own_latest_scored_window(self) -> None:
        resume = {"bitcoin": utc("2025-01-07T11:50:00Z"), "solana": utc("2025-01-07T10:00:00Z")}
        plan = inference_plan(self.NOW, self.LOOKBACK, ["bitcoin", "solana"], resume)
        self.assertEqual(plan.start_of("bitcoin"), resume["bitcoin"])
        self.assertEqual(plan.start_of("solana"), resume["solana"])
        self.assertEqual(plan.read_from, resume["solana"])  # the asset that lags most
        # a new asset in Gold starts at the look-back and pulls the read back with it
        plan = inference_plan(self.NOW, self.LOOKBACK, ["bitcoin", "solana", "dogecoin"], resume)
        self.assertEqual(plan.start_of("dogecoin"), self.NOW - self.LOOKBACK)
        self.assertEqual(plan.read_from, self.NOW - self.LOOKBACK)

    def test_never_before_the_lookback(self) -> None:
        resume = {"bitcoin": utc("2024-12-01T00:00:00Z")}
        plan = inference_plan(self.NOW, self.LOOKBACK, ["bitcoin"], resume)
        self.assertEqual(plan.start_of("bitcoin"), self.NOW - self.LOOKBACK)
        self.assertEqual(plan.read_from, self.NOW - self.LOOKBACK)

    def test_rescore_takes_every_window_after_its_start(self) -> None:
        resume = {"bitcoin": utc("2025-01-07T11:50:00Z"), "solana": utc("2025-01-07T08:00:00Z")}
        since = self.NOW - timedelta(hours=24) + timedelta(hours=14)  # 2025-01-07T02:00Z
        plan = inference_plan(self.NOW, self.LOOKBACK, ["bitcoin", "solana"], resume, rescore_since=since)
        self.assertEqual(plan.start_of("bitcoin"), since)
        self.assertEqual(plan.start_of("solana"), since)
        self.assertEqual(plan.read_from, since)
        later = utc("2025-01-07T09:00:00Z")  # a re-score never skips windows not yet scored
        plan = inference_plan(self.NOW, self.LOOKBACK, ["bitcoin", "solana"], resume, rescore_since=later)
        self.assertEqual(plan.start_of("solana"), resume["solana"])
        self.assertEqual(plan.start_of("bitcoin"), later)

    def test_nothing_in_gold_means_nothing_to_do(self) -> None:
        self.assertIsNone(inference_plan(self.NOW, self.LOOKBACK, [], {"bitcoin": self.NOW}))

    def test_selection_on_the_fixture_resumes_and_is_idempotent(self) -> None:
        windows = fixture_windows()
        ends = pd.to_datetime(windows["window_end"], utc=True)
        now = ends.max().to_pydatetime()
        lookback = timedelta(hours=2)
        plan = inference_plan(now, lookback, windows.loc[ends > now - lookback, "asset"], {})
        gold = windows[ends > plan.gold_since].reset_index(drop=True)
        selected = select_for_scoring(compute_features(gold, "default"), plan)
        # every window of the last two hours, once
        self.assertEqual(len(selected), int((ends > now - lookback).sum()))
        # with the warm-up, the features are those of the full history, for assets without gaps in it
        full = compute_features(windows, "default")
        full_keys = full.rows["asset"] + "|" + iso_ms(full.rows["window_end"])
        keys = selected.rows["asset"] + "|" + iso_ms(selected.rows["window_end"])
        by_key = full.X.set_index(full_keys)
        for asset in ("bitcoin", "dogecoin"):
            mask = (selected.rows["asset"] == asset).to_numpy()
            np.testing.assert_array_equal(selected.X[mask].to_numpy(), by_key.loc[keys[mask]].to_numpy())

        # score them; the next run resumes after each asset's latest window and selects nothing new
        scored = score_rows(selected, np.linspace(-0.1, 0.2, len(selected)), 3, now)
        resume = scored.groupby("asset")["window_end"].max().to_dict()
        again = inference_plan(now, lookback, windows.loc[ends > now - lookback, "asset"], resume)
        gold = windows[ends > again.gold_since].reset_index(drop=True)
        self.assertEqual(len(select_for_scoring(compute_features(gold, "default"), again)), 0)

        # one asset lags: only its newer windows are selected next time
        lagging = {**resume, "solana": resume["solana"] - timedelta(minutes=15)}
        again = inference_plan(now, lookback, windows.loc[ends > now - lookback, "asset"], lagging)
        gold = windows[ends > again.gold_since].reset_index(drop=True)
        picked = select_for_scoring(compute_features(gold, "default"), again)
        self.assertEqual(picked.rows["asset"].tolist(), ["solana"] * 3)


class ScoreRowsAndDedupTest(unittest.TestCase):
    def test_score_rows_follow_the_anomalies_contract(self) -> None:
        features = compute_features(fixture_windows().iloc[:40], "seed")
        scores = np.array([0.0, -1e-12] + [0.1] * (len(features) - 2))
        at = utc("2025-01-07T12:00:00Z")
        rows = score_rows(features, scores, 7, at)
        self.assertEqual(list(rows.columns), [name for name, _, _ in ANOMALIES_COLUMNS])
        self.assertEqual(rows["is_anomaly"].tolist()[:3], [0, 1, 0])  # strictly below 0
        self.assertTrue((rows["model_version"] == 7).all())
        self.assertTrue((rows["scored_at"] == pd.Timestamp(at)).all())
        pd.testing.assert_series_equal(rows["ret_prev"], features.rows["ret_prev"], check_names=False)
        with self.assertRaisesRegex(ValueError, "scores for"):
            score_rows(features, scores[:-1], 7, at)

    def test_anomaly_records_are_plain_values_with_null_for_missing(self) -> None:
        features = compute_features(fixture_windows().iloc[:40], "seed")
        at = utc("2025-01-07T12:00:00Z")
        records = anomaly_records(score_rows(features, np.full(len(features), -0.01), 2, at))
        self.assertEqual(len(records), len(features))
        names = [name for name, _, _ in ANOMALIES_COLUMNS]
        first = dict(zip(names, records[0]))
        self.assertIsNone(first["ret_prev"])  # the asset's first window has no previous one
        self.assertEqual(first["window_end"], utc(features_fixture()["features"]["keys"][0].split("|")[1]))
        self.assertEqual((first["is_anomaly"], first["model_version"], first["scored_at"]), (1, 2, at))
        for record in records:
            for value in record:
                self.assertIn(type(value), (str, float, int, datetime, type(None)))
                self.assertFalse(isinstance(value, float) and math.isnan(value))
                if isinstance(value, datetime):
                    self.assertEqual(value.utcoffset(), timedelta(0))
        self.assertEqual(
            anomalies_schema(),
            "asset STRING, symbol STRING, window_end TIMESTAMP, price_avg DOUBLE, price_vol DOUBLE, "
            "ret_window DOUBLE, vol_sum DOUBLE, ret_prev DOUBLE, anomaly_score DOUBLE, is_anomaly INT, "
            "model_version INT, scored_at TIMESTAMP, reasons STRING, data_issue STRING",
        )
        self.assertEqual(first["data_issue"], None)
        self.assertEqual(first["reasons"], "[]")  # a first window: nothing to compare with

    def test_dedupe_windows_keeps_the_latest_emitted(self) -> None:
        gold = pd.DataFrame({
            "asset": ["bitcoin", "bitcoin", "solana", "bitcoin"],
            "window_end": ["2025-01-07T00:05:00Z", "2025-01-07T00:10:00Z", "2025-01-07T00:05:00Z",
                           "2025-01-07T00:05:00.000Z"],
            "price_avg": [1.0, 2.0, 3.0, 4.0],
            "emitted_at": ["2025-01-07T00:08:00Z", "2025-01-07T00:13:00Z", "2025-01-07T00:08:00Z",
                           "2025-01-07T00:07:00Z"],
        })
        kept = dedupe_windows(gold)
        self.assertEqual(kept["price_avg"].tolist(), [1.0, 2.0, 3.0])  # the re-emission of 00:07 is older
        self.assertEqual(list(kept.columns), list(gold.columns))
        # without emitted_at, the last row given wins
        self.assertEqual(dedupe_windows(gold.drop(columns=["emitted_at"]))["price_avg"].tolist(), [2.0, 3.0, 4.0])
        self.assertEqual(len(dedupe_windows(gold.iloc[:0])), 0)


class AnomaliesContractTest(unittest.TestCase):
    """The anomalies table has the same columns in the helper (which 04 creates the table from),
    in sql/setup.sql, and in the local engine's schema (sql/local/migrations: 001_initial_schema.sql and the
    columns later steps add)."""

    @staticmethod
    def columns_of(sql: str) -> list:
        body = re.search(r"CREATE TABLE IF NOT EXISTS [^\n]*anomalies[^\n]*\(\n(.*?)\n\)", sql, re.S)
        assert body, "no CREATE TABLE for anomalies"
        names = []
        for line in body.group(1).splitlines():
            line = line.split("--")[0].strip()
            match = re.match(r"([a-z_]+)\s+[A-Z]", line)
            if match and not line.startswith(("CONSTRAINT", "PRIMARY")):
                names.append(match.group(1))
        return names

    def test_same_columns_everywhere(self) -> None:
        expected = [name for name, _, _ in ANOMALIES_COLUMNS]
        setup = (ROOT / "sql" / "setup.sql").read_text()
        self.assertEqual(self.columns_of(setup), expected)
        # the local table: its CREATE in step 001, then the columns later steps add
        migrations = sorted((ROOT / "sql" / "local" / "migrations").glob("*.sql"))
        local = self.columns_of(migrations[0].read_text())
        for step in migrations[1:]:
            local += re.findall(r"ALTER TABLE anomalies ADD COLUMN (?:IF NOT EXISTS )?([a-z_]+)", step.read_text())
        self.assertEqual(local, expected)
        # and the same types and comments in setup.sql as in the DDL 04_infer_iforest runs
        for name, sql_type, comment in ANOMALIES_COLUMNS:
            self.assertIn(f"  {name} {sql_type} COMMENT '{comment}',", setup)
            self.assertNotIn("'", comment)

    def test_the_ddl_04_runs(self) -> None:
        """04 creates the table as setup.sql does: the same columns, types, comments and key; without the
        key only where the catalog refuses table constraints (open-source Delta)."""
        setup = (ROOT / "sql" / "setup.sql").read_text()
        expected = [name for name, _, _ in ANOMALIES_COLUMNS]
        ddl = anomalies_ddl("main.risk.anomalies")
        self.assertTrue(ddl.startswith("CREATE TABLE IF NOT EXISTS main.risk.anomalies (\n"))
        self.assertEqual(self.columns_of(ddl), expected)
        key = "  CONSTRAINT anomalies_pk PRIMARY KEY (asset, window_end)\n) USING DELTA"
        self.assertTrue(ddl.endswith(key))
        self.assertIn(key.split("\n")[0], setup)
        for name, sql_type, comment in ANOMALIES_COLUMNS:
            self.assertIn(f"  {name} {sql_type} COMMENT '{comment}'", ddl)
        plain = anomalies_ddl("main.risk.anomalies", primary_key=False)
        self.assertEqual(self.columns_of(plain), expected)
        self.assertNotIn("CONSTRAINT", plain)

    def test_constraints_unsupported(self) -> None:
        class SparkError(Exception):
            def __init__(self, condition: str, message: str) -> None:
                super().__init__(f"[{condition}] {message}")
                self.condition = condition

            def getCondition(self) -> str:
                return self.condition

        refused = SparkError("UNSUPPORTED_FEATURE.TABLE_OPERATION", "The feature is not supported: Table "
                             "`spark_catalog`.`crypto`.`anomalies` does not support table constraint.")
        self.assertTrue(constraints_unsupported(refused))
        self.assertTrue(constraints_unsupported(ValueError(str(refused))))  # no condition: the message
        self.assertFalse(constraints_unsupported(SparkError("PERMISSION_DENIED", "no CREATE TABLE on schema")))
        self.assertFalse(constraints_unsupported(SparkError("UNSUPPORTED_FEATURE.TABLE_OPERATION", "no ALTER")))


class ParamsTest(unittest.TestCase):
    def test_defaults(self) -> None:
        params = parse_job_params(lambda name: "")
        self.assertEqual(params.model_full_name, "workspace.crypto.crypto_anomaly_iforest")
        self.assertEqual((params.trees, params.seed, params.contamination), (200, 42, 0.005))
        self.assertEqual((params.feature_set, params.promotion, params.alias), ("default", "auto", "champion"))
        self.assertEqual(params.lookback, timedelta(days=7))
        self.assertEqual(params.max_rows, 200_000)
        self.assertIsNone(params.now)
        self.assertIsNone(params.rescore)
        self.assertEqual(params.table("anomalies"), "workspace.crypto.anomalies")
        # the platform: Unity Catalog's registry, the workspace's tracking, the volume
        self.assertEqual((params.registry_uri, params.tracking_uri), ("databricks-uc", ""))
        self.assertEqual(params.volume_path, "")  # 04 writes to /Volumes/<catalog>/<schema>/<volume>

    def test_a_local_registry_and_folder(self) -> None:
        """What the tests of the notebooks on open-source Spark pass (databricks/spark/test_jobs.py)."""
        params = parse_job_params({"registry_uri": "sqlite:///m.db", "tracking_uri": "sqlite:///m.db",
                                   "volume_path": "/tmp/out/"}.get)
        self.assertEqual((params.registry_uri, params.tracking_uri), ("sqlite:///m.db", "sqlite:///m.db"))
        self.assertEqual(params.volume_path, "/tmp/out")
        with self.assertRaisesRegex(ValueError, "volume_path: 'out' must be an absolute path"):
            parse_job_params({"volume_path": "out"}.get)

    def test_what_the_provisioner_passes(self) -> None:
        """The job parameters of src/platform/databricks/resources.ts and databricks.yml."""
        given = {"catalog": "main", "schema": "risk", "volume": "landing", "model_name": "main.risk.iforest",
                 "alias": "champion", "feature_set": "seed", "contamination": "auto", "trees": "300",
                 "seed": "7", "lookback_days": "3", "max_rows": "50000", "promotion": "manual",
                 "assets": "bitcoin,ethereum"}
        params = parse_job_params(given.get)
        self.assertEqual(params.model_full_name, "main.risk.iforest")
        self.assertEqual(
            (params.feature_set, params.contamination, params.trees, params.seed), ("seed", "auto", 300, 7)
        )
        self.assertEqual((params.lookback, params.max_rows, params.promotion), (timedelta(days=3), 50_000, "manual"))
        self.assertEqual(params.table("metrics_gold"), "main.risk.metrics_gold")
        # a bare model name lives in the job's catalog and schema; a lookback duration wins over days
        params = parse_job_params({**given, "model_name": "iforest", "lookback": "36h"}.get)
        self.assertEqual(params.model_full_name, "main.risk.iforest")
        self.assertEqual(params.lookback, timedelta(hours=36))

    def test_every_problem_in_one_message(self) -> None:
        given = {"catalog": "Main; DROP", "trees": "5", "contamination": "0.7", "lookback": "8x",
                 "model_name": "a.b", "now": "2025-01-22T12:31:00Z", "promotion": "sometimes"}
        with self.assertRaises(ValueError) as raised:
            parse_job_params(given.get)
        message = str(raised.exception)
        for name in ("catalog", "trees", "contamination", "lookback", "model_name", "promotion"):
            self.assertIn(f"{name}:", message)
        self.assertNotIn("now:", message)
        self.assertNotIn("lookback_days:", message)

    def test_now_and_rescore(self) -> None:
        params = parse_job_params({"now": "2025-01-22T12:31:00Z", "rescore": "24h"}.get)
        self.assertEqual(params.now, datetime(2025, 1, 22, 12, 31, tzinfo=UTC))
        self.assertEqual(params.clock(), params.now)
        self.assertEqual(params.rescore, timedelta(hours=24))
        self.assertEqual(parse_instant("2025-01-22T12:31:00"), datetime(2025, 1, 22, 12, 31, tzinfo=UTC))
        self.assertEqual(parse_instant("2025-01-22T13:31:00+01:00"), datetime(2025, 1, 22, 12, 31, tzinfo=UTC))
        with self.assertRaisesRegex(ValueError, "ISO-8601"):
            parse_instant("yesterday")
        self.assertEqual(parse_duration("2w"), timedelta(weeks=2))
        with self.assertRaisesRegex(ValueError, "from 1m to 90d"):
            parse_duration("91d")
        self.assertEqual(check_identifier("crypto_2"), "crypto_2")
        with self.assertRaisesRegex(ValueError, "lower-case"):
            check_identifier("Crypto")


if __name__ == "__main__":
    unittest.main()
