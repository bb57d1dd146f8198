"""The inference path shared by `dermaseg predict`, `evaluate`, the HTTP API and benchmarks.

image (any size) -> pipeline.prepare (same code as training) -> network (ONNX Runtime or
PyTorch, optional flip TTA) -> probability at model size -> resized to the working resolution
(long side <= 768, dermaseg.segment.working) -> a second look at a small lesion from a crop of
the photograph (dermaseg.segment.zoom) -> threshold -> optional clean-up -> working mask; the
mask at the image's own size (uint8 {0, 255}) is one upscale of it, made when asked. `evaluate`
scores exactly these masks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dermaseg.core.zoo import resolve
from dermaseg.data.loading import WORK_DECODE_SIDE, InferenceImage, from_array, load_for_inference
from dermaseg.models.thresholding import ClassicalBackend, is_classical
from dermaseg.segment.outline_quality import check_outline, mask_quality
from dermaseg.segment.postprocess import clean_mask
from dermaseg.segment.working import decoded_working_size, measure_scaled, resize_image, upscale_mask
from dermaseg.segment.zoom import DEFAULT_ZOOM_BELOW, crop_box, crop_pixels, scale_box
from dermaseg.transforms.pipeline import PipelineConfig, ResizeMeta, restore_size, to_model_input


@dataclass
class SegmentationResult:
    work_mask: np.ndarray            # uint8 {0,255} at the working resolution (long side <= 768)
    lesion_found: bool
    prob_small: np.ndarray           # float32 probability at model resolution (for debugging/plots)
    timings_ms: dict = field(default_factory=dict)
    full_size: tuple[int, int] | None = None  # (H, W) of the image; None: the work mask's own size
    image: np.ndarray | None = None  # the decoded RGB image (any size up to full), for work_image
    mask_quality: float | None = None   # expected Jaccard of the outline (dermaseg.segment.outline_quality)
    _mask: np.ndarray | None = field(default=None, repr=False)
    _work_image: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.full_size is None:
            self.full_size = tuple(self.work_mask.shape[:2])

    @property
    def check_outline(self) -> bool | None:
        """True when mask_quality says a person should look at this outline before using it."""
        return check_outline(self.mask_quality)

    @property
    def mask(self) -> np.ndarray:
        """uint8 {0,255} at the image's full size (made on first use)."""
        if self._mask is None:
            self._mask = upscale_mask(self.work_mask, self.full_size)
        return self._mask

    @property
    def work_image(self) -> np.ndarray | None:
        """The image at the working mask's size (for colours and the overlay)."""
        if self._work_image is None and self.image is not None:
            self._work_image = resize_image(self.image, self.work_mask.shape[:2])
        return self._work_image

    def measurements(self, mm_per_pixel: float | None = None) -> list[dict]:
        """Lesion measurements in full-resolution pixels (mm with a scale), taken at working size."""
        if not self.lesion_found:
            return []
        return measure_scaled(self.work_mask, self.work_image, self.full_size, mm_per_pixel)


class TorchBackend:
    def __init__(self, path: Path, threads: int | None = None):
        import torch

        from dermaseg.segment.modelfile import build_from_file

        if threads:
            torch.set_num_threads(threads)
        self.model, self.meta = build_from_file(path)
        self._torch = torch

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            return self.model(self._torch.from_numpy(batch)).numpy()


