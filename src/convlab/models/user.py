"""Your own network: `--model FILE.py:NAME` or `--model package.module:NAME`.

NAME is an `nn.Module` subclass or a function returning a module. Where its signature accepts
`num_classes`, `in_channels` or `input_size` ((H, W) in pixels), convlab passes them from the
data; `--model-args JSON` gives the others. Before anything trains, a forward pass of two blank
images checks that the network takes the data's shape and gives one output per class.

The code is the user's: an error raised inside it keeps its own traceback (`UserCodeError`,
with a line naming the layer that failed and the shape it got). It is imported only from a file
or module named on the command line, or from a run's own recorded copy when the user passes
`--trust-model-code` (`CodeConsent`) — never because a checkpoint, a run folder or a request
names it; and a file whose SHA-256 differs from the one recorded at training is refused before
it is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import linecache
import sys
import types
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import UserCodeError, UserError
from ..metadata import ArchitectureMeta, ModelCode
from ..modelspec import CodeConsent, display_name, is_user_model, parse_args_json

__all__ = [
    "CodeConsent", "build_recorded", "build_user_model", "display_name", "is_user_model", "parse_args_json",
    "require_consent",
]  # fmt: skip

DATA_ARGS = ("num_classes", "in_channels", "input_size")
_LOADED: dict[tuple[str, str], types.ModuleType] = {}  # (where, sha256) -> module, imported once
_OWN: weakref.WeakKeyDictionary[nn.Module, tuple[str, str | None]] = weakref.WeakKeyDictionary()  # (NAME, its file)
_PACKAGE = Path(__file__).resolve().parents[1]  # convlab's own code: an error raised there is convlab's


# --- finding and importing the code -------------------------------------------------------


def _split(spec: str) -> tuple[str, str]:
    where, _, name = spec.rpartition(":")
    if not where or not name.isidentifier():
        raise UserError(f"--model {spec!r}: give FILE.py:NAME or package.module:NAME (NAME a class or function)")
    return where, name


def locate(spec: str) -> tuple[Path | None, str | None, Path, str]:
    """(file or None, module or None, the source file, NAME) of a spec, without importing it
    (a module's parent packages are imported to find it). Raises UserError when it is not there."""
    where, name = _split(spec)
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise UserError(f"--model {spec}: {where} does not exist (give the path of a .py file)")
        return path, None, path, name
    try:
        found = importlib.util.find_spec(where)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.origin or not Path(found.origin).is_file():
        raise UserError(f"--model {spec}: no module {where!r} to import (give FILE.py:NAME or an installed module)")
    return None, where, Path(found.origin), name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run_module(text: str, filename: str, sha: str) -> types.ModuleType:
    """Execute `text` as a fresh module (unique name), its tracebacks showing `filename`'s lines."""
    key = (filename, sha)
    if key in _LOADED:
        return _LOADED[key]
    name = f"convlab_user_{Path(filename).stem.replace('-', '_')}_{sha[:12]}"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    sys.modules[name] = module  # (dataclasses and pickling look their module up here)
    try:
        exec(compile(text, filename, "exec"), module.__dict__)
    except Exception as e:
        del sys.modules[name]
        raise UserCodeError(f"importing {filename} failed in your code (its traceback is above)", filename) from e
    _LOADED[key] = module
    return module


def import_code(spec: str, expect: ModelCode | None = None) -> tuple[Callable, ModelCode]:
    """(NAME, its ModelCode record) from the file or module `spec` names. With `expect`, the
    source must have the SHA-256 recorded there, checked before it is imported."""
    path, modname, source, name = locate(spec)
    data = source.read_bytes()
    sha = _sha256(data)
    if expect is not None and sha != expect.sha256:
        raise UserError(
            f"{source} changed since the model was trained (SHA-256 {sha[:12]}… is not the recorded "
            f"{expect.sha256[:12]}…); restore that version, or pass --trust-model-code to run the run's own copy"
        )
    text = data.decode("utf-8", errors="replace")
    if modname is None:
        module = _run_module(text, str(source), sha)
    else:
        try:
            module = importlib.import_module(modname)
        except Exception as e:
            raise UserCodeError(f"importing {modname} failed in your code (its traceback is above)", str(source)) from e
    record = ModelCode(name, sha, text, str(path) if path else None, modname)
    return _attribute(module, name, spec), record


def import_recorded(code: ModelCode, where: str) -> Callable:
    """NAME from a run's own copy of the code (only with --trust-model-code)."""
    if _sha256(code.text.encode("utf-8")) != code.sha256:
        raise UserError(f"{where}: the recorded model code does not match its recorded SHA-256; not running it")
    module = _run_module(code.text, f"{where} (run copy of {Path(code.spec.rpartition(':')[0]).name})", code.sha256)
    return _attribute(module, code.name, code.spec)


def _attribute(module: types.ModuleType, name: str, spec: str) -> Callable:
    factory = getattr(module, name, None)
    if factory is None:
        defined = sorted(k for k, v in vars(module).items() if _is_factory(v) and not k.startswith("_"))
        raise UserError(
            f"--model {spec}: no {name!r} in it (it defines: {', '.join(defined) or 'no classes or functions'})"
        )
    if not _is_factory(factory) or (inspect.isclass(factory) and not issubclass(factory, nn.Module)):
        raise UserError(f"--model {spec}: {name} is a {type(factory).__name__}, not an nn.Module class or a function")
    return factory


def source_file(factory: Callable) -> str | None:
    """The file `factory` was defined in, as its tracebacks name it (a run's copy: its own name)."""
    return getattr(sys.modules.get(getattr(factory, "__module__", "")), "__file__", None)


def _is_factory(obj: Any) -> bool:
    return inspect.isclass(obj) or inspect.isfunction(obj)


# --- building and checking ----------------------------------------------------------------


def call_factory(factory: Callable, spec: str, num_classes: int, in_channels: int, input_size, args: dict) -> nn.Module:
    """NAME(**the data's arguments it accepts, **args); raises UserError for an argument it does not take."""
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    open_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in args if k not in params and not open_kw]
    if unknown:
        takes = ", ".join(params) or "none"
        raise UserError(f"--model-args: {display_name(spec)} takes no argument {unknown[0]!r} (it takes: {takes})")
    data = {"num_classes": num_classes, "in_channels": in_channels, "input_size": tuple(input_size)}
    kwargs = {k: v for k, v in data.items() if k in params} | args
    try:
        model = factory(**kwargs)
    except Exception as e:
        raise UserCodeError(
            f"{display_name(spec)}({_kw(kwargs)}) failed in your code (its traceback is above)", source_file(factory)
        ) from e
    if not isinstance(model, nn.Module):
        raise UserError(f"--model {spec}: {display_name(spec)}() returned a {type(model).__name__}, not an nn.Module")
    return model


