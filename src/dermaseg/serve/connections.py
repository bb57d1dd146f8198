"""Bounds on the connections themselves, before a request reaches the app.

uvicorn waits as long as a client likes for request headers (a client sending one byte a
second holds its connection open for good), answers malformed or oversized headers in plain
text, and accepts any number of connections. `guarded_protocol(limits)` is uvicorn's h11
protocol with three bounds added:
- the headers of each request must arrive within `header_timeout_s` of the connection (or of
  the previous answer on a kept-alive one), else 408;
- at most `max_connections` are open at once: one more is answered 503 at once and closed;
- malformed or oversized headers get the API's JSON error shape (400), like every other error.
The body's own bounds (size, stalls, total time) are the BodyGuard middleware's.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from dermaseg.serve.errors import error_body
from dermaseg.serve.limits import Limits

_PHRASES = {400: "Bad Request", 408: "Request Timeout", 503: "Service Unavailable"}


class GuardedH11Protocol(H11Protocol):
    header_timeout_s: float = 10.0
    max_connections: int = 64

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._header_deadline = None
        if len(self.connections) > self.max_connections:
            self._refuse(503, f"more than {self.max_connections} open connections: try again shortly")
            return
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "malformed or oversized HTTP request headers")

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        waiting_after = self.cycle   # the answered request (None on a new connection)

        def expire() -> None:
            idle = self.cycle is waiting_after and (self.cycle is None or self.cycle.response_complete)
            if idle and not self.transport.is_closing():
                self._refuse(408, f"the request headers did not arrive within {self.header_timeout_s:g} s")

        self._header_deadline = self.loop.call_later(self.header_timeout_s, expire)

    def _refuse(self, status: int, message: str) -> None:
        """Answer with the API's JSON error and close; no request is in flight, so no h11 state matters."""
        body = json.dumps(error_body(status, message)).encode()
        head = (f"HTTP/1.1 {status} {_PHRASES[status]}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
        self.transport.write(head + body)
        self.transport.close()


def guarded_protocol(limits: Limits) -> type[GuardedH11Protocol]:
    """The protocol class for `uvicorn.run(http=...)`, with this server's limits."""
    return type("DermasegH11Protocol", (GuardedH11Protocol,),
                {"header_timeout_s": limits.header_timeout_s, "max_connections": limits.max_connections})
