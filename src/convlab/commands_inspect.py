"""The commands that look inside a network (`convlab summary`, `explain`, `zoo`, `verify`, `why`,
`filter`, `mistakes`, `visualize`): parse nothing, call one library function, print. `cli` binds them
to their subcommands and is their error boundary.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .errors import UserError
from .modelspec import checkpoint_consent, parse_args_json
from .wording import counted

if TYPE_CHECKING:
    from torch import nn


def _model_for(args: argparse.Namespace) -> tuple[nn.Module, tuple[int, int, int]]:
    """(model, (C, H, W) input size) from --checkpoint or --model/--input-size."""
    from .models import build_model

    if getattr(args, "checkpoint", None):
        from .checkpoint import load_checkpoint

        ck = load_checkpoint(args.checkpoint, consent=checkpoint_consent(args))
        return ck.model, tuple(args.input_size or ck.input_shape)
    size = tuple(args.input_size or (1, 28, 28))
    return build_model(
        args.model or "lenet", in_channels=size[0], input_size=size[1:], model_args=parse_args_json(args.model_args)
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
    ck = load_checkpoint(args.checkpoint, consent=checkpoint_consent(args))
    rows = explain_images(
        ck, args.images, methods, args.out, args.target, args.layer, args.window, args.stride, force=args.force
    )
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        top = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"])
        print(f"{r['image']}: {r['prediction']}  [{top}]  explained: {r['explained']}  → {r['file']}")
        for method, note in r["notes"].items():  # each image's own: a map empty for one image is not for all
            print(f"  {method}: {note}")


def cmd_filter(args: argparse.Namespace) -> None:
    """`convlab filter --layer L --channel C`: the test images that excite one channel most (their
    crops) and an image made to excite it, as one PNG in --out. Raises UserError for an unknown layer or channel."""
    import json

    from .checkpoint import load_checkpoint
    from .evaluate import checkpoint_test_set
    from .filters import describe_channel, write_figure

    ck = load_checkpoint(args.checkpoint, consent=checkpoint_consent(args))

    def test_set():
        ds = checkpoint_test_set(ck, args.dataset, args.data, args.data_dir)
        return ds.test_x, ds.test_y, ds.classes

    given = {k: getattr(args, k) for k in ("top", "steps", "seed") if getattr(args, k) is not None}
    r = describe_channel(ck, args.layer, args.channel, test_set, **given)
    path = write_figure(r, args.out, args.force)
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

    ck = load_checkpoint(args.checkpoint, consent=checkpoint_consent(args))
    m = find_mistakes(ck, args.dataset, args.data, args.data_dir)
    report = pair_report(m, ck, args.pairs, args.per_pair, args.out, args.force)
    if args.json:
        print(json.dumps({"dataset": m.dataset, "accuracy": m.accuracy, "n": len(m.labels),
                          "confusion": m.confusion.tolist(), "pairs": report}))  # fmt: skip
        return
    print(confusion_text(m))
    print("most confused:")
    for row in report:
        worst = row["examples"][0] if row["examples"] else None
        note = f"; most confident: test image {worst['index']} at {worst['confidence']:.3f}" if worst else ""
        print(f"  {row['true_class']} taken for {row['predicted_class']}: {counted(row['count'], 'time')}{note}")
    if args.out:
        print(f"wrote {args.out}/confusion.png and {counted(len(report), 'grid')} with saliency")


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

    ck = load_checkpoint(args.checkpoint, consent=checkpoint_consent(args))
    r = save_feature_maps(ck, args.image, args.out, force=args.force)
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
    _refuse_network_flags(args)
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


def _refuse_network_flags(args: argparse.Namespace) -> None:
    """`explain conv|pool` read matrices, not a network: a network flag given to them would be
    ignored, so it is refused (UserError) naming what they take instead."""
    given = [flag for flag, value in (("--model", args.model), ("--checkpoint", args.checkpoint),
             ("--input-size", args.input_size), ("--model-args", args.model_args),
             ("--trust-model-code", args.trust_model_code)) if value]  # fmt: skip
    if given:
        takes = "--input and --kernel matrices" if args.what == "conv" else "an --input matrix, --size and --mode"
        raise UserError(
            f"explain {args.what} reads no network, so {given[0]} would be ignored: it takes {takes}; "
            f"{given[0]} goes with explain shapes (or summary)"
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
