"""Readers for the official dermoscopy data layouts.

`open_dataset(root)` finds every known layout at `root` or in its sub-folders (so
`../shared/data`, holding `isic2017/` and `ham10000/`, opens as one dataset) and returns a
LesionDataset: a list of Records (paths and labels, cheap to build) that decode into
Samples (arrays) on access. Layouts:

- ISIC 2016 Part 1, ISIC 2017 Part 1 (+ Part 3 labels), ISIC 2018 Task 1 (+ Task 3 labels)
- HAM10000 (images, Tschandl lesion masks, metadata with lesion_id and dx)
- PH2 (`PH2 Dataset images/IMDxxx/...` + `PH2_dataset.txt`)
- a plain `images/` + `masks/` pair matched by stem
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dermaseg.data.io import IMAGE_SUFFIXES, ImageReadError, binarise_mask, list_images, read_image, read_mask
from dermaseg.data.quality import Problem, mask_problems, report


@dataclass
class Record:
    """One image on disk, before decoding."""

    image_id: str
    image_path: Path
    mask_path: Path | None
    labels: dict = field(default_factory=dict)
    layout: str = "folder"
    problems: list[Problem] = field(default_factory=list)  # found while listing: name collisions, double masks

    @property
    def group(self) -> str:
        """Images of one lesion share a group (HAM10000 lesion_id); else the image is its own."""
        return str(self.labels.get("lesion_id") or self.image_id)

    @property
    def diagnosis(self) -> str | None:
        return self.labels.get("dx")


@dataclass
class Sample:
    """A decoded image: RGB uint8 (H, W, 3), mask uint8 (H, W) in {0, 255} or None."""

    image: np.ndarray
    mask: np.ndarray | None
    labels: dict
    image_id: str
    path: Path


# --- per-layout finders: each returns records, or [] when the layout is not at `root` ----


class _Listing(dict):
    """image id -> the file used for it, plus a problem for every other file claiming the same id."""

    def __init__(self):
        super().__init__()
        self.notes: dict[str, list[Problem]] = {}
        self._rank: dict[str, int] = {}

    def add(self, image_id: str, path: Path, code: str, rank: int = 0) -> None:
        """Keep the lowest-ranked file for an id (ties: the first); note the one left out."""
        if image_id not in self:
            self[image_id], self._rank[image_id] = path, rank
            return
        kept, left_out = self[image_id], path
        if rank < self._rank[image_id]:
            kept, left_out = path, self[image_id]
            self[image_id], self._rank[image_id] = path, rank
        what = "another mask" if code == "double_mask" else "another file"
        self.notes.setdefault(image_id, []).append(
            Problem(code, left_out, f"{what} for image {image_id!r} besides {kept.name}; {kept.name} is used, "
                                    "this file is ignored", image_id))

    def only(self, keep) -> _Listing:
        """The entries (and notes) whose id passes `keep`."""
        out = _Listing()
        for image_id, path in self.items():
            if keep(image_id):
                out[image_id], out._rank[image_id] = path, self._rank.get(image_id, 0)
        out.notes = {k: v for k, v in self.notes.items() if keep(k)}
        return out


def _images_by_stem(folder: Path) -> _Listing:
    out = _Listing()
    if folder.is_dir():
        for p in list_images(folder):  # sorted, so the kept file does not depend on the file system
            out.add(p.stem, p, "name_collision")
    return out


def _masks_by_id(folder: Path, suffixes: tuple[str, ...]) -> _Listing:
    """Map image id -> mask path, stripping the layout's mask suffix (`_segmentation`, ...);
    with two masks for one image, the earlier suffix in `suffixes` wins."""
    out = _Listing()
    if not folder.is_dir():
        return out
    for p in list_images(folder):
        stem, rank = p.stem, len(suffixes)
        for i, suffix in enumerate(suffixes):
            if stem.lower().endswith(suffix.lower()):
                stem, rank = stem[: len(stem) - len(suffix)], i
                break
        out.add(stem, p, "double_mask", rank)
    return out


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _pair(images: dict[str, Path], masks: dict[str, Path], labels: dict[str, dict], layout: str,
          extra: dict | None = None) -> list[Record]:
    records = []
    for image_id, path in sorted(images.items()):
        lab = dict(labels.get(image_id, {}))
        lab.update(extra or {})
        notes = getattr(images, "notes", {}).get(image_id, []) + getattr(masks, "notes", {}).get(image_id, [])
        records.append(Record(image_id, path, masks.get(image_id), lab, layout, list(notes)))
    # Masks without an image are not silently dropped: a record with a missing image reports it.
    for image_id in sorted(set(masks) - set(images)):
        records.append(Record(image_id, masks[image_id].parent / f"{image_id}.jpg (missing)", masks[image_id],
                              dict(extra or {}), layout))
    return records


_ISIC_SPLITS = {"Training": "train", "Validation": "val", "Test": "test"}


def find_isic2018(root: Path) -> list[Record]:
    records = []
    for split_name, split in _ISIC_SPLITS.items():
        images = _images_by_stem(root / f"ISIC2018_Task1-2_{split_name}_Input")
        if not images:
            continue
        masks = _masks_by_id(root / f"ISIC2018_Task1_{split_name}_GroundTruth", ("_segmentation",))
        labels = {}
        task3 = root / f"ISIC2018_Task3_{split_name}_GroundTruth" / f"ISIC2018_Task3_{split_name}_GroundTruth.csv"
        if task3.exists():
            for row in _read_csv(task3):
                dx = max((k for k in row if k != "image"), key=lambda k: float(row[k] or 0)).lower()
                labels[row["image"]] = {"dx": dx}
        records += _pair(images, masks, labels, "isic2018", {"official_split": split})
    return records


def find_isic2017(root: Path) -> list[Record]:
    records = []
    for split_name, split in _ISIC_SPLITS.items():
        images = _images_by_stem(root / f"ISIC-2017_{split_name}_Data")
        images = images.only(lambda image_id: not image_id.endswith("_superpixels"))
        if not images:
            continue
        masks = _masks_by_id(root / f"ISIC-2017_{split_name}_Part1_GroundTruth", ("_segmentation",))
        labels: dict[str, dict] = {}
        part3 = root / f"ISIC-2017_{split_name}_Part3_GroundTruth.csv"
        if part3.exists():
            for row in _read_csv(part3):
                if float(row["melanoma"]) >= 0.5:
                    dx = "melanoma"
                elif float(row["seborrheic_keratosis"]) >= 0.5:
                    dx = "seborrheic_keratosis"
                else:
                    dx = "nevus"
                labels[row["image_id"]] = {"dx": dx}
        meta = root / f"ISIC-2017_{split_name}_Data_metadata.csv"
        if meta.exists():
            for row in _read_csv(meta):
                lab = labels.setdefault(row["image_id"], {})
                lab["age"] = _number(row.get("age_approximate"))
                lab["sex"] = row.get("sex") or None
        records += _pair(images, masks, labels, "isic2017", {"official_split": split})
    return records


def find_isic2016(root: Path) -> list[Record]:
    records = []
    for split_name, split in (("Training", "train"), ("Test", "test")):
        images = _images_by_stem(root / f"ISBI2016_ISIC_Part1_{split_name}_Data")
        if not images:
            continue
        masks = _masks_by_id(root / f"ISBI2016_ISIC_Part1_{split_name}_GroundTruth", ("_Segmentation",))
        labels = {}
        part3 = root / f"ISBI2016_ISIC_Part3_{split_name}_GroundTruth.csv"
        if part3.exists():
            with open(part3, newline="") as fh:
                for row in csv.reader(fh):
                    if len(row) >= 2 and row[0].startswith("ISIC"):
                        value = row[1].strip().lower()
                        dx = "malignant" if value in ("malignant", "1", "1.0") else "benign"
                        labels[row[0]] = {"dx": dx}
        records += _pair(images, masks, labels, "isic2016", {"official_split": split})
    return records


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def find_ham10000(root: Path) -> list[Record]:
    metadata = next((p for p in (root / "HAM10000_metadata.csv", root / "HAM10000_metadata") if p.is_file()), None)
    image_dirs = sorted(p for p in root.glob("HAM10000_images*") if p.is_dir())
    if metadata is None or not image_dirs:
        return []
    images = _Listing()
    for folder in image_dirs:  # HAM10000 ships its images in two parts
        listing = _images_by_stem(folder)
        for image_id, path in listing.items():
            images.add(image_id, path, "name_collision")
        for image_id, notes in listing.notes.items():
            images.notes.setdefault(image_id, []).extend(notes)
    masks = _masks_by_id(root / "HAM10000_segmentations_lesion_tschandl", ("_segmentation",))
    labels = {}
    for row in _read_csv(metadata):
        labels[row["image_id"]] = {
            "dx": row["dx"],
            "lesion_id": row["lesion_id"],
            "dx_type": row.get("dx_type"),
            "age": _number(row.get("age")),
            "sex": row.get("sex") or None,
            "localization": row.get("localization") or None,
        }
    return _pair(images, masks, labels, "ham10000")


_PH2_CLASSES = {"common nevus": "common_nevus", "atypical nevus": "atypical_nevus", "melanoma": "melanoma"}


def _ph2_labels(table: Path) -> dict[str, dict]:
    """Parse PH2_dataset.txt: a `||`-separated table where an X marks the clinical diagnosis."""
    labels: dict[str, dict] = {}
    header: list[str] | None = None
    for line in table.read_text(encoding="latin-1").splitlines():
        if "||" not in line:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("||")]
        if header is None and any(c.lower() == "name" for c in cells):
            header = [c.lower() for c in cells]
            continue
        if header is None or not cells or not re.match(r"IMD\d+", cells[0]):
            continue
        row = dict(zip(header, cells))
        dx = next((v for k, v in _PH2_CLASSES.items() if row.get(k, "").upper() == "X"), None)
        labels[cells[0]] = {"dx": dx, "histological_diagnosis": row.get("histological diagnosis") or None}
    return labels


def find_ph2(root: Path) -> list[Record]:
    folder = root / "PH2 Dataset images"
    if not folder.is_dir():
        return []
    table = next((p for p in (root / "PH2_dataset.txt", root / "PH2_dataset.xlsx") if p.suffix == ".txt" and p.exists()), None)
    labels = _ph2_labels(table) if table else {}
    images, masks = {}, {}
    for case in sorted(p for p in folder.iterdir() if p.is_dir()):
        cid = case.name
        found = [p for p in (case / f"{cid}_Dermoscopic_Image").glob(f"{cid}.*") if p.suffix.lower() in IMAGE_SUFFIXES]
        if found:
            images[cid] = found[0]
        found = [p for p in (case / f"{cid}_lesion").glob(f"{cid}_lesion.*") if p.suffix.lower() in IMAGE_SUFFIXES]
        if found:
            masks[cid] = found[0]
    return _pair(images, masks, labels, "ph2")


def find_folder(root: Path) -> list[Record]:
    images = _images_by_stem(root / "images")
    if not images:
        return []
    masks = _masks_by_id(root / "masks", ("_segmentation", "_mask", "_lesion", "_Segmentation"))
    labels = {}
    labels_csv = root / "labels.csv"
    if labels_csv.exists():
        for row in _read_csv(labels_csv):
            image_id = row.pop("image_id")
            labels[image_id] = {k: v for k, v in row.items() if v not in (None, "")}
    return _pair(images, masks, labels, "folder")


FINDERS = {
    "isic2018": find_isic2018,
    "isic2017": find_isic2017,
    "isic2016": find_isic2016,
    "ham10000": find_ham10000,
    "ph2": find_ph2,
    "folder": find_folder,
}


def find_records(root: Path, max_depth: int = 2) -> list[Record]:
    """Records of every layout found at root or up to `max_depth` folders below it."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    for finder in FINDERS.values():
        found = finder(root)
        if found:
            return found
    records: list[Record] = []
    if max_depth > 0:
        for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            records += find_records(child, max_depth - 1)
    return records


