"""Shared test fixtures: the CLI as a subprocess, a local HTTP server, small generated data."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # a shell that ran pytest in the background (`&`) ignores
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C; the processes tests start must not inherit that
if os.environ.get("PYTEST_XDIST_WORKER"):  # (scripts/test.sh: `-n 2`) two workers on two cores: one
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # thread each, for them and the processes they start

import torch  # (after OMP_NUM_THREADS)
from helpers.strict_ci import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401  (CI: no skips)

REPO = Path(__file__).resolve().parents[1]


# The files that take longest (docs/ci.md), run first: pytest-xdist (`--dist loadfile
# --no-loadscope-reorder`, scripts/test.sh) hands each worker a file at a time in collection order,
# so a long file started last would end the run on one worker while the other waits.
LONGEST_FIRST = (
    "test_reliability.py", "test_attribution.py", "test_lab.py", "test_distributed.py", "test_benchmarks.py",
    "test_zoo.py", "test_elastic.py", "test_web_training.py", "test_resume.py", "test_user_model.py",
    "test_bundled.py", "test_batches.py", "test_web_classes.py", "test_web_digits.py", "test_train.py",
)  # fmt: skip


def pytest_collection_modifyitems(config, items):
    """The longest files first (LONGEST_FIRST; the rest keep their order).

    Tests marked `cuda` run only where asked for by name (`pytest -m cuda`, on a GPU machine).
    Any other selection, `-m "not slow"` and CI's plain run included, deselects them: CI has no
    GPU and turns every skip into a failure, and a `-m` given on the command line replaces one in
    addopts, so the marker is handled here rather than by `addopts = -m "not cuda"`."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # (stable: each file's own order kept)
    if "cuda" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("cuda") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("cuda")])
        items[:] = kept


def run_cli(*args, env=None, cwd=None, timeout=600):
    """Run `python -m convlab ARGS` and return the CompletedProcess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "convlab", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def run_here(*args) -> subprocess.CompletedProcess:
    """`convlab ARGS` in this process (`convlab.cli.main`, what `python -m convlab` calls): its exit
    code, stdout and stderr, without paying a new interpreter and PyTorch's import (about 3 s of
    CPU). For commands that end in a user mistake; training and process kills stay in run_cli."""
    import io

    from convlab import cli as convlab_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = convlab_cli.main([str(a) for a in args])
        except SystemExit as e:  # argparse's own refusals, as `python -m convlab` would exit
            code = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(["convlab", *map(str, args)], code, out.getvalue(), err.getvalue())


def assert_user_error(r, *words):
    """Exit 2, one line on stderr naming the problem, no traceback."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w.lower() in err.lower(), err


@pytest.fixture
def cli():
    return run_cli


def fashion_folder() -> Path:
    """Where convlab itself finds Fashion-MNIST (`convlab.data.sources.locate`: $CONVLAB_DATA or
    ~/.cache/convlab, then the Debian package's folder); skips (fails under CI) when it finds none."""
    from convlab.data.sources import candidate_dirs, locate

    folder = locate("fashion-mnist")
    if folder is None:
        looked = ", ".join(map(str, candidate_dirs("fashion-mnist")))
        pytest.skip(f"Fashion-MNIST not found (looked in {looked}): `convlab datasets --download fashion-mnist`")
    return folder


def digits_folder() -> Path:
    """Where convlab itself finds the OpenCV digits sheet; skips (fails under CI) without it."""
    from convlab.data.sources import locate

    folder = locate("digits")
    if folder is None:
        pytest.skip("digits.png not found where convlab looks (bash scripts/setup.sh takes it out of opencv-doc)")
    return folder


