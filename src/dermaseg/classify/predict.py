"""Classify images with a classifier file (the shipped one by default).

image (any size) -> optional crop to the lesion (segmentation model) -> pipeline.prepare (the
code training used) -> network, softmax averaged over the model's dihedral TTA views ->
class probabilities. `dermaseg.classify.batch.classify_files` writes one CSV row per image (image_id, predicted,
prob_<class>...); an unreadable file is reported and skipped, never a crash. Several classifier
files, or an ensemble file (.json) naming them, make a `ClassifierEnsemble`: the mean of their
probabilities. `load_classifier` opens any of these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dermaseg.classify.decisions import Decisions, adjust  # noqa: F401 - adjust is re-exported
from dermaseg.classify.inference import predict_images, predict_images_onnx
from dermaseg.core.zoo import SHIPPED, resolve
from dermaseg.transforms.pipeline import PipelineConfig, prepare

# what a model file's info says of that one network's training and results: not an ensemble's
_MEMBER_FIGURES = ("held_out", "cross_dataset", "test", "val", "calibration", "best_epoch", "precision", "version",
                   "name")

# dermaseg's own outputs that sit beside images in a folder; they are not dermoscopy images
_SKIP_SUFFIXES = ("_segmentation", "_overlay")


def top_class(probs: np.ndarray, class_names: list[str], decisions: Decisions | None = None) -> dict:
    """The most probable class and every probability; with fitted decisions also the prediction
    set and the triage point (dermaseg.classify.decisions)."""
    out = {"predicted": class_names[int(probs.argmax())],
           "probabilities": {n: float(p) for n, p in zip(class_names, probs)}}
    if decisions is not None:
        out.update(prediction_set=decisions.prediction_set(probs, class_names),
                   triage=decisions.triage(probs, class_names))
    return out


def _meta_from_onnx(meta: dict) -> dict:
    """ONNX metadata in the shape of a PyTorch classifier file's header (what callers read)."""
    model = meta.get("model") or {}
    return {"class_names": list(meta["classes"]), "pipeline": meta["pipeline"], "backbone": model.get("backbone"),
            "label_task": model.get("label_task", "auto"), "tta_views": model.get("tta_views", 1),
            "crop": model.get("crop"), "logit_shift": model.get("logit_shift"),
            "temperature": model.get("temperature"), "info": meta.get("info") or {},
            "version": meta.get("version"), "held_out": meta.get("held_out"),
            "decisions": model.get("decisions")}


