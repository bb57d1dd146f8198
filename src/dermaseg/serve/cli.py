"""`dermaseg serve`: the web page and HTTP API on this machine."""

from __future__ import annotations

from dermaseg.core.cliutil import HelpFormatter, add_runtime_options, runtime_options
from dermaseg.core.errors import UserError
from dermaseg.serve.limits import MB, Limits, default_workers


def register(subparsers) -> None:
    defaults = Limits()
    p = subparsers.add_parser(
        "serve", help="web page and HTTP API (segment, measure, classify)",
        description="Serve the web page at http://HOST:PORT/ and the HTTP API under /v1 (OpenAPI at /docs). "
                    "Binds 127.0.0.1 by default: only this machine can reach it.",
        formatter_class=HelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--model", default=None, help="segmentation model: shipped name, .pt/.ckpt or .onnx "
                                                 "(default: the shipped one, its .onnx export when present)")
    p.add_argument("--classifier", default=None, help="classifier: shipped name or file (default: the shipped one)")
    p.add_argument("--no-classifier", action="store_true", help="segmentation only (/v1/classify answers 503)")
    p.add_argument("--workers", type=int, default=default_workers(), help="images worked on at once, each in its own thread")
    p.add_argument("--queue", type=int, default=defaults.queue,
                   help="requests that may wait for a worker; more get 503 with Retry-After")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads per network pass (default: cores / workers)")
    add_runtime_options(p)
    p.add_argument("--timeout", type=float, default=defaults.timeout_s, help="seconds per request before 504")
    p.add_argument("--read-timeout", type=float, default=defaults.read_timeout_s,
                   help="seconds an upload may stall before 408")
    p.add_argument("--upload-timeout", type=float, default=defaults.upload_timeout_s,
                   help="seconds the whole upload may take before 408")
    p.add_argument("--header-timeout", type=float, default=defaults.header_timeout_s,
                   help="seconds a request's headers may take before 408")
    p.add_argument("--max-connections", type=int, default=defaults.max_connections,
                   help="open connections at once; one more is answered 503")
    p.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_bytes / MB, help="largest upload")
    p.add_argument("--max-megapixels", type=float, default=defaults.max_pixels / 1e6,
                   help="largest image, read from its header before decoding")
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    import logging
    import os

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        limits = Limits(max_upload_bytes=int(args.max_upload_mb * MB), max_pixels=int(args.max_megapixels * 1e6),
                        workers=args.workers, queue=args.queue, timeout_s=args.timeout,
                        read_timeout_s=args.read_timeout, upload_timeout_s=args.upload_timeout,
                        header_timeout_s=args.header_timeout, max_connections=args.max_connections)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    threads = args.threads or max(1, (os.cpu_count() or 1) // limits.workers)

    import uvicorn

    from dermaseg.serve.app import create_app
    from dermaseg.serve.connections import guarded_protocol
    from dermaseg.serve.engines import Engines

    try:
        engines = Engines.load(args.model, args.classifier, with_classifier=not args.no_classifier,
                               threads=threads, runtime=runtime_options(args))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    app = create_app(engines, limits)
    print(f"dermaseg: serving on http://{args.host}:{args.port}/ (API docs at /docs); Ctrl+C to stop", flush=True)
    # access_log off: the app logs one line per request itself, with its timing.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="info",
                http=guarded_protocol(limits))
    return 0
