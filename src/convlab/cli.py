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

from . import __version__
from .errors import UserError

BUG = (
    "convlab: internal error: this is a bug in convlab, not a mistake in what you gave it; please report it "
    "as an issue in convlab's repository with the traceback above, the command you ran and `convlab --version`"
)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage dump) and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def cmd_demo(args):
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


def cmd_datasets(args):
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
    from .config import build_config, given_options

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
        cfg = build_config(args.config, **given).validate()
    if args.nproc is not None and args.nproc < 1:
        raise UserError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc and args.nproc > 1:
        return _launch_torchrun(args.nproc, args.argv)
    from . import distributed, runtime
    from .train import fit

    runtime.keep_freed_memory()  # this process is ours: no page faults per step
    try:
        result = fit(
            cfg, out=args.out, resume=args.resume, force=args.force, progress=not args.quiet, overrides=overrides
        )
        if distributed.is_main() and result.history:
            f = result.final
            print(
                f"final test accuracy {f['test_acc']:.4f} after {f['epoch']} epochs "
                f"({f['elapsed_s']:.1f} s); run saved to {result.run_dir}"
            )
    finally:  # a process group left alive aborts the interpreter at exit, errors included
        distributed.cleanup()


def _launch_torchrun(nproc: int, argv: list[str]) -> int:
    """`convlab train --nproc N …` = `torchrun --standalone --nproc_per_node N -m convlab train …`,
    built from the arguments this command was given (`argv`, without `--nproc`)."""
    import subprocess

    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        rest.append(a)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "convlab",
        *rest,
    ]
    r = subprocess.run(cmd)
    if r.returncode != 0:
        print(f"convlab: error: a training process failed (exit {r.returncode}); the job was stopped", file=sys.stderr)
    return r.returncode


def cmd_eval(args):
    import json

    from .checkpoint import load_checkpoint
    from .train import evaluate_checkpoint

    ck = load_checkpoint(args.checkpoint)
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
                    "checkpoint": ck.meta["path"],
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


def cmd_predict(args):
    import json

    from .checkpoint import load_checkpoint
    from .predict import predict

    ck = load_checkpoint(args.checkpoint)
    results = predict(ck, args.images, args.top_k)
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        note = f"  ({'; '.join(r['steps'])})" if r["steps"] else ""
        top = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        print(f"{r['image']}: {r['prediction']}{note}  [{top}]")


def _model_for(args):
    """(model, input_size) from --checkpoint or --model/--input-size."""
    from .models import build_model

    if getattr(args, "checkpoint", None):
        from .checkpoint import load_checkpoint

        ck = load_checkpoint(args.checkpoint)
        return ck.model, tuple(args.input_size or ck.input_shape)
    size = tuple(args.input_size or (1, 28, 28))
    return build_model(args.model, in_channels=size[0], input_size=size[1:]), size


def cmd_zoo(args):
    import json

    from .models.zoo import render, results, table

    rows = table()
    if args.json:
        print(json.dumps({"machine": results().get("machine"), "models": rows}))
    else:
        print(render(rows, results().get("machine", ""), markdown=args.markdown))


def cmd_why(args):
    import json

    from .attribution import METHODS
    from .checkpoint import load_checkpoint
    from .errors import unknown_name
    from .why import explain_images

    methods = METHODS if args.method == "all" else tuple(m.strip() for m in args.method.split(","))
    for m in methods:
        if m not in METHODS:
            raise unknown_name("attribution method", m, (*METHODS, "all"))
    ck = load_checkpoint(args.checkpoint)
    rows = explain_images(ck, args.images, methods, args.out, args.target, args.layer, args.window, args.stride)
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        top = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        print(f"{r['image']}: {r['prediction']}  [{top}]  → {r['file']}")
    for method, note in rows[0]["notes"].items():
        print(f"  {method}: {note}")


