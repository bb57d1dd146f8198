"""ASGI middleware that refuses request bodies over a size limit with 413, before they are parsed.

A declared Content-Length over the limit is refused without reading a byte; a chunked body is
counted as it arrives and cut off as soon as it passes the limit, so an oversized upload is
never spooled to disk in full.
"""

from __future__ import annotations

import json

from dermaseg.serve.errors import error_body

# Multipart framing (boundaries, part headers) around the file itself.
MULTIPART_SLACK = 64 * 1024


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.max_body = max_bytes + MULTIPART_SLACK

    async def _refuse(self, send) -> None:
        body = json.dumps(error_body(413, f"upload is larger than the limit of {self.max_bytes / 2**20:g} MB"))
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body.encode()})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return await self._refuse(send)

        seen = 0
        state = {"started": False, "refused": False}

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    if not state["started"]:
                        state["refused"] = True
                        await self._refuse(send)
                    raise _TooLarge()
            return message

        async def guarded_send(message):
            if state["refused"]:
                return  # we have answered already; drop what the app says about the aborted body
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
