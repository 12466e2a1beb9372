"""The command line's flags: shared parent parsers, one function per command, `train` grouped by topic.

`cli.py` runs the commands; this module only declares what each one accepts. A flag several
commands share (`--checkpoint`, `--json`, `--force`, the test set) is declared once, in a parent
parser (`Parents`), and a command lists the parents it takes. A package with a command of its
own registers it with a function `add(subparsers, parents)` (see `cli.COMMANDS`):

    def add_command(sub: Subparsers, parents: Parents) -> None:
        p = sub.add_parser("lab", parents=[parents.json], help="...")
        p.set_defaults(func=run)

`convlab train`'s flags are generated from `convlab.config.TrainConfig`; `TOPICS` only says
under which heading of `convlab train --help` each is listed (data, model, optimisation,
augmentation, runtime, output, as timm groups its flags).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from .argtypes import positive, whole
from .modelspec import add_code_arguments


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage dump) and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the problem and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[Parser]  # what `add_subparsers` returns; its parsers are `Parser`s
else:
    Subparsers = argparse._SubParsersAction


@dataclass(frozen=True)
class Parents:
    """Parent parsers (`sub.add_parser(..., parents=[...])`) for the flags commands share."""

    checkpoint: Parser  # --checkpoint NAME|PATH (default: the bundled LeNet)
    test_set: Parser  # --dataset | --data, and --data-dir: the test set a checkpoint is scored on
    model_input: Parser  # --model | --checkpoint, --input-size: a network without data
    json: Parser  # --json
    force: Parser  # --force


AddCommand = Callable[[Subparsers, Parents], None]


def _parent() -> Parser:
    return Parser(add_help=False)


def checkpoint_help(default: str | None = None) -> str:
    """What --checkpoint accepts, naming the bundled models and the default (commands': DEFAULT)."""
    from .models.pretrained import DEFAULT, bundled

    return (
        f"a bundled model by name ({', '.join(bundled())}), a run folder or its model.safetensors "
        f"(default {default or DEFAULT})"
    )


def make_parents() -> Parents:
    """The shared flags, each declared once."""
    ck = _parent()
    ck.add_argument("--checkpoint", help=checkpoint_help())
    test_set = _parent()
    g = test_set.add_mutually_exclusive_group()
    g.add_argument("--dataset", help="known dataset (default: the one the model was trained on)")
    g.add_argument("--data", help="your own data (its test split, or the held-out split)")
    test_set.add_argument("--data-dir", help="folder searched first for known datasets")
    mi = _parent()
    mi.add_argument("--model", help="a model name, see `convlab zoo` (default lenet)")
    mi.add_argument("--checkpoint", help="a trained checkpoint instead of --model")
    mi.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"), help="input size (default 1 28 28)")
    js = _parent()
    js.add_argument("--json", action="store_true", help="print JSON instead of text")
    force = _parent()
    force.add_argument("--force", action="store_true", help="replace existing files")
    return Parents(ck, test_set, mi, js, force)


def add_out(p: Parser, what: str, default: str | None = None, required: bool = False) -> None:
    """--out: what the command writes there; its default stated in the help."""
    text = what if default is None else f"{what} (default {default})"
    p.add_argument("--out", default=default, required=required, help=text)


# --- one function per command ---------------------------------------------------------------


def add_demo(sub: Subparsers, parents: Parents) -> None:
    """`convlab demo`'s parser and flags."""
    d = sub.add_parser(
        "demo", parents=[parents.force], help="run the tutorial's demonstrations (walkthrough of §2–6, edge kernel)"
    )
    d.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=["all", "edge", "image"],
        help="'all': the walkthrough of §2–6 (default); 'edge': learn K=[1,-1] (§2.4); "
        "'image PATH': an image as its 0–255 matrix or RGB channels (§1.1)",
    )
    d.add_argument("path", nargs="?", help="image: the image file")
    add_out(d, "image: where to save the picture", "image.png")
    d.add_argument("--max-size", type=whole(1, 4096), default=28, help="image: shrink larger ones to this (default 28)")
    d.add_argument("--epochs", type=whole(1, 100_000), default=10, help="edge: gradient steps (default 10)")
    d.add_argument("--lr", type=positive, default=3e-2, help="edge: learning rate (default 0.03)")
    d.add_argument("--seed", type=int, default=0, help="edge: random seed (default 0)")


