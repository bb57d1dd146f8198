"""Melanoma triage figures of a `dermaseg classify predict` run on a folder labelled melanoma yes/no.

    dermaseg classify predict ../shared/data/not_dermoscopy/clinical_photos --out runs/clinical
    python scripts/triage_figures.py runs/clinical/classification.csv \
        ../shared/data/not_dermoscopy/clinical_photos.csv

The labels CSV names each image (column `file` or `image_id`) and says `melanoma` (0/1). Prints the
sensitivity and specificity of the `triage` column (refer = positive), the melanoma AUC of
prob_mel, and the image kinds; images the run did not classify (kind other) count as not referred.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("classification_csv", type=Path)
    ap.add_argument("labels_csv", type=Path)
    args = ap.parse_args(argv)
    with open(args.labels_csv, newline="") as fh:
        labels = {Path(r.get("file") or r["image_id"]).stem: int(r["melanoma"]) for r in csv.DictReader(fh)}
    with open(args.classification_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if Path(r["path"]).stem in labels]
    if not rows:
        print(f"{args.classification_csv}: no row names an image of {args.labels_csv}", file=sys.stderr)
        return 2
    truth = [labels[Path(r["path"]).stem] for r in rows]
    refer = [r["triage"] == "refer" for r in rows]
    pos = sum(truth)
    out = {"n": len(rows), "melanoma": pos,
           "sensitivity": sum(t and f for t, f in zip(truth, refer)) / pos if pos else None,
           "specificity": sum((not t) and (not f) for t, f in zip(truth, refer)) / (len(rows) - pos)
           if len(rows) > pos else None,
           "referred": sum(refer) / len(rows),
           "image_kind": {k: sum(r["image_kind"] == k for r in rows) for k in ("dermoscopy", "clinical", "other")}}
    scored = [(float(r["prob_mel"]), t) for r, t in zip(rows, truth) if r["prob_mel"]]
    if 0 < sum(t for _, t in scored) < len(scored):
        from sklearn.metrics import roc_auc_score

        out["melanoma_auc"] = float(roc_auc_score([t for _, t in scored], [p for p, _ in scored]))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
