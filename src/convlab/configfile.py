"""Training recipes as files: TOML recipes, run folders' saved configs, and the recipes bundled
with convlab (src/convlab/recipes/NAME.toml), read into and written from `config.TrainConfig`.

`convlab train --config FILE` replays a recipe exactly (`build_config`), flags given beside it
taking precedence; what the file leaves out stays TrainConfig's default until `config.resolve`.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from .config import TrainConfig
from .errors import UserError
from .modelspec import is_user_model

RECIPES = "recipes"  # bundled recipe files (src/convlab/recipes/NAME.toml)


def recipe_names() -> list[str]:
    """Names of the recipes bundled with convlab (`convlab train --config NAME`)."""
    folder = resources.files("convlab") / RECIPES
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _config_path(source: str | Path) -> Path:
    path = Path(source).expanduser()
    if path.is_dir():  # a run folder: its saved config
        for name in ("config.toml", "model.json"):
            if (path / name).is_file():
                return path / name
        raise UserError(f"{path}: no config.toml or model.json in this folder (is it a run folder?)")
    if path.is_file():
        return path
    if str(source) in recipe_names():
        return Path(str(resources.files("convlab") / RECIPES / f"{source}.toml"))
    raise UserError(
        f"--config {source}: no such file, run folder or bundled recipe (bundled: {', '.join(recipe_names())})"
    )


def load_config_file(source: str | Path) -> dict:
    """The options of a TOML recipe, a run folder (its config.toml or model.json) or a bundled recipe name."""
    import json

    path = _config_path(source)
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text()).get("config")
            if not isinstance(data, dict):
                raise UserError(f"{path}: has no 'config' section")
        else:
            data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a readable config ({e})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if set(data) == {"train"} and isinstance(data["train"], dict):  # optional [train] table
        data = data["train"]
    TrainConfig.from_dict(data, str(path))  # refuse unknown keys and wrong types now, naming the file
    return data


def config_toml(cfg: TrainConfig) -> str:
    """The config as a TOML recipe (options left at None are omitted: TOML has no null)."""
    import tomli_w

    header = "# convlab training config: replay with `convlab train --config THIS_FILE`\n"
    return header + tomli_w.dumps({k: v for k, v in cfg.to_dict().items() if v is not None})


def build_config(file: str | Path | None = None, **given) -> TrainConfig:
    """The options of a recipe file, overridden by the options given; the rest left at TrainConfig's
    defaults (those that are the model's recipe stay None until `resolve`)."""
    values = load_config_file(file) if file is not None else {}
    named = values.get("model")
    if isinstance(named, str) and is_user_model(named) and given.get("model") is None:
        # A recipe file or a run folder may come from anyone: the code it names is not imported
        # because it names it, only because the command line does.
        raise UserError(
            f"{file} names your own code ({named}); convlab runs it only when you say so: give --model {named} "
            f"(the file you mean) beside --config"
        )
    values.update(given)
    return TrainConfig.from_dict(values, str(file) if file else "options")