@pytest.fixture
def fashion_dir():
    return fashion_folder()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict] = {}
    log: ClassVar[list] = []

    def do_GET(self):
        self.log.append(self.path)
        kind, body = self.routes.get(self.path, ("missing", b""))
        if kind == "ok":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "truncate":  # promise the whole body, send half, hang up
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "error":
            self.send_error(500, "server error")
        else:
            self.send_error(404, "not found")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A loopback HTTP server: set `server.routes[path] = (kind, bytes)`; `server.log` lists requests."""
    handler = type("Handler", (_Handler,), {"routes": {}, "log": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.routes, srv.log = handler.routes, handler.log
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def write_idx_folder(folder: Path, x, y, tx, ty) -> Path:
    """An MNIST-style IDX folder (train and t10k pairs) from uint8 (N, 1, H, W) images and labels."""
    from convlab.data.idx import write_idx

    folder.mkdir(parents=True, exist_ok=True)
    for name, t in (
        ("train-images-idx3-ubyte.gz", x[:, 0]),
        ("train-labels-idx1-ubyte.gz", y.to(torch.uint8)),
        ("t10k-images-idx3-ubyte.gz", tx[:, 0]),
        ("t10k-labels-idx1-ubyte.gz", ty.to(torch.uint8)),
    ):
        write_idx(folder / name, t)
    return folder


def interrupt_after_epoch(args, epoch: int) -> subprocess.CompletedProcess:
    """Run `convlab ARGS`, send Ctrl-C (SIGINT) once it prints that `epoch` finished."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "convlab", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out = []
    try:
        for line in proc.stdout:
            out.append(line)
            if line.startswith(f"epoch {epoch:3d}/"):
                proc.send_signal(signal.SIGINT)
                break
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()  # (no-op once it ended; a training that ignored the signal does not outlive the test)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(out) + stdout, stderr)


def make_images(n: int, classes: int, size: int = 28, seed: int = 0):
    """Synthetic but learnable images: class c draws a bright bar at row band c."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randint(0, 40, (n, 1, size, size), generator=g, dtype=torch.uint8)
    band = size // classes
    for c in range(classes):
        x[y == c, :, c * band : (c + 1) * band, 4 : size - 4] = 220
    return x, y


# --- the playground in a real browser --------------------------------------------------------


def chromium(playwright) -> str:
    """A Chromium for Playwright: $CONVLAB_CHROMIUM, one on PATH (Debian's `chromium`), or the one
    `playwright install chromium` downloads; skips (fails under CI) when there is none."""
    import shutil

    found = [os.environ.get("CONVLAB_CHROMIUM")]
    found += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    found.append(playwright.chromium.executable_path)
    for path in found:
        if path and Path(path).is_file():
            return path
    pytest.skip("no Chromium: apt-get install chromium, or `playwright install chromium`")


ARTIFACTS = Path(os.environ.get("CONVLAB_ARTIFACTS", REPO / "artifacts"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def playground(*args):
    """`convlab serve ARGS` on a free port, yielding its URL once /api/info answers."""
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "convlab", "serve", "--port", str(port), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # (a busy 2-core machine: importing PyTorch alone can take a minute)
    while True:
        try:
            urllib.request.urlopen(url + "/api/info", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("playground did not start: " + proc.stdout.read())
            time.sleep(0.2)  # (waiting for a server to listen: a short sleep, not a spin)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def fashion_playground():
    """One `convlab serve --checkpoint lenet-modern-fashion-mnist` for the browser tests that only
    look (no training): started once, its caches (the confusion matrix) computed once."""
    with playground("--checkpoint", "lenet-modern-fashion-mnist") as url:  # draws anything, not only digits
        yield url


@pytest.fixture(scope="module")
def browser():
    pw_api = pytest.importorskip("playwright.sync_api")
    with pw_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium(p),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def open_page(browser, url, ready="document.querySelectorAll('#layers canvas').length > 0", viewport=None):
    """A fresh page at url (a 1280×1000 window unless `viewport` says), with page errors in page.errors."""
    ctx = browser.new_context(viewport=viewport or {"width": 1280, "height": 1000})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    # The page's Content-Security-Policy forbids eval, which Playwright uses to poll a bare
    # expression; a function predicate needs none, so expressions are wrapped into one.
    wait = pg.wait_for_function
    pg.wait_for_function = lambda expr, **kw: wait(expr if expr.lstrip().startswith("(") else f"() => ({expr})", **kw)
    pg.goto(url)
    if ready:
        pg.wait_for_function(ready)
    return pg


def shot(pg, name):
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
