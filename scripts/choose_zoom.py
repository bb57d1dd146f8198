"""Choose the second look's settings on validation: the lesion-grouped validation half of
not_dermoscopy/clinical_photos_masked (configs/splits/clinical_photos_masked_split.csv), through
`dermaseg evaluate`'s own path (the masks predict writes).

    python scripts/choose_zoom.py [--data ../shared/data]

Prints Dice, thresholded Jaccard and ms/image for each crop context (crop side / lesion box side)
and each zoom_below (second look below this share of the frame; None: one pass).
"""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPLIT = REPO / "configs" / "splits" / "clinical_photos_masked_split.csv"


def main() -> None:
    import dermaseg.segment.zoom as zoom
    from dermaseg.segment.evaluate import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "choose_zoom")
    args = ap.parse_args()
    data = args.data / "not_dermoscopy" / "clinical_photos_masked"
    print("| context | zoom_below | Dice | thresholded Jaccard | ms/image |\n| --- | --- | --- | --- | --- |")
    for context in (1.5, 2.0, 3.0):
        zoom.CONTEXT = context
        for below in (None, 0.05, 0.1, 0.2, 1.0):
            if below is None and context != 2.0:
                continue   # one pass does not depend on the context
            with contextlib.redirect_stderr(io.StringIO()):
                s = evaluate("isic-unet-lite0", data, args.out, split="val", split_file=SPLIT, zoom_below=below,
                             write_masks=False)
            print(f"| {context:g} | {below} | {s['dice']:.4f} | {s['threshold_jaccard']:.4f} | {s['ms_per_image']} |",
                  flush=True)


if __name__ == "__main__":
    main()