class Classifier:
    """Load one classifier network once, classify many images (`load_classifier` opens ensembles too).

    model: None (the shipped default, when that is one network), a shipped name, a classifier .pt
    or an exported .onnx.
    backend: "auto" (ONNX Runtime for .onnx files and shipped names, PyTorch for .pt), "torch"
    (the PyTorch weights, e.g. to calibrate and save a new .pt), "onnx" (ONNX Runtime, FP32) or
    "openvino" (the .onnx file run by OpenVINO at `precision`: "auto", "fp32" or "bf16";
    dermaseg.core.openvino_session).
    crop: "model" (what the model was trained with), "none", "segmenter" (crop to the lesion
    found by the segmentation model `segmenter`, default the shipped one).
    tta_views: dihedral views averaged (default: the model's own setting).
    """

    def __init__(self, model: str | Path | None = None, *, tta_views: int | None = None, crop: str = "model",
                 segmenter: str | None = None, threads: int | None = None, batch_size: int = 8,
                 backend: str = "auto", precision: str = "auto"):
        from dermaseg.core.onnxfile import check_backend

        check_backend(backend)
        resolved = resolve(model, "classification", prefer="torch" if backend == "torch" else "onnx")
        self.path, self.name = resolved.path, resolved.name
        if self.path.suffix.lower() == ".json":
            raise ValueError(f"{self.name}: an ensemble of several classifiers, not one: open it with "
                             "dermaseg.classify.predict.load_classifier")
        if self.path.suffix.lower() == ".onnx" and backend != "torch":
            from dermaseg.core.onnxfile import check_task, open_session, runtime_name

            runtime = "openvino" if backend == "openvino" else "onnxruntime"
            self.session, onnx_meta = open_session(self.path, threads, runtime, precision)
            check_task(onnx_meta, "classification", self.path)
            self.model, self.meta, self.backend_name = None, _meta_from_onnx(onnx_meta), runtime_name(self.session)
        else:
            import torch

            from dermaseg.classify.modelfile import build_from_classifier_file

            if threads:
                torch.set_num_threads(int(threads))
            self.model, self.meta = build_from_classifier_file(self.path)
            self.session, self.backend_name = None, "pytorch"
        self.class_names: list[str] = list(self.meta["class_names"])
        self.task = self.meta.get("label_task", "auto")   # auto | melanoma
        self.pipeline = PipelineConfig.from_dict({k: v for k, v in self.meta["pipeline"].items() if k != "augment"})
        self.tta_views = int(tta_views if tta_views is not None else self.meta.get("tta_views", 1))
        if not 1 <= self.tta_views <= 8:
            raise ValueError(f"tta_views must lie in 1..8, got {self.tta_views}")
        self.batch_size = int(batch_size)
        # logit adjustment from `dermaseg classify calibrate` (None: uncalibrated)
        shift = self.meta.get("logit_shift")
        self.shift = np.asarray(shift, dtype=np.float64) if shift is not None else None
        self.temperature = self.meta.get("temperature")   # confidence calibration (None: 1)
        # prediction set and triage thresholds from `dermaseg classify calibrate` (None: not fitted)
        self.decisions = Decisions.from_dict(self.meta.get("decisions"))
        model_crop = (self.meta.get("crop") or {}).get("mode", "none")
        if crop == "model":
            crop = "segmenter" if model_crop in ("segmenter", "ground_truth") else "none"
        if crop not in ("none", "segmenter"):
            raise ValueError(f"crop must be model, none or segmenter, got {crop!r}")
        self.cropper = None
        if crop == "segmenter":
            from dermaseg.classify.crop import LesionCropper

            margin = float((self.meta.get("crop") or {}).get("margin", 0.15))
            self.cropper = LesionCropper("segmenter", segmenter, margin)

    @property
    def members(self) -> list[Classifier]:
        """The networks whose probabilities are averaged: this one (a ClassifierEnsemble has several)."""
        return [self]

    def prepare(self, image: np.ndarray) -> np.ndarray:
        if self.cropper is not None:
            image = self.cropper(image)
        prepared, _, _ = prepare(image, self.pipeline)
        return prepared

    def predict_proba(self, images: list[np.ndarray]) -> np.ndarray:
        """(N, classes) probabilities for RGB uint8 images of any size."""
        prepared = [self.prepare(im) for im in images]
        if self.session is not None:
            probs = predict_images_onnx(self.session, prepared, self.pipeline.normalise, self.tta_views,
                                        self.batch_size)
        else:
            probs = predict_images(self.model, prepared, self.pipeline.normalise, self.tta_views, self.batch_size)
        return adjust(probs, self.shift, self.temperature)

    def predict(self, image: np.ndarray) -> dict:
        return top_class(self.predict_proba([image])[0], self.class_names, self.decisions)


class ClassifierEnsemble:
    """Several classifiers of the same classes used as one: the mean of the members' calibrated
    probabilities, each member with its own input size, crop and TTA views (the rule
    `dermaseg classify ensemble` scores from predictions files). Its cost is the sum of the members'.
    The members must share their classes (an error naming the file otherwise); the split, classes and
    label task are read from the first member's file."""

    def __init__(self, models: list[str | Path], *, name: str | None = None, about: dict | None = None, **kwargs):
        if len(models) < 2:
            raise ValueError("an ensemble needs at least two classifiers")
        self.members = [Classifier(m, **kwargs) for m in models]
        first = self.members[0]
        for member in self.members[1:]:
            if member.class_names != first.class_names or member.task != first.task:
                raise ValueError(f"{member.path}: classes {member.class_names} differ from "
                                 f"{first.path}'s {first.class_names}")
        self.class_names, self.task = first.class_names, first.task
        # the split comes from the first member; name, version and figures from an ensemble file,
        # never the first member's own figures
        about = about or {}
        split_info = {k: v for k, v in (first.meta.get("info") or {}).items() if k not in _MEMBER_FIGURES}
        self.meta = {**first.meta, "backbone": " + ".join(str(m.meta.get("backbone")) for m in self.members),
                     "info": {**split_info, **(about.get("info") or {})},
                     "version": (about.get("info") or {}).get("version"), "held_out": about.get("held_out")}
        self.path = first.path
        self.name = name or " + ".join(m.name for m in self.members)
        self.backend_name = "+".join(sorted({m.backend_name for m in self.members}))
        views = {m.tta_views for m in self.members}
        self.tta_views = views.pop() if len(views) == 1 else [m.tta_views for m in self.members]
        self.pipeline = max((m.pipeline for m in self.members), key=lambda p: p.size)
        self.cropper = next((m.cropper for m in self.members if m.cropper is not None), None)
        # the ensemble's own temperature, prediction set and triage (fitted on the mean, not the members)
        self.decisions = Decisions.from_dict(about.get("decisions"))

    def predict_proba(self, images: list[np.ndarray]) -> np.ndarray:
        mean = np.mean([m.predict_proba(images) for m in self.members], axis=0)
        return self.decisions.calibrate(mean) if self.decisions is not None else mean

    def predict(self, image: np.ndarray) -> dict:
        return top_class(self.predict_proba([image])[0], self.class_names, self.decisions)


