"""The FastAPI application: the web page at /, the versioned API under /v1, OpenAPI at /docs.

    POST /v1/segment   multipart `file` -> JSON (size, lesion found, measurements, outline,
                       timings, model); ?format=png -> the mask PNG; ?overlay=1 -> the overlay PNG
    POST /v1/classify  multipart `file` -> class probabilities, predicted class, model
    GET  /v1/health    GET /v1/models

Every error is JSON {"error": {"status", "message"}} with a 4xx/5xx status and no traceback.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import quote
from typing import Literal

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dermaseg import __version__
from dermaseg.data.loading import WORK_DECODE_SIDE
from dermaseg.measure.lesions import MAX_MM_PER_PIXEL
from dermaseg.serve import service
from dermaseg.serve.bodyguard import BodyGuard
from dermaseg.serve.decode import decode_upload
from dermaseg.serve.errors import ApiError, error_body
from dermaseg.serve.limits import Limits
from dermaseg.serve.pool import WorkerPool

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("dermaseg.serve")

DESCRIPTION = """Segment, measure and classify dermoscopic images. Research tool, not a diagnostic device.

Upload one image per request as multipart/form-data, field `file` (JPEG, PNG, BMP, TIFF, WebP or GIF).

Every answer about an image carries `image_kind` (`dermoscopy`, `clinical`: a close-up photograph of
skin without a dermatoscope, or `other`) and `image_kind_score` (how sure, 0-1). An image of kind
`other` is not segmented or classified: the answer is **422** with `error.message` saying it does not
look like a skin-lesion photograph, and `image_kind` beside `error`; `?accept_any_image=true`
processes it anyway (still labelled `other`). A `clinical` image is processed, with a warning in
`warnings`: the models were made for and measured on dermoscopy."""

ACCEPT_ANY = "process an image of kind other (not a skin-lesion photograph) anyway; it stays labelled other"


def create_app(engines, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    pool = WorkerPool(limits.workers, limits.queue, limits.timeout_s, limits.retry_after_s)
    app = FastAPI(title="dermaseg", version=__version__, description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.engines, app.state.limits, app.state.pool = engines, limits, pool
    app.router.on_shutdown.append(pool.shutdown)
    _install_error_handlers(app)
    app.add_middleware(BodyGuard, max_bytes=limits.max_upload_bytes, read_timeout_s=limits.read_timeout_s,
                       upload_timeout_s=limits.upload_timeout_s)
    _install_request_log(app)  # added last, so outermost: it logs the body guard's 413/408 too
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def read_upload(file: UploadFile) -> tuple[bytes, str]:
        # The body-size middleware already stopped anything over the limit; this guards the part itself.
        data = await file.read(limits.max_upload_bytes + 1)
        if len(data) > limits.max_upload_bytes:
            raise ApiError(413, f"file is larger than the limit of {limits.max_upload_bytes / 2**20:g} MB")
        return data, Path(file.filename or "upload").stem or "upload"

    def decode(data: bytes, min_side: int, name: str):
        t0 = time.perf_counter()
        item = decode_upload(data, max_pixels=limits.max_pixels, min_side=min_side, name=name)
        return item, round((time.perf_counter() - t0) * 1000, 2)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/v1/health", tags=["service"], summary="Is the server up, and what it holds")
    async def health():
        return {"status": "ok", "version": __version__, "segmentation": engines.segmenter.name,
                "classification": engines.classifier is not None,
                "workers": limits.workers, "queue": limits.queue, "in_flight": pool.in_flight}

    @app.get("/v1/models", tags=["service"], summary="The models served: name, version, task, input size, "
                                                     "held-out figures")
    async def models():
        return {"models": engines.models()}

    @app.post("/v1/segment", tags=["inference"], summary="Segment and measure a lesion",
              responses={200: {"content": {"application/json": {}, "image/png": {}},
                               "description": "JSON, or a PNG with ?format=png (mask) or ?overlay=1"},
                         **_ERROR_RESPONSES})
    async def segment(file: UploadFile = File(..., description="the dermoscopic image"),
                      format: Literal["json", "png"] = Query("json", description="png: the mask, 0/255, "
                                                                                 "at the image's own size"),
                      overlay: bool = Query(False, description="return the overlay PNG (the outline over the "
                                                               "image, long side at most 1600 px)"),
                      mm_per_pixel: float | None = Query(None, gt=0, le=MAX_MM_PER_PIXEL, allow_inf_nan=False,
                                                                  description="scale in mm per pixel: adds *_mm fields"),
                      accept_any_image: bool = Query(False, description=ACCEPT_ANY)):
        data, image_id = await read_upload(file)
        want = "overlay" if overlay else ("mask" if format == "png" else "json")
        min_side = max(WORK_DECODE_SIDE, engines.segmenter.input_size)

        def job():
            item, decode_ms = decode(data, min_side, image_id)
            return service.segment(engines, item, image_id=image_id, mm_per_pixel=mm_per_pixel, want=want,
                                   accept_any_image=accept_any_image), decode_ms

        (answer, decode_ms), queue_ms = await pool.run(job)
        if want != "json":
            name = f"{image_id}_{'overlay' if overlay else 'segmentation'}.png"
            return Response(answer, media_type="image/png",
                            headers={"Content-Disposition": attachment(name)})
        answer["timings_ms"].update(decode_ms=decode_ms, queue_ms=queue_ms)
        return answer

    @app.post("/v1/classify", tags=["inference"], summary="Class probabilities of a lesion",
              responses=_ERROR_RESPONSES)
    async def classify(file: UploadFile = File(..., description="the dermoscopic image"),
                       accept_any_image: bool = Query(False, description=ACCEPT_ANY)):
        if engines.classifier is None:
            raise ApiError(503, f"no classifier is loaded: {engines.classifier_error}")
        data, image_id = await read_upload(file)
        min_side = max(640, 4 * engines.classifier.pipeline.size)

        def job():
            item, decode_ms = decode(data, min_side, image_id)
            return service.classify(engines, item, image_id=image_id, accept_any_image=accept_any_image), decode_ms

        (answer, decode_ms), queue_ms = await pool.run(job)
        answer["timings_ms"].update(decode_ms=decode_ms, queue_ms=queue_ms)
        return answer

    return app


_ERROR_RESPONSES = {
    400: {"description": "empty file"},
    413: {"description": "upload or decoded image too large"},
    415: {"description": "not an image, or an unsupported type"},
    408: {"description": "the upload stalled"},
    422: {"description": "image cannot be decoded, a bad parameter, or an image of kind other (not a skin-lesion "
                         "photograph; `image_kind` beside `error`)"},
    503: {"description": "server busy (see Retry-After) or no classifier loaded"},
    504: {"description": "processing took longer than the server's limit"},
}


def _install_error_handlers(app: FastAPI) -> None:
    def answer(status: int, message: str, headers=None, fields=None) -> JSONResponse:
        return JSONResponse(error_body(status, message, fields), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return answer(exc.status, exc.message, exc.headers, exc.fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return answer(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return answer(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # The traceback goes to the server log, never to the client.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return answer(500, f"internal error ({type(exc).__name__})")


def _install_request_log(app: FastAPI) -> None:
    @app.middleware("http")
    async def one_line_per_request(request: Request, call_next):
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            client = request.client.host if request.client else "-"
            query = f"?{request.url.query}" if request.url.query else ""
            log.info('%s "%s %s%s" %d %.1f ms', client, request.method, request.url.path, query, status,
                     (time.perf_counter() - t0) * 1000)


def attachment(name: str) -> str:
    """Content-Disposition for a download named `name` (RFC 6266): an ASCII fallback without quotes
    or control characters, and the exact name UTF-8 encoded in filename* (RFC 8187)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
