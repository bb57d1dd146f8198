"""docs/architecture.md's picture of the layers is the code's own, and the tasks stay apart."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import REPO

pytest.importorskip("grimp")  # installed with import-linter (the dev extra)


def test_the_architecture_page_is_current():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "architecture.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_segmentation_never_imports_classification_and_classification_only_the_segmenter():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import architecture
    finally:
        sys.path.pop(0)
    import grimp

    graph = grimp.build_graph("dermaseg")
    links = {(m, i) for m in graph.modules for i in graph.find_modules_directly_imported_by(m)
             if architecture.top_level(m) != architecture.top_level(i)}
    assert not [link for link in links if link[0].startswith("dermaseg.segment") and link[1].startswith("dermaseg.classify")]
    into_segment = {i for m, i in links if m.startswith("dermaseg.classify") and i.startswith("dermaseg.segment")}
    assert into_segment == {"dermaseg.segment.segmenter"}
