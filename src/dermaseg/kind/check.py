"""What kind of picture is this: dermoscopy, a clinical close-up of skin, or something else.

The lesion models learnt from dermoscopy and are sure of themselves on anything; this check
runs first and says whether they should be believed.

Method (fitted by `dermaseg.kind.fit`, stored in one ONNX file with its thresholds):
- Features: EfficientNet-Lite0's ImageNet features (1280 numbers, pooled, the image squashed
  to 160 px). They were never tuned on dermoscopy, so a brick wall or a dog stays far from a
  lesion in them (a network fine-tuned on lesions maps much of the world onto lesions).
- Density, not examples of everything else: a Gaussian (Ledoit-Wolf shrinkage) over the
  dermoscopy the models trained on, and one over clinical close-ups. Each distance
  (Mahalanobis) has its threshold set on held-out images of its own kind (99.5 % of held-out
  dermoscopy inside; 95 % of clinical photos inside, out of fold by lesion). An image beyond
  both thresholds is `other`. No photograph of an object, animal or scene is used to fit or to
  set a threshold. A blank picture (its 160-px copy varying by under 4 grey levels, std) is `other`
  before any density: featureless images sit near the dermoscopy mean.
- Between the two kinds of skin photograph, a logistic model on the same features names which.

`image_kind_score` is how sure the kind is, 0 to 1: for `dermoscopy` and `clinical` the
logistic model's probability of that kind (0.5 to 1); for `other`, one minus the larger of the
two typicalities (the share of held-out images of that kind lying farther from their kind's
training images than this one), so 0.995 means it lies farther than all but 0.5 % of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

KINDS = ("dermoscopy", "clinical", "other")
SHIPPED_FILE = Path(__file__).resolve().parents[1] / "weights" / "image_kind.onnx"
OTHER_REASON = "does not look like a skin-lesion photograph (image_kind other)"
# A blank picture (lens cap, a black frame) has features near the dermoscopy mean: density alone
# would pass it. In 2,107 real photographs of ../shared/data (dermoscopy, clinical, objects) the
# 160-px copy's most varying channel had a standard deviation of 6.6 grey levels or more.
FLAT_STD = 4.0
CLINICAL_WARNING = ("a clinical photograph, not dermoscopy: the models were made for and measured on dermoscopy")


@dataclass(frozen=True)
class ImageKind:
    kind: str       # dermoscopy | clinical | other
    score: float    # how sure, 0..1 (module docstring)

    def fields(self) -> dict:
        return {"image_kind": self.kind, "image_kind_score": round(float(self.score), 4)}

    @property
    def is_other(self) -> bool:
        return self.kind == "other"

    @property
    def warning(self) -> str:
        """The text a row's warning column carries for this kind ('' for dermoscopy)."""
        return {"clinical": CLINICAL_WARNING, "other": OTHER_REASON}.get(self.kind, "")


def squash(image: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (3, size, size) in [-1, 1], as the ImageNet weights expect."""
    small = cv2.resize(np.ascontiguousarray(image[..., :3]), (size, size), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)).transpose(2, 0, 1)


def typicality(distance: np.ndarray, quantiles: list[float]) -> np.ndarray:
    """Share of held-out images of a kind farther than `distance` (from their stored quantiles)."""
    q = np.asarray(quantiles, dtype=np.float64)
    levels = np.linspace(0.0, 1.0, len(q))
    return 1.0 - np.interp(distance, q, levels, left=0.0, right=1.0)


def decide(raw: np.ndarray, meta: dict) -> list[ImageKind]:
    """(N, 3) network outputs [dermoscopy distance, clinical distance, clinical logit] -> kinds."""
    t = meta["thresholds"]
    out = []
    for d_derm, d_clin, logit in np.asarray(raw, dtype=np.float64):
        if d_derm > t["dermoscopy"] and d_clin > t["clinical"]:
            typical = max(typicality(d_derm, meta["quantiles"]["dermoscopy"]),
                          typicality(d_clin, meta["quantiles"]["clinical"]))
            out.append(ImageKind("other", float(1.0 - typical)))
            continue
        p_clinical = float(1.0 / (1.0 + np.exp(-logit)))
        out.append(ImageKind("clinical", p_clinical) if p_clinical > 0.5 else ImageKind("dermoscopy", 1 - p_clinical))
    return out


class ImageKindCheck:
    """Load the image-kind model once (the shipped one by default), check many images.

        check = ImageKindCheck()
        check([image])[0]   # ImageKind(kind='dermoscopy', score=0.99)
    """

    def __init__(self, path: str | Path | None = None, threads: int | None = None):
        from dermaseg.core.onnxfile import check_task, open_session

        self.path = Path(path) if path is not None else SHIPPED_FILE
        self.session, self.meta = open_session(self.path, threads)
        check_task(self.meta, "image_kind", self.path)
        self.size = int(self.meta["input_size"])
        self.version = str(self.meta.get("version", "unversioned"))

    def raw(self, images: list[np.ndarray]) -> np.ndarray:
        """(N, 3): distance to dermoscopy, distance to clinical photos, logit of clinical; a blank
        picture's distances are set to infinity."""
        if not images:
            return np.zeros((0, 3), np.float32)
        batch = np.stack([squash(im, self.size) for im in images])
        out = self.session.run(None, {"image": batch})[0]
        flat = batch.std(axis=(2, 3)).max(axis=1) * 127.5 < FLAT_STD   # spatial variation, any channel
        out[flat, :2] = np.inf
        return out

    def __call__(self, images: list[np.ndarray]) -> list[ImageKind]:
        return decide(self.raw(images), self.meta)


class BackgroundImageKindCheck:
    """An ImageKindCheck that loads on a thread from the moment it is made, so that a short run
    overlaps its ~60 ms session creation with loading the other models and decoding the first
    images (ONNX Runtime builds sessions without holding the GIL). The first call waits for it;
    a load error surfaces there."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None):
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="dermaseg-kind-load")
        self._loading = pool.submit(ImageKindCheck, path, threads)
        pool.shutdown(wait=False)   # the thread ends when the session is built

    @property
    def check(self) -> ImageKindCheck:
        return self._loading.result()

    def __call__(self, images: list[np.ndarray]) -> list[ImageKind]:
        return self.check(images)
