"""Load test of `dermaseg serve` on 127.0.0.1: requests/s, p50/p95 latency and the server's memory
per concurrency.

Starts its own server (a subprocess, so its memory is measured apart from the client), sends a
fixed number of POST /v1/segment (or /v1/classify, --endpoint classify) requests with one
6-megapixel JPEG at each concurrency level, and stops the server. The server's resident memory
is read when 10 %, 50 % and 100 % of a level's requests are answered: under sustained load
(`--requests 1000`) it shows whether memory grows. Bounded: --requests per level and --time-limit per level (requests not
started by then are not sent; those in flight are waited for up to --request-timeout).
Every request is counted: 200, 503 (refused, busy), another status, or lost (no answer).

    python benchmarks/serve_load.py                         # concurrency 1, 4, 16; 40 requests each
    python benchmarks/serve_load.py --requests 3 --concurrency 1,4 --time-limit 60   # a smoke run
    python benchmarks/serve_load.py --endpoint classify --concurrency 4 --requests 1000 --time-limit 1800

Run it on an otherwise idle machine: the figures are the server's, and a training job on the
same cores halves them.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from dermaseg.serve.limits import default_workers

HOST = "127.0.0.1"   # never another host: this is a local benchmark
REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "isic2017" / "ISIC-2017_Training_Data" / "ISIC_0000000.jpg"


def six_megapixel_jpeg(width: int = 3000, height: int = 2000, seed: int = 0) -> bytes:
    """A 3000x2000 JPEG: a real dermoscopic image upscaled (a synthetic lesion if the data is
    absent), with fine noise so it does not compress like a smooth drawing (~1 MB)."""
    if SAMPLE.is_file():
        base = Image.open(SAMPLE).convert("RGB").resize((width, height), Image.BICUBIC)
        pixels = np.asarray(base, dtype=np.int16)
    else:
        yy, xx = np.mgrid[0:height, 0:width]
        inside = ((yy - height / 2) / (height / 4)) ** 2 + ((xx - width / 2) / (width / 5)) ** 2 <= 1
        pixels = np.where(inside[..., None], (110, 70, 50), (205, 160, 140)).astype(np.int16)
    noise = np.random.default_rng(seed).normal(0, 4, pixels.shape).astype(np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def multipart(data: bytes, filename: str = "photo.jpg") -> tuple[bytes, str]:
    boundary = "dermaseg-load-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def request(port: int, path: str, body: bytes | None = None, content_type: str = "", timeout: float = 120):
    """(status or None when lost, seconds)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - t0
    except (OSError, http.client.HTTPException):
        return None, time.perf_counter() - t0
    finally:
        conn.close()


def start_server(args, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "dermaseg.cli", "serve", "--host", HOST, "--port", str(port),
           "--workers", str(args.workers), "--queue", str(args.queue), "--timeout", str(args.request_timeout)]
    if args.endpoint == "segment":
        cmd += ["--no-classifier"]
    if args.model:
        cmd += ["--model", args.model]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    log = open(args.server_log, "w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}; see {args.server_log}")
        status, _ = request(port, "/v1/health", timeout=2)
        if status == 200:
            return server
        time.sleep(0.3)
    server.kill()
    raise RuntimeError(f"the server did not answer within 120 s; see {args.server_log}")


