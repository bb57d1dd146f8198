"""Comparison grids resume, report failing cells and name their rows."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")  # the training install; skipped in the inference install
import yaml
from support import tiny_overrides

# --- the grid resumes after an interrupted cell ---------------------------------------------------

def test_grid_skips_finished_cells_and_reruns_an_interrupted_one(tiny_data, tmp_path):
    from dermaseg.classify.experiment import run_grid
    from dermaseg.classify.train import train_classifier

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({}))
    overrides = dict(o.split("=", 1) for o in tiny_overrides(tiny_data, tmp_path / "cache", "0"))
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"name": "tiny grid", "base": "base.yaml", "overrides": overrides,
                                    "grid": {"sampling": ["undersample", "class_weight"], "ratios": ["75:25"],
                                             "seed": [0]},
                                    "out": str(tmp_path / "grid_out"), "budget": "two epochs"}))
    calls = []

    def interrupted_on_second(config, run_dir):
        calls.append(Path(run_dir).name)
        if len(calls) == 2:
            Path(run_dir).mkdir(parents=True)
            (Path(run_dir) / "history.csv").write_text("partial")
            raise KeyboardInterrupt
        return train_classifier(config, run_dir)

    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, train_fn=interrupted_on_second, progress=False)
    out = tmp_path / "grid_out"
    first, second = (out / "cells" / name for name in calls)
    assert (first / "summary.json").is_file() and not (second / "summary.json").exists()
    first_mtime = (first / "model.pt").stat().st_mtime_ns

    calls.clear()
    df = run_grid(grid, train_fn=lambda c, d: (calls.append(Path(d).name), train_classifier(c, d))[1],
                  progress=False)
    assert calls == [second.name]                                   # only the interrupted cell ran again
    assert (first / "model.pt").stat().st_mtime_ns == first_mtime
    assert len(df) == 2 and set(df["technique"]) == {"undersample", "class_weight"}
    table = (out / "results.md").read_text()
    assert "| technique | split ratio | accuracy | balanced accuracy | macro F1 |" in table
    assert "Undersampling using EfficientNet-Lite0 | 75:25 |" in table
    assert (out / "results.png").stat().st_size > 0 and (out / "results.csv").is_file()


def test_grid_reports_a_failing_cell_and_goes_on(tmp_path):
    from dermaseg.classify.experiment import run_grid

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({}))
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"base": "base.yaml", "grid": {"backbone": ["resnet50", "efficientnet-lite0"]},
                                    "out": str(tmp_path / "out")}))
    calls = []

    def weights_offline(config, run_dir):
        calls.append(config["model"]["backbone"])
        raise OSError("cannot download resnet50 ImageNet weights: no internet")

    df = run_grid(grid, train_fn=weights_offline, progress=False)
    assert calls == ["resnet50", "efficientnet-lite0"]             # the first failure did not stop the grid
    assert df.empty and len(df.attrs["failed"]) == 2
    error = (tmp_path / "out" / "cells" / "resnet50" / "error.txt").read_text()
    assert "OSError" in error and "no internet" in error
    assert "0 of 2 cells finished" in (tmp_path / "out" / "results.md").read_text()


def test_grid_table_names_imagenet_and_scratch_rows():
    import pandas as pd

    from dermaseg.classify.experiment import markdown_table

    df = pd.DataFrame([{"technique": "class_weight", "backbone": "resnet50", "model.weights": w, "ratio": "80:20",
                        "accuracy": a, "balanced_accuracy": a, "macro_f1": a} for w, a in [(None, 0.6), ("imagenet", 0.8)]])
    table = markdown_table(df, {"grid": {"backbone": ["resnet50"], "model.weights": [None, "imagenet"]}})
    assert "| Class-weighted loss using ResNet-50 (scratch) | 80:20 | 60.00 % |" in table
    assert "| Class-weighted loss using ResNet-50 (ImageNet) | 80:20 | 80.00 % |" in table
