"""The training and inference notebooks (03_train_iforest, 04_infer_iforest) on a local Spark with
Delta Lake and a local MLflow (tracking and registry in one SQLite file).

The notebooks run as they are (``notebooks.run_notebook``: ``spark``, ``display`` and ``dbutils``
stand-ins); only job parameters differ from a Databricks job: ``catalog`` = ``spark_catalog`` (Delta's
catalog), ``registry_uri`` and ``tracking_uri`` = the SQLite store instead of Unity Catalog and the
workspace, ``experiment`` = one made here with its artifacts in a temporary folder, ``volume_path`` =
CRYPTO_RISK_SPARK_OUT (a temporary folder when unset) instead of ``/Volumes/...``, where the feed
files and the serving snapshot go for tests/integration/databricks-spark.test.ts to read with the
bot's own reader.

One story, in order (one Spark session for the module): Gold holds 3 days of 5-minute windows of
three assets, one of them (solana) 6 hours behind; training registers version 1 with the alias
champion; inference scores the last 24 h into ``anomalies`` and publishes; the same run again
changes nothing; solana's late windows arrive and the next run scores exactly those; a version 2
(another seed) is promoted and a re-score updates every window in place.

Run from databricks/spark: ../../.venv-spark/bin/python -B -m unittest -v test_jobs
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

import session
from notebooks import run_notebook

os.environ["TZ"] = "UTC"  # collect() gives naive datetimes in the process's zone
time.tzset()
REASON = session.unavailable()
LIB = Path(__file__).resolve().parent.parent / "lib"
if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))

SCHEMA = "crypto"
GOLD = f"{session.CATALOG}.{SCHEMA}.metrics_gold"
ANOMALIES = f"{session.CATALOG}.{SCHEMA}.anomalies"
MODEL = f"{session.CATALOG}.{SCHEMA}.crypto_anomaly_iforest"
END = datetime(2025, 3, 4, 0, 0, tzinfo=timezone.utc)
"""The last Gold window's end (and the clock of the runs)."""
STEP = timedelta(minutes=5)
DAYS = 3
ASSETS = {"bitcoin": ("BTC", 60_000.0), "ethereum": ("ETH", 3_000.0), "solana": ("SOL", 150.0)}
LAGGING = "solana"
LAG = timedelta(hours=6)
GOLD_SCHEMA = (
    "asset STRING, symbol STRING, window_start TIMESTAMP, window_end TIMESTAMP, price_avg DOUBLE, "
    "price_vol DOUBLE, price_min DOUBLE, price_max DOUBLE, vol_sum DOUBLE, ret_window DOUBLE, ticks BIGINT, "
    "source STRING, emitted_at TIMESTAMP"
)


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def gold_rows(asset: str, until: datetime, since: datetime | None = None) -> list:
    """Deterministic 5-minute windows of ``asset`` ending in (since, until]: a random walk with a few
    jumps and volume bursts (the same numbers for a window whichever span asks for it)."""
    import numpy as np

    symbol, base = ASSETS[asset]
    first_end = END - timedelta(days=DAYS) + STEP
    count = int((END - first_end) / STEP) + 1
    rng = np.random.default_rng(sorted(ASSETS).index(asset) + 11)
    returns = rng.normal(0, 0.0015, count)
    volumes = rng.lognormal(14, 0.3, count)
    spreads = np.abs(rng.normal(0.001, 0.0004, count)) + 0.0002
    for i in rng.choice(np.arange(300, count), 4, replace=False):  # jumps after the first day
        returns[i] += rng.choice([-1, 1]) * rng.uniform(0.03, 0.06)
        volumes[i] *= 6
        spreads[i] *= 8
    prices = base * np.exp(np.cumsum(returns))
    rows = []
    for i in range(count):
        end = first_end + i * STEP
        if end > until or (since is not None and end <= since):
            continue
        avg, spread = float(prices[i]), float(spreads[i])
        low, high = avg * (1 - spread), avg * (1 + spread)
        rows.append((asset, symbol, end - STEP, end, avg, avg * spread / 2, low, high, float(volumes[i]),
                     high / low - 1, 30, "coingecko", end + timedelta(minutes=2)))
    return rows


