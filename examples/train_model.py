"""Train the sample classifier the seeds register as 'classification_model'.

Iris ships with scikit-learn (no download): four features per case, like the seeds' `x_new` rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def train(model_path: Path) -> Path:
    """Fit a logistic regression on iris and save it with joblib at `model_path`."""
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_path)
    return model_path


def write_batch_files(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` one-row CSV files of iris-like measurements, the shape the seeds' batch scoring script reads."""
    features, _ = load_iris(return_X_y=True)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        row = features[rng.integers(len(features))] + rng.normal(0, 0.05, size=4)
        path = folder / f"{index + 1}.csv"
        path.write_text(",".join(f"{value:.2f}" for value in row) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "model.pkl")
    print(f"saved {train(target)}")
