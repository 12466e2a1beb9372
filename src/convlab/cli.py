"""Command line: parse arguments, call one library function, print. Nothing else.

One error boundary (`main`): a user mistake (`convlab.errors.UserError`, which the library
raises for bad paths, arguments and file contents) prints one line `convlab: error: …` on
stderr and exits with status 2, without a traceback. Anything else is a bug in convlab: it
keeps its traceback, says so in one more line, and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .arguments import BUILTIN, AddCommand
from .arguments import build as build_arguments
from .check import cli as check_cli
from .errors import UserCodeError, UserError
from .lab import cli as lab_cli
from .modelspec import consent_from, parse_args_json

if TYPE_CHECKING:
    from torch import nn

BUG = (
    "convlab: internal error: this is a bug in convlab, not a mistake in what you gave it; please report it "
    "as an issue in convlab's repository with the traceback above, the command you ran and `convlab --version`"
)


def cmd_demo(args: argparse.Namespace) -> None:
    """`convlab demo [all|edge|image PATH]`: print the tutorial's walkthrough, the learned edge kernel, or an
    image as its 0–255 matrix (saving the picture to --out). Raises UserError for a missing or extra PATH."""
    from . import demos

    if args.what == "image":
        if not args.path:
            raise UserError("demo image needs a PATH: convlab demo image photo.png")
        print(demos.image_as_matrix(args.path, args.out, args.max_size))
        print(f"picture saved to {args.out}")
        return
    if args.path:
        raise UserError(f"demo {args.what} takes no PATH")
    if args.what == "all":
        print(demos.walkthrough())
    elif args.what == "edge":
        r = demos.learn_edge_kernel(epochs=args.epochs, lr=args.lr, seed=args.seed)
        for epoch, loss in r.losses:
            if epoch % 2 == 0:
                print(f"epoch {epoch}, loss {loss:.3f}")
        print(f"learned kernel: [{r.kernel[0]:.4f}, {r.kernel[1]:.4f}]  (target [1, -1])")


def cmd_datasets(args: argparse.Namespace) -> None:
    """`convlab datasets [show NAME|PATH]`: where each known dataset is (or would be downloaded), or a
    PNG grid of --per-class samples per class. Raises UserError for an unknown action, name or unreadable PATH."""
    from .data import load_dataset
    from .data.sources import KNOWN, status

    if args.action is None:
        for name in KNOWN:
            row = status(name, args.data_dir)
            if row["found"]:
                where = f"{row['found']}  ({row['train']} train / {row['test']} test)"
            else:
                where = "missing (downloaded on first use)"
            print(f"{name:<14s} {where}")
            print(f"{'':<14s} {row['title']}; license: {row['license']}")
            if row.get("source"):
                print(f"{'':<14s} from: {row['source']}")
            print(f"{'':<14s} classes: {', '.join(row['classes'])}")
        return
    if args.action != "show" or not args.target:
        raise UserError("usage: convlab datasets [show NAME|PATH --out grid.png]")
    from . import plots
    from .data.sources import KNOWN as known_names

    is_name = args.target in known_names
    ds = load_dataset(
        dataset=args.target if is_name else None, data=None if is_name else args.target, data_dir=args.data_dir
    )
    print(ds.describe())
    images, names = ds.samples(args.per_class)
    path = plots.save(plots.sample_grid(images, names, title=ds.name, cols=args.per_class * 2), args.out)
    print(f"saved {len(images)} samples to {path}")


def cmd_train(args):
    """`convlab train`: build the TrainConfig from --config and the flags given (or resume --resume DIR)
    and fit it, or launch --nproc processes with torchrun; returns torchrun's exit status then. Raises
    UserError for an invalid option, or --out/--force/--config beside --resume."""
    from .config import given_options, resolve
    from .configfile import build_config

    given = given_options(args)
    cfg = overrides = None
    if args.resume:
        for name, value in (("--out", args.out), ("--force", args.force), ("--config", args.config)):
            if value:
                raise UserError(
                    f"{name} cannot be combined with --resume (a resumed run keeps its folder and recipe); "
                    f"drop {name}, or start a new run without --resume"
                )
        overrides = given
    else:
        cfg = resolve(build_config(args.config, **given))
    if args.nproc is not None and args.nproc < 1:
        raise UserError(f"--nproc must be at least 1, got {args.nproc}")
    if (args.max_restarts and not (args.nproc and args.nproc > 1)) or args.max_restarts < 0:
        raise UserError("--max-restarts N (N >= 0) goes with --nproc 2 or more; under torchrun use its --max-restarts")
    if args.nproc and args.nproc > 1:
        from .launch import launch

        return launch(args.nproc, args.argv, args.max_restarts)
    from . import distributed, elastic, runtime
    from .train import fit

    runtime.keep_freed_memory()  # this process is ours: no page faults per step
    try:
        try:
            result = fit(
                cfg, out=args.out, resume=args.resume, force=args.force, progress=not args.quiet, overrides=overrides
            )
        except Exception as e:
            if not elastic.is_peer_loss(e):
                raise
            elastic.report(elastic.peer_loss_line(e), "peer", everyone=True)
            return 3
        if distributed.is_main() and result.history:
            f = result.final
            print(
                f"final test accuracy {f['test_acc']:.4f} after {f['epoch']} epochs "
                f"({f['elapsed_s']:.1f} s); run saved to {result.run_dir}"
            )
    finally:  # a process group left alive aborts the interpreter at exit, errors included
        distributed.cleanup()


def cmd_eval(args: argparse.Namespace) -> None:
    """`convlab eval`: test accuracy (0–1), loss and per-class precision/recall of --checkpoint, as text or
    JSON; --out saves the confusion matrix as a PNG. Raises UserError for a bad checkpoint or test set."""
    import json

    from .checkpoint import load_checkpoint
    from .evaluate import evaluate_checkpoint

    ck = load_checkpoint(args.checkpoint, consent=consent_from(args))
    ev = evaluate_checkpoint(ck, args.dataset, args.data, args.data_dir, device=args.device)
    if args.out:
        from . import plots

        plots.save(plots.confusion_matrix(ev["confusion"], ck.classes, f"{ev['dataset']} test"), args.out)
    if args.json:
        print(
            json.dumps(
                {
                    "accuracy": ev["accuracy"],
                    "n": ev["n"],
                    "loss": ev["loss"],
                    "dataset": ev["dataset"],
                    "checkpoint": ck.meta.path,
                    "per_class": ev["per_class"],
                    "confusion": ev["confusion"].tolist(),
                }
            )
        )
        return
    print(f"{ev['dataset']}: accuracy {ev['accuracy']:.4f} on {ev['n']} test images (loss {ev['loss']:.4f})")
    print(f"  {'class':<14s} precision  recall  support")
    for r in ev["per_class"]:
        print(f"  {r['class']:<14s} {r['precision']:9.4f} {r['recall']:7.4f} {r['support']:8d}")
    if args.out:
        print(f"confusion matrix saved to {args.out}")


def cmd_predict(args: argparse.Namespace) -> None:
    """`convlab predict IMAGE…`: each image's predicted class and its top-k probabilities (0–1), with the
    preparation steps applied. Raises UserError for an unreadable image or checkpoint."""
    import json

    from .checkpoint import load_checkpoint
    from .predict import predict

    ck = load_checkpoint(args.checkpoint, consent=consent_from(args))
    results = predict(ck, args.images, args.top_k)
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        note = f"  ({'; '.join(r['steps'])})" if r["steps"] else ""
        top = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        print(f"{r['image']}: {r['prediction']}{note}  [{top}]")


def _model_for(args: argparse.Namespace) -> tuple[nn.Module, tuple[int, int, int]]:
    """(model, (C, H, W) input size) from --checkpoint or --model/--input-size."""
    from .models import build_model

    if getattr(args, "checkpoint", None):
        from .checkpoint import load_checkpoint

        ck = load_checkpoint(args.checkpoint, consent=consent_from(args))
        return ck.model, tuple(args.input_size or ck.input_shape)
    size = tuple(args.input_size or (1, 28, 28))
    return build_model(
        args.model, in_channels=size[0], input_size=size[1:], model_args=parse_args_json(args.model_args)
    ), size


def cmd_zoo(args: argparse.Namespace) -> None:
    """`convlab zoo`: every model's parameters, multiply-adds, receptive field and recorded accuracy, as a
    text table, a Markdown table or JSON."""
    import json

    from .models.zoo import render, results, table

    rows = table()
    if args.json:
        print(json.dumps({"machine": results().get("machine"), "models": rows}))
    else:
        print(render(rows, results().get("machine", ""), markdown=args.markdown))


def cmd_why(args: argparse.Namespace) -> None:
    """`convlab why IMAGE…`: one PNG per image in --out with each attribution method's map, and the
    prediction. Raises UserError for an unknown method, class, layer or an unreadable image."""
    import json

    from .attribution import METHODS
    from .checkpoint import load_checkpoint
    from .errors import unknown_name
    from .why import explain_images

    methods = METHODS if args.method == "all" else tuple(m.strip() for m in args.method.split(","))
    for m in methods:
        if m not in METHODS:
            raise unknown_name("attribution method", m, (*METHODS, "all"))
    ck = load_checkpoint(args.checkpoint, consent=consent_from(args))
    rows = explain_images(ck, args.images, methods, args.out, args.target, args.layer, args.window, args.stride)
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        top = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        print(f"{r['image']}: {r['prediction']}  [{top}]  → {r['file']}")
        for method, note in r["notes"].items():  # each image's own: a map empty for one image is not for all
            print(f"  {method}: {note}")


def cmd_filter(args: argparse.Namespace) -> None:
    """`convlab filter --layer L --channel C`: the test images that excite one channel most (their
    crops) and an image made to excite it, as one PNG in --out. Raises UserError for an unknown layer or channel."""
    import json

    from .checkpoint import load_checkpoint
    from .evaluate import checkpoint_test_set
    from .filters import describe_channel, write_figure
    from .fsutil import output_dir

    ck = load_checkpoint(args.checkpoint, consent=consent_from(args))

    def test_set():
        ds = checkpoint_test_set(ck, args.dataset, args.data, args.data_dir)
        return ds.test_x, ds.test_y, ds.classes

    given = {k: getattr(args, k) for k in ("top", "steps", "seed") if getattr(args, k) is not None}
    r = describe_channel(ck, args.layer, args.channel, test_set, **given)
    path = write_figure(r, output_dir(args.out))
    if args.json:
        top = [{"index": b.index, "activation": b.activation, "unit": b.unit, "box": b.box} for b in r.top]
        print(json.dumps({"layer": r.layer, "name": r.name, "channel": r.channel, "file": str(path), "top": top}))
        return
    print(f"layer {r.layer} ({r.name}), channel {r.channel}: the {len(r.top)} test images that excite it most")
    for b, label in zip(r.top, r.labels):
        print(f"  test image {b.index:5d} ({label}): {b.activation:.3f} at unit {b.unit}, "
              f"seeing rows {b.box[0]}–{b.box[2]}, columns {b.box[1]}–{b.box[3]}")  # fmt: skip
    print(f"wrote {path} (the crops, and an image made to excite it: {r.steps} steps, seed {r.seed})")


def cmd_mistakes(args: argparse.Namespace) -> None:
    """`convlab mistakes`: the confusion counts, the most confused pairs and their most confident wrong
    images (--out: PNGs with saliency). Raises UserError for a bad checkpoint or test set."""
    import json

    from .checkpoint import load_checkpoint
    from .mistakes import confusion_text, find_mistakes
    from .mistakes import report as pair_report

    ck = load_checkpoint(args.checkpoint, consent=consent_from(args))
    m = find_mistakes(ck, args.dataset, args.data, args.data_dir)
    report = pair_report(m, ck, args.pairs, args.per_pair, args.out)
    if args.json:
        print(json.dumps({"dataset": m.dataset, "accuracy": m.accuracy, "n": len(m.labels),
                          "confusion": m.confusion.tolist(), "pairs": report}))  # fmt: skip
        return
    print(confusion_text(m))
    print("most confused:")
    for row in report:
        worst = row["examples"][0] if row["examples"] else None
        note = f"; most confident: test image {worst['index']} at {worst['confidence']:.3f}" if worst else ""
        print(f"  {row['true_class']} taken for {row['predicted_class']}: {row['count']} times{note}")
    if args.out:
        print(f"wrote {args.out}/confusion.png and {len(report)} grids with saliency")


def cmd_summary(args: argparse.Namespace) -> None:
    """`convlab summary`: the per-layer table (output shape, parameters, multiply-adds, receptive field in
    input pixels) of --model or --checkpoint for a (C, H, W) --input-size."""
    from .introspect import summary

    model, size = _model_for(args)
    s = summary(model, size)
    if args.json:
        import json

        print(json.dumps(s.to_dict()))
    else:
        print(s)


def cmd_visualize(args: argparse.Namespace) -> None:
    """`convlab visualize IMAGE`: every layer's feature maps, the first layer's kernels and the prediction,
    as PNGs in --out. Raises UserError for an unreadable image or checkpoint."""
    from .checkpoint import load_checkpoint
    from .introspect import save_feature_maps

    ck = load_checkpoint(args.checkpoint, consent=consent_from(args))
    r = save_feature_maps(ck, args.image, args.out)
    note = f" ({'; '.join(r['steps'])})" if r["steps"] else ""
    print(
        f"prediction: {r['prediction']}{note}  ["
        + ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        + "]"
    )
    print(f"wrote {len(r['files'])} images to {args.out}")


def cmd_explain(args: argparse.Namespace) -> None:
    """`convlab explain conv|pool|shapes`: every output cell's arithmetic written out, or each layer's output
    shape. Raises UserError for a missing --input/--kernel or a matrix it cannot read."""
    from . import explain

    if args.what == "shapes":
        model, size = _model_for(args)
        print(explain.explain_shapes(model, size))
        return
    if not args.input:
        raise UserError(f'explain {args.what} needs --input (a matrix like "0 1 2; 3 4 5", a CSV or an image)')
    x = explain.load_matrix(args.input, "--input")
    if args.what == "conv":
        if not args.kernel:
            raise UserError('explain conv needs --kernel, e.g. --kernel "0 1; 2 3"')
        e = explain.explain_conv(
            x, explain.load_matrix(args.kernel, "--kernel"), args.padding, args.stride or 1, args.dilation
        )
    else:
        e = explain.explain_pool(x, args.size, args.mode, args.padding, args.stride)
    print(e.text())


def cmd_serve(args: argparse.Namespace) -> None:
    """`convlab serve`: the playground on http://HOST:PORT until Ctrl-C. Raises UserError without the web
    extra, for a --data that is not a folder, or --threads below 1."""
    try:
        from .web.app import models_for, serve
    except ImportError as e:
        raise UserError(f"the playground needs the web extra ({e.name} missing): pip install 'convlab[web]'") from None
    if args.data is not None and not Path(args.data).is_dir():
        raise UserError(f"--data {args.data} is not a folder; give a folder of images in class subfolders")
    if args.threads < 1:
        raise UserError(f"--threads must be 1 or more, got {args.threads}")
    serve(
        models_for(args.checkpoint, consent_from(args)),
        args.host,
        args.port,
        args.runs,
        args.data,
        args.allow_training,
        args.threads,
    )


def cmd_import_weights(args: argparse.Namespace) -> None:
    """`convlab import-weights FILE`: a plain state_dict (read with weights_only=True) saved as a
    .safetensors checkpoint with --dataset's classes and normalisation. Raises UserError for a file that does not
    fit --model, or an existing --out without --force."""
    from .checkpoint import import_state_dict
    from .data import load_dataset
    from .metadata import DatasetMeta

    ds = load_dataset(args.dataset, progress=False)
    mean, std = ds.pixel_stats()
    out = import_state_dict(
        args.file,
        args.model,
        ds.classes,
        mean,
        std,
        args.out,
        ds.channels,
        ds.size,
        args.force,
        dataset=DatasetMeta(name=ds.name),
        model_args=parse_args_json(args.model_args),
    )
    print(f"imported {args.file} as {args.model} for {ds.name}: {out}")


def cmd_export(args: argparse.Namespace) -> None:
    """`convlab export --out FILE`: the checkpoint as ONNX, checked and compared with PyTorch; prints the
    largest difference. Raises UserError for an unknown format, a missing export extra or an existing --out."""
    from .checkpoint import load_checkpoint
    from .errors import unknown_name
    from .export import FORMATS, export_onnx

    if args.format not in FORMATS:
        raise unknown_name("export format", args.format, FORMATS)
    r = export_onnx(load_checkpoint(args.checkpoint, ops="torch", consent=consent_from(args)), args.out, args.force)
    print(
        f"wrote {r['path']} ({r['bytes']:,} bytes, opset {r['opset']}, dynamic batch); onnx.checker passed; "
        f"largest difference onnxruntime vs PyTorch: {r['max_abs_diff']:.2e}"
    )


def cmd_verify(args: argparse.Namespace) -> None:
    """`convlab verify`: the network of --model on PyTorch's ops and on convlab's, layer by layer: the
    largest difference of outputs and gradients (float64), and the layers convlab has no op for."""
    import json

    from .verify import verify_model

    r = verify_model(args.model, tuple(args.input_size), args.num_classes, parse_args_json(args.model_args))
    if args.json:
        rows = [vars(row) for row in r.layers]
        print(json.dumps({"layers": rows, "input_grad_diff": r.input_grad_diff, "largest": r.largest}))
        return
    print(r.text())


# Every command, in the order `convlab --help` lists them: a function (subparsers, parents) → None
# that adds its parser (see convlab.arguments). A package with a command of its own adds its
# function here; the command's parser sets its own `func`.
COMMANDS: list[AddCommand] = [*BUILTIN, check_cli.add_command, lab_cli.add_command]

# The function each built-in command runs.
HANDLERS = {
    "demo": cmd_demo,
    "datasets": cmd_datasets,
    "train": cmd_train,
    "zoo": cmd_zoo,
    "summary": cmd_summary,
    "explain": cmd_explain,
    "eval": cmd_eval,
    "predict": cmd_predict,
    "why": cmd_why,
    "filter": cmd_filter,
    "mistakes": cmd_mistakes,
    "visualize": cmd_visualize,
    "import-weights": cmd_import_weights,
    "export": cmd_export,
    "serve": cmd_serve,
    "verify": cmd_verify,
}


def build_parser() -> argparse.ArgumentParser:
    """`convlab`'s parser: every command in `COMMANDS`, each bound to its function."""
    parser, sub = build_arguments(__version__, COMMANDS)
    for name, func in HANDLERS.items():
        sub.choices[name].set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status: 0 done, 1 a bug in convlab (or, with --nproc, a failed training
    process), 2 a user mistake, 3 a training process lost its peers, 130 Ctrl-C."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except UserError as e:  # a user mistake: one line, no traceback (once, under torchrun)
        from .elastic import report

        report(str(e).replace(chr(10), " "), "user")
        return 2
    except UserCodeError as e:  # the user's own code failed: their traceback, then what convlab was doing
        traceback.print_exception(e.__cause__ or e)
        print(f"convlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convlab: interrupted", file=sys.stderr)
        return 130
    except Exception:  # anything else is a bug: keep the traceback
        traceback.print_exc()
        print(BUG, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
