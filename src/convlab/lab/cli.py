"""`convlab lab`: its arguments and what it does (the CLI only registers it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..modelspec import is_user_model, parse_args_json
from . import DATASETS, EXPERIMENTS, TAKES_MODEL, check_dataset, check_model, listing
from . import run as run_experiment


def add_command(sub, parents) -> None:
    """Register `convlab lab` on the CLI's subparsers (see `convlab.arguments`)."""
    parser = sub.add_parser("lab", help="the tutorial's §1 measured: MLP against CNNs (params, shifts, locality, …)")
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help=f"an experiment ({', '.join(EXPERIMENTS)}) or all; none lists them")
    p.add_argument("--quick", action="store_true", help="fewer images, steps and seeds: each experiment ≤ 60 s")
    p.add_argument("--data", default="digits", help=f"dataset ({', '.join(DATASETS)}; default digits)")
    p.add_argument("--seeds", type=int, default=3, help="trainings per accuracy figure (default 3; --quick uses 2)")
    p.add_argument("--out", default="lab-report", help="report folder (default lab-report)")
    p.add_argument("--force", action="store_true", help="overwrite an existing report folder")
    p.add_argument("--lang", default="en", choices=("en", "zh"), help="language of report.md (default en)")
    p.add_argument(
        "--model",
        metavar="FILE.py:NAME",
        help=f"your own network (or package.module:NAME), trained beside the lab's in: {', '.join(TAKES_MODEL)}",
    )
    p.add_argument("--model-args", metavar="JSON", help="your own model: keyword arguments as a JSON object")
    p.add_argument("--threads", type=int, default=0, help="PyTorch threads (default 0: PyTorch's choice)")


def _checked(args: argparse.Namespace) -> list[str]:
    """The experiments to run; every refusal (UserError) before anything is written or trained."""
    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    if args.name != "all" and args.name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {args.name!r}; the lab has: {', '.join(EXPERIMENTS)} (or all)")
    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {args.seeds}")
    for name in names:
        check_dataset(name, args.data)
    if args.model or args.model_args:
        if not args.model:
            raise UserError("--model-args needs --model FILE.py:NAME (your own network) beside it")
        if not is_user_model(args.model):
            raise UserError("--model takes your own network as FILE.py:NAME or package.module:NAME")
        check_model(names, args.model, parse_args_json(args.model_args))
    return names


def run(args: argparse.Namespace) -> int:
    if not args.name:
        print(listing())
        return 0
    names = _checked(args)
    from .common import LabConfig
    from .report import prepare, write

    made = not Path(args.out).exists()
    out = prepare(args.out, args.force)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    cfg = LabConfig(args.quick, args.data, args.seeds, args.model, args.model_args)
    try:
        results = []
        for name in names:
            r = run_experiment(name, cfg)
            print(f"{name:<14} {r.seconds:6.1f} s ({r.cpu_seconds:6.1f} s CPU)  {r.verdict.get('en', '')}", flush=True)
            results.append(r)
        print(f"report: {write(results, out, cfg, args.lang)}")
    except BaseException:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a run that stopped leaves no empty folder behind
        raise
    return 0
