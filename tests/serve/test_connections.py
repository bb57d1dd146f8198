"""The connection bounds, on a real uvicorn server over real sockets: slow headers and trickled
bodies are cut off, connections are capped, malformed headers get the JSON error shape."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

uvicorn = pytest.importorskip("uvicorn")

from dermaseg.serve.limits import Limits  # noqa: E402

LIMITS = Limits(header_timeout_s=0.5, read_timeout_s=0.4, upload_timeout_s=1.0, max_connections=4)


async def _echo(scope, receive, send):
    """A stand-in app: reads the whole body, answers its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server():
    from dermaseg.serve.bodyguard import BodyGuard
    from dermaseg.serve.connections import guarded_protocol

    app = BodyGuard(_echo, max_bytes=1 << 20, read_timeout_s=LIMITS.read_timeout_s,
                    upload_timeout_s=LIMITS.upload_timeout_s)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=guarded_protocol(LIMITS), log_level="error",
                            lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield port
    srv.should_exit = True
    thread.join(5)


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def _answer(s: socket.socket) -> tuple[int, dict | bytes]:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body) if b"application/json" in head.lower() else body


def test_a_plain_request_is_answered(server):
    s = _connect(server)
    s.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
    assert _answer(s) == (200, b"5")


def test_headers_sent_a_byte_at_a_time_get_408(server):
    s = _connect(server)
    started = time.monotonic()
    for byte in b"POST / HTTP/1.1\r\nhost: x\r\n":
        try:
            s.sendall(bytes([byte]))
        except OSError:
            break
        time.sleep(0.05)
        if time.monotonic() - started > 3:
            break
    status, body = _answer(s)
    assert status == 408 and "headers" in body["error"]["message"]
    assert time.monotonic() - started < 2


def test_a_body_trickled_steadily_is_cut_off_at_the_upload_deadline(server):
    s = _connect(server)
    s.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n")
    started = time.monotonic()
    try:
        while time.monotonic() - started < 3:
            s.sendall(b"x")          # never silent for read_timeout_s, but never done either
            time.sleep(0.1)
    except OSError:
        pass
    status, body = _answer(s)
    assert status == 408 and "longer than 1 s" in body["error"]["message"]


def test_one_connection_over_the_cap_is_answered_503_at_once(server):
    held = [_connect(server) for _ in range(LIMITS.max_connections)]
    time.sleep(0.1)
    extra = _connect(server)
    status, body = _answer(extra)
    assert status == 503 and "connections" in body["error"]["message"]
    for s in held:
        s.close()


def test_malformed_and_oversized_headers_get_the_json_error_shape(server):
    for pieces in ([b"NOT HTTP AT ALL\r\n\r\n"],
                   [b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 40000, b"a" * 40000 + b"\r\n\r\n"]):
        s = _connect(server)
        try:
            for piece in pieces:
                s.sendall(piece)
                time.sleep(0.05)
        except OSError:
            pass                     # the server may close before the last piece
        status, body = _answer(s)
        assert status == 400 and body["error"]["status"] == 400
