"""The playground: a small ASGI app (Starlette) serving one static page and a JSON API.

Every number the page shows is computed here by convlab's own code — predictions and
feature maps by the model, receptive fields by `introspect`, the convolution explorer by
`explain` (itself checked against `ops`) — so the page and the library cannot disagree.

    GET  /                     the page (static HTML/CSS/JS shipped in the package, no CDN)
    GET  /api/models           the catalogue: every bundled model and any given at start, the default
    GET  /api/info             model, classes, input shape, summary table, first-layer kernels
    POST /api/predict          an image (JSON {"image": data URL or base64}, a multipart `file` field,
                               or a raw image/* body) → probabilities and every layer's maps
    POST /api/receptive-field  {"layer", "row", "col"} → the input rectangle that unit sees
    GET  /api/sample           a random test image of the model's dataset (when it is available)
    POST /api/explain          {"mode": conv|max|avg, "input", "kernel", "padding", "stride", ...}
    POST /api/why              an image, "method" (saliency|smoothgrad|gradcam|occlusion), "target" → a map
    POST /api/filter           {"layer", "channel"} → the test crops that excite it most, an image made to
    GET  /api/mistakes         the confusion matrix on the test set, the most confused pairs
    GET  /api/mistakes/cell    ?true=I&predicted=J → that cell's test images, most confident first
    GET  /api/train/options    what the page may train: datasets here, architectures and their recipes
    POST /api/train/start      {"dataset", "model", "epochs", "lr", "max_train", "probe"} or {"resume": RUN}
    POST /api/train/stop       stop the running training (it keeps its last completed epoch)
    GET  /api/train            ?since=N&snap=S → the training's state, events and newest snapshot
Every model endpoint takes `?model=NAME` (or a "model" field in a JSON body); without it, the
default model. Errors are JSON {"error": message} with a 4xx status; the server keeps running. Model work runs
in a thread pool, never on the event loop, so one slow request does not stall the others;
every response carries the headers of `security.py`.
"""

from __future__ import annotations

import contextlib
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
from ..errors import UserError
from .inputs import MAX_BODY, ApiError, read_image, read_json
from .models import LoadedModel, Models, models_for
from .security import SecurityHeaders
from .training import Training

STATIC = Path(__file__).parent / "static"
MAX_MATRIX = 64  # explorer: at most 64×64 inputs
MAX_VALUE = 1e6  # explorer: |values| bounded so every product stays finite
__all__ = ["MAX_BODY", "ApiError", "LoadedModel", "Models", "create_app", "models_for", "serve"]


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


LOCAL = ("127.0.0.1", "::1")


