"""ASGI middleware that guards the request body before it is parsed: size and arrival time.

- Size: a declared Content-Length over the limit is refused (413) without reading a byte; a
  chunked body is counted as it arrives and cut off as soon as it passes the limit, so an
  oversized upload is never spooled to disk in full.
- Time: each piece of the body must arrive within `read_timeout_s`, and the whole body within
  `upload_timeout_s` (408 either way), so a client that trickles its upload, however steadily,
  cannot hold a connection and its buffers open for longer.
"""

from __future__ import annotations

import asyncio
import json
import time

from dermaseg.serve.errors import error_body

# Multipart framing (boundaries, part headers) around the file itself.
MULTIPART_SLACK = 64 * 1024


class _Refused(Exception):
    pass


class BodyGuard:
    def __init__(self, app, max_bytes: int, read_timeout_s: float = 10.0, upload_timeout_s: float = 60.0):
        self.app = app
        self.max_bytes = max_bytes
        self.max_body = max_bytes + MULTIPART_SLACK
        self.read_timeout_s = read_timeout_s
        self.upload_timeout_s = upload_timeout_s

    @staticmethod
    async def _answer(send, status: int, message: str) -> None:
        body = json.dumps(error_body(status, message)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _too_large(self) -> tuple[int, str]:
        return 413, f"upload is larger than the limit of {self.max_bytes / 2**20:g} MB"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return await self._answer(send, *self._too_large())

        state = {"seen": 0, "done": False, "started": False, "refused": False}
        deadline = time.monotonic() + self.upload_timeout_s

        async def refuse(status: int, message: str):
            if not state["started"]:
                state["refused"] = True
                await self._answer(send, status, message)
            raise _Refused()

        async def guarded_receive():
            if state["done"]:
                return await receive()  # after the body: disconnect notices, no deadline
            left = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(self.read_timeout_s, left)))
            except asyncio.TimeoutError:
                if left <= self.read_timeout_s:
                    await refuse(408, f"the upload took longer than {self.upload_timeout_s:g} s")
                await refuse(408, f"the upload stalled: no data for {self.read_timeout_s:g} s")
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                state["done"] = not message.get("more_body", False)
                if state["seen"] > self.max_body:
                    await refuse(*self._too_large())
            return message

        async def guarded_send(message):
            if state["refused"]:
                return  # answered already; drop what the app says about the aborted body
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except _Refused:
            pass