def _kw(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def check_fits(
    model: nn.Module, name: str, num_classes: int, in_channels: int, input_size, path: str | None = None
) -> None:
    """Push three blank (3, C, H, W) images through `model` (eval mode, no gradients): it must give
    (3, num_classes) (three: a forward that assumes a batch size, `x.view(2, -1)`, fails here).
    Raises UserError for a wrong output, UserCodeError (naming the innermost layer
    running and the shape it got, their traceback kept: the frames of `path`, the user's file) when
    the forward pass fails."""
    h, w = input_size
    running: list[tuple[str, nn.Module, tuple]] = []
    names = {m: n for n, m in model.named_modules()}

    def enter(module, inputs):
        shapes = tuple(tuple(x.shape) for x in inputs if isinstance(x, torch.Tensor))
        running.append((names.get(module, "?"), module, shapes))

    def leave(module, inputs, output):
        running.pop()

    hooks = [m.register_forward_pre_hook(enter) for m in model.modules()]
    hooks += [m.register_forward_hook(leave) for m in model.modules()]
    was_training = model.training
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(3, in_channels, h, w))
    except Exception as e:
        where = running[-1] if running else ("", model, ())
        layer = f"layer {where[0]!r} ({type(where[1]).__name__})" if where[0] else f"{name}.forward"
        shapes = ", ".join(map(str, where[2])) or "?"
        raise failure(e, f"{name} cannot take {in_channels}×{h}×{w} inputs: {layer} failed on input of shape {shapes}",
                      path) from e  # fmt: skip
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, num_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(
            f"{name} gives outputs of shape {got} for a batch of 3 {in_channels}×{h}×{w} images, but the data "
            f"has {num_classes} classes: it must give (3, {num_classes}) (accept num_classes in its signature)"
        )


def failure(e: Exception, what: str, path: str | None) -> UserCodeError:
    """The error of a forward pass of your network that raised `e`: `what` failed, and `e`'s first line.
    Raise it `from e`: the CLI shows `e`'s traceback (the frames of `path`, your file), then this line."""
    return UserCodeError(f"{what} ({type(e).__name__}: {(str(e) or ' ').splitlines()[0][:200]})", path)


