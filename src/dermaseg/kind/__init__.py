"""Image kind: dermoscopy, a clinical close-up, or something else (dermaseg.kind.check)."""

from dermaseg.kind.check import KINDS, ImageKind, ImageKindCheck

__all__ = ["KINDS", "ImageKind", "ImageKindCheck"]
