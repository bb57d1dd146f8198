"""What one server accepts: upload size, decoded pixels, concurrency, time per request."""

from __future__ import annotations

import os
from dataclasses import dataclass

MB = 1024 * 1024


def default_workers() -> int:
    # One network pass already uses several cores; more workers than cores only adds waiting.
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 30 * MB      # the request body; larger -> 413
    max_pixels: int = 50_000_000         # width x height read from the header; larger -> 413 (a 6000x4000 photo is 24 Mpx)
    workers: int = default_workers()     # images processed at the same time
    queue: int = 16                      # requests allowed to wait for a worker; beyond -> 503 + Retry-After
    timeout_s: float = 60.0              # time from admission to answer; longer -> 504
    read_timeout_s: float = 10.0         # longest wait for the next piece of an upload; longer -> 408
    upload_timeout_s: float = 60.0       # the whole body must arrive within this; longer -> 408
    header_timeout_s: float = 10.0       # a request's headers must arrive within this; longer -> 408
    max_connections: int = 64            # open connections at once; one more -> 503 and closed
    retry_after_s: int = 2               # what a 503 asks the client to wait

    def __post_init__(self):
        for name in ("max_upload_bytes", "max_pixels", "workers", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.queue < 0:
            raise ValueError(f"queue must be 0 or more, got {self.queue}")
        for name in ("timeout_s", "read_timeout_s", "upload_timeout_s", "header_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