def add_datasets(sub: Subparsers, parents: Parents) -> None:
    """`convlab datasets`'s parser and flags."""
    ds = sub.add_parser(
        "datasets",
        parents=[parents.force],
        help="list known datasets and where they are; show samples",
        description="Known datasets are searched in: --data-dir (DIR or DIR/NAME); "
        "$CONVLAB_DATA/NAME or ~/.cache/convlab/NAME; system folders "
        "(/usr/share/datasets/NAME, e.g. Debian's dataset-fashion-mnist); "
        "then downloaded from the official mirrors.",
    )
    ds.add_argument("action", nargs="?", choices=["show"], help="'show': save a labelled grid of samples")
    ds.add_argument("target", nargs="?", help="a known dataset name or a PATH (IDX folder, image folder, CSV)")
    add_out(ds, "PNG to write for 'show'", "samples.png")
    ds.add_argument("--per-class", type=whole(1, 100), default=4, help="samples per class for 'show' (default 4)")
    ds.add_argument("--data-dir", help="folder to search first (and download into)")


# Where each TrainConfig field is listed in `convlab train --help` (tests/test_cli_args.py checks
# that every field has exactly one topic).
TOPICS: dict[str, list[str]] = {
    "data": "dataset data data_dir max_train channels input_size skip_bad label_column input_style".split(),
    "model": "model model_args ops".split(),
    "optimisation": "epochs batch_size optimizer lr momentum weight_decay schedule warmup label_smoothing seed".split(),
    "augmentation": "shift rotate scale thickness flip".split(),
    "runtime": "device amp channels_last compile threads eval_batch_size sync_bn".split(),
    "output": [],  # --out, --resume, --force, --quiet: where the run goes, not what it trains
}


def resume_flags() -> list[str]:
    """The flags `convlab train --resume DIR` accepts: TrainConfig's resume-safe options, and --quiet."""
    from .config import RESUME_SAFE, flag

    return [flag(name) for name in RESUME_SAFE] + ["--quiet"]


def resume_sentence(code: bool = False) -> str:
    """'Only --epochs, --device, … and --quiet may be given' (`code`: each flag in Markdown backticks)."""
    names = [f"`{f}`" if code else f for f in resume_flags()]
    own = [f"`{f}`" if code else f for f in ("--model FILE.py:NAME", "--trust-model-code")]
    mine = f"(and, for a run of your own network, {own[0]} or {own[1]})"
    return f"Only {', '.join(names[:-1])} and {names[-1]} may be given {mine}"


def add_train(sub: Subparsers, parents: Parents) -> None:
    """`convlab train`'s parser and flags."""
    from .config import add_arguments

    t = sub.add_parser(
        "train",
        help="train a model on a known dataset or your own data",
        description="Train a model. Every option below is a field of convlab.config.TrainConfig; "
        "--config FILE (a TOML recipe, a run folder, or a bundled recipe name) sets them all, and flags "
        "given beside it win. Known datasets are searched in --data-dir, $CONVLAB_DATA or ~/.cache/convlab, "
        "/usr/share/datasets, then downloaded. --data PATH takes an IDX folder, an image folder (one "
        "sub-folder per class, optionally in train/ and test/ or val/) or a CSV (a 'label' column, else "
        f"the first column). With --resume DIR: {resume_sentence().lower()}.",
    )
    t.add_argument("--config", metavar="FILE", help="a TOML recipe, a run folder's config, or a bundled recipe name")
    groups = {topic: t.add_argument_group(topic) for topic in TOPICS}
    topic_of = {name: topic for topic, names in TOPICS.items() for name in names}
    add_arguments(t, lambda name: groups[topic_of[name]] if name in topic_of else t)
    groups["runtime"].add_argument(
        "--nproc", type=int, help="launch N processes with torchrun (distributed data parallel)"
    )
    groups["runtime"].add_argument(
        "--max-restarts",
        type=int,
        default=0,
        help="with --nproc: when a process dies, restart them all up to N times; the run resumes from its "
        "last completed epoch (torchrun --max-restarts; default 0)",
    )
    out = groups["output"]
    out.add_argument("--out", help="run folder (default runs/<data>-<model>-<time>)")
    out.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last completed epoch")
    out.add_argument("--force", action="store_true", help="replace the files of an existing run folder")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    groups["model"].add_argument(
        "--trust-model-code",
        action="store_true",
        help="with --resume of your own network: run the copy of its code recorded in the run folder "
        "(or name the file again with --model FILE.py:NAME)",
    )


def add_zoo(sub: Subparsers, parents: Parents) -> None:
    """`convlab zoo`'s parser and flags."""
    z = sub.add_parser(
        "zoo",
        parents=[parents.json],
        help="every model: size, cost, receptive field, Fashion-MNIST accuracy here, the textbook's",
    )
    z.add_argument("--markdown", action="store_true", help="print a Markdown table (as docs/zoo.md quotes it)")


