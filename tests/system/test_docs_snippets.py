"""Every ```python block of README.md and docs/*.md runs as written, from the repository root (the
docs name paths relative to it). A block that needs a full training run carries the marker
`<!-- no-run -->` on the line before its fence and is skipped."""

from __future__ import annotations

import re

import pytest
from support import REPO, require_shared_data

NO_RUN = "<!-- no-run -->"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks(paths) -> list:
    """(where, code, no_run) of each ```python block, as pytest parameters."""
    blocks = []
    for path in paths:
        text = path.read_text()
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
        for match in PYTHON_BLOCK.finditer(text):
            where = f"{name}:{text.count(chr(10), 0, match.start()) + 1}"
            line_before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            blocks.append(pytest.param(where, match.group(1), line_before == NO_RUN, id=where))
    return blocks


BLOCKS = _blocks(DOCS)


def test_the_docs_have_python_blocks_and_the_marker_is_read(tmp_path):
    assert len(BLOCKS) >= 2
    doc = tmp_path / "doc.md"
    doc.write_text(f"Text.\n\n```python\nx = 1\n```\n\n{NO_RUN}\n```python\ntrain_for_hours()\n```\n"
                   "```bash\nls\n```\n")
    assert [p.values for p in _blocks([doc])] == [("doc.md:3", "x = 1\n", False),
                                                 ("doc.md:8", "train_for_hours()\n", True)]


@pytest.mark.parametrize("where, code, no_run", BLOCKS)
def test_python_block_runs_as_written(where, code, no_run, monkeypatch):
    from dermaseg.cli import missing_train_extra

    if no_run:
        pytest.skip(f"{where}: marked {NO_RUN}")
    if "../shared/data" in code:
        require_shared_data()
    monkeypatch.chdir(REPO)
    try:
        exec(compile(code, where, "exec"), {"__name__": "__docs__"})
    except ModuleNotFoundError as exc:
        if missing_train_extra(exc) is None:
            raise
        pytest.skip(f"{where}: needs the training install ({exc.name})")