def peak_rss_mb(pid: int, field: str = "VmHWM") -> float | None:
    """The process's peak resident memory (VmHWM; VmRSS: now), Linux only."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run_level(port: int, body: bytes, content_type: str, concurrency: int, n: int, time_limit: float,
              timeout: float, path: str = "/v1/segment", server_pid: int | None = None) -> dict:
    results: list[tuple[int | None, float]] = []
    marks = {max(1, round(n * share)): f"rss_mb_at_{int(share * 100)}pct" for share in (0.1, 0.5, 1.0)}
    rss: dict[str, float | None] = {}
    lock = threading.Lock()
    sent = 0
    stop_at = time.monotonic() + time_limit

    def client():
        nonlocal sent
        while True:
            with lock:
                if sent >= n or time.monotonic() > stop_at:
                    return
                sent += 1
            outcome = request(port, path, body, content_type, timeout)
            with lock:
                results.append(outcome)
                if len(results) in marks and server_pid is not None:
                    rss[marks[len(results)]] = peak_rss_mb(server_pid, "VmRSS")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = [s for st, s in results if st == 200]
    counts = {"200": len(ok), "503": sum(st == 503 for st, _ in results),
              "other": sum(st not in (200, 503, None) for st, _ in results),
              "lost": sum(st is None for st, _ in results)}
    pct = (lambda q: round(float(np.percentile(ok, q)), 3)) if ok else (lambda q: None)
    return {"concurrency": concurrency, "sent": sent, "answered": len(results) - counts["lost"], **counts,
            "wall_s": round(wall, 2), "ok_per_s": round(len(ok) / wall, 2) if wall else None,
            "p50_s": pct(50), "p95_s": pct(95), "max_s": round(max(ok), 3) if ok else None, **rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated client counts")
    parser.add_argument("--requests", type=int, default=40, help="requests per concurrency level")
    parser.add_argument("--time-limit", type=float, default=180, help="seconds per level before no new request")
    parser.add_argument("--request-timeout", type=float, default=120, help="client and server timeout per request")
    parser.add_argument("--endpoint", default="segment", choices=["segment", "classify"],
                        help="POST /v1/segment (the server without its classifier) or /v1/classify")
    parser.add_argument("--model", default=None, help="segmentation model for the server (default: shipped)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="server workers (its default)")
    parser.add_argument("--queue", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="threads per network pass (server default)")
    parser.add_argument("--image", type=Path, default=None, help="JPEG to send (default: a 6-Mpx one made here)")
    parser.add_argument("--server-log", default=str(Path(tempfile.gettempdir()) / "dermaseg_serve_load.log"))
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    data = args.image.read_bytes() if args.image else six_megapixel_jpeg()
    w, h = Image.open(io.BytesIO(data)).size
    body, content_type = multipart(data)
    print(f"image {w}x{h} ({w * h / 1e6:.1f} Mpx, {len(data) / 1e6:.2f} MB JPEG); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; workers {args.workers}, queue {args.queue}; "
          f"POST /v1/{args.endpoint}")
    path = f"/v1/{args.endpoint}"
    port = free_port()
    server = start_server(args, port)
    rows = []
    try:
        status, seconds = request(port, path, body, content_type, args.request_timeout)  # warm-up
        print(f"warm-up request: {status} in {seconds:.2f} s")
        for c in levels:
            row = run_level(port, body, content_type, c, args.requests, args.time_limit, args.request_timeout,
                            path, server.pid)
            row["server_peak_rss_mb"] = peak_rss_mb(server.pid)
            rows.append(row)
            print(json.dumps(row))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    print("\n| concurrency | requests | 200 | 503 | other | lost | req/s (200) | p50 s | p95 s | server peak RSS MB "
          "| RSS at 10 / 50 / 100 % MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        over_time = " / ".join(str(round(r[k])) if r.get(k) else "-" for k in
                               ("rss_mb_at_10pct", "rss_mb_at_50pct", "rss_mb_at_100pct"))
        print(f"| {r['concurrency']} | {r['sent']} | {r['200']} | {r['503']} | {r['other']} | {r['lost']} | "
              f"{r['ok_per_s']} | {r['p50_s']} | {r['p95_s']} | {r['server_peak_rss_mb'] and round(r['server_peak_rss_mb'])} "
              f"| {over_time} |")
    if args.out:
        args.out.write_text(json.dumps({"image": [w, h], "bytes": len(data), "endpoint": path, "workers": args.workers,
                                        "queue": args.queue, "levels": rows}, indent=2))
    return 0 if all(r["lost"] == 0 and r["other"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