def add_summary(sub: Subparsers, parents: Parents) -> None:
    """`convlab summary`'s parser and flags."""
    sub.add_parser(
        "summary",
        parents=[parents.model_input, parents.json],
        help="per-layer table: output shape, parameters, multiply-adds, receptive field",
    )


def add_explain(sub: Subparsers, parents: Parents) -> None:
    """`convlab explain`'s parser and flags."""
    ex = sub.add_parser(
        "explain",
        parents=[parents.model_input],
        help="the arithmetic step by step: conv, pool, shapes (shapes: of --model or --checkpoint)",
    )
    ex.add_argument("what", choices=["conv", "pool", "shapes"])
    ex.add_argument("--input", help='input matrix: "0 1 2; 3 4 5; 6 7 8", a CSV file or an image file')
    ex.add_argument("--kernel", help='conv: kernel matrix, e.g. "0 1; 2 3"')
    ex.add_argument("--padding", type=int, nargs="+", default=[0], help="padding per side: P or PH PW (default 0)")
    ex.add_argument("--stride", type=int, nargs="+", help="stride: S or SH SW (default 1; pool: the window)")
    ex.add_argument("--dilation", type=int, nargs="+", default=[1], help="conv: dilation (default 1)")
    ex.add_argument("--size", type=int, nargs="+", default=[2], help="pool: window size (default 2)")
    ex.add_argument("--mode", choices=["max", "avg"], default="max", help="pool: max or avg (default max)")


def add_eval(sub: Subparsers, parents: Parents) -> None:
    """`convlab eval`'s parser and flags."""
    e = sub.add_parser(
        "eval",
        parents=[parents.checkpoint, parents.test_set, parents.json, parents.force],
        help="accuracy, per-class precision/recall and confusion matrix of a checkpoint",
    )
    e.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default auto)")
    add_out(e, "save the confusion matrix as this PNG")


def add_predict(sub: Subparsers, parents: Parents) -> None:
    """`convlab predict`'s parser and flags."""
    pr = sub.add_parser("predict", parents=[parents.checkpoint, parents.json], help="classify image files")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP, GIF or WebP files")
    pr.add_argument("--top-k", type=whole(1, 1000), default=3, help="how many classes to list (default 3)")


def add_why(sub: Subparsers, parents: Parents) -> None:
    """`convlab why`'s parser and flags."""
    w = sub.add_parser(
        "why",
        parents=[parents.checkpoint, parents.json, parents.force],
        help="why it decided: saliency, SmoothGrad, Grad-CAM and occlusion maps over each image",
    )
    w.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP, GIF or WebP files")
    w.add_argument("--method", default="all", help="saliency, smoothgrad, gradcam, occlusion, a list, or all (default)")
    w.add_argument("--target", help="explain this class, not the predicted one (why not a 7?): a name or an index")
    w.add_argument("--layer", help="Grad-CAM: the layer (default: the last feature map before the classifier)")
    w.add_argument("--window", type=int, default=4, help="occlusion: patch size in pixels (default 4)")
    w.add_argument("--stride", type=int, default=2, help="occlusion: patch step in pixels (default 2)")
    add_out(w, "folder for the PNGs, one per image", "why")


def add_filter(sub: Subparsers, parents: Parents) -> None:
    """`convlab filter`'s parser and flags."""
    f = sub.add_parser(
        "filter",
        parents=[parents.checkpoint, parents.test_set, parents.json, parents.force],
        help="what a channel looks for: the test crops that excite it most, and an image made to",
    )
    f.add_argument("--layer", required=True, help="a layer: its row number or name in `convlab summary`")
    f.add_argument("--channel", type=int, required=True, help="the channel of that layer")
    # (no default here: filters.describe_channel's own, TOP and STEPS, apply when they are not given)
    f.add_argument("--top", type=int, help="how many test images (default 9)")
    f.add_argument("--steps", type=int, help="steps of activation maximisation (default 128)")
    f.add_argument("--seed", type=int, help="seed of the made image (default 0)")
    add_out(f, "folder for the PNG", "filters")


def add_mistakes(sub: Subparsers, parents: Parents) -> None:
    """`convlab mistakes`'s parser and flags."""
    mk = sub.add_parser(
        "mistakes",
        parents=[parents.checkpoint, parents.test_set, parents.json, parents.force],
        help="where it fails: confusion counts, the most confused pairs, their worst images",
    )
    mk.add_argument("--pairs", type=whole(1, 100), default=5, help="how many confused pairs (default 5)")
    mk.add_argument("--per-pair", type=whole(1, 100), default=8, help="images per pair (default 8)")
    add_out(mk, "folder for confusion.png and one grid per pair, with saliency")


