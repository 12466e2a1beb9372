"""A class of your own: the page's drawings of classes it named, saved as an image folder inside a
new run, and trained as the Train tab trains (the same job, events, Stop and catalogue).

    POST /api/classes/train   {"classes": [{"name": "circle", "images": [data URL, …]}, …]}

The drawings are checked and written by `data.drawings.save_drawings` into
RUNS/playground-classes-STAMP/drawings/NAME/NNN.png, then `Training.launch` starts
`drawings_config` on that folder as the server's one job; the page watches it through
GET /api/train like any other. When it finishes the run joins the model catalogue, so every
view of the page (prediction, kernels, maps, why) works on the class's own network, and

    convlab train --data RUNS/playground-classes-STAMP/drawings --model lenet-modern --input-style mnist \\
        --epochs 20 --batch-size 8 --shift 2 --rotate 10 --scale 0.1 --thickness 0.5

trains the same network again from the folder (or `convlab train --config RUN` replays it exactly).

Limits (each refusal says which): 2–10 classes with names of at most 24 characters, 10–50
drawings per class, 512 KiB and 4096×4096 pixels per drawing (`data.drawings`), MAX_REQUEST
bytes per request (413).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from starlette.requests import Request

from ..data.drawings import MAX_CLASSES, MAX_PER_CLASS, RUN_FOLDER, drawings_config, save_drawings
from .inputs import ApiError, BodyTooLarge, decode_image_field, parse_json
from .training import Training

MAX_REQUEST = 12 * 1024 * 1024  # bytes: ten classes of fifty drawings of the page's canvas, with room
DRAWINGS = RUN_FOLDER  # the image folder inside the run


async def read_classes_body(request: Request) -> dict:
    """The JSON body, refused past MAX_REQUEST bytes (by Content-Length, or while reading)."""
    too_large = BodyTooLarge(f"the drawings are too large to send at once (limit {MAX_REQUEST // 2**20} MiB): "
                             "use fewer or smaller images")  # fmt: skip
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_REQUEST):
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST:
            raise too_large
    return parse_json(bytes(body))


def read_classes(data: dict) -> list[tuple[str, list[bytes]]]:
    """[(name, [image bytes, …]), …] from {"classes": [{"name", "images"}, …]}; the shape is checked
    here, the names, counts and images by `save_drawings`."""
    classes = data.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, dict) for c in classes):
        raise ApiError('\'classes\' must be a list of {"name": text, "images": [data URLs]}')
    if len(classes) > MAX_CLASSES:
        raise ApiError(f"give at most {MAX_CLASSES} classes, got {len(classes)}")
    out = []
    for c in classes:
        name, images = c.get("name"), c.get("images")
        if not isinstance(name, str):
            raise ApiError("each class needs a 'name' (text)")
        if not isinstance(images, list):
            raise ApiError(f"class {name[:24]!r} needs 'images', a list of data URLs")
        if len(images) > MAX_PER_CLASS:
            raise ApiError(f"class {name[:24]!r} has {len(images)} drawings; at most {MAX_PER_CLASS} per class")
        out.append((name, [decode_image_field(i) for i in images]))
    return out


def new_run_dir(runs: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir, n = runs / f"playground-classes-{stamp}", 1
    while run_dir.exists():
        n += 1
        run_dir = run_dir.with_name(f"playground-classes-{stamp}~{n}")
    return run_dir


def train_classes(training: Training, data: dict) -> dict:
    """Save the drawings in a new run folder and start training on them; the job's status.
    Refused (and nothing written) while another training runs or when a drawing is refused."""
    classes = read_classes(data)
    with training.lock:
        training.refuse_if_running()  # before the work of preparing every drawing
    run_dir = new_run_dir(training.runs)
    try:
        folder = save_drawings(run_dir / DRAWINGS, classes)
        with training.lock:
            training.refuse_if_running()  # (one may have started meanwhile)
            config = drawings_config(folder.resolve(), threads=1).to_dict()
            # the settings the Train tab shows while it trains, and after (not the tab's defaults)
            form = {"dataset": DRAWINGS, "model": config["model"], "epochs": config["epochs"], "lr": config["lr"],
                    "max_train": config["max_train"] or 0, "probe": 0}  # fmt: skip
            training.launch(run_dir, {"config": config, "form": form})
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return training.status()
