"""Which Unity Catalog model version inference scores with, and what it says when there is none.

The registry calls are passed in (``MlflowClient.get_model_version_by_alias`` and
``MlflowClient.search_model_versions`` in ``04_infer_iforest``), so this stays free of MLflow and
testable here. Only the documented not-found answer means "no model": Unity Catalog answers a
missing model, version or alias with 404 ``RESOURCE_DOES_NOT_EXIST``
(https://docs.databricks.com/api/uc-registered-models/v1/get-model-version-by-alias), which MLflow
raises as an ``MlflowException`` whose ``error_code`` is that name
(https://mlflow.org/docs/latest/python_api/mlflow.exceptions.html). Any other error (a refused
permission, an unreachable service) is raised as it is: scoring must not report "no model" then.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence

NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


def is_not_found(err: BaseException) -> bool:
    """Whether a registry error is the not-found answer (a missing model, version or alias)."""
    return getattr(err, "error_code", None) == NOT_FOUND


class ChosenVersion(NamedTuple):
    version: Any
    """The model version (an MLflow ``ModelVersion``: ``version``, ``tags``)."""
    by_alias: bool
    """True when the alias points at it, False when it is the latest for want of the alias."""


def choose_model_version(
    by_alias: Callable[[], Any],
    all_versions: Callable[[], Sequence[Any]],
) -> Optional[ChosenVersion]:
    """The version the alias points at, else the latest version (highest number), else None.

    ``by_alias`` and ``all_versions`` raise the registry's errors; not-found means "none".
    """
    try:
        return ChosenVersion(by_alias(), True)
    except Exception as err:  # MlflowException, passed through unless it is the not-found answer
        if not is_not_found(err):
            raise
    try:
        versions = list(all_versions())
    except Exception as err:
        if not is_not_found(err):
            raise
        versions = []
    if not versions:
        return None
    return ChosenVersion(max(versions, key=lambda v: int(v.version)), False)


def no_model_summary(model_name: str, alias: str) -> Dict[str, Any]:
    """The run's output when there is no model version yet: the run succeeds and scores nothing."""
    return {
        "status": "no model yet",
        "model": model_name,
        "alias": alias,
        "model_version": None,
        "scored": 0,
        "inserted": 0,
        "updated": 0,
        "new_anomalies": 0,
        "message": f"no model yet: {model_name} has no version; the crypto-risk-train job (or `crypto-risk train`) makes the first",
    }
