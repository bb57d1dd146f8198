"""The web page end to end in real headless Chromium (Debian's package, driven by Playwright).

Uploads a real HAM10000 image, waits for the lesion outline, checks the measurements table,
the class bars and the downloaded mask's size, and saves a screenshot (into
$DERMASEG_SCREENSHOT_DIR when set, else the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from support import HAM10000

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMAGE_ID = "ISIC_0025964"   # a melanoma, 200x150 (not square)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    uvicorn = pytest.importorskip("uvicorn")
    from dermaseg.serve.app import create_app
    from dermaseg.serve.engines import Engines
    from dermaseg.serve.limits import Limits

    app = create_app(Engines.load(threads=2), Limits(workers=2, queue=8, timeout_s=120))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_upload_outline_measurements_download(shared_data, browser, server_url, tmp_path):
    image_path = HAM10000 / "HAM10000_images" / f"{IMAGE_ID}.jpg"
    width, height = Image.open(image_path).size
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    offsite = []
    page.on("request", lambda req: None if req.url.startswith(server_url) or req.url.startswith(("blob:", "data:"))
            else offsite.append(req.url))
    page.goto(server_url + "/")
    page.set_input_files("#file", str(image_path))

    page.wait_for_selector("#outline polygon", timeout=60_000)
    page.wait_for_selector("#classes .bar-row", timeout=60_000)
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Done')", timeout=60_000)
    assert page.get_attribute("#outline", "viewBox") == f"0 0 {width} {height}"
    assert len(page.get_attribute("#outline polygon", "points").split()) >= 3

    # the measurements table: one row per field, with a number, its unit and a one-line explanation
    area = page.locator('#measurements tr[data-field="area_px"] td')
    assert area.nth(0).inner_text() == "Area"
    assert int(area.nth(1).inner_text().replace(",", "")) > 100
    assert area.nth(2).inner_text() == "px²" and area.nth(3).inner_text()
    assert page.locator("#measurements tbody tr").count() >= 12
    assert page.locator('#measurements tr[data-field="max_feret_diameter_px"] td').nth(2).inner_text() == "px"

    # class probabilities: seven bars, the predicted one marked; the triage point and the prediction set
    assert page.locator("#classes .bar-row").count() == 7
    assert page.locator("#classes .bar-row.predicted").count() == 1
    assert page.inner_text("#triage").startswith(("Refer", "Routine"))
    predicted = page.get_attribute("#classes .bar-row.predicted", "data-class")
    assert f"{predicted} (" in page.inner_text("#prediction-set")
    assert "dermoscopy" in page.inner_text("#image-info") and page.locator("#kind-note").is_hidden()

    # downloads: the mask at the image's own size, and the JSON
    with page.expect_download() as info:
        page.click("#download-mask")
    download = info.value
    assert download.suggested_filename == f"{IMAGE_ID}_segmentation.png"
    mask_path = tmp_path / download.suggested_filename
    download.save_as(mask_path)
    mask = Image.open(mask_path)
    assert mask.size == (width, height) and mask.mode == "L"

    with page.expect_download() as info:
        page.click("#download-json")
    saved = tmp_path / "result.json"
    info.value.save_as(saved)
    result = json.loads(saved.read_text())
    assert result["segmentation"]["width"] == width and result["classification"]["predicted"]

    shot_dir = Path(os.environ.get("DERMASEG_SCREENSHOT_DIR", tmp_path))
    shot_dir.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot_dir / "serve_page.png"), full_page=True)
    assert (shot_dir / "serve_page.png").stat().st_size > 10_000
    assert not offsite, f"the page fetched from other hosts: {offsite}"
    assert "error" not in (page.get_attribute("#status", "class") or "")
    context.close()


def test_page_reports_a_refused_file(browser, server_url, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photograph")
    page = browser.new_page()
    page.goto(server_url + "/")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "not an image" in page.inner_text("#status")
    assert page.locator("#result").is_hidden()
    page.close()


def test_page_refuses_a_photograph_that_is_not_of_skin(shared_data, browser, server_url, tmp_path):
    """An object photograph: the page says so instead of drawing an outline or a diagnosis."""
    photo = shared_data / "not_dermoscopy" / "imagenet_objects" / "n03345487_fire_engine.jpg"
    page = browser.new_page()
    page.goto(server_url + "/")
    page.set_input_files("#file", str(photo))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Not analysed')",
                           timeout=60_000)
    assert "does not look like a skin-lesion photograph" in page.inner_text("#kind-note")
    assert page.locator("#kind-note").is_visible()
    assert page.locator("#outline polygon").count() == 0
    assert page.locator("#classes .bar-row").count() == 0 and page.locator("#panels").is_hidden()
    assert "error" not in (page.get_attribute("#status", "class") or "")
    shot_dir = Path(os.environ.get("DERMASEG_SCREENSHOT_DIR", tmp_path))
    shot_dir.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot_dir / "serve_page_refused.png"), full_page=True)
    page.close()