class LesionDataset:
    """Records of one or more layouts; indexing decodes a Sample.

    Bad files are reported with a DataQualityWarning naming the file and skipped when
    iterating (`__iter__`) or raise in strict mode. Direct indexing raises
    ImageReadError for a file that cannot be decoded.
    """

    def __init__(self, records: list[Record], *, strict: bool = False, require_masks: bool = False):
        ids = [r.image_id for r in records]
        if len(set(ids)) != len(ids):
            seen, dup = set(), []
            for i in ids:
                if i in seen:
                    dup.append(i)
                seen.add(i)
            raise ValueError(f"image ids appear in two layouts: {dup[:5]}")
        self.records = records
        self.strict = strict
        self.require_masks = require_masks
        self._index = {r.image_id: i for i, r in enumerate(records)}

    @property
    def layouts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.records:
            counts[r.layout] = counts.get(r.layout, 0) + 1
        return counts

    def __len__(self) -> int:
        return len(self.records)

    def record(self, image_id: str) -> Record:
        return self.records[self._index[image_id]]

    def subset(self, image_ids) -> LesionDataset:
        wanted = set(image_ids)
        return LesionDataset([r for r in self.records if r.image_id in wanted], strict=self.strict,
                             require_masks=self.require_masks)

    def load(self, record: Record) -> Sample:
        """Decode one record; raises ImageReadError / DataQualityError on unusable files."""
        if record.image_path.name.endswith("(missing)"):
            raise ImageReadError(record.mask_path, "mask has no matching image")
        for problem in record.problems:  # a file that lost a name clash is never dropped without a word
            report(problem, self.strict)
        image = read_image(record.image_path)
        mask = None
        if record.mask_path is not None:
            try:
                raw = read_mask(record.mask_path)
            except ImageReadError:
                raise
            for problem in mask_problems(raw, image.shape, record.mask_path, record.image_id):
                if problem.code == "size_mismatch":
                    raise ImageReadError(problem.path, problem.reason)
                if problem.code in ("non_binary_mask", "zero_one_mask"):
                    report(problem, self.strict)
            mask = binarise_mask(raw)
        elif self.require_masks:
            raise ImageReadError(record.image_path, "image has no mask")
        return Sample(image, mask, dict(record.labels), record.image_id, record.image_path)

    def __getitem__(self, i: int) -> Sample:
        return self.load(self.records[i])

    def __iter__(self) -> Iterator[Sample]:
        """Every usable sample; an unusable file is reported (warning) and skipped."""
        for record in self.records:
            sample = self.try_load(record)
            if sample is not None:
                yield sample

    def try_load(self, record: Record) -> Sample | None:
        try:
            return self.load(record)
        except ImageReadError as exc:
            code = "size_mismatch" if "but its image is" in exc.reason else (
                "missing_mask" if exc.reason == "image has no mask" else "unreadable")
            report(Problem(code, exc.path, exc.reason + "; skipped", record.image_id), self.strict)
            return None


def open_dataset(root: Path | str, *, strict: bool = False, require_masks: bool = False,
                 layouts: list[str] | None = None) -> LesionDataset:
    """Open every dermoscopy layout found under `root` (optionally only the named layouts)."""
    records = find_records(Path(root))
    if layouts:
        records = [r for r in records if r.layout in layouts]
    if not records:
        raise FileNotFoundError(
            f"{root}: no dermoscopy data found (looked for ISIC 2016/2017/2018 Task 1, HAM10000, PH2 "
            "and images/ + masks/ folders)")
    return LesionDataset(records, strict=strict, require_masks=require_masks)
