"""Command line: parse arguments, call one library function, print. Nothing else.

User mistakes (`ValueError`, which includes `convlab.errors.UserError`) print one line
`convlab: error: …` on stderr and exit with status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import sys

from . import __version__


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage dump) and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def cmd_demo(args):
    from . import demos
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
            print(f"{'':<14s} classes: {', '.join(row['classes'])}")
        return
    if args.action != "show" or not args.target:
        raise ValueError("usage: convlab datasets [show NAME|PATH --out grid.png]")
    from . import plots
    from .data.sources import KNOWN as known_names
    is_name = args.target in known_names
    ds = load_dataset(dataset=args.target if is_name else None, data=None if is_name else args.target,
                      data_dir=args.data_dir)
    print(ds.describe())
    images, names = ds.samples(args.per_class)
    path = plots.save(plots.sample_grid(images, names, title=ds.name, cols=args.per_class * 2), args.out)
    print(f"saved {len(images)} samples to {path}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="convlab", description="Convolutional neural networks made real: "
                "the seed's loops, exact fast ops, LeNet training, and instruments to see inside.")
    p.add_argument("--version", action="version", version=f"convlab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("demo", help="run the seed's demonstrations (walkthrough of §2–6, edge kernel)")
    d.add_argument("what", nargs="?", default="all", choices=["all", "edge"],
                   help="'all': the walkthrough of §2–6 (default); 'edge': learn K=[1,-1] (§2.4)")
    d.add_argument("--epochs", type=int, default=10, help="edge: gradient steps (default 10)")
    d.add_argument("--lr", type=float, default=3e-2, help="edge: learning rate (default 0.03)")
    d.add_argument("--seed", type=int, default=0, help="edge: random seed (default 0)")
    d.set_defaults(func=cmd_demo)

    ds = sub.add_parser("datasets", help="list known datasets and where they are; show samples",
                        description="Known datasets are searched in: --data-dir (DIR or DIR/NAME); "
                        "$CONVLAB_DATA/NAME or ~/.cache/convlab/NAME; system folders "
                        "(/usr/share/datasets/NAME, e.g. Debian's dataset-fashion-mnist); "
                        "then downloaded from the official mirrors.")
    ds.add_argument("action", nargs="?", choices=["show"], help="'show': save a labelled grid of samples")
    ds.add_argument("target", nargs="?", help="a known dataset name or a PATH (IDX folder, image folder, CSV)")
    ds.add_argument("--out", default="samples.png", help="PNG to write for 'show' (default samples.png)")
    ds.add_argument("--per-class", type=int, default=4, help="samples per class for 'show' (default 4)")
    ds.add_argument("--data-dir", help="folder to search first (and download into)")
    ds.set_defaults(func=cmd_datasets)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except ValueError as e:  # includes UserError: a user mistake, not a bug
        print(f"convlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
