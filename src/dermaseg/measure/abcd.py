"""The ABCD rule of dermoscopy (Stolz et al. 1994): part scores and the total dermoscopy score.

TDS = 1.3 A + 0.1 B + 0.5 C + 0.5 D with A asymmetry (0-2 axes), B abrupt border
segments (0-8), C colours (1-6), D differential structures (1-5). Only the parts that can
be measured are summed, and the result says which. measure_lesions uses A (from the
mask's shape) and C (from the image); B and D (pigment network, dots, globules, streaks,
structureless areas) are not measured, so its TDS is a partial sum that must not be held
against the clinical cut-offs (4.75, 5.45) as if it were whole.
"""

from __future__ import annotations

TDS_WEIGHTS = {"A": 1.3, "B": 0.1, "C": 0.5, "D": 0.5}

# An axis counts as asymmetric when flipping the lesion about it leaves more than this
# share of its area unmatched. Shape only (Stolz also weighs colours and structures).
# Set so that ~80% of HAM10000 nevus masks score A=0 (see docs/measurements.md).
ASYMMETRY_THRESHOLD = 0.10


def asymmetry_score(mismatch_major: float, mismatch_minor: float,
                    threshold: float = ASYMMETRY_THRESHOLD) -> int:
    """ABCD 'A': how many of the two principal axes the lesion is asymmetric about (0-2)."""
    return int(mismatch_major > threshold) + int(mismatch_minor > threshold)


def total_dermoscopy_score(**parts: int | float | None) -> tuple[float, list[str]]:
    """Weighted sum of the given ABCD parts (A=, B=, C=, D=; None = not computed).

    Returns the score and the names of the parts it includes, in A-B-C-D order.
    """
    unknown = set(parts) - set(TDS_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown ABCD part(s) {sorted(unknown)}; expected A, B, C, D")
    used = [name for name in TDS_WEIGHTS if parts.get(name) is not None]
    score = sum(TDS_WEIGHTS[name] * float(parts[name]) for name in used)
    return round(score, 6), used
