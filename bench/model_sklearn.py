"""scikit-learn's side of bench/model.ts: fit and score_samples on the data it wrote.

Usage: python3 bench/model_sklearn.py DATA.f64 ROWS FEATURES TREES CONTAMINATION
DATA.f64 is row-major little-endian float64. Prints one JSON line: the seconds of fit and of
score_samples (only those are timed), the flagged share and the scikit-learn version. Exits 3 with
a message on stderr when scikit-learn cannot be imported.
"""

import json
import sys
import time

try:
    import numpy as np
    import sklearn
    from sklearn.ensemble import IsolationForest
except ImportError as error:
    print(f'scikit-learn is not importable: {error}', file=sys.stderr)
    sys.exit(3)


def main():
    path, rows, features, trees, contamination = sys.argv[1:6]
    X = np.fromfile(path, dtype='<f8').reshape(int(rows), int(features))
    model = IsolationForest(n_estimators=int(trees), contamination=float(contamination), random_state=42)
    began = time.perf_counter()
    model.fit(X)
    fitted = time.perf_counter()
    scores = model.score_samples(X)
    scored = time.perf_counter()
    print(json.dumps({
        'fit_s': fitted - began,
        'score_s': scored - fitted,
        'flagged_share': float(np.mean(scores < model.offset_)),
        'sklearn': sklearn.__version__,
    }))


if __name__ == '__main__':
    main()
