"""Fit the shipped image-kind check (src/dermaseg/weights/image_kind.onnx) and report its figures.

    python scripts/fit_image_kind.py --data ../shared/data --out src/dermaseg/weights/image_kind.onnx \
        --report docs/image_kind.json

Which images do what (none of the lesion models' test images is used to fit or set a threshold):
- fit, dermoscopy: HAM10000 images of the shipped classifier's training split, and ISIC 2017
  images in the training part of both the classifier's and the segmenter's splits;
- thresholds, dermoscopy: their validation parts (images in no test part);
- fit and threshold, clinical: not_dermoscopy/clinical_photos (out of fold by lesion / patient);
- reported only: the HAM10000 and ISIC 2017 test parts (either model's), clinical_photos_masked,
  and imagenet_objects (no photograph that is not of skin is used for anything but this report).
Training install; about 10 minutes on 2 CPU cores (features are cached in --cache).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEGMENTER_SPLIT = REPO / "configs" / "splits" / "isic2017_unet_lite0_split.csv"
VERSION = "1.0.0"


def classifier_parts(data_root: Path) -> dict[str, str]:
    """image_id -> train/val/test of the shipped classifier's split, rebuilt as its evaluation does."""
    from dermaseg.classify import labels as L_
    from dermaseg.classify.evaluate import held_out_ids
    from dermaseg.classify.predict import Classifier
    from dermaseg.data.readers import open_dataset

    clf = Classifier("ham10000-lite0")
    records = L_.labelled(open_dataset(data_root).records, clf.task)
    return {i: part for part in ("train", "val", "test") for i in held_out_ids(records, clf.meta["info"], part)[0]}


def clinical_group(path: Path) -> str:
    """NCI photos: one lesion over visits A-E; PAD-UFES-20: one patient (PAT_<patient>_...)."""
    nci = re.match(r"NCI_(.+?)[A-E]$", path.stem)
    return nci.group(1) if nci else "_".join(path.stem.split("_")[:2])


def main(argv=None) -> int:
    from dermaseg.data.readers import open_dataset
    from dermaseg.data.splits import read_split
    from dermaseg.kind.check import KINDS, ImageKindCheck
    from dermaseg.kind.fit import fit_image_kind

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "dermaseg" / "weights" / "image_kind.onnx")
    ap.add_argument("--report", type=Path, default=REPO / "docs" / "image_kind.json")
    ap.add_argument("--no-fit", action="store_true", help="only report the figures of the --out file as it is")
    ap.add_argument("--cache", type=Path, default=REPO / "runs" / "image_kind_features.npz",
                    help="features kept between runs (a rerun with the same lists only refits)")
    args = ap.parse_args(argv)

    args.cache.parent.mkdir(parents=True, exist_ok=True)
    ham = open_dataset(args.data / "ham10000")
    isic = open_dataset(args.data / "isic2017")
    ham_part = classifier_parts(args.data / "ham10000")
    isic_clf, isic_seg = classifier_parts(args.data / "isic2017"), read_split(SEGMENTER_SPLIT)

    def paths(ds, ids):
        return [ds.record(i).image_path for i in sorted(ids)]

    isic_ids = {r.image_id for r in isic.records}
    isic_test = {i for i in isic_ids if "test" in (isic_clf.get(i), isic_seg.get(i))}
    isic_train = {i for i in isic_ids if isic_clf.get(i) == "train" and isic_seg.get(i) == "train"}
    isic_val = isic_ids - isic_test - isic_train
    clinical = sorted((args.data / "not_dermoscopy" / "clinical_photos").glob("*.jpg"))
    meta = ImageKindCheck(args.out).meta if args.no_fit else fit_image_kind(
        paths(ham, [i for i, p in ham_part.items() if p == "train"]) + paths(isic, isic_train),
        paths(ham, [i for i, p in ham_part.items() if p == "val"]) + paths(isic, isic_val),
        clinical, {p: clinical_group(p) for p in clinical}, args.out,
        about={"version": VERSION, "fitted_by": "scripts/fit_image_kind.py", "data": str(args.data)},
        features_cache=args.cache)

    check = ImageKindCheck(args.out)
    nd = args.data / "not_dermoscopy"
    report_sets = {
        "HAM10000 test (classifier split)": paths(ham, [i for i, p in ham_part.items() if p == "test"]),
        "ISIC 2017 test (either model's split)": paths(isic, isic_test),
        "not_dermoscopy/clinical_photos (fitted on)": clinical,
        "not_dermoscopy/clinical_photos_masked": sorted((nd / "clinical_photos_masked" / "images").glob("*")),
        "not_dermoscopy/imagenet_objects": sorted((nd / "imagenet_objects").glob("*.jpg")),
    }
    from dermaseg.data.loading import load_for_inference

    figures = {}
    for name, files in report_sets.items():
        counts = dict.fromkeys(KINDS, 0)
        for start in range(0, len(files), 32):
            for kind in check([load_for_inference(f).image for f in files[start:start + 32]]):
                counts[kind.kind] += 1
        figures[name] = {"n": len(files), **{k: round(v / len(files), 4) for k, v in counts.items()}}
        print(f"{name}: n={len(files)} " + " ".join(f"{k} {v / len(files):.3f}" for k, v in counts.items()))
    figures["clinical_photos not other, out of fold"] = meta["fit"]["clinical_not_other_out_of_fold"]
    args.report.write_text(json.dumps({"model": str(args.out.name), "version": VERSION, "thresholds": meta["thresholds"],
                                       "fit": meta["fit"], "figures": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
