"""Cost of the image-kind check and of the outline's quality estimate per image, beside the
segmentation network.

    python benchmarks/image_kind_speed.py [--images 64] [--threads 2] [--batch 4]

Both on the same decoded images (the shipped sample enlarged to 768x576, the size `predict`
decodes a 6-Mpx JPEG to with libjpeg's reduced-scale modes),
in batches as `predict` sends them, ONNX Runtime on --threads threads; median of 5 rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def per_image_ms(fn, images: list[np.ndarray], batch: int, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for start in range(0, len(images), batch):
            fn(images[start:start + batch])
        times.append((time.perf_counter() - t0) * 1000 / len(images))
    return statistics.median(times)


def main() -> None:
    from dermaseg.data.loading import load_for_inference
    from dermaseg.data.samples import sample_image
    from dermaseg.kind import ImageKindCheck
    from dermaseg.segment.segmenter import Segmenter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    import cv2

    image = cv2.resize(load_for_inference(sample_image()).image, (768, 576), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)   # vary the pixels a little so no cache flatters either
    images = [np.clip(image.astype(np.int16) + rng.integers(-3, 4, image.shape), 0, 255).astype(np.uint8)
              for _ in range(args.images)]
    kind = ImageKindCheck(threads=args.threads)
    seg = Segmenter(threads=args.threads)
    kind(images[:args.batch])
    seg.predict_small(images[:args.batch])
    k = per_image_ms(kind, images, args.batch)
    s = per_image_ms(seg.predict_small, images, args.batch)
    from dermaseg.segment.outline_quality import mask_quality

    maps = seg.predict_small(images[:args.batch])
    q = per_image_ms(lambda batch: [mask_quality(p, m.pad, m.resized_shape, seg.threshold) for p, m in batch],
                     maps * (len(images) // args.batch), args.batch)
    print(f"{args.images} images of {image.shape[1]}x{image.shape[0]}, batches of {args.batch}, {args.threads} threads:")
    print(f"  image-kind check        {k:6.1f} ms/image")
    print(f"  outline quality         {q:6.1f} ms/image (mask_quality on the network's map)")
    print(f"  segmentation network    {s:6.1f} ms/image (for scale)")


if __name__ == "__main__":
    main()
