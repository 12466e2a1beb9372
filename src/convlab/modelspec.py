"""How a network of the user's own is named and allowed to run, without importing PyTorch (the CLI
parses these before any heavy import): `FILE.py:NAME` / `package.module:NAME`, `--model-args`,
and `CodeConsent` (`--model`, `--trust-model-code`). The loading itself is models/user.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import UserError


def is_user_model(text: str | None) -> bool:
    """Whether `--model` names code of the user's (`FILE.py:NAME`, `pkg.mod:NAME`) rather than the zoo."""
    return isinstance(text, str) and ":" in text


def display_name(text: str) -> str:
    """NAME for a `FILE.py:NAME` spec (folder names, messages); a zoo name unchanged."""
    return text.rsplit(":", 1)[1] if is_user_model(text) else text


@dataclass(frozen=True)
class CodeConsent:
    """What the command line allows to run when a checkpoint records code of its own."""

    model: str | None = None  # --model FILE.py:NAME given on the command line
    trust_run_copy: bool = False  # --trust-model-code: run the copy recorded in the run folder


def consent_from(args) -> CodeConsent:
    """The CodeConsent of parsed CLI arguments (their `--model` if it names code, `--trust-model-code`)."""
    model = getattr(args, "model", None)
    return CodeConsent(model if is_user_model(model) else None, bool(getattr(args, "trust_model_code", False)))


def checkpoint_consent(args) -> CodeConsent:
    """`consent_from(args)` for a command whose network comes from a checkpoint. Raises UserError for
    `--model-args`: the checkpoint fixes the architecture (a network of your own is rebuilt with the
    arguments recorded at training), so arguments given here could only be ignored."""
    if getattr(args, "model_args", None):
        raise UserError(
            "--model-args cannot change a checkpoint's network: it is rebuilt with the arguments it was trained "
            "with; drop --model-args (or train a new run with them)"
        )
    return consent_from(args)


def refuse_args_for_zoo(model: str, model_args) -> None:
    """Refuse (UserError) `--model-args` beside a model of convlab's zoo, which takes none."""
    if model_args and not is_user_model(model):
        raise UserError(
            f"--model-args is for your own network (--model FILE.py:NAME); {model} takes none "
            f"(its variants are models of their own: see `convlab zoo`)"
        )


def add_code_arguments(parser, model: bool = True) -> None:
    """The CLI flags of a command that loads a checkpoint which may record code of the user's own:
    `--model FILE.py:NAME` (with `model`), `--model-args JSON`, `--trust-model-code`."""
    if model:
        parser.add_argument(
            "--model", metavar="FILE.py:NAME", help="a checkpoint of your own network: its code, named here to run it"
        )
    parser.add_argument("--model-args", metavar="JSON", help="your own model: keyword arguments as a JSON object")
    parser.add_argument(
        "--trust-model-code",
        action="store_true",
        help="run the copy of the model's code recorded in the run folder (only for runs you trust)",
    )


def parse_args_json(text: str | None) -> dict:
    """`--model-args '{"width": 32}'` as a dict; raises UserError for anything but a JSON object."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UserError(f"--model-args must be a JSON object like '{{\"width\": 32}}' ({e})") from None
    if not isinstance(value, dict):
        raise UserError(f"--model-args must be a JSON object like '{{\"width\": 32}}', got {text!r}")
    return value
