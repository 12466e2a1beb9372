"""The playground: a small ASGI app (Starlette) serving one static page and a JSON API.

Every number the page shows is computed here by convlab's own code — predictions and
feature maps by the model, receptive fields by `introspect`, the convolution explorer by
`explain` (itself checked against `ops`) — so the page and the library cannot disagree.

    GET  /                     the page (static HTML/CSS/JS shipped in the package, no CDN)
    GET  /favicon.ico          the page's icon (static/favicon.svg)
    GET  /api/models           the catalogue: every bundled model and any given at start, the default
    GET  /api/info             model, classes, input shape, summary table, first-layer kernels
    POST /api/predict          an image (JSON {"image": data URL or base64}, a multipart `file` field,
                               or a raw image/* body) → probabilities and every layer's maps
    POST /api/receptive-field  {"layer", "row", "col"} → the input rectangle that unit sees
    GET  /api/sample           a random test image of the model's dataset (when it is available)
    POST /api/explain          {"mode": conv|max|avg, "input", "kernel", "padding", "stride", ...}
    POST /api/why              an image, "method" (saliency|smoothgrad|gradcam|occlusion), "target" → a map
    POST /api/filter           {"layer", "channel"} → the test crops that excite it most, an image made to
    POST /api/shift            an image, "dy", "dx" → the MLP and LeNet on it shifted: maps, each layer's
                               equivariance error (shifting.py)
    GET  /api/mistakes         the confusion matrix on the test set, the most confused pairs
    GET  /api/mistakes/cell    ?true=I&predicted=J → that cell's test images, most confident first
    GET  /api/train/options    what the page may train: datasets here, architectures and their recipes
    POST /api/train/start      {"dataset", "model", "epochs", "lr", "max_train", "probe"} or {"resume": RUN}
    POST /api/train/stop       stop the running training (at its next step; it keeps its completed epochs)
    POST /api/train/forget     {"model": RUN} → a run trained here taken off the model list (files stay)
    GET  /api/train            ?since=N&snap=S&stream=ID → the training's state, events and newest snapshot
    POST /api/classes/train    {"classes": [{"name", "images"}, …]} → a class's own drawings trained (classes.py)
Text the page shows (preparation steps, notes, the summary's header, formulas, errors) comes in
the page's language: `Accept-Language: zh` or `?lang=zh` for Chinese (`messages.py`).
Every model endpoint takes `?model=NAME` (or a "model" field in a JSON body); without it, the
default model. Errors are JSON {"error": message} with a 4xx status (your own network's code failing:
422, one line; its traceback goes to the server's log); the server keeps running. Model work runs
in a thread pool, never on the event loop, so one slow request does not stall the others;
every response carries the headers of `security.py`.

Each endpoint is a module-level function of the request that reads the app's state
(`request.app.state`: the model catalogue, the training jobs, whether others may train, set by
`create_app`) and returns a dict, or raises a `UserError`; `STATUS` gives each error type its
HTTP status, so a reworded message never changes the API.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import torch
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..checkpoint import Checkpoint
from ..data.handwriting import NoDigit
from ..data.images import UnsupportedFormat
from ..errors import UserCodeError, UserError
from .classes import read_classes_body, train_classes
from .explorer import explain_request
from .inputs import MAX_BODY, ApiError, BodyTooLarge, UnsupportedContentType, read_image, read_json
from .messages import language, localize, translate
from .models import DatasetUnavailable, LoadedModel, Models, UnknownModel, models_for
from .security import SecurityHeaders
from .shifting import shift_request
from .training import Training, TrainingConflict

STATIC = Path(__file__).parent / "static"
LOCAL = ("127.0.0.1", "::1")  # the machine's own browser: the one that may train by default
__all__ = ["MAX_BODY", "STATUS", "ApiError", "LoadedModel", "Models", "create_app", "models_for", "serve"]

# The page's scripts are ES modules: a browser runs one only when it is served with a JavaScript
# type (and `nosniff` forbids guessing), whatever this system's MIME table says.
mimetypes.add_type("text/javascript", ".js")
log = logging.getLogger("convlab.web")


class TrainingNotAllowed(ApiError):
    """A start or stop from another computer without `serve --allow-training` (403 Forbidden)."""


STATUS: dict[type[Exception], int] = {  # the HTTP status of each refusal, by its type
    UserError: 400,  # any bad input: a malformed field, a layer that does not exist, ... (ApiError too)
    TrainingNotAllowed: 403,
    UnknownModel: 404,
    DatasetUnavailable: 404,  # so no test images: samples, "what a channel looks for", mistakes
    TrainingConflict: 409,
    BodyTooLarge: 413,
    UnsupportedContentType: 415,  # a body that is not JSON, multipart or image/*
    UnsupportedFormat: 415,  # an image in a format convlab does not read
    NoDigit: 422,  # a digit model finds no ink: the page says "draw a digit"
    UserCodeError: 422,  # your own network's code (serve --model FILE.py:NAME) failed on this request
}


def status_of(error: Exception) -> int:
    """The status of the most specific type in STATUS that `error` is an instance of."""
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)


def api(handler: Callable[[Request], Awaitable[dict]]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering JSON: the handler's dict, or {"error": message} with its STATUS, its
    text in the page's language (`messages.localize`)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        lang = lang_of(request)
        try:
            return JSONResponse(localize(await handler(request), lang))
        except UserError as e:
            return JSONResponse({"error": translate(str(e), lang)}, status_code=status_of(e))
        except UserCodeError as e:  # your network's failure: one line here, its traceback in the server's log
            log.error("%s\n%s", e.user_traceback(), e)
            message = f"{e}; its traceback is in the server's log"
            return JSONResponse({"error": translate(message, lang)}, status_code=status_of(e))

    return endpoint


def lang_of(request: Request) -> str:
    """The page's language: `?lang=en|zh`, else its `Accept-Language` header (the page sets it)."""
    return language(request.headers.get("accept-language"), request.query_params.get("lang"))


