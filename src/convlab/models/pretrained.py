"""The weights bundled with convlab, addressed by name (`<model>-<dataset>`), as torchvision and
timm address theirs: the files live in src/convlab/pretrained/NAME.safetensors and load with
`checkpoint.load_checkpoint(NAME)`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import unknown_name

DEFAULT = "lenet-modern-fashion-mnist"  # what commands load without --checkpoint
PLAYGROUND_DEFAULT = "lenet-modern-digits"  # what `convlab serve` opens on: you draw digits


def bundled() -> list[str]:
    """Names of the bundled checkpoints, `<model>-<dataset>`, sorted."""
    folder = resources.files("convlab") / "pretrained"
    return sorted(p.name.removesuffix(".safetensors") for p in folder.iterdir() if p.name.endswith(".safetensors"))


def pretrained_path(name: str = DEFAULT) -> Path:
    """The file of a bundled checkpoint, by name; raises UserError (with a did-you-mean) for an unknown name."""
    if name not in bundled():
        raise unknown_name("bundled checkpoint", name, bundled())
    return Path(str(resources.files("convlab") / "pretrained" / f"{name}.safetensors"))
