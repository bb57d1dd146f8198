"""The HTTP API: each answer and each limit (`dermaseg.serve`)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image
from support import HAM10000, lesion_image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from dermaseg.classify.predict import read_ensemble_file  # noqa: E402
from dermaseg.core.onnxfile import open_session  # noqa: E402
from dermaseg.core.zoo import DEFAULTS, SHIPPED  # noqa: E402
from dermaseg.segment.segmenter import SegmentationResult  # noqa: E402
from dermaseg.serve.app import create_app  # noqa: E402
from dermaseg.serve.engines import Engines, segmentation_model_file  # noqa: E402
from dermaseg.serve.limits import Limits  # noqa: E402


def encode(image: np.ndarray, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, fmt, **kw)
    return buf.getvalue()


def upload(data: bytes, name: str = "lesion.jpg"):
    return {"file": (name, data, "application/octet-stream")}


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["status"] == status and body["error"]["message"]
    assert "Traceback" not in response.text
    return body


# --- a stub segmenter: the HTTP layer's limits without the cost of a network -------------------------
class StubSegmenter:
    name, version, backend_name, threshold, input_size = "stub", "0", "none", 0.5, 64
    model_info: dict = {}

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.delay, self.fail = delay, fail

    def segment(self, item, kind=None):
        if self.fail:
            raise RuntimeError("boom")
        time.sleep(self.delay)
        h, w = item.full_size
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 255
        return SegmentationResult(mask, True, np.zeros((8, 8), np.float32), {"model_ms": self.delay * 1000})


def stub_client(limits: Limits | None = None, **kw) -> TestClient:
    return TestClient(create_app(Engines(StubSegmenter(**kw), None, "not loaded in this test"), limits),
                      raise_server_exceptions=False)


SMALL_JPEG = encode(lesion_image(96, 128)[0])


# --- the real models --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    app = create_app(Engines.load(threads=2), Limits(workers=2, queue=8, timeout_s=120))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def real_image(shared_data) -> tuple[bytes, str]:
    path = HAM10000 / "HAM10000_images" / "ISIC_0024306.jpg"   # 200x150: not square
    return path.read_bytes(), path.name


def test_segment_json_matches_the_library(client, real_image):
    from dermaseg.measure import measure_lesions

    data, name = real_image
    r = client.post("/v1/segment", files=upload(data, name))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["image_id"], body["width"], body["height"]) == ("ISIC_0024306", 200, 150)
    assert body["lesion_found"] is True and body["outline"] and len(body["outline"][0]) >= 3
    assert body["model"]["name"] == "isic-unet-lite0" and body["model"]["version"]
    assert {"model_ms", "decode_ms", "measure_ms", "queue_ms"} <= set(body["timings_ms"])
    # the same measurements the library computes on the same mask (what measurements.json holds)
    mask = np.asarray(Image.open(io.BytesIO(client.post("/v1/segment?format=png", files=upload(data, name)).content)))
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    expected = measure_lesions(mask, image)
    assert len(body["lesions"]) == len(expected) >= 1
    assert body["lesions"][0]["area_px"] == expected[0]["area_px"] == int((mask > 0).sum())
    assert set(body["lesions"][0]) == set(expected[0])
    assert body["fields"]["area_px"]["unit"] == "px²" and body["fields"]["area_px"]["description"]


def test_segment_png_is_the_mask_at_the_image_size(client, real_image):
    data, name = real_image
    r = client.post("/v1/segment?format=png", files=upload(data, name))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert 'filename="ISIC_0024306_segmentation.png"' in r.headers["content-disposition"]
    mask = Image.open(io.BytesIO(r.content))
    assert mask.size == (200, 150) and mask.mode == "L"
    assert set(np.unique(np.asarray(mask))) <= {0, 255}


def test_large_photo_decoded_reduced_mask_at_full_size(client):
    # A 4:3 photo larger than twice the decode side: JPEG draft decoding, full-size mask back.
    image, _ = lesion_image(2400, 3200, seed=3)
    r = client.post("/v1/segment?format=png", files=upload(encode(image, quality=85)))
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(r.content)).size == (3200, 2400)


def test_segment_overlay_and_scale(client, real_image):
    data, name = real_image
    r = client.post("/v1/segment?overlay=1", files=upload(data, name))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    overlay = Image.open(io.BytesIO(r.content))
    assert overlay.size == (200, 150) and overlay.mode == "RGB"
    body = client.post("/v1/segment?mm_per_pixel=0.05", files=upload(data, name)).json()
    lesion = body["lesions"][0]
    assert body["mm_per_pixel"] == 0.05
    assert lesion["area_mm2"] == pytest.approx(lesion["area_px"] * 0.05 ** 2)
    assert body["fields"]["area_mm2"]["unit"] == "mm²"


def test_classify(client, real_image):
    data, name = real_image
    r = client.post("/v1/classify", files=upload(data, name))
    assert r.status_code == 200, r.text
    body = r.json()
    probs = body["probabilities"]
    assert set(probs) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert body["predicted"] == max(probs, key=probs.get)
    assert body["model"]["name"] == DEFAULTS["classification"] and body["model"]["version"]


def test_health_and_models(client):
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["classification"] is True
    models = {m["task"]: m for m in client.get("/v1/models").json()["models"]}
    seg, clf = models["segmentation"], models["classification"]
    _, shipped = open_session(SHIPPED["isic-unet-lite0"].onnx_path)  # what the served file says of itself
    assert (seg["name"], seg["version"]) == ("isic-unet-lite0", shipped["version"])
    assert seg["input_size"] == shipped["pipeline"]["size"]
    assert seg["held_out"]["dice"] == shipped["held_out"]["dice"] > 0.8
    shipped_clf = read_ensemble_file(SHIPPED[DEFAULTS["classification"]].onnx_path)  # the ensemble's own file
    assert (clf["name"], clf["version"]) == (DEFAULTS["classification"], shipped_clf["info"]["version"])
    assert len(clf["classes"]) == 7 and clf["held_out"] == shipped_clf["held_out"]
    assert clf["held_out"]["split"] == "test" and 0 < clf["held_out"]["balanced_accuracy"] <= 1


def test_page_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="file"' in page.text and "/static/app.js" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    # offline: nothing is fetched from another host
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert "src=\"http" not in text and "url(http" not in text and "@import" not in text
    spec = client.get("/openapi.json").json()
    assert {"/v1/segment", "/v1/classify", "/v1/health", "/v1/models"} <= set(spec["paths"])


# --- limits -------------------------------------------------------------------------------------------
def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's signature)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("data,status", [
    (b"", 400),                                                   # empty file
    (b"just some text, not an image", 415),                       # not an image
    (encode(lesion_image(40, 40)[0], "PPM"), 415),                 # an image type dermaseg does not read
    (SMALL_JPEG[: len(SMALL_JPEG) // 2], 422),                    # truncated JPEG
    (png_declaring(60_000, 60_000), 413),                         # 3.6 Gpx declared: refused from the header
    (png_declaring(10_000, 6_000), 413),                          # 60 Mpx: over the 50 Mpx default
])
def test_bad_uploads_get_clear_json_errors(data, status):
    assert_error(stub_client().post("/v1/segment", files=upload(data)), status)


def test_pixel_limit_is_configurable():
    c = stub_client(Limits(max_pixels=96 * 128 - 1))
    assert "Mpx" in assert_error(c.post("/v1/segment", files=upload(SMALL_JPEG)), 413)["error"]["message"]
    assert stub_client(Limits(max_pixels=96 * 128)).post("/v1/segment", files=upload(SMALL_JPEG)).status_code == 200


def test_upload_size_limit_declared_and_streamed():
    limits = Limits(max_upload_bytes=100_000)
    big = b"\xff\xd8" + b"\0" * 200_000
    c = stub_client(limits)
    assert_error(c.post("/v1/segment", files=upload(big)), 413)             # Content-Length over the limit
    assert c.post("/v1/segment", files=upload(SMALL_JPEG)).status_code == 200

    # chunked (no Content-Length): counted as it arrives and cut off
    boundary = "dermasegtest"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()

    async def body():
        yield head
        for _ in range(20):
            yield b"\0" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    async def send():
        app = create_app(Engines(StubSegmenter(), None, "-"), limits)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as ac:
            return await ac.post("/v1/segment", content=body(),
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}"})

    assert_error(asyncio.run(send()), 413)


def test_stalled_upload_gets_408():
    async def trickle():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n\r\n"
        await asyncio.sleep(1.0)   # the client goes quiet mid-upload
        yield b"\xff\xd8\r\n--b--\r\n"

    async def send():
        app = create_app(Engines(StubSegmenter(), None, "-"), Limits(read_timeout_s=0.2))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as ac:
            return await ac.post("/v1/segment", content=trickle(),
                                 headers={"content-type": "multipart/form-data; boundary=b"})

    assert "stalled" in assert_error(asyncio.run(send()), 408)["error"]["message"]


def test_missing_file_and_bad_parameters_are_422():
    c = stub_client()
    assert_error(c.post("/v1/segment"), 422)
    assert "mm_per_pixel" in assert_error(c.post("/v1/segment?mm_per_pixel=-1", files=upload(SMALL_JPEG)),
                                          422)["error"]["message"]
    assert_error(c.post("/v1/segment?format=gif", files=upload(SMALL_JPEG)), 422)


@pytest.mark.parametrize("scale", ["1e308", "inf", "nan", "-inf", "1" * 5000, "11"])
def test_absurd_scales_are_422_not_500(scale):
    body = assert_error(stub_client().post(f"/v1/segment?mm_per_pixel={scale}", files=upload(SMALL_JPEG)), 422)
    assert "mm_per_pixel" in body["error"]["message"]


@pytest.mark.parametrize("name", ["皮膚.jpg", 'a"b.jpg', "x\\y;z%.jpg"])
@pytest.mark.parametrize("query", ["format=png", "overlay=1"])
def test_download_names_survive_any_upload_name(name, query):
    from urllib.parse import unquote

    response = stub_client().post(f"/v1/segment?{query}", files=upload(SMALL_JPEG, name))
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    kind = "overlay" if "overlay" in query else "segmentation"
    assert disposition.count('"') == 2 and disposition.startswith('attachment; filename="')
    assert unquote(disposition.split("filename*=UTF-8''")[1]).endswith(f"_{kind}.png")


def test_content_disposition_escapes_quotes_and_keeps_the_exact_name():
    from urllib.parse import unquote

    from dermaseg.serve.app import attachment

    for name in ['a"b_segmentation.png', "皮膚_overlay.png", "a\r\nX-Evil: 1.png"]:
        header = attachment(name)
        assert header.count('"') == 2 and "\r" not in header and "\n" not in header
        assert unquote(header.split("filename*=UTF-8''")[1]) == name



def test_busy_server_answers_503_with_retry_after():
    app = create_app(Engines(StubSegmenter(delay=0.5), None, "-"), Limits(workers=1, queue=1, retry_after_s=3))

    async def burst():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as ac:
            return await asyncio.gather(*(ac.post("/v1/segment", files=upload(SMALL_JPEG)) for _ in range(4)))

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503]   # one running, one waiting, the rest refused at once
    for r in responses:
        if r.status_code == 503:
            assert_error(r, 503)
            assert r.headers["retry-after"] == "3"
    assert app.state.pool.in_flight == 0


def test_slow_request_times_out_with_504():
    c = stub_client(Limits(timeout_s=0.2), delay=1.0)
    t0 = time.perf_counter()
    assert "limit" in assert_error(c.post("/v1/segment", files=upload(SMALL_JPEG)), 504)["error"]["message"]
    assert time.perf_counter() - t0 < 0.9


def test_internal_error_is_json_without_traceback():
    assert "RuntimeError" in assert_error(stub_client(fail=True).post("/v1/segment", files=upload(SMALL_JPEG)),
                                          500)["error"]["message"]


def test_classify_without_classifier_is_503():
    assert "not loaded" in assert_error(stub_client().post("/v1/classify", files=upload(SMALL_JPEG)),
                                        503)["error"]["message"]


def test_one_log_line_per_request(caplog):
    c = stub_client()
    with caplog.at_level(logging.INFO, logger="dermaseg.serve"):
        c.post("/v1/segment?format=png", files=upload(SMALL_JPEG))
        c.post("/v1/segment", files=upload(b""))
        c.get("/v1/health")
    lines = [r.getMessage() for r in caplog.records if r.name == "dermaseg.serve"]
    assert len(lines) == 3
    assert '"POST /v1/segment?format=png" 200' in lines[0] and " ms" in lines[0]
    assert '"POST /v1/segment" 400' in lines[1] and '"GET /v1/health" 200' in lines[2]


# --- packaging ----------------------------------------------------------------------------------------
def test_serve_imports_without_torch():
    code = ("import sys, dermaseg.serve.app, dermaseg.serve.cli, dermaseg.serve.engines; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_onnx_export_beside_a_model_is_preferred(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"x")
    assert segmentation_model_file(tmp_path / "m.pt").name == "m.pt"
    (tmp_path / "m.onnx").write_bytes(b"x")
    assert segmentation_model_file(tmp_path / "m.pt").name == "m.onnx"


def test_cli_registers_serve():
    from dermaseg.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "8123", "--no-classifier"])
    assert (args.host, args.port, args.no_classifier) == ("127.0.0.1", 8123, True)


def test_exif_rotated_photo_gets_mask_at_displayed_size():
    image, _ = lesion_image(60, 100)
    exif = Image.Exif()
    exif[0x0112] = 6   # rotate 90 degrees on display: a viewer shows it 60 wide, 100 high
    r = stub_client().post("/v1/segment?format=png", files=upload(encode(image, exif=exif.tobytes())))
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(r.content)).size == (60, 100)


def tiny_onnx_model(path) -> None:
    """A dermaseg-tagged ONNX 'model' whose logit is -10 x the mean channel value: dark is lesion."""
    import onnx
    from onnx import TensorProto, helper

    size = 64
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1], keepdims=1),
         helper.make_node("Mul", ["mean", "gain"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, size, size])],
        [helper.make_tensor("gain", TensorProto.FLOAT, [], [-10.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    meta = {"model": {"arch": "tiny", "encoder": "none"}, "threshold": 0.5,
            "pipeline": {"size": size, "keep_aspect": False, "normalise": "symmetric"},
            "info": {"name": "tiny-onnx", "version": "9.9"}}
    entry = model.metadata_props.add()
    entry.key, entry.value = "dermaseg", json.dumps(meta)
    onnx.save(model, str(path))


def test_onnx_model_serves_without_torch(tmp_path):
    pytest.importorskip("onnx")
    tiny_onnx_model(tmp_path / "tiny.onnx")
    (tmp_path / "lesion.jpg").write_bytes(encode(lesion_image(120, 160)[0]))
    code = f"""
