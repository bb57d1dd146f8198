"""A sample dermoscopic image shipped with the package (licence and attribution: README.md here)."""

from __future__ import annotations

from pathlib import Path

SAMPLE_IMAGE = "ISIC_0000014.jpg"


def sample_image() -> Path:
    return Path(__file__).resolve().parent / SAMPLE_IMAGE
