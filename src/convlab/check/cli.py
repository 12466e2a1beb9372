"""`convlab check`: its arguments and the one call it makes (cli.py registers them)."""

from __future__ import annotations

import argparse

from ..errors import UserError
from .messages import Messages


def add_command(sub, parents) -> None:
    """Register `convlab check` on the CLI's subparsers (see `convlab.arguments`)."""
    parser = sub.add_parser("check", help="check your own corr2d, Conv2D, pool2d, LeNet… against convlab's")
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`convlab check`'s flags."""
    parser.add_argument("target", nargs="?", help="your Python file, or FILE.py:NAME for one function or class")
    parser.add_argument("--as", dest="as_", metavar="EXERCISE", help="check NAME as this exercise, e.g. pool2d")
    parser.add_argument("--list", action="store_true", help="list the exercises, their § and signatures")
    parser.add_argument("--lang", choices=("en", "zh"), help="language of the report (default: from the locale)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds each call may take (default 10)")
    parser.add_argument("--memory", type=int, default=2048, help="MiB your code may allocate (default 2048)")
    parser.add_argument(
        "--budget", type=float, default=1.0, help="multiply every exercise's number of generated cases (default 1)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the report; 0 when every exercise found passes, 1 when one does not."""
    from . import check_file, listing

    if args.list:
        print(listing(args.lang))
        return 0
    if not args.target:
        raise UserError(Messages(args.lang)("no_target"))
    if args.timeout <= 0 or args.memory <= 0 or args.budget <= 0:
        raise UserError("--timeout, --memory and --budget must be positive")
    report = check_file(args.target, args.as_, args.lang, args.timeout, args.memory, args.budget)
    print(report.text)
    return 0 if report.passed else 1