class OnnxBackend:
    """The .onnx file on ONNX Runtime, or on OpenVINO (runtime "openvino", at `precision`)."""

    def __init__(self, path: Path, threads: int | None = None, runtime: str = "onnxruntime", precision: str = "auto"):
        from dermaseg.core.onnxfile import check_task, open_session

        self.session, self.meta = open_session(path, threads, runtime, precision)
        check_task(self.meta, "segmentation", path)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Segmenter:
    """Load a model once, segment many images.

    model: None (the shipped default), a shipped name, a dermaseg .pt / Lightning .ckpt, an
    exported .onnx, or a classical baseline ("otsu", "kmeans"). tta: average the probabilities of the image and its three flips.
    zoom_below: segment a crop around a lesion that covers less than this share of the frame a
    second time, from the image's own pixels (dermaseg.segment.zoom); None: one pass.
    second_look_model: the network that segments the second look's crops of clinical photographs
    (the image-kind check's `clinical`; a shipped name or a model file); None: the model's own (a
    shipped model's `second_look`, else the model itself). Dermoscopy crops are segmented by the
    model itself. It is loaded on the first such second look: a dermoscopy archive never needs it.
    backend: "auto" (ONNX Runtime for .onnx files and shipped names, PyTorch for .pt/.ckpt),
    "torch" (a shipped name loads its PyTorch weights), "onnx", or "openvino" (the .onnx file run
    by OpenVINO at `precision`: "auto" is bfloat16 where the CPU has it; dermaseg.core.openvino_session).
    """

    def __init__(self, model: str | Path | None = None, *, tta: bool = False, threshold: float | None = None,
                 postprocess: bool = True, backend: str = "auto", threads: int | None = None,
                 zoom_below: float | None = DEFAULT_ZOOM_BELOW, precision: str = "auto",
                 second_look_model: str | Path | None = None):
        from dermaseg.core.onnxfile import check_backend, runtime_name

        check_backend(backend)
        own_second_look = None
        if is_classical(model):  # a classical baseline behind the network interface
            self.path, self.name = Path(str(model)), str(model)
            self.backend, self.backend_name = ClassicalBackend(str(model)), "classical"
        else:
            resolved = resolve(model, "segmentation", prefer="torch" if backend == "torch" else "onnx")
            self.path, self.name = resolved.path, resolved.name
            own_second_look = resolved.shipped.second_look if resolved.shipped and resolved.shipped.second_look else None
            use_onnx = backend in ("onnx", "openvino") or (backend == "auto" and self.path.suffix.lower() == ".onnx")
            if use_onnx:
                runtime = "openvino" if backend == "openvino" else "onnxruntime"
                self.backend = OnnxBackend(self.path, threads, runtime, precision)
                self.backend_name = runtime_name(self.backend.session)
            else:
                self.backend, self.backend_name = TorchBackend(self.path, threads), "pytorch"
        meta = self.backend.meta
        self.pipeline = PipelineConfig.from_dict({k: v for k, v in meta["pipeline"].items() if k != "augment"})
        self.threshold = float(threshold if threshold is not None else meta.get("threshold", 0.5))
        if not 0 < self.threshold < 1:  # NaN fails too; 0 and 1 would give all-lesion or empty masks
            raise ValueError(f"{self.name}: threshold must lie strictly between 0 and 1, got {self.threshold}")
        self.tta = tta
        self.postprocess = postprocess
        if zoom_below is not None and not 0 < zoom_below <= 1:
            raise ValueError(f"zoom_below must lie in (0, 1], got {zoom_below}")
        self.zoom_below = zoom_below   # second look at lesions under this share of the frame; None: never
        source = second_look_model if second_look_model is not None else own_second_look
        prefer = "torch" if backend == "torch" else "onnx"
        if source is not None and resolve(source, "segmentation", prefer=prefer).path == self.path:
            source = None   # the model itself
        self.second_look_name = str(source) if source is not None else self.name
        self._second_look_source, self._second_look = source, None
        self._second_look_options = {"backend": backend, "threads": threads, "precision": precision}
        self._second_look_lock = threading.Lock()
        self._kinds = None   # the image-kind check, loaded when a second look needs an image's kind
        self.model_info = {"arch": meta["model"]["arch"], "encoder": meta["model"]["encoder"],
                           **{k: v for k, v in meta.get("info", {}).items() if k in ("version", "name", "best_val_dice")}}
        self.version = str(meta.get("version") or meta.get("info", {}).get("version", "unversioned"))
        self.held_out = meta.get("held_out")

    @property
    def input_size(self) -> int:
        return self.pipeline.size

    # --- network on prepared inputs -------------------------------------------------------------
    def _network(self, batch: np.ndarray) -> np.ndarray:
        """float32 (B,3,S,S) -> probabilities (B,S,S), with flip TTA when enabled."""
        if not self.tta:
            return _sigmoid(self.backend(batch)[:, 0])
        flips = np.concatenate([batch, batch[..., ::-1], batch[..., ::-1, :], batch[..., ::-1, ::-1]])
        probs = _sigmoid(self.backend(np.ascontiguousarray(flips))[:, 0])
        b = len(batch)
        return (probs[:b] + probs[b:2 * b][..., ::-1] + probs[2 * b:3 * b][..., ::-1, :]
                + probs[3 * b:][..., ::-1, ::-1]) / 4.0

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, ResizeMeta]:
        return to_model_input(image, self.pipeline)

    def predict_small(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, ResizeMeta]]:
        """Probabilities at model resolution for a batch of images of any sizes."""
        prepared = [self.prepare(im) for im in images]
        probs = self._network(np.stack([p[0] for p in prepared]))
        return [(probs[i], prepared[i][1]) for i in range(len(images))]

    # --- back to the image's own size -----------------------------------------------------------
    def probability_map(self, prob_small: np.ndarray, meta: ResizeMeta, size: tuple[int, int]) -> np.ndarray:
        """Crop padding, resize to `size` (h, w) as uint8 0..255 (4x less memory traffic than float on 24 Mpx)."""
        top, _, left, _ = meta.pad
        nh, nw = meta.resized_shape
        crop = prob_small[top:top + nh, left:left + nw]
        q = np.clip(crop * 255.0 + 0.5, 0, 255).astype(np.uint8)
        h, w = size
        return cv2.resize(q, (w, h), interpolation=cv2.INTER_LINEAR)

    def binarise(self, prob_map: np.ndarray) -> np.ndarray:
        """A uint8 probability map -> {0, 255} mask at the model's threshold."""
        cut = int(np.ceil(self.threshold * 255.0 - 1e-9))
        _, mask = cv2.threshold(prob_map, cut - 1, 255, cv2.THRESH_BINARY)
        return mask

    def to_full_mask(self, prob_small: np.ndarray, meta: ResizeMeta, full_size: tuple[int, int]) -> np.ndarray:
        """Crop padding, resize, threshold."""
        return self.binarise(self.probability_map(prob_small, meta, full_size))

    def probability(self, image: np.ndarray) -> np.ndarray:
        """float32 probability map at the image's own size (for threshold tuning and evaluation)."""
        return restore_size(*self.predict_small([image])[0])

    def finish(self, item: InferenceImage, prob: np.ndarray, meta: ResizeMeta,
               timings_ms: dict | None = None) -> SegmentationResult:
        """Probability at model size -> clean working mask (the full-size mask is made on demand)."""
        return self._finish_batch([item], [(prob, meta)], timings_ms or {})[0]

    def segment_batch(self, items: list[InferenceImage], kinds: list | None = None) -> list[SegmentationResult]:
        """`kinds`: each image's dermaseg.kind.ImageKind where the caller checked it already
        (None: checked here where a second look needs it)."""
        t0 = time.perf_counter()
        small = self.predict_small([item.image for item in items])
        model_ms = round((time.perf_counter() - t0) * 1000 / max(1, len(items)), 2)
        return self._finish_batch(items, small, {"model_ms": model_ms}, kinds)

    def _finish_batch(self, items: list[InferenceImage], small: list, timings_ms: dict,
                      kinds: list | None = None) -> list[SegmentationResult]:
        """First-pass probabilities -> working maps; the second looks at small lesions (one network
        call per network that looks, for the batch); then threshold and clean-up."""
        t0 = time.perf_counter()
        maps = [self.probability_map(prob, meta, decoded_working_size(item.full_size, item.image.shape[:2]))
                for item, (prob, meta) in zip(items, small)]
        quality = [mask_quality(prob, meta.pad, meta.resized_shape, self.threshold) for prob, meta in small]
        works = [self._work_mask(prob_map) for prob_map in maps]
        zoom_ms, zoomed = 0.0, {}
        if self.zoom_below is not None:
            t1 = time.perf_counter()
            zoomed = self._second_looks(items, maps, works, kinds)
            quality = [zoomed.get(i, q) for i, q in enumerate(quality)]
            zoom_ms = (time.perf_counter() - t1) * 1000 / max(1, len(zoomed)) if zoomed else 0.0
        results = []
        for i, (item, (prob, _), prob_map) in enumerate(zip(items, small, maps)):
            work = self._work_mask(prob_map) if i in zoomed else works[i]   # a second look changed the map
            timings = dict(timings_ms, **({"zoom_ms": round(zoom_ms, 2)} if i in zoomed else {}))
            results.append(SegmentationResult(work, bool(work.any()), prob, timings, tuple(item.full_size),
                                              image=item.image, mask_quality=quality[i]))
        restore_ms = ((time.perf_counter() - t0) * 1000 - zoom_ms * sum("zoom_ms" in r.timings_ms for r in results))
        for r in results:
            r.timings_ms["restore_ms"] = round(restore_ms / max(1, len(items)), 2)
        return results

    def _work_mask(self, prob_map: np.ndarray) -> np.ndarray:
        """A working probability map -> its mask at the threshold, cleaned when post-processing."""
        work = self.binarise(prob_map)
        return clean_mask(work) if self.postprocess else work

    def _second_looks(self, items: list[InferenceImage], maps: list[np.ndarray],
                      firsts: list[np.ndarray], kinds: list | None = None) -> dict[int, float]:
        """Segment a crop around each lesion under `zoom_below` of the frame (in `firsts`, the
        first pass's masks) again (dermaseg.segment.zoom), one network call per network that
        looks, writing its probabilities into that image's map inside the crop.
        Returns {image index: the second look's mask quality}."""
        boxes, crops = {}, {}
        for i, (item, prob_map, first) in enumerate(zip(items, maps, firsts)):
            share = float(np.count_nonzero(first)) / first.size
            if not 0 < share < self.zoom_below:
                continue
            box = crop_box(first)
            if box == (0, first.shape[0], 0, first.shape[1]):
                continue   # the crop is the whole frame: the first pass saw exactly these pixels
            box_full = scale_box(box, prob_map.shape[:2], item.full_size)
            if min(box_full[1] - box_full[0], box_full[3] - box_full[2]) < self.input_size:
                continue   # the photograph has no more detail there than the first pass saw
            boxes[i] = box
            crops[i] = crop_pixels(item, box_full, self.input_size)
        if not crops:
            return {}
        clinical = self._clinical(items, list(crops), kinds)
        out = {}
        for net, mine in ((self, [i for i in crops if i not in clinical]),
                          (self.second_look_network() if clinical else self, [i for i in crops if i in clinical])):
            if not mine:
                continue
            for i, (second, meta) in zip(mine, net.predict_small([crops[i] for i in mine])):
                y0, y1, x0, x1 = boxes[i]
                maps[i][y0:y1, x0:x1] = self.probability_map(second, meta, (y1 - y0, x1 - x0))
                out[i] = mask_quality(second, meta.pad, meta.resized_shape, self.threshold)
        return out

    def _clinical(self, items: list[InferenceImage], indices: list[int], kinds: list | None) -> set[int]:
        """Which of `indices` the second-look model looks at again: the clinical photographs
        (dermaseg.kind; checked here for those the caller did not check). Empty without one."""
        if self._second_look_source is None:
            return set()
        known = {i: kinds[i] for i in indices if kinds is not None and kinds[i] is not None}
        unknown = [i for i in indices if i not in known]
        if unknown:
            known.update(zip(unknown, self._kind_check()([items[i].image for i in unknown])))
        return {i for i, kind in known.items() if kind.kind == "clinical"}

    def _kind_check(self):
        with self._second_look_lock:
            if self._kinds is None:
                from dermaseg.kind.check import ImageKindCheck

                self._kinds = ImageKindCheck(threads=self._second_look_options["threads"])
        return self._kinds

    def second_look_network(self) -> Segmenter:
        """What segments the second look's crops of clinical photographs: this Segmenter, or the
        second-look model, loaded once on first use (with this one's threshold, flips and runtime).
        Crops of dermoscopy are always segmented by this Segmenter's own network."""
        if self._second_look_source is None:
            return self
        with self._second_look_lock:   # the server segments on several threads
            if self._second_look is None:
                self._second_look = Segmenter(self._second_look_source, tta=self.tta, threshold=self.threshold,
                                              zoom_below=None, **self._second_look_options)
        return self._second_look

    def segment(self, image: np.ndarray | InferenceImage, kind=None) -> SegmentationResult:
        """`kind`: the image's dermaseg.kind.ImageKind where the caller checked it already."""
        item = image if isinstance(image, InferenceImage) else from_array(image)
        return self.segment_batch([item], [kind])[0]

    def load(self, path: Path | str) -> InferenceImage:
        """Decode for this model: reduced-scale JPEG decoding down to the working resolution."""
        return load_for_inference(path, min_side=max(WORK_DECODE_SIDE, self.input_size))

    def segment_file(self, path: Path | str) -> tuple[InferenceImage, SegmentationResult]:
        t0 = time.perf_counter()
        item = self.load(path)
        decode_ms = (time.perf_counter() - t0) * 1000
        result = self.segment(item)
        result.timings_ms["decode_ms"] = round(decode_ms, 2)
        return item, result
