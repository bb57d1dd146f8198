"""Where one `dermaseg predict` run's time goes: a timeline of its stages in one process.

    python benchmarks/startup_timeline.py path/to/image.jpg [more predict arguments]

Runs `dermaseg predict IMAGE --out <temporary folder> --overwrite` inside this process with
timestamps (ms since the interpreter started this script) at: imports done, each model's session
start/end (the segmentation model on the calling thread, the image-kind model on its loading
thread), and each image's decode, kind check, network and writing. Whole-process figures
(interpreter start and exit included) come from `farm-bench`, not from here.
"""

from __future__ import annotations

import sys
import tempfile
import time

T0 = time.perf_counter()
MARKS: list[tuple[str, float]] = []


def mark(name: str) -> None:
    MARKS.append((name, (time.perf_counter() - T0) * 1000))


def timed(owner, attribute: str, label: str) -> None:
    """Replace owner.attribute by a wrapper that marks its start and end."""
    original = getattr(owner, attribute)

    def wrapper(*args, **kwargs):
        mark(f"{label} start")
        try:
            return original(*args, **kwargs)
        finally:
            mark(f"{label} end")

    setattr(owner, attribute, wrapper)


def main() -> int:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    import dermaseg.cli as cli
    import dermaseg.kind.check as kind
    import dermaseg.segment.batch as batch
    import dermaseg.segment.segmenter as segmenter
    import dermaseg.segment.stages as stages

    mark("imports done")
    timed(segmenter.Segmenter, "__init__", "segmentation model")
    timed(kind.ImageKindCheck, "__init__", "image-kind model")
    timed(stages, "_decode", "decode")
    timed(stages, "_kinds", "image kind")
    timed(stages, "_segment", "network")
    timed(batch, "write_outputs", "write mask, overlay, measurements")
    with tempfile.TemporaryDirectory() as out:
        rc = cli.main(["predict", *sys.argv[1:], "--out", out, "--overwrite"])
    mark("predict done")
    for name, ms in sorted(MARKS, key=lambda m: m[1]):
        print(f"{ms:8.1f} ms  {name}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
