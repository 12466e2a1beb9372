"""The playground: a small ASGI app (Starlette) serving one static page and a JSON API.

Every number the page shows is computed here by convlab's own code — predictions and
feature maps by the model, receptive fields by `introspect`, the convolution explorer by
`explain` (itself checked against `ops`) — so the page and the library cannot disagree.

    GET  /                     the page (static HTML/CSS/JS shipped in the package, no CDN)
    GET  /api/info             model, classes, input shape, summary table, first-layer kernels
    POST /api/predict          an image (JSON {"image": data URL or base64}, a multipart `file` field,
                               or a raw image/* body) → probabilities and every layer's maps
    POST /api/receptive-field  {"layer", "row", "col"} → the input rectangle that unit sees
    GET  /api/sample           a random test image of the model's dataset (when it is available)
    POST /api/explain          {"mode": conv|max|avg, "input", "kernel", "padding", "stride", ...}
Errors are JSON {"error": message} with a 4xx status; the server keeps running. Model work runs
in a thread pool, never on the event loop, so one slow request does not stall the others;
every response carries the headers of `security.py`.
"""

from __future__ import annotations

import base64
import io
import random
import threading
from pathlib import Path

import torch
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..checkpoint import Checkpoint
from ..data.loader import normalize
from ..errors import UserError
from ..introspect import capture, layers_of, receptive_field, summary
from ..predict import prepare
from .inputs import MAX_BODY, ApiError, read_image, read_json
from .security import SecurityHeaders

STATIC = Path(__file__).parent / "static"
MAX_MATRIX = 64  # explorer: at most 64×64 inputs
MAX_VALUE = 1e6  # explorer: |values| bounded so every product stays finite
__all__ = ["MAX_BODY", "ApiError", "Playground", "create_app", "serve"]


def quantize(t: torch.Tensor) -> dict:
    """A layer's output as base64 uint8 with one scale for the whole layer (compact, fast)."""
    t = t.detach().float()
    lo, hi = t.min().item(), t.max().item()
    q = ((t - lo) / (hi - lo) * 255).round().to(torch.uint8) if hi > lo else torch.zeros_like(t, dtype=torch.uint8)
    return {"min": lo, "max": hi, "data": base64.b64encode(q.contiguous().numpy().tobytes()).decode()}


class Playground:
    """The state behind the API: one checkpoint, its summary, and a lock around the model."""

    def __init__(self, ck: Checkpoint):
        self.ck = ck
        self.lock = threading.Lock()
        self.layers = layers_of(ck.model)
        self.summary = summary(ck.model, ck.input_shape)
        self._samples = None

    def info(self) -> dict:
        conv = next((m for m in self.layers if isinstance(m, torch.nn.Conv2d)), None)
        arch = self.ck.meta["architecture"]
        return {
            "model": arch["name"],
            "classes": self.ck.classes,
            "input_shape": list(self.ck.input_shape),
            "dataset": self.ck.meta.get("dataset", {}).get("name"),
            "metrics": self.ck.meta.get("metrics", {}),
            "summary": self.summary.to_dict(),
            "layers": [
                {"index": i, "name": layer.__class__.__name__, "shape": list(r.output_shape[1:])}
                for i, (layer, r) in enumerate(zip(self.layers, self.summary.layers))
            ],
            "kernels": None if conv is None else conv.weight.detach()[:, 0].tolist(),
        }

    def predict(self, image: bytes) -> dict:
        try:
            x, inverted = prepare(self.ck, image, "uploaded image")
        except UserError as e:
            raise ApiError(str(e).replace("uploaded image: ", ""), 415 if "not supported" in str(e) else 400) from None
        with self.lock, torch.inference_mode():
            outs = capture(self.ck.model, normalize(x[None], self.ck.mean, self.ck.std))
        probs = torch.softmax(outs[-1][0].float(), 0)
        return {
            "probabilities": [round(p, 6) for p in probs.tolist()],
            "classes": self.ck.classes,
            "prediction": self.ck.classes[int(probs.argmax())],
            "inverted": inverted,
            "input": x[0].tolist() if x.shape[0] == 1 else x.permute(1, 2, 0).tolist(),
            "layers": [
                {"index": i, "name": layer.__class__.__name__, "shape": list(y.shape[1:]), **quantize(y[0])}
                for i, (layer, y) in enumerate(zip(self.layers, outs))
            ],
        }

    def receptive_field(self, data: dict) -> dict:
        try:
            layer, row, col = int(data["layer"]), int(data["row"]), int(data["col"])
        except (KeyError, TypeError, ValueError):
            raise ApiError("give integer 'layer', 'row' and 'col'") from None
        try:
            return receptive_field(self.ck.model, layer, (row, col), self.ck.input_shape)
        except UserError as e:
            raise ApiError(str(e)) from None

    def sample(self) -> dict:
        if self._samples is None:
            from ..data import load_dataset

            name = self.ck.meta.get("dataset", {}).get("name")
            try:
                from ..data.sources import KNOWN, locate

                if name not in KNOWN or locate(name) is None:
                    raise ApiError(f"the model's dataset ({name}) is not available on this machine", 404)
                ds = load_dataset(name, progress=False)
            except UserError as e:
                raise ApiError(str(e), 404) from None
            self._samples = (ds.test_x, ds.test_y, ds.classes)
        x, y, classes = self._samples
        i = random.randrange(len(y))
        from PIL import Image

        buf = io.BytesIO()
        img = x[i].permute(1, 2, 0).squeeze(-1).numpy()
        Image.fromarray(img).save(buf, format="PNG")
        return {
            "image": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
            "label": classes[int(y[i])],
            "index": i,
        }


