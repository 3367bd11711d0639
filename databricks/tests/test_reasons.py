"""The Python reasons and data issues against the TypeScript engine's (tests/fixtures/features/windows.json,
written by src/model/reasons.ts through generate.ts): the same features chosen, in the same order, values
within 1e-9 relative, the same data_issue.

Run from the repository root: /usr/bin/python3 -B -m unittest discover -s databricks/tests
"""

from __future__ import annotations

import json
import math
import unittest
from collections import Counter

from fixtures import features_fixture, fixture_windows

from crypto_risk import compute_features
from crypto_risk.features import MAX_REASONS, REASON_TIMES

REL_TOL = 1e-9


class ReasonsParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.fx = features_fixture()["features"]
        cls.windows = fixture_windows()

    def test_fixture_has_every_kind_of_reason(self) -> None:
        kinds = Counter(r["feature"] for reasons in self.fx["reasons"] for r in reasons)
        self.assertEqual(set(kinds), {"return", "range", "volume", "gap", "frozen"})
        self.assertEqual(set(self.fx["data_issue"]), {None, "gap", "frozen"})

    def test_same_reasons_for_both_feature_sets(self) -> None:
        for feature_set in ("default", "seed"):
            rows = compute_features(self.windows, feature_set).rows
            self.assertEqual(len(rows), len(self.fx["keys"]))
            for i, (text, issue) in enumerate(zip(rows["reasons"], rows["data_issue"])):
                key = self.fx["keys"][i]
                expected = self.fx["reasons"][i]
                actual = json.loads(text)
                self.assertEqual([r["feature"] for r in actual], [r["feature"] for r in expected], key)
                for a, e in zip(actual, expected):
                    self.assertTrue(math.isclose(a["value"], e["value"], rel_tol=REL_TOL, abs_tol=0), (key, a, e))
                    if e["times"] is None:
                        self.assertIsNone(a["times"], key)
                    else:
                        self.assertTrue(math.isclose(a["times"], e["times"], rel_tol=REL_TOL), (key, a, e))
                self.assertEqual(issue, self.fx["data_issue"][i], key)

    def test_the_rules(self) -> None:
        rows = compute_features(self.windows, "default").rows
        for text, issue in zip(rows["reasons"], rows["data_issue"]):
            reasons = json.loads(text)
            self.assertLessEqual(len(reasons), MAX_REASONS)
            market = [r for r in reasons if r["feature"] in ("return", "range", "volume")]
            self.assertTrue(all(r["times"] >= REASON_TIMES for r in market))
            data = [r["feature"] for r in reasons if r["feature"] in ("gap", "frozen")]
            self.assertEqual(reasons[: len(data)], [r for r in reasons if r["feature"] in data], "data first")
            self.assertEqual(issue, "gap" if "gap" in data else ("frozen" if "frozen" in data else None))


if __name__ == "__main__":
    unittest.main()