def mlflow_store(folder: str) -> str:
    """A local MLflow store for tracking and the registry: SQLite (MLflow's recommended local backend,
    https://mlflow.org/docs/latest/ml/tracking/backend-stores/ ), or MLflow's file store when this
    SQLAlchemy is one MLflow's SQL store cannot import (SQLAlchemy 2.1 dropped a pool class MLflow
    3.7 imports); both keep runs, model versions, tags and aliases."""
    try:
        importlib.import_module("mlflow.store.db.utils")  # imports sqlalchemy.pool's classes
    except ImportError as err:
        print(f"test_jobs: MLflow's SQL store is unavailable ({err}); using its file store", file=sys.stderr)
        return Path(folder, "mlflow").as_uri()
    return f"sqlite:///{os.path.join(folder, 'mlflow.db')}"


@unittest.skipIf(REASON, REASON or "")
class TrainAndInferTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.started = time.monotonic()
        cls.tmp = tempfile.mkdtemp(prefix="crypto-risk-jobs-")
        cls.out = os.environ.get("CRYPTO_RISK_SPARK_OUT") or os.path.join(cls.tmp, "out")
        os.makedirs(cls.out, exist_ok=True)
        cls.spark = session.local_spark(os.path.join(cls.tmp, "warehouse"))
        # Speed only, no semantics, for a few hundred rows on 2 shared cores: Delta rebuilds a table's
        # state from its log in 50 tasks by default (2 are plenty here), and compiling each of the
        # notebooks' many small queries to Java (whole-stage code generation) costs more than it saves.
        cls.spark.conf.set("spark.databricks.delta.snapshotPartitions", "2")
        cls.spark.conf.set("spark.sql.codegen.wholeStage", "false")
        cls.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {session.CATALOG}.{SCHEMA}")
        rows = [row for asset in sorted(ASSETS) for row in gold_rows(asset, END - LAG if asset == LAGGING else END)]
        cls.spark.createDataFrame(rows, GOLD_SCHEMA).write.format("delta").saveAsTable(GOLD)

        from mlflow.tracking import MlflowClient

        cls.mlflow_uri = mlflow_store(cls.tmp)
        cls.client = MlflowClient(tracking_uri=cls.mlflow_uri, registry_uri=cls.mlflow_uri)
        cls.experiment = "/crypto-risk-monitor/train"
        cls.client.create_experiment(cls.experiment, artifact_location=Path(cls.tmp, "artifacts").as_uri())

    @classmethod
    def tearDownClass(cls) -> None:
        cls.spark.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        print(f"\ntest_jobs: {time.monotonic() - cls.started:.0f} s", file=sys.stderr)

    def params(self, **extra: str) -> dict:
        return {"catalog": session.CATALOG, "schema": SCHEMA, "registry_uri": self.mlflow_uri,
                "tracking_uri": self.mlflow_uri, **extra}

    def notebook(self, name: str, parameters: dict) -> dict:
        started = time.monotonic()
        output = json.loads(run_notebook(self.spark, name, parameters))
        print(f"test_jobs: {name} {time.monotonic() - started:.1f} s", file=sys.stderr)
        return output

    def train(self, now: datetime, seed: str) -> dict:
        return self.notebook("03_train_iforest", self.params(
            now=iso(now), lookback="48h", trees="50", seed=seed, promotion="auto", experiment=self.experiment))

    def infer(self, now: datetime, **extra: str) -> dict:
        return self.notebook("04_infer_iforest", self.params(now=iso(now), lookback="24h", volume_path=self.out, **extra))

    def table(self) -> list:
        return sorted(tuple(row) for row in self.spark.table(ANOMALIES).collect())

    def check_published(self, summary: dict, feed_expected: bool) -> None:
        snapshot = json.loads(Path(self.out, summary["snapshot"]).read_text())
        self.assertEqual((snapshot["format"], snapshot["version"]), ("crypto-risk-serving", 1))
        self.assertEqual(snapshot["model"], {"name": MODEL, "version": summary["model_version"]})
        if feed_expected:
            self.assertIsNotNone(summary["feed_file"])
        if summary["feed_file"]:
            feed = json.loads(Path(self.out, summary["feed_file"]).read_text())
            self.assertEqual((feed["format"], feed["version"]), ("crypto-risk-feed", 1))
            self.assertEqual(len(feed["windows"]), summary["feed_windows"])

    def test_train_infer_rerun_resume_rescore(self) -> None:
        # Training: version 1, the alias on it, and the run's parameters, metrics and tag the bot reads.
        trained = self.train(END, seed="42")
        self.assertEqual((trained["model"], trained["version"], trained["promoted"]), (MODEL, 1, True))
        self.assertEqual(trained["assets"], sorted(ASSETS))
        self.assertEqual(str(self.client.get_model_version_by_alias(MODEL, "champion").version), "1")
        run = self.client.get_run(trained["run_id"])
        self.assertLessEqual({"feature_set", "trees", "contamination", "seed", "max_samples", "since", "until"},
                             set(run.data.params))
        self.assertEqual((run.data.params["trees"], run.data.params["seed"]), ("50", "42"))
        self.assertLessEqual({"train_mean", "train_std", "holdout_mean", "holdout_std", "train_flagged_share",
                              "holdout_flagged_share", "offset", "rows", "train_rows", "holdout_rows"},
                             set(run.data.metrics))
        self.assertEqual(run.data.tags["crypto_risk.assets"], ",".join(sorted(ASSETS)))
        version = self.client.get_model_version(MODEL, "1")
        self.assertEqual(version.tags["feature_set"], "default")

        # Inference: the last 24 h of every asset (solana's ends 6 h earlier), inserted and published.
        first = self.infer(END)
        per_day = int(timedelta(hours=24) / STEP)
        expected = 2 * per_day + per_day - int(LAG / STEP)
        self.assertEqual((first["model_version"], first["scored"], first["inserted"], first["updated"]),
                         (1, expected, expected, 0))
        self.assertGreater(first["new_anomalies"], 0)
        self.check_published(first, feed_expected=True)
        last = {row["asset"]: row["last"] for row in self.spark.sql(
            f"SELECT asset, max(window_end) AS last FROM {ANOMALIES} GROUP BY asset").collect()}
        self.assertEqual(last[LAGGING].replace(tzinfo=timezone.utc), END - LAG)
        self.assertEqual(last["bitcoin"].replace(tzinfo=timezone.utc), END)
        before = self.table()
        self.assertEqual(len(before), expected)

        # The same run again: nothing new, nothing changed.
        again = self.infer(END)
        self.assertEqual((again["scored"], again["inserted"], again["updated"], again["new_anomalies"]), (0, 0, 0, 0))
        self.assertIsNone(again["feed_file"])
        self.assertEqual(self.table(), before)

        # The lagging asset's windows arrive: the next run scores exactly those.
        late = gold_rows(LAGGING, END, since=END - LAG)
        self.spark.createDataFrame(late, GOLD_SCHEMA).write.format("delta").mode("append").saveAsTable(GOLD)
        resumed = self.infer(END + timedelta(minutes=1))
        self.assertEqual((resumed["scored"], resumed["inserted"], resumed["updated"]), (len(late), len(late), 0))
        after = self.table()
        added = sorted(set(after) - set(before))
        self.assertEqual(len(after), len(before) + len(late))
        self.assertEqual([(row[0], row[2].replace(tzinfo=timezone.utc)) for row in added],
                         [(row[0], row[3]) for row in late])
        self.check_published(resumed, feed_expected=False)

        # A new champion (another seed) and a re-score of the last 24 h: every row updated in place.
        retrained = self.train(END, seed="7")
        self.assertEqual(retrained["version"], 2)
        self.assertEqual(str(self.client.get_model_version_by_alias(MODEL, "champion").version), "2")
        rescored = self.infer(END + timedelta(minutes=2), rescore="24h")
        self.assertEqual(rescored["model_version"], 2)
        self.assertEqual((rescored["scored"], rescored["inserted"], rescored["updated"]), (len(after), 0, len(after)))
        final = self.spark.table(ANOMALIES)
        self.assertEqual(final.count(), len(after))
        self.assertEqual({row[0] for row in final.select("model_version").distinct().collect()}, {2})
        self.assertEqual(final.select("asset", "window_end").distinct().count(), len(after))
        self.check_published(rescored, feed_expected=False)


    def test_train_labels_clearly_worse_keeps_the_champion(self) -> None:
        # The labels' rule (crypto_risk.labels, src/model/label-comparison.ts): the windows the champion
        # alerts on are real, the quiet windows it scores lowest noise. A candidate with the same seed and
        # data but contamination 0.5 scores the same (only its offset differs) and alerts on half the
        # windows, those noise ones too: precision 0.5 against 1, so it is clearly worse.
        import mlflow.sklearn
        import pandas as pd

        from crypto_risk import compute_features, dedupe_windows
        from crypto_risk.features import is_alert

        first = self.train(END, seed="42")
        self.assertNotIn("labels", first)  # no labels table: nothing compared
        champion = int(self.client.get_model_version_by_alias(MODEL, "champion").version)
        mlflow.set_registry_uri(self.mlflow_uri)
        model = mlflow.sklearn.load_model(f"models:/{MODEL}/{champion}")
        gold = self.spark.table(GOLD).toPandas()
        features = compute_features(dedupe_windows(gold), "default")
        period = features.where((features.rows["window_end"] > pd.Timestamp(END - timedelta(hours=48))).to_numpy())
        scores = model.decision_function(period.X)
        alerts = [is_alert(s, r) for s, r in zip(scores, period.rows["reasons"])]
        alerted = [i for i, a in enumerate(alerts) if a]
        quiet = sorted((i for i, a in enumerate(alerts) if not a), key=lambda i: scores[i])
        self.assertGreaterEqual(len(alerted), 5)  # the rule needs 10 windows, 3 of each
        real = alerted[:8]
        picked = [(i, "real") for i in real] + [(i, "noise") for i in quiet[:len(real)]]
        windows = 2 * len(real)
        labels_table = f"{session.CATALOG}.{SCHEMA}.labels"
        rows = [(period.rows["asset"][i], period.rows["window_end"][i].to_pydatetime().replace(tzinfo=None), "U1",
                 label, "v1", datetime(2025, 3, 4, 1, 0)) for i, label in picked]
        self.spark.createDataFrame(rows, "asset STRING, window_end TIMESTAMP, user STRING, label STRING, "
                                   "model_version STRING, labelled_at TIMESTAMP") \
            .write.format("delta").saveAsTable(labels_table)
        try:
            worse = self.notebook("03_train_iforest", self.params(
                now=iso(END), lookback="48h", trees="50", seed="42", contamination="0.5", promotion="auto",
                experiment=self.experiment))
        finally:
            self.spark.sql(f"DROP TABLE IF EXISTS {labels_table}")
        compared = worse["labels"]
        self.assertEqual((compared["windows"], compared["real"], compared["noise"]), (windows, len(real), len(real)))
        self.assertTrue(compared["rule_applies"])
        self.assertEqual(compared["champion"]["version"], champion)
        self.assertEqual((compared["champion"]["precision"], compared["champion"]["recall"]), (1, 1))
        self.assertLess(compared["candidate"]["f1"], compared["champion"]["f1"] - 0.1)
        self.assertFalse(worse["promoted"])
        self.assertTrue(worse["refused"].startswith(
            f"Not promoted: on {windows} labelled windows ({len(real)} real, {len(real)} noise) v{worse['version']} has F1"))
        self.assertEqual(int(self.client.get_model_version_by_alias(MODEL, "champion").version), champion)


if __name__ == "__main__":
    unittest.main()
