"""The second look at small lesions (dermaseg.segment.zoom): the crop's geometry, where its pixels
come from, and when the Segmenter takes it."""

from __future__ import annotations

import numpy as np
from PIL import Image
from support import lesion_image


def test_crop_box_is_a_square_twice_the_lesion_kept_inside_the_image():
    from dermaseg.segment.zoom import crop_box, scale_box

    mask = np.zeros((400, 600), np.uint8)
    mask[100:140, 200:260] = 255                       # 40 x 60 lesion
    y0, y1, x0, x1 = crop_box(mask)
    assert (y1 - y0, x1 - x0) == (120, 120) and (y0 + y1) / 2 == 120 and (x0 + x1) / 2 == 230
    mask[:] = 0
    mask[0:20, 580:600] = 255                          # in a corner: shifted inside, not cut
    assert crop_box(mask) == (0, 40, 560, 600)
    assert crop_box(np.zeros((10, 10), np.uint8)) is None
    assert scale_box((10, 20, 30, 40), (100, 100), (1000, 2000)) == (100, 200, 600, 800)


def test_a_crop_of_a_reduced_decode_is_taken_again_at_a_finer_scale(tmp_path):
    from dermaseg.data.loading import load_for_inference
    from dermaseg.segment.zoom import crop_pixels

    path = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)).save(path)
    item = load_for_inference(path)                    # decoded at 1/4 or so
    assert item.reduced and max(item.image.shape) < 4000
    crop = crop_pixels(item, (1000, 1300, 1000, 1300), min_side=256)
    assert min(crop.shape[:2]) >= 256                  # 300 px of the photograph, not 75 enlarged


def test_the_segmenter_looks_twice_only_where_the_photograph_has_the_pixels(tmp_path):
    from dermaseg.segment.segmenter import Segmenter

    image, _ = lesion_image(256, 256)
    small = np.ascontiguousarray(image)
    big = np.full((1600, 2400, 3), small[5, 5], np.uint8)   # the same lesion, a small share of a large frame
    big[700:956, 1100:1356] = small
    seg = Segmenter(zoom_below=0.1)
    on_big, on_small = seg.segment(big), seg.segment(small)
    assert on_big.lesion_found and "zoom_ms" in on_big.timings_ms
    assert "zoom_ms" not in on_small.timings_ms        # 256 px: nothing more to see
    off = Segmenter(zoom_below=None).segment(big)
    assert "zoom_ms" not in off.timings_ms


def test_clinical_photographs_get_the_shipped_second_look_network_dermoscopy_the_first(tmp_path):
    import shutil

    from dermaseg.core.zoo import resolve
    from dermaseg.data.loading import from_array
    from dermaseg.kind.check import ImageKind
    from dermaseg.segment.segmenter import Segmenter

    image, _ = lesion_image(256, 256)
    big = np.full((1600, 2400, 3), image[5, 5], np.uint8)
    big[700:956, 1100:1356] = image
    seg = Segmenter(zoom_below=0.1)
    assert seg.second_look_name == "isic-unet-lite0-second-look" and seg._second_look is None
    as_dermoscopy = seg.segment_batch([from_array(big)], [ImageKind("dermoscopy", 0.9)])[0]
    assert "zoom_ms" in as_dermoscopy.timings_ms and seg._second_look is None   # looked again itself
    as_clinical = seg.segment(big, ImageKind("clinical", 0.9))
    assert seg._kinds is None                                    # the kinds given were used, not checked again
    assert seg.second_look_network() is seg._second_look and seg._second_look.name == "isic-unet-lite0-second-look"
    itself = Segmenter(zoom_below=0.1, second_look_model="isic-unet-lite0")
    assert itself.second_look_network() is itself and itself.second_look_name == "isic-unet-lite0"
    same = itself.segment_batch([from_array(big)], [ImageKind("clinical", 0.9)])[0]
    assert np.array_equal(same.mask, as_dermoscopy.mask)       # 0.3.0's second look, either kind
    assert as_clinical.mask.any() and not np.array_equal(as_clinical.mask, as_dermoscopy.mask)
    other_file = tmp_path / "mine.onnx"                        # any other model file looks again itself
    shutil.copy(resolve("isic-unet-lite0", "segmentation").path, other_file)
    assert Segmenter(other_file).second_look_network().name == str(other_file)


def test_no_second_look_when_the_crop_would_be_the_whole_frame():
    from dermaseg.segment.segmenter import Segmenter

    frame, _ = lesion_image(512, 512, radius=150)   # a lesion box over half the side: its 2x crop is the frame
    result = Segmenter(zoom_below=1.0).segment(frame)
    assert result.lesion_found and "zoom_ms" not in result.timings_ms
