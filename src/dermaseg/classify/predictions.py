"""The predictions file of a classification run: one row per image, true and predicted class,
each class's probability. Training, evaluation, the classical baselines and ensembles write it."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_predictions(path: Path, image_ids, y_true, probs, class_names, true_names=None) -> None:
    import pandas as pd

    probs = np.asarray(probs)
    df = pd.DataFrame({"image_id": list(image_ids)})
    if y_true is not None:
        df["true"] = [class_names[i] for i in y_true] if true_names is None else list(true_names)
    df["predicted"] = [class_names[i] for i in probs.argmax(axis=1)]
    for c, name in enumerate(class_names):
        df[f"prob_{name}"] = probs[:, c].round(6)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