def explain_request(data: dict) -> dict:
    from ..explain import explain_conv, explain_pool

    def matrix(key, required=True):
        v = data.get(key)
        if v is None and not required:
            return None
        if not (isinstance(v, list) and v and all(isinstance(r, list) and r for r in v)):
            raise ApiError(f"'{key}' must be a non-empty list of rows")
        if len({len(r) for r in v}) != 1:
            raise ApiError(f"'{key}' rows must have equal length")
        if len(v) > MAX_MATRIX or len(v[0]) > MAX_MATRIX:
            raise ApiError(f"'{key}' is larger than {MAX_MATRIX}×{MAX_MATRIX}")
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for r in v for x in r):
            raise ApiError(f"'{key}' must contain only numbers")
        t = torch.tensor(v, dtype=torch.float64)
        if t.abs().max() > MAX_VALUE:
            raise ApiError(f"'{key}' values must lie within ±{MAX_VALUE:g}")
        return t

    def ints(key, default):
        v = data.get(key, default)
        if v is None:
            return None
        v = v if isinstance(v, list) else [v]
        if not (1 <= len(v) <= 2 and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= 16 for i in v)):
            raise ApiError(f"'{key}' must be an integer 0..16 or a pair of them")
        return tuple(v)

    mode = data.get("mode", "conv")
    x = matrix("input")
    try:
        if mode == "conv":
            e = explain_conv(x, matrix("kernel"), ints("padding", 0), ints("stride", 1), ints("dilation", 1))
        elif mode in ("max", "avg"):
            e = explain_pool(x, ints("size", 2), mode, ints("padding", 0), ints("stride", None))
        else:
            raise ApiError("'mode' must be conv, max or avg")
    except UserError as e:  # the ops' own messages: kernel too large, padding too wide, ...
        raise ApiError(str(e)) from None
    return e.to_dict()


def create_app(ck: Checkpoint) -> Starlette:
    pg = Playground(ck)

    def api(handler):
        async def endpoint(request: Request):
            try:
                return JSONResponse(await handler(request))
            except ApiError as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)

        return endpoint

    async def info(request):
        return pg.info()

    async def predict(request):
        image, _ = await read_image(request)
        return await run_in_threadpool(pg.predict, image)

    async def rf(request):
        return await run_in_threadpool(pg.receptive_field, await read_json(request))

    async def sample(request):
        return await run_in_threadpool(pg.sample)

    async def explain(request):
        return await run_in_threadpool(explain_request, await read_json(request))

    async def index(request):
        return FileResponse(STATIC / "index.html")

    async def not_found(request, exc):
        return JSONResponse({"error": "not found"}, status_code=404)

    async def method_not_allowed(request, exc):
        return JSONResponse({"error": f"method not allowed: {exc.detail}"}, status_code=exc.status_code)

    routes = [
        Route("/", index),
        Route("/api/info", api(info)),
        Route("/api/predict", api(predict), methods=["POST"]),
        Route("/api/receptive-field", api(rf), methods=["POST"]),
        Route("/api/sample", api(sample)),
        Route("/api/explain", api(explain), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 405: method_not_allowed},
    )


def serve(ck: Checkpoint, host: str = "127.0.0.1", port: int = 8000, log=print) -> None:
    """Run the playground with uvicorn until interrupted."""
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        log(f"warning: listening on {host}: anyone who can reach this machine can use the playground")
    log(f"convlab playground: http://{host if ':' not in host else f'[{host}]'}:{port}/  (Ctrl-C to stop)")
    uvicorn.run(create_app(ck), host=host, port=port, log_level="warning")
