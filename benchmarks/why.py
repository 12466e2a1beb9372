"""Attribution speed for the playground: saliency, Grad-CAM, SmoothGrad and occlusion on one image.

For one model (default: lenet-modern), the same real test image is explained repeatedly
  1. through the library (`convlab.attribution.attribute`), beside a plain forward pass;
  2. through the playground's HTTP API (POST /api/why to `convlab serve` in its own process),
     beside POST /api/predict of the same image (the baseline: decoding, the model, every map);
median and p95 per method. `--mistakes` also times `convlab mistakes` over the whole test set as
a fresh process. Targets (2-core CPU, API): saliency and Grad-CAM p95 ≤ 20 ms, occlusion (4×4
window) p95 ≤ 100 ms; `convlab mistakes` ≤ 15 s.

    python benchmarks/why.py [--checkpoint lenet-modern-fashion-mnist] [--repeats 100] [--mistakes]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ops import hardware
from web import pct, request, server

from convlab.attribution import attribute
from convlab.checkpoint import load_checkpoint
from convlab.data.loader import normalize
from convlab.evaluate import checkpoint_test_set


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="lenet-modern-fashion-mnist")
    p.add_argument("--repeats", type=int, default=100)
    p.add_argument("--mistakes", action="store_true", help="also time `convlab mistakes` over the test set")
    a = p.parse_args(argv)
    print(hardware(torch.device("cpu")))
    ck = load_checkpoint(a.checkpoint)
    ds = checkpoint_test_set(ck)
    x = normalize(ds.test_x[:1], ck.mean, ck.std)
    model = ck.model.eval()
    rows = {"forward (baseline)": timed(lambda: model(x), a.repeats)}
    for method, options in (
        ("saliency", {}),
        ("gradcam", {}),
        ("smoothgrad", {}),
        ("occlusion", {"window": 4, "stride": 2}),
    ):
        rows[method] = timed(lambda m=method, o=options: attribute(model, x, m, **o), a.repeats)
    print(f"{a.checkpoint}, one {ck.input_shape[1]}×{ck.input_shape[2]} image, {a.repeats} repeats")
    print(f"\n1. the library\n\n{'method':<28}{'median ms':>11}{'p95 ms':>9}")
    for name, ms in rows.items():
        print(f"{name:<28}{statistics.median(ms):>11.2f}{pct(ms, 95):>9.2f}")

    # 2. the same image through the HTTP API, with the server in its own process
    import base64
    import http.client
    import io
    import json

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(ds.test_x[0, 0].numpy()).save(buf, format="PNG")
    image = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    targets = {"saliency": 20, "gradcam": 20, "occlusion": 100}
    missed = False
    print(f"\n2. the HTTP API (convlab serve --checkpoint {a.checkpoint})\n\n{'request':<28}{'median ms':>11}"
          f"{'p95 ms':>9}  target p95")  # fmt: skip
    with server("--checkpoint", a.checkpoint) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def call(path, body):
            def go():
                _, status, data = request(conn, "POST", path, json.dumps(body).encode())
                assert status == 200, data

            return go

        api = {"POST /api/predict (baseline)": timed(call("/api/predict", {"image": image}), a.repeats)}
        for method in ("saliency", "gradcam", "smoothgrad", "occlusion"):
            api[f"POST /api/why {method}"] = timed(call("/api/why", {"image": image, "method": method}), a.repeats)
    for name, ms in api.items():
        target = targets.get(name.rsplit(" ", 1)[-1])
        missed |= target is not None and pct(ms, 95) > target
        print(f"{name:<28}{statistics.median(ms):>11.2f}{pct(ms, 95):>9.2f}  {f'≤ {target}' if target else ''}")
    if a.mistakes:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            r = subprocess.run(
                [sys.executable, "-m", "convlab", "mistakes", "--checkpoint", a.checkpoint, "--out", d],
                capture_output=True,
                text=True,
            )
            took = time.perf_counter() - t
        status = "ok" if r.returncode == 0 else f"failed: {r.stderr.strip()[:200]}"
        missed |= took > 15 or r.returncode != 0
        print(f"\n3. convlab mistakes over {len(ds.test_y):,} test images (a fresh process, 5 grids): "
              f"{took:.1f} s ({status}; target ≤ 15 s)")  # fmt: skip
    print("\nall targets met" if not missed else "\nSOME TARGETS MISSED")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