def read_ensemble_file(path: Path | str) -> dict:
    """An ensemble file: JSON with "members" (shipped model names, or files relative to it) and,
    optionally, "name", "tta_views" (the views every member averages; default each member's own),
    "runtime" ({"backend": "openvino", "precision": "auto" | "fp32" | "bf16"}: what runs the members
    unless the caller chooses) and "info"/"held_out" (version, provenance, figures) as a model file has."""
    import json

    path = Path(path)
    try:
        about = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable ensemble file ({exc})") from None
    members = about.get("members") if isinstance(about, dict) else None
    if not isinstance(members, list) or len(members) < 2 or not all(isinstance(m, str) for m in members):
        raise ValueError(f"{path}: an ensemble file lists two or more member models under \"members\"")
    about["members"] = [m if m in SHIPPED else str(path.parent / m) for m in members]
    return about


def load_classifier(models: str | Path | list | None = None, **kwargs) -> Classifier | ClassifierEnsemble:
    """One model (a file or shipped name; None: the shipped default) -> Classifier; several, or an
    ensemble file (.json) -> ClassifierEnsemble. Keyword arguments go to every member."""
    if isinstance(models, (list, tuple)):
        if len(models) > 1:
            return ClassifierEnsemble(list(models), **kwargs)
        models = models[0] if models else None
    prefer = "torch" if kwargs.get("backend") == "torch" else "onnx"
    resolved = resolve(models, "classification", prefer=prefer)
    if resolved.path.suffix.lower() == ".json":
        about = read_ensemble_file(resolved.path)
        if kwargs.get("tta_views") is None and about.get("tta_views") is not None:
            kwargs["tta_views"] = int(about["tta_views"])   # the ensemble's own setting, for every member
        kwargs.update(_runtime_of(about, kwargs))
        return ClassifierEnsemble(about["members"], name=about.get("name") or resolved.name, about=about, **kwargs)
    return Classifier(models, **kwargs)


def _runtime_of(about: dict, kwargs: dict) -> dict:
    """The ensemble file's "runtime" ({"backend": "openvino", "precision": ...}) where the caller
    left the backend to the model (backend "auto") and OpenVINO is installed; else nothing."""
    from dermaseg.core.openvino_session import openvino_available

    runtime = about.get("runtime") or {}
    if kwargs.get("backend", "auto") != "auto" or runtime.get("backend") != "openvino" or not openvino_available():
        return {}
    precision = kwargs.get("precision", "auto")
    return {"backend": "openvino", "precision": runtime.get("precision", "auto") if precision == "auto" else precision}


def gather_images(paths: list[str]):
    """gather_inputs() without dermaseg's own outputs (masks, overlays) found beside the images."""
    from dermaseg.data.inputs import gather_inputs

    inputs = gather_inputs([str(p) for p in paths])
    own = [f for f in inputs.files if f.stem.endswith(_SKIP_SUFFIXES)]
    if own and len(own) < len(inputs.files):
        inputs.files = [f for f in inputs.files if f not in own]
        inputs.ignored += [{"path": str(f), "reason": "a dermaseg output, not a dermoscopy image"} for f in own]
    return inputs


def collect_images(paths: list[str]) -> list[Path]:
    from dermaseg.data.inputs import report_inputs

    inputs = gather_images(paths)
    report_inputs(inputs)
    return inputs.files


