"""The labels' promotion rule of 03_train_iforest (crypto_risk.labels) against the TypeScript's
answers (tests/fixtures/labels/cases.json, written by generate.ts beside it from
src/model/label-comparison.ts)."""

from __future__ import annotations

import unittest
from datetime import datetime

from fixtures import ROOT, fixture_windows, load_json  # also puts databricks/lib on sys.path

from crypto_risk import compute_features
from crypto_risk.labels import (
    RULE_TEXT,
    clearly_worse,
    compare_on_labels,
    is_real_window,
    labelled_alerts,
    refusal_sentence,
    rule_applies,
    score_on_labels,
    window_key,
    window_truth,
)

CASES = load_json(ROOT / "tests" / "fixtures" / "labels" / "cases.json")["cases"]


class ParityWithTypeScript(unittest.TestCase):
    def test_every_case_matches_label_comparison_ts(self) -> None:
        self.assertGreater(len(CASES), 40)
        for case in CASES:
            with self.subTest(case["name"]):
                expected = case["expected"]
                truth = [is_real_window(real, noise) for real, noise in case["windows"]]
                self.assertEqual(truth, expected["truth"])
                champion = case["champion"]
                got = compare_on_labels(
                    truth,
                    case["candidate"],
                    champion["alerts"] if champion else None,
                    champion["version"] if champion else None,
                )
                self.assert_same(got, expected["comparison"])
                self.assertEqual(clearly_worse(got), expected["clearly_worse"])
                if expected["refused"] is not None:
                    self.assertEqual(refusal_sentence(got, expected["candidate_version"]), expected["refused"])

    def test_the_fixture_has_each_kind_of_case(self) -> None:
        self.assertTrue(any(c["expected"]["clearly_worse"] for c in CASES))
        self.assertTrue(any(c["expected"]["comparison"]["rule_applies"] and not c["expected"]["clearly_worse"]
                            for c in CASES))
        self.assertTrue(any(c["expected"]["comparison"]["candidate"]["precision"] is None for c in CASES))
        self.assertTrue(any(c["expected"]["comparison"]["candidate"]["recall"] is None for c in CASES))

    def assert_same(self, got: object, expected: object) -> None:
        if isinstance(expected, dict):
            self.assertIsInstance(got, dict)
            self.assertEqual(sorted(got), sorted(expected))
            for key in expected:
                self.assert_same(got[key], expected[key])
        elif isinstance(expected, float):
            self.assertAlmostEqual(got, expected, places=12)
        else:
            self.assertEqual(got, expected)


class Rule(unittest.TestCase):
    def test_rule_text_is_the_typescript_one(self) -> None:
        self.assertEqual(RULE_TEXT, CASES[0]["expected"]["comparison"]["rule"])

    def test_scores(self) -> None:
        self.assertEqual(score_on_labels([True, True, False, False], [True, False, True, False]),
                         {"alerted": 2, "precision": 0.5, "recall": 0.5, "f1": 0.5})
        self.assertEqual(score_on_labels([False, False], [False, False]),
                         {"alerted": 0, "precision": None, "recall": None, "f1": None})
        self.assertEqual(score_on_labels([True], [False])["f1"], 0)

    def test_rule_needs_ten_windows_and_three_of_each(self) -> None:
        self.assertTrue(rule_applies({"windows": 10, "real": 3, "noise": 7}))
        self.assertFalse(rule_applies({"windows": 9, "real": 3, "noise": 6}))
        self.assertFalse(rule_applies({"windows": 10, "real": 2, "noise": 8}))

    def test_without_a_champion_nothing_is_refused(self) -> None:
        c = compare_on_labels([True] * 5 + [False] * 5, [False] * 10, None, None)
        self.assertIsNone(c["champion"])
        self.assertFalse(c["rule_applies"])
        self.assertFalse(clearly_worse(c))


class Truth(unittest.TestCase):
    def test_majority_of_each_persons_latest_label_ties_real(self) -> None:
        at = datetime(2025, 1, 6, 12, 0)
        later = datetime(2025, 1, 6, 13, 0)
        rows = [
            {"asset": "bitcoin", "window_end": at, "user": "U1", "label": "real", "labelled_at": at},
            {"asset": "bitcoin", "window_end": at, "user": "U2", "label": "noise", "labelled_at": at},
            # U1 changed their mind: only the latest label counts, so noise wins 2–0.
            {"asset": "ethereum", "window_end": at, "user": "U1", "label": "real", "labelled_at": at},
            {"asset": "ethereum", "window_end": at, "user": "U1", "label": "noise", "labelled_at": later},
            {"asset": "ethereum", "window_end": at, "user": "U2", "label": "noise", "labelled_at": at},
            {"asset": "solana", "window_end": at, "user": "U3", "label": "noise", "labelled_at": later},
            {"asset": "solana", "window_end": at, "user": "U3", "label": "real", "labelled_at": at},
        ]
        self.assertEqual(window_truth(rows), {window_key("bitcoin", at): True, window_key("ethereum", at): False,
                                              window_key("solana", at): False})

    def test_keys_meet_whatever_the_time_type(self) -> None:
        self.assertEqual(window_key("bitcoin", datetime(2025, 1, 6, 0, 5)),
                         window_key("bitcoin", "2025-01-06T00:05:00.000Z"))


class LabelledAlerts(unittest.TestCase):
    def test_labelled_windows_in_feature_order_gone_windows_left_out(self) -> None:
        features = compute_features(fixture_windows(), "default")
        rows = features.rows
        picked = [5, 300, 17]
        truth = {window_key(rows["asset"][i], rows["window_end"][i]): i != 300 for i in picked}
        truth[window_key("bitcoin", "2020-01-01T00:00:00Z")] = True  # no Gold window any more
        seen = []

        def decision_function(X):
            seen.append(len(X))
            return [-1.0] * len(X)  # every window alerts

        got_truth, alerts = labelled_alerts(features, truth, decision_function)
        self.assertEqual(seen, [3])
        self.assertEqual(got_truth, [True, True, False])  # rows 5, 17, 300 in the features' order
        self.assertEqual(alerts, [True, True, True])


if __name__ == "__main__":
    unittest.main()