# --- the app's state --------------------------------------------------------------------------
def models_of(app: Starlette) -> Models:
    models: Models = app.state.models
    return models


def training_of(app: Starlette) -> Training:
    training: Training = app.state.training
    return training


def model_of(request: Request, data: dict | None = None) -> LoadedModel:
    """The model a request is about: `?model=NAME`, a "model" field of its JSON, or the default."""
    name = request.query_params.get("model") or (data or {}).get("model")
    if name is not None and not isinstance(name, str):
        raise ApiError("'model' must be a model name")
    return models_of(request.app).get(name)


def may_train_here(request: Request) -> bool:
    allowed: bool = request.app.state.allow_training
    return allowed or (request.client is not None and request.client.host in LOCAL)


def may_train(request: Request) -> None:
    if not may_train_here(request):
        raise TrainingNotAllowed(
            "training is open only to the browser on the machine running the playground; "
            "its owner can allow it for everyone with: convlab serve --allow-training"
        )


# --- the model endpoints ----------------------------------------------------------------------
async def catalog(request: Request) -> dict:
    return await run_in_threadpool(models_of(request.app).catalog)


async def info(request: Request) -> dict:
    return (await run_in_threadpool(model_of, request)).info()


async def predict(request: Request) -> dict:
    image, data = await read_image(request)
    m = await run_in_threadpool(model_of, request, data)
    return await run_in_threadpool(m.predict, image)


async def receptive_field(request: Request) -> dict:
    data = await read_json(request)
    m = await run_in_threadpool(model_of, request, data)
    return await run_in_threadpool(m.receptive_field, data)


async def sample(request: Request) -> dict:
    m = await run_in_threadpool(model_of, request)
    return await run_in_threadpool(m.sample)


