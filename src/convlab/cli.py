"""Command line: parse arguments, call one library function, print. Nothing else.

One error boundary (`main`): a user mistake (`convlab.errors.UserError`, which the library
raises for bad paths, arguments and file contents) prints one line `convlab: error: …` on
stderr and exits with status 2, without a traceback. Anything else is a bug in convlab: it
keeps its traceback, says so in one more line, and exits with status 1. The commands that look
inside a network live in `commands_inspect`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from . import __version__
from .arguments import BUILTIN, AddCommand
from .arguments import build as build_arguments
from .check import cli as check_cli
from .commands_inspect import (
    cmd_explain,
    cmd_filter,
    cmd_mistakes,
    cmd_summary,
    cmd_verify,
    cmd_visualize,
    cmd_why,
    cmd_zoo,
)
from .errors import UserCodeError, UserError
from .lab import cli as lab_cli
from .modelspec import checkpoint_consent, consent_from, parse_args_json
from .wording import counted

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
        print(demos.image_as_matrix(args.path, args.out, args.max_size, args.force))
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
    from .fsutil import output_file

    output_file(args.out, args.force, ".png")

    is_name = args.target in known_names
    ds = load_dataset(
        dataset=args.target if is_name else None, data=None if is_name else args.target, data_dir=args.data_dir
    )
    print(ds.describe())
    images, names = ds.samples(args.per_class)
    path = plots.save(plots.sample_grid(images, names, title=ds.name, cols=args.per_class * 2), args.out)
    print(f"saved {len(images)} samples to {path}")


def _train_config(args):
    """(config, overrides) of `convlab train`: the TrainConfig from --config and the flags given, or,
    with --resume, no config and the flags given as overrides. Raises UserError for --out/--force/--config
    beside --resume."""
    from .config import given_options, resolve
    from .configfile import build_config

    given = given_options(args)
    if not args.resume:
        return resolve(build_config(args.config, **given)), None
    for name, value in (("--out", args.out), ("--force", args.force), ("--config", args.config)):
        if value:
            raise UserError(
                f"{name} cannot be combined with --resume (a resumed run keeps its folder and recipe); "
                f"drop {name}, or start a new run without --resume"
            )
    return None, given


def _check_processes(args) -> None:
    """Refuse (UserError) --nproc below 1, and --max-restarts without --nproc 2 or more."""
    if args.nproc is not None and args.nproc < 1:
        raise UserError(f"--nproc must be at least 1, got {args.nproc}")
    if (args.max_restarts and not (args.nproc and args.nproc > 1)) or args.max_restarts < 0:
        raise UserError("--max-restarts N (N >= 0) goes with --nproc 2 or more; under torchrun use its --max-restarts")


def _fit_here(args, cfg, overrides):
    """Fit in this process and print the final accuracy (the main process); 3 when a peer was lost."""
    from . import distributed, elastic, runtime
    from .train import fit

    runtime.keep_freed_memory()  # this process is ours: no page faults per step
    try:
        try:
            result = fit(
                cfg, out=args.out, resume=args.resume, force=args.force, progress=not args.quiet, overrides=overrides,
                consent=consent_from(args),
            )  # fmt: skip
        except Exception as e:
            if not elastic.is_peer_loss(e):
                raise
            elastic.report(elastic.peer_loss_line(e), "peer", everyone=True)
            return 3
        if distributed.is_main() and result.history:
            f = result.final
            print(
                f"final test accuracy {f['test_acc']:.4f} after {counted(f['epoch'], 'epoch')} "
                f"({f['elapsed_s']:.1f} s); run saved to {result.run_dir}"
            )
    finally:  # a process group left alive aborts the interpreter at exit, errors included
        distributed.cleanup()
    return None


def cmd_train(args):
    """`convlab train`: build the TrainConfig from --config and the flags given (or resume --resume DIR)
    and fit it, or launch --nproc processes with torchrun; returns torchrun's exit status then. Raises
    UserError for an invalid option, or --out/--force/--config beside --resume."""
    cfg, overrides = _train_config(args)
    _check_processes(args)
    if args.nproc and args.nproc > 1:
        from .launch import launch

        return launch(args.nproc, args.argv, args.max_restarts)
    return _fit_here(args, cfg, overrides)


def cmd_eval(args: argparse.Namespace) -> None:
    """`convlab eval`: test accuracy (0–1), loss and per-class precision/recall of --checkpoint, as text or
    JSON; --out saves the confusion matrix as a PNG. Raises UserError for a bad checkpoint or test set."""
    import json

    from .checkpoint import load_checkpoint
    from .evaluate import evaluate_checkpoint
    from .fsutil import output_file

    if args.out:
        output_file(args.out, args.force, ".png")  # (the confusion matrix)
    ck = load_checkpoint(args.checkpoint, consent=checkpoint_consent(args))
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

    ck = load_checkpoint(args.checkpoint, consent=checkpoint_consent(args))
    results = predict(ck, args.images, args.top_k)
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        note = f"  ({'; '.join(r['steps'])})" if r["steps"] else ""
        top = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        print(f"{r['image']}: {r['prediction']}{note}  [{top}]")


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
        models_for(args.checkpoint, consent_from(args), args.model_args),
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
    r = export_onnx(
        load_checkpoint(args.checkpoint, ops="torch", consent=checkpoint_consent(args)), args.out, args.force
    )
    print(
        f"wrote {r['path']} ({r['bytes']:,} bytes, opset {r['opset']}, dynamic batch); onnx.checker passed; "
        f"largest difference onnxruntime vs PyTorch: {r['max_abs_diff']:.2e}"
    )


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
        print(e.user_traceback(), file=sys.stderr)  # (the frames of their file only, as `convlab check` shows them)
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
