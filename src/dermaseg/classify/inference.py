"""Batched class probabilities with dihedral test-time augmentation (softmax averaged over views).

Two inputs, one definition: cached frozen-prefix outputs (`predict_cached`, training and
grid evaluation) and prepared uint8 images (`predict_images` with a PyTorch module,
`predict_images_onnx` with an ONNX Runtime session: the same views, no torch).
"""

from __future__ import annotations

import numpy as np

from dermaseg.classify.data import dihedral_chw
from dermaseg.transforms.pipeline import normalise_image


def predict_cached(tail, views: list[np.ndarray], rows, tta_views: int = 1, batch_size: int = 256) -> np.ndarray:
    """Softmax of `tail` on cached features of `rows`, averaged over views 0..tta_views-1."""
    import torch

    rows = np.asarray(rows, dtype=np.int64)
    was_training = tail.training
    tail.eval()
    total = None
    with torch.inference_mode():
        for v in range(int(tta_views)):
            out = []
            for s in range(0, len(rows), batch_size):
                x = torch.from_numpy(np.asarray(views[v][rows[s:s + batch_size]], dtype=np.float32))
                out.append(torch.softmax(tail(x).float(), dim=1).numpy())
            probs = np.concatenate(out) if out else np.zeros((0, 0))
            total = probs if total is None else total + probs
    tail.train(was_training)
    return total / int(tta_views)


def autocast(device_type: str, precision: str | None):
    """The autocast context that Lightning's `precision` applies to a training step (fp32: none)."""
    import contextlib

    import torch

    if precision == "bf16-mixed":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device_type, dtype=torch.float16)
    return contextlib.nullcontext()


def predict_images(model, images, normalise: str, tta_views: int = 1, batch_size: int = 32,
                   precision: str | None = None, channels_last: bool = False) -> np.ndarray:
    """Softmax of `model` on prepared uint8 images (N, S, S, 3), averaged over dihedral views.

    Runs on the device the model is on; `precision` (a Lightning name, e.g. "bf16-mixed")
    autocasts the forward pass as training does, None or "32-true" computes in fp32.
    """
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    with torch.inference_mode(), autocast(device.type, precision):
        for s in range(0, len(images), batch_size):
            x = torch.from_numpy(np.stack([normalise_image(np.asarray(im), normalise)
                                           for im in images[s:s + batch_size]])).to(device)
            probs = sum(torch.softmax(model(dihedral_chw(x, v).contiguous(memory_format=memory_format)).float(),
                                      dim=1)
                        for v in range(int(tta_views))) / int(tta_views)
            out.append(probs.cpu().numpy())
    model.train(was_training)
    return np.concatenate(out)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_images_onnx(session, images, normalise: str, tta_views: int = 1, batch_size: int = 32) -> np.ndarray:
    """`predict_images` on an ONNX Runtime session (input "image", output logits)."""
    return predict_views_onnx(session, images, normalise, tta_views, batch_size).mean(axis=0)


def predict_views_onnx(session, images, normalise: str, views: int = 8, batch_size: int = 32) -> np.ndarray:
    """(views, N, classes) softmax of each dihedral view 0..views-1 of prepared uint8 images.

    Each network call holds at most `batch_size` views: ONNX Runtime's memory arena keeps the
    largest activations it ever held, and all views of a batch in one call (8 x 32 images at
    240 px) grew it to over 6 GB.
    """
    name = session.get_inputs()[0].name
    out = []
    for s in range(0, len(images), batch_size):
        x = np.stack([normalise_image(np.asarray(im), normalise) for im in images[s:s + batch_size]])
        logits = [session.run(None, {name: np.ascontiguousarray(dihedral_chw(x, v))})[0] for v in range(int(views))]
        out.append(_softmax(np.concatenate(logits).astype(np.float64)).reshape(int(views), len(x), -1))
    return np.concatenate(out, axis=1)
