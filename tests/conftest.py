"""Fixtures every test folder shares, and what the inference install (no torch) leaves out.

The layout mirrors the package: tests/<package>/ holds the tests of src/dermaseg/<package>/;
tests/system/ the suites that cross packages (bad input, faults, the browser, the docs'
snippets, the CLI end to end). Plain helpers are in support.py (`from support import ...`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from support import SHARED_DATA, require_shared_data

# Test files that train, evaluate with reports or build PyTorch models as a whole: without the
# training install (`pip install dermaseg`, no torch) they are not collected, and the header
# says so. Files that need it only in part skip with pytest.importorskip("torch").
TRAIN_ONLY_FILES = ["system/test_training_faults.py", "segment/test_study.py", "segment/test_shipped_model.py"]
HAS_TRAIN_INSTALL = importlib.util.find_spec("torch") is not None
collect_ignore = [] if HAS_TRAIN_INSTALL else TRAIN_ONLY_FILES


def pytest_report_header(config):
    if not HAS_TRAIN_INSTALL:
        return (f"inference install (no torch): not collected: {', '.join(TRAIN_ONLY_FILES)}; "
                "tests needing the training install are skipped")
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    require_shared_data()
    return SHARED_DATA


@pytest.fixture(scope="module")
def single_torch_thread():
    """One intra-op thread for a module of tiny networks: 64x64 batches gain nothing from more, and
    on a shared or busy CPU OpenMP's spinning makes them 10-40x slower."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _heap_trimmer():
    """glibc's malloc_trim, where there is one: gives the heap a test freed back to the system."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _heap_trimmer()


@pytest.fixture(autouse=True)
def _return_freed_memory():
    """The suite runs in one process: without this, the heap one heavy test (an in-process
    training) freed stays mapped, and the next heavy test's peak lands on top of it. The trim
    after every test; a full collection only after tests of a second or more (after each of the
    quick ones it cost minutes)."""
    import time

    started = time.perf_counter()
    yield
    if _TRIM is None:
        return
    if time.perf_counter() - started > 1.0:
        import gc

        gc.collect()
    _TRIM(0)
