"""The models a server holds: one segmenter and, when it can be loaded, one classifier.

Each is loaded once at start-up and shared by every worker thread (ONNX Runtime sessions and
PyTorch modules in inference mode are safe to call from several threads). Shipped models load
from their ONNX files (no PyTorch); a .pt/.ckpt given by path loads with PyTorch, and a .pt
with an exported .onnx beside it loads the .onnx.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("dermaseg.serve")


def segmentation_model_file(model: str | Path | None) -> Path:
    """The file to load for `model` (a shipped name, a path, or None), preferring an ONNX export."""
    from dermaseg.core.zoo import resolve

    path = resolve(model, "segmentation").path
    onnx = path.with_suffix(".onnx")
    if path.suffix.lower() != ".onnx" and onnx.is_file():
        return onnx
    return path


class Engines:
    def __init__(self, segmenter, classifier=None, classifier_error: str | None = None, kind_check=None):
        from dermaseg.kind import ImageKindCheck

        self.segmenter = segmenter
        self.classifier = classifier
        self.classifier_error = classifier_error if classifier is None else None
        self.kind_check = kind_check or ImageKindCheck()   # every image's kind, before any answer

    @classmethod
    def load(cls, model: str | Path | None = None, classifier: str | Path | None = None, *,
             with_classifier: bool = True, threads: int | None = None, runtime: dict | None = None) -> "Engines":
        """runtime: the classifier's backend/precision keywords (dermaseg.classify.predict.Classifier)."""
        from dermaseg.segment.segmenter import Segmenter

        path = segmentation_model_file(model)
        if path.suffix.lower() != ".onnx":
            try:
                import torch  # noqa: F401
            except ImportError:
                raise ValueError(f"{path} is a PyTorch model and torch is not installed: export it to ONNX "
                                 f"(`dermaseg export --model {model or 'isic-unet-lite0'}` on a machine with torch) "
                                 "and pass --model FILE.onnx") from None
        segmenter = Segmenter(path, threads=threads)
        # Report the name the user gave (or the shipped default's), not the file it resolved to.
        segmenter.name = str(model) if model else (segmenter.model_info.get("name") or path.stem)
        log.info("segmentation model %s %s (%s) from %s", segmenter.name, segmenter.version,
                 segmenter.backend_name, path)
        loaded, error = None, "disabled (--no-classifier)"
        if with_classifier:
            loaded, error = _load_classifier(classifier, threads, runtime or {})
        from dermaseg.kind import ImageKindCheck

        return cls(segmenter, loaded, error, ImageKindCheck(threads=threads))

    def models(self) -> list[dict]:
        """What GET /v1/models reports for each model held."""
        seg = self.segmenter
        info = getattr(seg, "model_info", {}) or {}
        out = [{
            "name": seg.name, "version": seg.version, "task": "segmentation", "available": True,
            "backend": seg.backend_name, "input_size": seg.input_size, "threshold": seg.threshold,
            "architecture": f"{info.get('arch', '?')} / {info.get('encoder', '?')}",
            "held_out": getattr(seg, "held_out", None)
            or ({"split": "validation", "dice": info["best_val_dice"]} if "best_val_dice" in info else None),
        }]
        kind = self.kind_check
        out.append({"name": "image-kind", "version": kind.version, "task": "image_kind", "available": True,
                    "backend": "onnxruntime", "input_size": kind.size, "kinds": ["dermoscopy", "clinical", "other"],
                    "thresholds": kind.meta.get("thresholds"), "held_out": kind.meta.get("held_out")})
        clf = self.classifier
        if clf is not None:
            meta = clf.meta
            test = (meta.get("info") or {}).get("test")
            out.append({
                "name": classifier_name(clf), "version": classifier_version(clf), "task": "classification",
                "available": True, "backend": getattr(clf, "backend_name", "pytorch"), "input_size": clf.pipeline.size,
                "classes": clf.class_names, "architecture": meta.get("backbone"), "tta_views": clf.tta_views,
                "decisions": clf.decisions.to_dict() if getattr(clf, "decisions", None) is not None else None,
                "held_out": meta.get("held_out") or ({"split": "test", **test} if test else None),
            })
        else:
            out.append({"name": None, "task": "classification", "available": False, "reason": self.classifier_error})
        return out


def classifier_name(clf) -> str:
    return getattr(clf, "name", None) or Path(clf.path).stem


def classifier_version(clf) -> str:
    from dermaseg import __version__

    return str((clf.meta.get("info") or {}).get("version", __version__))


def _load_classifier(model, threads, runtime: dict):
    try:
        from dermaseg.classify.predict import load_classifier

        clf = load_classifier(model, threads=threads, **runtime)
    except (FileNotFoundError, ValueError) as exc:
        if model is not None:
            raise  # the user named it: a wrong name or file is an error, not a silent downgrade
        return None, str(exc)
    log.info("classifier %s (%d classes) from %s", classifier_name(clf), len(clf.class_names), clf.path)
    return clf, None
