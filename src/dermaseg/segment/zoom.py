"""A second, closer look (coarse to fine): a lesion that fills little of a large photograph is
segmented again from a crop around it, at the network's own size.

At 256 px, a lesion of 1 % of a 6-Mpx photograph is about 25 px across: the detail the photograph
has is thrown away, and the network paints the slightly darker skin around a small lesion as
lesion. After the first pass over the whole image, `refine`:
1. takes the bounding box of what the first pass found, enlarged to a square CONTEXT times its
   longer side (the lesion then fills the crop about as a typical training image's lesion
   fills its frame), kept inside the image;
2. crops those pixels from the best-resolution copy there is (the decoded image, or the file
   decoded again at a finer scale when the decoded copy holds fewer than the network's size);
3. segments the crop (with the model's second-look network: isic-unet-lite0's is trained on such
   crops of clinical close-ups), and writes its probabilities over the first pass's inside the box.
Only where the first pass's lesion covers less than `zoom_below` of the frame (chosen on
validation: docs/results.md), where the crop holds at least the network's size in the
photograph's own pixels (in a small image, the 256-px ISIC copies, the crop would only be the
same pixels enlarged), and where the crop is not the whole frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

CONTEXT = 2.0   # crop side / the lesion box's longer side
DEFAULT_ZOOM_BELOW: float | None = 0.1   # the shipped setting (docs/results.md); None: one pass


def crop_box(mask: np.ndarray, context: float | None = None) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the square crop around the lesion pixels of `mask` (any resolution),
    clipped to the image (a square as large as the image allows); None without lesion pixels."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    context = CONTEXT if context is None else context
    h, w = mask.shape[:2]
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    side = min(max(h, w), max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) * context)
    sy, sx = min(side, h), min(side, w)
    y0 = int(round(min(max(cy - sy / 2, 0), h - sy)))
    x0 = int(round(min(max(cx - sx / 2, 0), w - sx)))
    return y0, y0 + int(round(sy)), x0, x0 + int(round(sx))


def scale_box(box: tuple[int, int, int, int], src: tuple[int, int], dst: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box in an image of size `src` (h, w) as the same region of an image of size `dst`."""
    fy, fx = dst[0] / src[0], dst[1] / src[1]
    y0, y1, x0, x1 = box
    return (int(math.floor(y0 * fy)), min(dst[0], int(math.ceil(y1 * fy))),
            int(math.floor(x0 * fx)), min(dst[1], int(math.ceil(x1 * fx))))


def crop_pixels(item, box_full: tuple[int, int, int, int], min_side: int) -> np.ndarray:
    """The RGB pixels of `box_full` (full-resolution coordinates) from the decoded image, or, when
    that copy holds fewer than `min_side` pixels across the box and the file can be read again,
    from the file decoded at the scale that gives them."""
    image = item.image
    y0, y1, x0, x1 = scale_box(box_full, item.full_size, image.shape[:2])
    if min(y1 - y0, x1 - x0) < min_side and item.reduced and item.path is not None:
        from dermaseg.data.loading import load_for_inference

        full_side = max(item.full_size)
        wanted = math.ceil(min_side * full_side / max(1, min(box_full[1] - box_full[0], box_full[3] - box_full[2])))
        finer = load_for_inference(item.path, min_side=min(full_side, wanted)).image
        if finer.shape[0] > image.shape[0]:
            image = finer
            y0, y1, x0, x1 = scale_box(box_full, item.full_size, image.shape[:2])
    return np.ascontiguousarray(image[y0:y1, x0:x1])