def cmd_filter(args):
    import json

    from . import plots
    from .checkpoint import load_checkpoint
    from .evaluate import checkpoint_test_set
    from .filters import maximize, to_uint8, top_images
    from .fsutil import output_dir
    from .graph import layer_graph

    ck = load_checkpoint(args.checkpoint)
    graph = layer_graph(ck.model)
    layer = graph.find(args.layer)
    ds = checkpoint_test_set(ck, args.dataset, args.data, args.data_dir)
    best = top_images(ck, layer, args.channel, ds.test_x, args.top)
    made = to_uint8(maximize(ck, layer, args.channel, steps=args.steps, seed=args.seed))
    name = graph.rows[layer].name
    out = output_dir(args.out)
    path = plots.save(
        plots.filter_figure(
            [b.crop for b in best],
            [b.activation for b in best],
            made,
            f"layer {layer} ({name}), channel {args.channel}",
        ),
        out / f"filter-layer{layer}-channel{args.channel}.png",
    )
    if args.json:
        top = [{"index": b.index, "activation": b.activation, "unit": b.unit, "box": b.box} for b in best]
        print(json.dumps({"layer": layer, "name": name, "channel": args.channel, "file": str(path), "top": top}))
        return
    print(f"layer {layer} ({name}), channel {args.channel}: the {len(best)} test images that excite it most")
    for b in best:
        label = ds.classes[int(ds.test_y[b.index])]
        print(f"  test image {b.index:5d} ({label}): {b.activation:.3f} at unit {b.unit}, "
              f"seeing rows {b.box[0]}–{b.box[2]}, columns {b.box[1]}–{b.box[3]}")  # fmt: skip
    print(f"wrote {path} (the crops, and an image made to excite it: {args.steps} steps, seed {args.seed})")


def cmd_mistakes(args):
    import json

    from .checkpoint import load_checkpoint
    from .mistakes import confusion_text, find_mistakes
    from .mistakes import report as pair_report

    ck = load_checkpoint(args.checkpoint)
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


def cmd_summary(args):
    from .introspect import summary

    model, size = _model_for(args)
    s = summary(model, size)
    if args.json:
        import json

        print(json.dumps(s.to_dict()))
    else:
        print(s)


def cmd_visualize(args):
    from .checkpoint import load_checkpoint
    from .introspect import save_feature_maps

    ck = load_checkpoint(args.checkpoint)
    r = save_feature_maps(ck, args.image, args.out)
    note = f" ({'; '.join(r['steps'])})" if r["steps"] else ""
    print(
        f"prediction: {r['prediction']}{note}  ["
        + ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        + "]"
    )
    print(f"wrote {len(r['files'])} images to {args.out}")


def cmd_explain(args):
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


def cmd_serve(args):
    try:
        from .web.app import models_for, serve
    except ImportError as e:
        raise UserError(f"the playground needs the web extra ({e.name} missing): pip install 'convlab[web]'") from None
    if args.data is not None and not Path(args.data).is_dir():
        raise UserError(f"--data {args.data} is not a folder; give a folder of images in class subfolders")
    if args.threads < 1:
        raise UserError(f"--threads must be 1 or more, got {args.threads}")
    serve(models_for(args.checkpoint), args.host, args.port, args.runs, args.data, args.allow_training, args.threads)


def cmd_import_weights(args):
    from .checkpoint import import_state_dict
    from .data import load_dataset

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
        extra={"dataset": {"name": ds.name}},
    )
    print(f"imported {args.file} as {args.model} for {ds.name}: {out}")


def cmd_export(args):
    from .checkpoint import load_checkpoint
    from .errors import unknown_name
    from .export import FORMATS, export_onnx

    if args.format not in FORMATS:
        raise unknown_name("export format", args.format, FORMATS)
    r = export_onnx(load_checkpoint(args.checkpoint, ops="torch"), args.out, args.force)
    print(
        f"wrote {r['path']} ({r['bytes']:,} bytes, opset {r['opset']}, dynamic batch); onnx.checker passed; "
        f"largest difference onnxruntime vs PyTorch: {r['max_abs_diff']:.2e}"
    )