def add_visualize(sub: Subparsers, parents: Parents) -> None:
    """`convlab visualize`'s parser and flags."""
    v = sub.add_parser(
        "visualize",
        parents=[parents.checkpoint, parents.force],
        help="feature maps of every layer, first-layer kernels and the prediction",
    )
    v.add_argument("image", metavar="IMAGE", help="an image file")
    add_out(v, "folder for the PNGs", "feature-maps")


def add_import_weights(sub: Subparsers, parents: Parents) -> None:
    """`convlab import-weights`'s parser and flags."""
    iw = sub.add_parser(
        "import-weights",
        parents=[parents.force],
        help="convert a plain PyTorch state_dict (.pt) to a safe .safetensors checkpoint",
    )
    iw.add_argument("file", help="a .pt/.pth file holding a state_dict (read with weights_only=True)")
    iw.add_argument("--model", required=True, help="its architecture: a model name (see `convlab zoo`) or FILE.py:NAME")
    iw.add_argument("--model-args", metavar="JSON", help="your own model: keyword arguments as a JSON object")
    iw.add_argument("--dataset", default="fashion-mnist", help="its classes and normalisation (default fashion-mnist)")
    add_out(iw, "the .safetensors file to write", required=True)


def add_export(sub: Subparsers, parents: Parents) -> None:
    """`convlab export`'s parser and flags."""
    xp = sub.add_parser(
        "export",
        parents=[parents.checkpoint, parents.force],
        help="export a checkpoint to ONNX (checked, compared with PyTorch)",
    )
    xp.add_argument("--format", default="onnx", help="onnx (default)")
    add_out(xp, "the file to write, e.g. model.onnx", required=True)


def add_serve(sub: Subparsers, parents: Parents) -> None:
    """`convlab serve`'s parser and flags."""
    from .models.pretrained import PLAYGROUND_DEFAULT, bundled

    sv = sub.add_parser("serve", help="the interactive playground in your browser (local web page)")
    default = PLAYGROUND_DEFAULT if PLAYGROUND_DEFAULT in bundled() else None  # (as web.models.Models opens)
    sv.add_argument("--checkpoint", help=checkpoint_help(default) + "; the page's model switcher offers every one")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--runs", default="runs", help="folder for trainings started in the page (default runs)")
    sv.add_argument("--data", help="a folder of your images (class subfolders) the page may train on")
    sv.add_argument(
        "--allow-training",
        action="store_true",
        help="let other computers start trainings (default: only this machine's browser)",
    )
    sv.add_argument(
        "--threads", type=int, default=1, help="PyTorch threads per request (default 1: requests use the cores)"
    )


# In the order `convlab --help` lists them.
def add_verify(sub: Subparsers, parents: Parents) -> None:
    """`convlab verify`'s parser and flags."""
    vf = sub.add_parser(
        "verify", parents=[parents.json], help="a network on PyTorch's ops and on convlab's: layer by layer differences"
    )
    vf.add_argument("--model", required=True, help="FILE.py:NAME, package.module:NAME or a model name")
    vf.add_argument("--input-size", type=int, nargs=3, default=[1, 28, 28], metavar=("C", "H", "W"),
                    help="input size (default 1 28 28)")  # fmt: skip
    vf.add_argument("--num-classes", type=int, default=10, help="outputs (default 10)")


# Commands that take your own network's code: True where `--model FILE.py:NAME` names the code of
# a checkpoint (the command's model otherwise comes from --checkpoint), False where --model exists.
CODE_FLAGS = {
    "summary": False, "explain": False, "eval": True, "predict": True, "why": True, "filter": True,
    "mistakes": True, "visualize": True, "export": True, "serve": True, "verify": False,
}  # fmt: skip

BUILTIN: tuple[AddCommand, ...] = (
    add_demo, add_datasets, add_train, add_zoo, add_summary, add_explain, add_eval, add_predict, add_why,
    add_filter, add_mistakes, add_visualize, add_import_weights, add_export, add_serve, add_verify,
)  # fmt: skip


def build(version: str, commands: tuple[AddCommand, ...] | list[AddCommand]) -> tuple[Parser, Subparsers]:
    """The root parser (`convlab --version`, `convlab --help`) with each command added in order."""
    p = Parser(
        prog="convlab",
        description="Convolutional neural networks made real: "
        "the tutorial's loops, exact fast ops, LeNet training, and instruments to see inside.",
    )
    p.add_argument("--version", action="version", version=f"convlab {version}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parents = make_parents()
    for add in commands:
        add(sub, parents)
    for name, model in CODE_FLAGS.items():
        add_code_arguments(sub.choices[name], model=model)
    return p, sub
