"""The command line's flags: shared flags declared once, `train --help` grouped by topic, the
resume-safe list generated from TrainConfig (and quoted by docs/training.md), and a command
registered from another module."""

import argparse
import dataclasses

from conftest import REPO
from convlab import arguments, cli
from convlab.config import TrainConfig


def _groups(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Each heading of the parser's --help and the long flags listed under it."""
    return {
        g.title or "": [a.option_strings[-1] for a in g._group_actions if a.option_strings]
        for g in parser._action_groups
    }


def _sub(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_every_train_option_is_listed_under_exactly_one_topic():
    listed = [name for names in arguments.TOPICS.values() for name in names]
    assert sorted(listed) == sorted(f.name for f in dataclasses.fields(TrainConfig))


def test_train_help_is_grouped_by_topic():
    groups = _groups(_sub("train"))
    for topic in ("data", "model", "optimisation", "augmentation", "runtime", "output"):
        assert topic in groups
    assert "--data-dir" in groups["data"] and "--label-column" in groups["data"]
    assert groups["model"] == ["--model", "--model-args", "--ops", "--trust-model-code"]
    assert "--lr" in groups["optimisation"] and "--seed" in groups["optimisation"]
    assert groups["augmentation"] == ["--shift", "--rotate", "--scale", "--thickness", "--no-flip"]
    assert "--nproc" in groups["runtime"] and "--sync-bn" not in groups["optimisation"]
    assert groups["output"] == ["--out", "--resume", "--force", "--quiet"]
    args = _sub("train").parse_args(["--dataset", "mnist", "--lr", "0.5", "--no-flip", "--quiet"])
    assert (args.dataset, args.lr, args.flip, args.quiet, args.epochs) == ("mnist", 0.5, False, True, None)


def test_resume_flags_come_from_train_config():
    # written out by hand here: the oracle for what the code generates
    assert arguments.resume_flags() == ["--epochs", "--device", "--threads", "--eval-batch-size", "--quiet"]
    text = " ".join(_sub("train").description.split())
    assert "only --epochs, --device, --threads, --eval-batch-size and --quiet may be given" in text


def test_docs_quote_the_generated_resume_list():
    docs = " ".join((REPO / "docs" / "training.md").read_text().split())
    assert arguments.resume_sentence(code=True) in docs


def test_shared_flags_are_declared_once():
    """--checkpoint, --json and --force come from the parent parsers, with one help text each
    (serve's --checkpoint is its own: the playground opens on another default)."""
    helps: dict[str, set[str]] = {"--checkpoint": set(), "--json": set(), "--force": set()}
    for name in ("eval", "predict", "why", "filter", "mistakes", "visualize", "export", "zoo"):
        for a in _sub(name)._actions:
            for flag in set(a.option_strings) & set(helps):
                helps[flag].add(a.help)
    assert all(len(h) == 1 for h in helps.values()), helps
    assert "lenet-fashion-mnist" in next(iter(helps["--checkpoint"]))


def test_serve_help_names_the_model_the_page_opens_on():
    from convlab.web.models import Models

    text = " ".join(_sub("serve").format_help().split()).replace("- ", "-")  # (argparse wraps at hyphens)
    assert f"(default {Models().default})" in text


def test_every_builtin_command_runs_its_function():
    for name, func in cli.HANDLERS.items():
        assert _sub(name).get_default("func") is func


def test_a_command_registered_from_another_module(monkeypatch, capsys):
    def run(args):
        print(f"hello {args.who} from {args.checkpoint}")

    def add_hello(sub, parents):
        p = sub.add_parser("hello", parents=[parents.checkpoint], help="say hello")
        p.add_argument("who")
        p.set_defaults(func=run)

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, add_hello])
    assert cli.main(["hello", "world", "--checkpoint", "x"]) == 0
    assert capsys.readouterr().out == "hello world from x\n"