import sys
from pathlib import Path
from fastapi.testclient import TestClient
from dermaseg.serve.app import create_app
from dermaseg.serve.engines import Engines
app = create_app(Engines.load({str(tmp_path / 'tiny.onnx')!r}, with_classifier=False))
body = TestClient(app).post("/v1/segment", files={{"file": ("l.jpg", Path({str(tmp_path / 'lesion.jpg')!r}).read_bytes())}}).json()
# the name printed is the name the command line accepts: here the path given
assert body["model"] == {{"name": {str(tmp_path / 'tiny.onnx')!r}, "version": "9.9", "backend": "onnxruntime",
                         "threshold": 0.5}}, body
assert body["lesion_found"] and body["lesions"][0]["area_px"] > 1000, body
sys.exit(3 if "torch" in sys.modules else 0)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


# --- what kind of image: every answer says, and `other` is refused -----------------------------------
BLANK_PNG = encode(np.full((120, 160, 3), 128, np.uint8), "PNG")   # a blank picture: kind other


def test_a_picture_that_is_not_of_skin_gets_422_with_its_kind_from_both_calls(client):
    for path in ("/v1/segment", "/v1/segment?format=png", "/v1/classify"):
        body = assert_error(client.post(path, files=upload(BLANK_PNG, "blank.png")), 422)
        assert body["image_kind"] == "other" and 0 <= body["image_kind_score"] <= 1
        assert "does not look like a skin-lesion photograph" in body["error"]["message"]
    r = client.post("/v1/segment?accept_any_image=true", files=upload(BLANK_PNG, "blank.png"))
    assert r.status_code == 200 and r.json()["image_kind"] == "other"
    r = client.post("/v1/classify?accept_any_image=true", files=upload(BLANK_PNG, "blank.png"))
    assert r.status_code == 200 and r.json()["image_kind"] == "other" and r.json()["predicted"]


def test_answers_on_dermoscopy_carry_kind_outline_quality_prediction_set_and_triage(client, real_image):
    data, name = real_image
    seg = client.post("/v1/segment", files=upload(data, name)).json()
    assert seg["image_kind"] == "dermoscopy" and 0.5 <= seg["image_kind_score"] <= 1 and seg["warnings"] == []
    assert 0 < seg["mask_quality"] <= 1 and isinstance(seg["check_outline"], bool)
    cls = client.post("/v1/classify", files=upload(data, name)).json()
    assert cls["image_kind"] == "dermoscopy"
    assert cls["predicted"] == cls["prediction_set"][0] and set(cls["prediction_set"]) <= set(cls["probabilities"])
    assert cls["triage"] in ("refer", "routine")
    models = {m["task"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["image_kind"]["thresholds"]["dermoscopy"] > 0
    assert models["classification"]["decisions"]["coverage"] == 0.9
    schema = client.get("/openapi.json").json()
    assert "accept_any_image" in json.dumps(schema["paths"]["/v1/segment"]) and "image_kind" in schema["info"]["description"]
