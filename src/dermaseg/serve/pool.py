"""A bounded worker pool: `workers` jobs run, `queue` more may wait, the rest are refused at once.

Refusing early (503 + Retry-After) keeps latency and memory bounded under a burst instead of
letting requests pile up until they all time out. A job that overruns the timeout keeps its
slot until it really finishes (a thread cannot be killed), so a slow model cannot be made to
run more jobs at once than `workers`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from dermaseg.serve.errors import ApiError


class WorkerPool:
    def __init__(self, workers: int, queue: int, timeout_s: float, retry_after_s: int = 2):
        self.workers = workers
        self.capacity = workers + queue
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dermaseg-serve")
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Lock()
        self._admitted = 0
        self.refused = 0

    @property
    def in_flight(self) -> int:
        """Jobs running or waiting."""
        return self._admitted

    async def run(self, fn, *args):
        """Run fn(*args) on a worker; returns (result, queue_ms). ApiError 503 when full, 504 on timeout."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.refused += 1
            raise ApiError(503, f"server busy: {self.capacity} requests already running or waiting; retry shortly",
                           {"Retry-After": str(self.retry_after_s)})
        with self._lock:
            self._admitted += 1
        admitted = time.perf_counter()
        started: list[float] = []

        def job():
            started.append(time.perf_counter())
            return fn(*args)

        try:
            future = self._executor.submit(job)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except asyncio.TimeoutError:
            future.cancel()  # drops it if it is still waiting; a running job finishes and then frees its slot
            raise ApiError(504, f"the image took longer than the server's limit of {self.timeout_s:g} s") from None
        queue_ms = (started[0] - admitted) * 1000 if started else 0.0
        return result, round(queue_ms, 2)

    def _release(self, _future) -> None:
        with self._lock:
            self._admitted -= 1
        self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