def create_app(
    models: Models | Checkpoint | None = None,
    runs: str | Path = "runs",
    data: str | Path | None = None,
    allow_training: bool = False,
) -> Starlette:
    """The ASGI app over a model catalogue (a single checkpoint becomes the default of one).
    Training jobs write under `runs`; `data` is a folder of the user's images the page may train
    on. Training (the only thing that writes files) is for this machine's own browser unless
    `allow_training`."""
    if not isinstance(models, Models):
        models = Models(models) if models is not None else Models()
    training = Training(models, runs, data)

    def api(handler):
        async def endpoint(request: Request):
            try:
                return JSONResponse(await handler(request))
            except ApiError as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)

        return endpoint

    def model_of(request: Request, data: dict | None = None) -> LoadedModel:
        name = request.query_params.get("model") or (data or {}).get("model")
        if name is not None and not isinstance(name, str):
            raise ApiError("'model' must be a model name")
        return models.get(name)

    async def catalog(request):
        return await run_in_threadpool(models.catalog)

    async def info(request):
        return (await run_in_threadpool(model_of, request)).info()

    async def predict(request):
        image, data = await read_image(request)
        m = await run_in_threadpool(model_of, request, data)
        return await run_in_threadpool(m.predict, image)

    async def rf(request):
        data = await read_json(request)
        m = await run_in_threadpool(model_of, request, data)
        return await run_in_threadpool(m.receptive_field, data)

    async def why(request):
        image, data = await read_image(request)
        m = await run_in_threadpool(model_of, request, data)
        method = data.get("method", request.query_params.get("method", "gradcam"))
        target = data.get("target")
        if target is None and request.query_params.get("target", "").isdigit():
            target = int(request.query_params["target"])
        return await run_in_threadpool(m.why, image, method, target)

    async def filters(request):
        data = await read_json(request)
        m = await run_in_threadpool(model_of, request, data)
        return await run_in_threadpool(m.filter, data)

    async def mistakes(request):
        m = await run_in_threadpool(model_of, request)
        return await run_in_threadpool(m.mistakes)

    async def mistakes_cell(request):
        m = await run_in_threadpool(model_of, request)
        q = request.query_params
        return await run_in_threadpool(m.mistakes_cell, q.get("true"), q.get("predicted"))

    def may_train_here(request: Request) -> bool:
        return allow_training or (request.client is not None and request.client.host in LOCAL)

    def may_train(request: Request) -> None:
        if not may_train_here(request):
            raise ApiError(
                "training is open only to the browser on the machine running the playground; "
                "its owner can allow it for everyone with: convlab serve --allow-training",
                403,
            )

    async def train_options(request):
        return {**await run_in_threadpool(training.options), "allowed": may_train_here(request)}

    async def train_start(request):
        may_train(request)
        data = await read_json(request)
        return await run_in_threadpool(training.start, data)

    async def train_stop(request):
        may_train(request)
        return await run_in_threadpool(training.stop)

    async def train_status(request):
        q = request.query_params
        try:
            since, snap = int(q.get("since", 0)), int(q.get("snap", -1))
        except ValueError:
            raise ApiError("'since' and 'snap' must be integers") from None
        return await run_in_threadpool(training.status, max(0, since), snap)

    async def sample(request):
        m = await run_in_threadpool(model_of, request)
        return await run_in_threadpool(m.sample)

    async def explain(request):
        return await run_in_threadpool(explain_request, await read_json(request))

    async def index(request):
        return FileResponse(STATIC / "index.html")

    async def not_found(request, exc):
        return JSONResponse({"error": "not found"}, status_code=404)

    async def method_not_allowed(request, exc):
        return JSONResponse({"error": f"method not allowed: {exc.detail}"}, status_code=exc.status_code)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(training.shutdown)  # the server stops: so does its training (saved)

    routes = [
        Route("/", index),
        Route("/api/models", api(catalog)),
        Route("/api/info", api(info)),
        Route("/api/predict", api(predict), methods=["POST"]),
        Route("/api/receptive-field", api(rf), methods=["POST"]),
        Route("/api/sample", api(sample)),
        Route("/api/explain", api(explain), methods=["POST"]),
        Route("/api/why", api(why), methods=["POST"]),
        Route("/api/filter", api(filters), methods=["POST"]),
        Route("/api/mistakes", api(mistakes)),
        Route("/api/mistakes/cell", api(mistakes_cell)),
        Route("/api/train", api(train_status)),
        Route("/api/train/options", api(train_options)),
        Route("/api/train/start", api(train_start), methods=["POST"]),
        Route("/api/train/stop", api(train_stop), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 405: method_not_allowed},
        lifespan=lifespan,
    )
    app.state.training = training
    return app


def serve(
    models: Models,
    host: str = "127.0.0.1",
    port: int = 8000,
    runs: str | Path = "runs",
    data: str | Path | None = None,
    allow_training: bool = False,
    threads: int = 1,
    log=print,
) -> None:
    """Run the playground with uvicorn until interrupted."""
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        log(f"warning: listening on {host}: anyone who can reach this machine can use the playground")
        allowed = "ALLOWED (--allow-training)" if allow_training else "off (this machine's browser only)"
        log(f"training from other computers is {allowed}")
    # Requests run side by side on the thread pool; one PyTorch thread each (the default) keeps a
    # request from taking every core from a training beside it (benchmarks/web.py compares).
    torch.set_num_threads(threads)
    models.get(None).warm()  # the default model loaded before the class arrives, not by its first requests
    log(f"convlab playground: http://{host if ':' not in host else f'[{host}]'}:{port}/  (Ctrl-C to stop)")
    uvicorn.run(create_app(models, runs, data, allow_training), host=host, port=port, log_level="warning")