def add_test_set_args(p: argparse.ArgumentParser) -> None:
    """--dataset | --data and --data-dir: the test set a checkpoint is scored on (eval, filter, mistakes)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dataset", help="known dataset (default: the one the model was trained on)")
    g.add_argument("--data", help="your own data (its test split, or the held-out split)")
    p.add_argument("--data-dir", help="folder searched first for known datasets")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="convlab",
        description="Convolutional neural networks made real: "
        "the tutorial's loops, exact fast ops, LeNet training, and instruments to see inside.",
    )
    p.add_argument("--version", action="version", version=f"convlab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("demo", help="run the tutorial's demonstrations (walkthrough of §2–6, edge kernel)")
    d.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=["all", "edge", "image"],
        help="'all': the walkthrough of §2–6 (default); 'edge': learn K=[1,-1] (§2.4); "
        "'image PATH': an image as its 0–255 matrix or RGB channels (§1.1)",
    )
    d.add_argument("path", nargs="?", help="image: the image file")
    d.add_argument("--out", default="image.png", help="image: where to save the picture (default image.png)")
    d.add_argument("--max-size", type=int, default=28, help="image: shrink larger images to fit this (default 28)")
    d.add_argument("--epochs", type=int, default=10, help="edge: gradient steps (default 10)")
    d.add_argument("--lr", type=float, default=3e-2, help="edge: learning rate (default 0.03)")
    d.add_argument("--seed", type=int, default=0, help="edge: random seed (default 0)")
    d.set_defaults(func=cmd_demo)

    ds = sub.add_parser(
        "datasets",
        help="list known datasets and where they are; show samples",
        description="Known datasets are searched in: --data-dir (DIR or DIR/NAME); "
        "$CONVLAB_DATA/NAME or ~/.cache/convlab/NAME; system folders "
        "(/usr/share/datasets/NAME, e.g. Debian's dataset-fashion-mnist); "
        "then downloaded from the official mirrors.",
    )
    ds.add_argument("action", nargs="?", choices=["show"], help="'show': save a labelled grid of samples")
    ds.add_argument("target", nargs="?", help="a known dataset name or a PATH (IDX folder, image folder, CSV)")
    ds.add_argument("--out", default="samples.png", help="PNG to write for 'show' (default samples.png)")
    ds.add_argument("--per-class", type=int, default=4, help="samples per class for 'show' (default 4)")
    ds.add_argument("--data-dir", help="folder to search first (and download into)")
    ds.set_defaults(func=cmd_datasets)

    from .config import add_arguments

    t = sub.add_parser(
        "train",
        help="train a model on a known dataset or your own data",
        description="Train a model. Every option below is a field of convlab.config.TrainConfig; "
        "--config FILE (a TOML recipe, a run folder, or a bundled recipe name) sets them all, and flags "
        "given beside it win. Known datasets are searched in --data-dir, $CONVLAB_DATA or ~/.cache/convlab, "
        "/usr/share/datasets, then downloaded. --data PATH takes an IDX folder, an image folder (one "
        "sub-folder per class, optionally in train/ and test/ or val/) or a CSV (a 'label' column, else "
        "the first column). With --resume DIR only --epochs, --device, --threads, --eval-batch-size and "
        "--quiet may be given.",
    )
    t.add_argument("--config", metavar="FILE", help="a TOML recipe, a run folder's config, or a bundled recipe name")
    add_arguments(t)
    t.add_argument("--nproc", type=int, help="launch N processes with torchrun (distributed data parallel)")
    t.add_argument("--out", help="run folder (default runs/<data>-<model>-<time>)")
    t.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last completed epoch")
    t.add_argument("--force", action="store_true", help="replace the files of an existing run folder")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    z = sub.add_parser(
        "zoo", help="every model: size, cost, receptive field, Fashion-MNIST accuracy here, the textbook's"
    )
    z.add_argument("--json", action="store_true", help="print JSON")
    z.add_argument("--markdown", action="store_true", help="print a Markdown table (as docs/zoo.md quotes it)")
    z.set_defaults(func=cmd_zoo)

    from .lab import cli as lab_cli

    lab = sub.add_parser("lab", help="the tutorial's §1 measured: MLP against CNNs (params, shifts, locality, …)")
    lab_cli.add_arguments(lab)
    lab.set_defaults(func=lab_cli.run)

    sm = sub.add_parser("summary", help="per-layer table: output shape, parameters, multiply-adds, receptive field")
    sm.add_argument("--model", default="lenet", help="a model name, see `convlab zoo` (default lenet)")
    sm.add_argument("--checkpoint", help="summarise a trained checkpoint instead")
    sm.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"), help="input size (default 1 28 28)")
    sm.add_argument("--json", action="store_true", help="print JSON")
    sm.set_defaults(func=cmd_summary)

    ex = sub.add_parser("explain", help="the arithmetic step by step: conv, pool, shapes")
    ex.add_argument("what", choices=["conv", "pool", "shapes"])
    ex.add_argument("--input", help='input matrix: "0 1 2; 3 4 5; 6 7 8", a CSV file or an image file')
    ex.add_argument("--kernel", help='conv: kernel matrix, e.g. "0 1; 2 3"')
    ex.add_argument("--padding", type=int, nargs="+", default=[0], help="padding per side: P or PH PW (default 0)")
    ex.add_argument("--stride", type=int, nargs="+", help="stride: S or SH SW (default 1; pool: the window)")
    ex.add_argument("--dilation", type=int, nargs="+", default=[1], help="conv: dilation (default 1)")
    ex.add_argument("--size", type=int, nargs="+", default=[2], help="pool: window size (default 2)")
    ex.add_argument("--mode", choices=["max", "avg"], default="max", help="pool: max or avg (default max)")
    ex.add_argument("--model", default="lenet", help="shapes: a model name, see `convlab zoo` (default lenet)")
    ex.add_argument("--checkpoint", help="shapes: a checkpoint instead of --model")
    ex.add_argument(
        "--input-size", type=int, nargs=3, metavar=("C", "H", "W"), help="shapes: input size (default 1 28 28)"
    )
    ex.set_defaults(func=cmd_explain)

    from .checkpoint import DEFAULT, bundled

    ck_help = (
        f"a bundled model by name ({', '.join(bundled())}), a run folder or its model.safetensors (default {DEFAULT})"
    )
    e = sub.add_parser("eval", help="accuracy, per-class precision/recall and confusion matrix of a checkpoint")
    e.add_argument("--checkpoint", help=ck_help)
    add_test_set_args(e)
    e.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default auto)")
    e.add_argument("--out", help="save the confusion matrix as this PNG")
    e.add_argument("--json", action="store_true", help="print one JSON object (accuracy 0-1, n, per_class, ...)")
    e.set_defaults(func=cmd_eval)

    pr = sub.add_parser("predict", help="classify image files")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP, GIF or WebP files")
    pr.add_argument("--checkpoint", help=ck_help)
    pr.add_argument("--top-k", type=int, default=3, help="how many classes to list (default 3)")
    pr.add_argument("--json", action="store_true", help="print a JSON list")
    pr.set_defaults(func=cmd_predict)

    w = sub.add_parser("why", help="why it decided: saliency, SmoothGrad, Grad-CAM and occlusion maps over each image")
    w.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP, GIF or WebP files")
    w.add_argument("--checkpoint", help=ck_help)
    w.add_argument("--method", default="all", help="saliency, smoothgrad, gradcam, occlusion, a list, or all (default)")
    w.add_argument("--target", help="explain this class instead of the predicted one (why not a 7?)")
    w.add_argument("--layer", help="Grad-CAM: the layer (default: the last feature map before the classifier)")
    w.add_argument("--window", type=int, default=4, help="occlusion: patch size in pixels (default 4)")
    w.add_argument("--stride", type=int, default=2, help="occlusion: patch step in pixels (default 2)")
    w.add_argument("--out", default="why", help="folder for the PNGs, one per image (default why)")
    w.add_argument("--json", action="store_true", help="print JSON")
    w.set_defaults(func=cmd_why)

    f = sub.add_parser(
        "filter", help="what a channel looks for: the test crops that excite it most, and an image made to"
    )
    f.add_argument("--checkpoint", help=ck_help)
    f.add_argument("--layer", required=True, help="a layer: its row number or name in `convlab summary`")
    f.add_argument("--channel", type=int, required=True, help="the channel of that layer")
    f.add_argument("--top", type=int, default=9, help="how many test images (default 9)")
    f.add_argument("--steps", type=int, default=128, help="steps of activation maximisation (default 128)")
    f.add_argument("--seed", type=int, default=0, help="seed of the made image (default 0)")
    add_test_set_args(f)
    f.add_argument("--out", default="filters", help="folder for the PNG (default filters)")
    f.add_argument("--json", action="store_true", help="print JSON")
    f.set_defaults(func=cmd_filter)

    mk = sub.add_parser(
        "mistakes", help="where it fails: confusion counts, the most confused pairs, their worst images"
    )
    mk.add_argument("--checkpoint", help=ck_help)
    add_test_set_args(mk)
    mk.add_argument("--pairs", type=int, default=5, help="how many confused pairs (default 5)")
    mk.add_argument("--per-pair", type=int, default=8, help="images per pair (default 8)")
    mk.add_argument("--out", help="folder for confusion.png and one grid per pair, with saliency")
    mk.add_argument("--json", action="store_true", help="print JSON")
    mk.set_defaults(func=cmd_mistakes)

    v = sub.add_parser("visualize", help="feature maps of every layer, first-layer kernels and the prediction")
    v.add_argument("image", metavar="IMAGE", help="an image file")
    v.add_argument("--checkpoint", help=ck_help)
    v.add_argument("--out", default="feature-maps", help="folder for the PNGs (default feature-maps)")
    v.set_defaults(func=cmd_visualize)

    iw = sub.add_parser(
        "import-weights", help="convert a plain PyTorch state_dict (.pt) to a safe .safetensors checkpoint"
    )
    iw.add_argument("file", help="a .pt/.pth file holding a state_dict (read with weights_only=True)")
    iw.add_argument("--model", required=True, help="its architecture (a model name, see `convlab zoo`)")
    iw.add_argument("--dataset", default="fashion-mnist", help="its classes and normalisation (default fashion-mnist)")
    iw.add_argument("--out", required=True, help="the .safetensors file to write")
    iw.add_argument("--force", action="store_true", help="replace an existing --out")
    iw.set_defaults(func=cmd_import_weights)

    xp = sub.add_parser("export", help="export a checkpoint to ONNX (checked, compared with PyTorch)")
    xp.add_argument("--checkpoint", help=ck_help)
    xp.add_argument("--format", default="onnx", help="onnx (default)")
    xp.add_argument("--out", required=True, help="the file to write, e.g. model.onnx")
    xp.add_argument("--force", action="store_true", help="replace an existing file")
    xp.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="the interactive playground in your browser (local web page)")
    sv.add_argument("--checkpoint", help=ck_help)
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
    sv.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status: 0 done, 1 a bug in convlab, 2 a user mistake, 130 Ctrl-C."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except UserError as e:  # a user mistake: one line, no traceback
        print(f"convlab: error: {str(e).replace(chr(10), ' ')}", file=sys.stderr)
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
