"""Overlapped batch prediction: decode ahead, the network on batches, write behind.

    for path, entry, error in run_pipeline(segmenter, files, write):
        ...   # in input order; error is the one-line reason a file was skipped

One thread decodes the next images (libjpeg and PNG release the GIL), the calling thread runs
the network on a batch (ONNX Runtime releases it too), one thread upscales, writes and measures
the finished ones. Queues are bounded, so memory stays a few images deep on any input size.
Decoder warnings are recorded per file in the decoding thread, the only one that records them
(warnings.catch_warnings is process-wide).
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from dermaseg.core.files import OutputError
from dermaseg.data.io import ImageReadError, ImageWarning


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ImageReadError):
        return exc.reason
    if isinstance(exc, (ValueError, OSError)):
        return " ".join(str(exc).split())
    return f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())})"


def _decode(segmenter, path: Path):
    """(item, warning texts, decode ms) or raises."""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImageWarning)
        item = segmenter.load(path)
    texts = [str(w.message) for w in caught if issubclass(w.category, ImageWarning)]
    return item, texts, (time.perf_counter() - t0) * 1000


def run_pipeline(segmenter, files: list[Path], write: Callable, *, batch_size: int = 4,
                 prefetch: int | None = None, kind_check=None,
                 accept_any_image: bool = False) -> Iterator[tuple[Path, dict | None, str | None]]:
    """Yield (path, write(path, item, result, warnings, kind), None) or (path, None, reason) per file,
    in order.

    One bad file (unreadable, or failing in the network) is reported and skipped; the others
    go on. An output that cannot be written (OutputError: a full disk) ends the run.
    `kind_check` (dermaseg.kind.ImageKindCheck) names each image's kind first; an image of kind
    `other` is not segmented (write gets result None) unless `accept_any_image`.
    """
    prefetch = prefetch or 2 * batch_size
    todo = iter(files)
    decoding: deque[tuple[Path, Future]] = deque()
    writing: deque[tuple[Path, Future | str]] = deque()
    with ThreadPoolExecutor(1, thread_name_prefix="dermaseg-decode") as decoder, \
            ThreadPoolExecutor(1, thread_name_prefix="dermaseg-write") as writer:

        def refill():
            while len(decoding) < prefetch:
                path = next(todo, None)
                if path is None:
                    return
                decoding.append((path, decoder.submit(_decode, segmenter, path)))

        def finished(block: bool):
            while writing and (block or len(writing) > prefetch or _done(writing[0][1])):
                path, job = writing.popleft()
                if isinstance(job, str):
                    yield path, None, job
                    continue
                try:
                    yield path, job.result(), None
                except OutputError:
                    raise  # the disk, not the file: the caller stops
                except Exception as exc:  # noqa: BLE001 - one bad file must not end a run of thousands
                    yield path, None, _one_line(exc)

        refill()
        while decoding:
            batch = []
            while decoding and len(batch) < batch_size:
                path, job = decoding.popleft()
                refill()
                try:
                    item, texts, decode_ms = job.result()
                except Exception as exc:  # noqa: BLE001
                    writing.append((path, _one_line(exc)))
                    continue
                batch.append((path, item, texts, decode_ms))
            kinds, kind_ms = _kinds(kind_check, batch)
            for (path, *_), kind in zip(batch, kinds):
                if isinstance(kind, str):   # the check failed on this image: reported, skipped
                    writing.append((path, kind))
            batch, kinds = [b for b, k in zip(batch, kinds) if not isinstance(k, str)], \
                [k for k in kinds if not isinstance(k, str)]
            refused = [k is not None and k.is_other and not accept_any_image for k in kinds]
            outcomes = iter(_segment(segmenter, [b for b, no in zip(batch, refused) if not no],
                                     [k for k, no in zip(kinds, refused) if not no]))
            for (path, item, texts, decode_ms), kind, no in zip(batch, kinds, refused):
                if no:   # not a skin photograph: nothing to outline
                    writing.append((path, writer.submit(write, path, item, None, texts, kind)))
                    continue
                outcome = next(outcomes)
                if isinstance(outcome, str):
                    writing.append((path, outcome))
                    continue
                outcome.timings_ms.update(decode_ms=round(decode_ms, 2), **({"kind_ms": kind_ms} if kind else {}))
                writing.append((path, writer.submit(write, path, item, outcome, texts, kind)))
            yield from finished(block=False)
        yield from finished(block=True)


def _kinds(kind_check, batch: list) -> tuple[list, float]:
    """Each image's kind (None without a check; the one-line reason where the check failed on it)
    and the check's cost per image in ms."""
    if kind_check is None or not batch:
        return [None] * len(batch), 0.0
    t0 = time.perf_counter()
    try:
        kinds = kind_check([item.image for _, item, _, _ in batch])
    except Exception:  # noqa: BLE001 - retried one by one, so the error names its file
        kinds = []
        for _, item, _, _ in batch:
            try:
                kinds.append(kind_check([item.image])[0])
            except Exception as exc:  # noqa: BLE001
                kinds.append(_one_line(exc))
    return kinds, round((time.perf_counter() - t0) * 1000 / len(batch), 2)


def _done(job) -> bool:
    return isinstance(job, str) or job.done()


def _segment(segmenter, batch: list, kinds: list) -> list:
    """Results for a batch (`kinds`: each image's kind, None where unchecked); if the batch fails,
    each image alone, so the error names its file."""
    if not batch:
        return []
    items = [item for _, item, _, _ in batch]
    try:
        return segmenter.segment_batch(items, kinds)
    except Exception:  # noqa: BLE001 - retried one by one below
        if len(items) == 1:
            import sys

            return [_one_line(sys.exc_info()[1])]
    out = []
    for item, kind in zip(items, kinds):
        try:
            out.append(segmenter.segment_batch([item], [kind])[0])
        except Exception as exc:  # noqa: BLE001
            out.append(_one_line(exc))
    return out