async def why(request: Request) -> dict:
    image, data = await read_image(request)
    m = await run_in_threadpool(model_of, request, data)
    method = data.get("method", request.query_params.get("method", "gradcam"))
    target = data.get("target")
    if target is None and request.query_params.get("target", "").isdigit():
        target = int(request.query_params["target"])
    return await run_in_threadpool(m.why, image, method, target)


async def channel_filter(request: Request) -> dict:
    data = await read_json(request)
    m = await run_in_threadpool(model_of, request, data)
    return await run_in_threadpool(m.filter, data)


async def mistakes(request: Request) -> dict:
    m = await run_in_threadpool(model_of, request)
    return await run_in_threadpool(m.mistakes)


async def mistakes_cell(request: Request) -> dict:
    m = await run_in_threadpool(model_of, request)
    q = request.query_params
    return await run_in_threadpool(m.mistakes_cell, q.get("true"), q.get("predicted"))


async def shifted(request: Request) -> dict:
    image, data = await read_image(request)
    return await run_in_threadpool(shift_request, models_of(request.app), image, data)


async def explain(request: Request) -> dict:
    return await run_in_threadpool(explain_request, await read_json(request))


# --- the training endpoints -------------------------------------------------------------------
async def train_options(request: Request) -> dict:
    return {**await run_in_threadpool(training_of(request.app).options), "allowed": may_train_here(request)}


async def train_start(request: Request) -> dict:
    may_train(request)
    data = await read_json(request)
    return await run_in_threadpool(training_of(request.app).start, data)


async def train_stop(request: Request) -> dict:
    may_train(request)
    return await run_in_threadpool(training_of(request.app).stop)


async def train_forget(request: Request) -> dict:
    may_train(request)
    data = await read_json(request)
    return await run_in_threadpool(training_of(request.app).forget, data)


async def train_status(request: Request) -> dict:
    q = request.query_params
    try:
        since, snap = int(q.get("since", 0)), int(q.get("snap", -1))
    except ValueError:
        raise ApiError("'since' and 'snap' must be integers") from None
    return await run_in_threadpool(training_of(request.app).status, max(0, since), snap, q.get("stream"))


async def classes_train(request: Request) -> dict:
    may_train(request)
    data = await read_classes_body(request)
    return await run_in_threadpool(train_classes, training_of(request.app), data)


# --- the page, and errors outside the API -----------------------------------------------------
async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


async def favicon(request: Request) -> Response:
    """The icon a browser asks for on its own (the page also links it): an SVG, not a 404."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


async def not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": translate("not found", lang_of(request))}, status_code=404)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    message = translate(f"method not allowed: {detail}", lang_of(request))
    return JSONResponse({"error": message}, status_code=405)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await run_in_threadpool(training_of(app).shutdown)  # the server stops: so does its training (saved)


ROUTES: list[BaseRoute] = [
    Route("/", index),
    Route("/favicon.ico", favicon),
    Route("/api/models", api(catalog)),
    Route("/api/info", api(info)),
    Route("/api/predict", api(predict), methods=["POST"]),
    Route("/api/receptive-field", api(receptive_field), methods=["POST"]),
    Route("/api/sample", api(sample)),
    Route("/api/explain", api(explain), methods=["POST"]),
    Route("/api/why", api(why), methods=["POST"]),
    Route("/api/filter", api(channel_filter), methods=["POST"]),
    Route("/api/shift", api(shifted), methods=["POST"]),
    Route("/api/mistakes", api(mistakes)),
    Route("/api/mistakes/cell", api(mistakes_cell)),
    Route("/api/train", api(train_status)),
    Route("/api/train/options", api(train_options)),
    Route("/api/train/start", api(train_start), methods=["POST"]),
    Route("/api/train/stop", api(train_stop), methods=["POST"]),
    Route("/api/train/forget", api(train_forget), methods=["POST"]),
    Route("/api/classes/train", api(classes_train), methods=["POST"]),
    Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
]


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
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 405: method_not_allowed},
        lifespan=lifespan,
    )
    app.state.models = models
    app.state.training = Training(models, runs, data)
    app.state.allow_training = allow_training
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
