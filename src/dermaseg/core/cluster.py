"""Work spread over a Dask cluster: chunks of inputs out, results back as each chunk finishes.

Both tasks' `--cluster` runs use it (dermaseg.segment.cluster, dermaseg.classify.cluster); why
Dask, and how a run is planned and journalled, is said there. Needs the cluster extra
(`pip install -e ".[cluster]"`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


def map_chunks(address: str, function: Callable, chunks: list, *args) -> Iterator:
    """`function(chunk, *args)` for each chunk on the cluster at `address`, yielded in the order
    they finish; a task's exception is raised here. ValueError (one line) if no scheduler answers."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ValueError('--cluster needs the cluster extra: pip install -e ".[cluster]"') from None
    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise ValueError(f"--cluster {address}: no Dask scheduler answers there ({exc})") from None
    with client:
        tasks = [client.submit(function, chunk, *args, pure=False) for chunk in chunks]
        for task in as_completed(tasks):
            yield task.result()


def chunked(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]
