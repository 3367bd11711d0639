"""The model version 04_infer_iforest scores with, and its "no model yet" end on a new workspace."""

from __future__ import annotations

import json
import unittest
from types import SimpleNamespace

from fixtures import NOTEBOOKS  # also puts databricks/lib on sys.path

from crypto_risk import NOT_FOUND, choose_model_version, is_not_found, no_model_summary


class RegistryError(Exception):
    """Stands in for mlflow.exceptions.MlflowException: a message and an ``error_code`` name."""

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.error_code = error_code


def missing(what: str):
    def call():
        raise RegistryError(f"{what} does not exist.", NOT_FOUND)

    return call


def version(n: int) -> SimpleNamespace:
    return SimpleNamespace(version=str(n), tags={"feature_set": "default"})


class ChoosingTheModelVersion(unittest.TestCase):
    def test_the_alias_version_when_the_alias_exists(self) -> None:
        chosen = choose_model_version(lambda: version(2), lambda: [version(1), version(3)])
        self.assertIsNotNone(chosen)
        self.assertEqual((chosen.version.version, chosen.by_alias), ("2", True))

    def test_the_latest_version_when_no_version_has_the_alias(self) -> None:
        chosen = choose_model_version(missing("Alias champion"), lambda: [version(3), version(10), version(2)])
        self.assertEqual((chosen.version.version, chosen.by_alias), ("10", False))

    def test_none_when_the_model_does_not_exist(self) -> None:
        self.assertIsNone(choose_model_version(missing("Model"), missing("Model")))

    def test_none_when_the_model_has_no_versions(self) -> None:
        self.assertIsNone(choose_model_version(missing("Alias champion"), lambda: []))

    def test_other_registry_errors_are_raised_not_taken_for_no_model(self) -> None:
        def refused():
            raise RegistryError("User does not have EXECUTE on Routine or Model", "PERMISSION_DENIED")

        with self.assertRaises(RegistryError):
            choose_model_version(refused, lambda: [version(1)])
        with self.assertRaises(RegistryError):
            choose_model_version(missing("Alias champion"), refused)
        self.assertFalse(is_not_found(ValueError("no error_code")))


class TheNoModelOutput(unittest.TestCase):
    def test_says_no_model_yet_scores_nothing_and_is_json(self) -> None:
        summary = no_model_summary("workspace.crypto.crypto_anomaly_iforest", "champion")
        self.assertEqual(json.loads(json.dumps(summary)), summary)
        self.assertEqual(summary["status"], "no model yet")
        self.assertIsNone(summary["model_version"])
        self.assertEqual([summary[k] for k in ("scored", "inserted", "updated", "new_anomalies")], [0, 0, 0, 0])
        self.assertIn("no model yet", summary["message"])


class TheInferenceNotebook(unittest.TestCase):
    def test_ends_with_no_model_yet_before_loading_a_model(self) -> None:
        source = (NOTEBOOKS / "04_infer_iforest.py").read_text(encoding="utf-8")
        exit_at = source.find("dbutils.notebook.exit(json.dumps(no_model_summary(model_name, params.alias)))")
        self.assertGreater(exit_at, source.find("if chosen is None:"))
        self.assertGreater(source.find("if chosen is None:"), source.find("chosen = choose_model_version("))
        self.assertLess(exit_at, source.find("mlflow.sklearn.load_model("))
        self.assertNotIn("raise RuntimeError", source)


if __name__ == "__main__":
    unittest.main()