class LesionCheck:
    """Says which images the classifier should not be trusted on: the image's kind first
    (dermaseg.kind: an image of kind `other` is not classified unless `accept_any_image`; a
    clinical photograph is classified with a warning), then no lesion found, or failed quality
    control."""

    def __init__(self, segmenter=None, kind_check=None, accept_any_image: bool = False):
        self.segmenter = segmenter
        self.kind_check = kind_check
        self.accept_any_image = accept_any_image

    @classmethod
    def for_classifier(cls, classifier: Classifier, enabled: bool = True, *, accept_any_image: bool = False,
                       threads: int | None = None) -> LesionCheck:
        from dermaseg.kind.check import BackgroundImageKindCheck

        kinds = BackgroundImageKindCheck(threads=threads)   # loads while the segmentation model does
        if not enabled:
            return cls(None, kinds, accept_any_image)
        from dermaseg.segment.segmenter import Segmenter

        cropper = classifier.cropper
        if cropper is None:
            return cls(Segmenter(), kinds, accept_any_image)
        if cropper._segmenter is None:  # one segmentation model for cropping and checking
            cropper._segmenter = Segmenter(cropper.segmenter_model)
        return cls(cropper._segmenter, kinds, accept_any_image)

    def kinds(self, images: list[np.ndarray]) -> list:
        """Each image's dermaseg.kind.ImageKind (None without a kind check)."""
        return self.kind_check(images) if self.kind_check is not None else [None] * len(images)

    def refuses(self, kind) -> bool:
        return kind is not None and kind.is_other and not self.accept_any_image

    def __call__(self, image: np.ndarray, path: Path, kind=None) -> str:
        from dermaseg.data.quality import image_problems

        notes = [kind.warning] if kind is not None and kind.warning else []
        problems = image_problems(image, path, path.stem)
        if any(p.code == "too_small" for p in problems):  # blur/exposure/lesion mean nothing at that size
            return "; ".join([*notes, next(p.reason for p in problems if p.code == "too_small")])
        if self.segmenter is not None and not self.segmenter.segment(image, kind).lesion_found:
            notes.append("no lesion found by the segmentation model")
        return "; ".join(notes + [p.reason for p in problems])


def classify_chunk(classifier, check, paths: list[Path], ids: dict, min_side: int) -> list[tuple]:
    """(path, row, None) or (path, None, reason) for each of `paths`: decode, check the kind,
    classify, check. An image the check refuses (kind other) gets a row without probabilities
    whose `not_done` says why."""
    import warnings

    from dermaseg.data.io import ImageReadError, ImageWarning
    from dermaseg.data.loading import load_for_inference

    out, batch, names, decoding = [], [], [], {}
    for path in paths:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ImageWarning)
                item = load_for_inference(path, min_side=min_side)
        except (ImageReadError, OSError, ValueError) as exc:
            out.append((path, None, getattr(exc, "reason", None) or str(exc)))
            continue
        batch.append(item.image)
        names.append(path)
        decoding[path] = [str(w.message) for w in caught if issubclass(w.category, ImageWarning)]
    kinds = check.kinds(batch) if check is not None else [None] * len(batch)
    refused = [check is not None and check.refuses(k) for k in kinds]
    kept = [im for im, no in zip(batch, refused) if not no]
    probs = iter(classifier.predict_proba(kept) if kept else [])
    decisions = getattr(classifier, "decisions", None)
    for path, image, kind, no in zip(names, batch, kinds, refused):
        row = {"image_id": ids[path], **(kind.fields() if kind is not None else {}), "path": str(path)}
        if no:
            row.update(predicted="", probabilities=None, prediction_set=[], triage="",
                       warning="; ".join([*decoding.pop(path, []), kind.warning]), not_done=kind.warning)
            out.append((path, row, None))
            continue
        p = next(probs)
        warning = "; ".join(filter(None, [*decoding.pop(path, []), check(image, path, kind) if check else ""]))
        decided = top_class(p, classifier.class_names, decisions)
        row.update(predicted=decided["predicted"], probabilities=[round(float(v), 6) for v in p],
                   prediction_set=decided.get("prediction_set", []), triage=decided.get("triage", ""),
                   warning=warning)
        out.append((path, row, None))
    rank = {path: i for i, path in enumerate(paths)}
    return sorted(out, key=lambda r: rank[r[0]])
