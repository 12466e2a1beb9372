"""The playground under load: latency of predict + all feature maps, and concurrent clients.

Starts `convlab serve` on a free loopback port, then
  1. sends `--requests` sequential POST /api/predict with one 28×28 image and reports the
     median and 95th percentile; side by side, in this process, the bare model forward
     with every layer captured (`introspect.capture`), the floor the server builds on;
  2. runs `--clients` concurrent keep-alive clients for `--seconds` and reports requests,
     errors and latency percentiles.

    python benchmarks/web.py [--requests 300] [--clients 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import socket
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ops import hardware


def body() -> bytes:
    a = np.zeros((28, 28), dtype=np.uint8)
    a[5:23, 9:19] = 220
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return json.dumps({"image": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}).encode()


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def post(conn, payload):
    t = time.perf_counter()
    conn.request("POST", "/api/predict", payload, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    return time.perf_counter() - t, r.status, data


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0)
    a = p.parse_args(argv)
    print(hardware(torch.device("cpu")))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "convlab", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        payload = body()

        # 1. sequential latency, and the bare model with every layer captured, in this process
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(10):
            post(conn, payload)
        lat = []
        for _ in range(a.requests):
            dt, status, _ = post(conn, payload)
            assert status == 200
            lat.append(dt)
        from convlab.checkpoint import load_checkpoint
        from convlab.introspect import capture

        ck = load_checkpoint()
        x = torch.rand(1, 1, 28, 28)
        bare = []
        for i in range(a.requests + 10):
            t = time.perf_counter()
            capture(ck.model, x)
            if i >= 10:
                bare.append(time.perf_counter() - t)
        print(f"\n1. one 28×28 image, {a.requests} sequential requests (ms)\n")
        print(f"{'':<46s} {'median':>7s} {'p95':>7s}")
        print(
            f"{'POST /api/predict (decode, model, all maps, JSON)':<46s} {1e3 * statistics.median(lat):7.2f} "
            f"{1e3 * pct(lat, 95):7.2f}"
        )
        print(
            f"{'bare model forward, every layer captured':<46s} {1e3 * statistics.median(bare):7.2f} "
            f"{1e3 * pct(bare, 95):7.2f}"
        )

        # 2. concurrent clients
        results, errors = [], []
        stop = time.perf_counter() + a.seconds

        def client():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.perf_counter() < stop:
                try:
                    dt, status, _ = post(c, payload)
                    (results if status == 200 else errors).append(dt if status == 200 else status)
                except OSError as e:
                    errors.append(repr(e))
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        threads = [threading.Thread(target=client) for _ in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"\n2. {a.clients} concurrent clients for {a.seconds:g} s\n")
        print(
            f"requests {len(results)}, errors {len(errors)}, {len(results) / a.seconds:.0f} requests/s, "
            f"latency median {1e3 * statistics.median(results):.1f} ms, p95 {1e3 * pct(results, 95):.1f} ms"
        )
        return 1 if errors else 0
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
