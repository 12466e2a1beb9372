"""The learner's own code, checked: `convlab check FILE.py` and, from a notebook, `check(corr2d)`.

The tutorial's functions (corr2d, Conv2D, the output-size formula, corr2d_multi_in,
corr2d_multi_in_out, corr2d_multi_in_out_1x1, pool2d, LeNet) are run on cases hypothesis
generates (a fixed seed and budget) and compared with convlab's answer; the smallest input where
they differ is printed as the tutorial prints matrices, with a diagnosis from a catalogue of
known mistakes. A file runs in its own process with a time and a memory limit.

exercises.py  the exercises: §, signature, names, cases, convlab's answer (references.py)
cases.py      generated cases and the shrinking search · mistakes.py  the catalogue of mistakes
sandbox.py    the learner's process (child.py, wire.py) and the in-notebook runner · tasks.py  what runs there
engine.py     one exercise: cases, learning, timing · network.py  LeNet · report.py, matrices.py, messages.py
runs.py       a whole file, or one object from a notebook · cli.py  the command's arguments
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runs import Report, check, check_file, listing

__all__ = ["Report", "check", "check_file", "listing"]


def __getattr__(name: str) -> Any:  # loaded on first use: `convlab --help` needs none of it
    if name in __all__:
        from . import runs

        return getattr(runs, name)
    raise AttributeError(name)
