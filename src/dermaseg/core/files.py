"""Result files both tasks write: a JSON document and its markdown table side by side."""

from __future__ import annotations

import json
from pathlib import Path


def write_json_and_markdown(out_dir: Path | str, stem: str, document: dict, table: str) -> None:
    """`<stem>.json` (the document) and `<stem>.md` (the table) in `out_dir`, created if needed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(document, indent=2))
    (out_dir / f"{stem}.md").write_text(table)