@contextlib.contextmanager
def own_code(model: nn.Module, doing: Callable[[], str]):
    """Run a forward pass of `model` (`with own_code(model, lambda: "in training"): out = net(x)`; `doing`
    is asked only on failure, so a training step pays nothing for its text): when
    it is your own network (built by `build_user_model` or `build_recorded`) and an exception comes out
    of its code, it is raised as the fit check's (`failure`, a UserCodeError naming the innermost layer
    running); an exception raised inside convlab's own code (its ops swapped in by --ops convlab) stays
    a bug, with its whole traceback. Any other model: nothing changes."""
    own = _OWN.get(model)
    if own is None:
        yield
        return
    try:
        yield
    except Exception as e:
        if isinstance(e, (UserError, UserCodeError)) or _raised_in_convlab(e):
            raise
        name, path = own
        layer = _innermost_layer(model, e)
        where = f"layer {layer[0]!r} ({type(layer[1]).__name__})" if layer else f"{name}.forward"
        raise failure(e, f"{name} failed {doing()}: {where} raised", path) from e


def _innermost_layer(model: nn.Module, e: Exception) -> tuple[str, nn.Module] | None:
    """(name, module) of the innermost submodule of `model` whose method is in `e`'s traceback."""
    names = {m: n for n, m in model.named_modules() if n}
    found = None
    tb = e.__traceback__
    while tb is not None:
        me = tb.tb_frame.f_locals.get("self")
        if isinstance(me, nn.Module) and me in names:
            found = (names[me], me)
        tb = tb.tb_next
    return found


def _raised_in_convlab(e: Exception) -> bool:
    """Whether the innermost Python frame of `e`'s traceback is in convlab's own package."""
    tb = e.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE)


def build_user_model(
    spec: str, num_classes: int, in_channels: int, input_size, ops: str = "torch", model_args: dict | None = None
) -> nn.Module:
    """The network `spec` names, built for the data and checked to fit it (on `ops`)."""
    factory, _ = import_code(spec)
    return _finish(factory, spec, num_classes, in_channels, input_size, ops, model_args or {})


def _finish(factory, spec, num_classes, in_channels, input_size, ops, args) -> nn.Module:
    model = call_factory(factory, spec, num_classes, in_channels, input_size, args)
    check_fits(model, display_name(spec), num_classes, in_channels, input_size, source_file(factory))
    _OWN[model] = (display_name(spec), source_file(factory))  # (its later forward passes: `own_code`)
    if ops == "convlab":
        from ..layers import to_convlab_ops

        to_convlab_ops(model)
    elif ops != "torch":
        raise UserError(f"ops must be 'torch' or 'convlab', got {ops!r}")
    return model


def record(spec: str, model_args: dict | None = None) -> ModelCode:
    """The ModelCode to save with a run trained from `spec` (the code as imported for it)."""
    _, code = import_code(spec)
    return ModelCode(code.name, code.sha256, code.text, code.path, code.module, dict(model_args or {}))


def build_recorded(
    arch: ArchitectureMeta, consent: CodeConsent | None, where: str, ops: str | None = None
) -> nn.Module:
    """The network a checkpoint records code for, from the file the command line names (its SHA-256
    must match the record) or, with --trust-model-code, the run's own copy; else refused."""
    code = arch.code
    assert code is not None
    consent = require_consent(code, consent, where)
    if consent.model is not None:
        if display_name(consent.model) != code.name:
            raise UserError(
                f"{where} was trained with {code.name}, not {display_name(consent.model)} (--model {consent.model})"
            )
        factory, _ = import_code(consent.model, expect=code)
    else:
        factory = import_recorded(code, where)
    return _finish(factory, code.spec, arch.num_classes, arch.in_channels, arch.input_size, ops or arch.ops, code.args)


def require_consent(code: ModelCode, consent: CodeConsent | None, where: str) -> CodeConsent:
    """The consent given, if the command line names the code (--model FILE.py:NAME) or trusts the
    run's own copy (--trust-model-code); else UserError saying which to give (nothing is imported)."""
    consent = consent or CodeConsent()
    if consent.model is None and not consent.trust_run_copy:
        raise UserError(
            f"{where} was trained with your own code ({code.spec}); convlab runs it only when you say so: "
            f"give --model {code.spec} or --trust-model-code (to run the run's own copy)"
        )
    return consent
