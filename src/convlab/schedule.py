"""The learning rate as a closed-form function of the step, so resuming needs only the step number.

A schedule is a list of segments. A run starts with one: linear warm-up from a tenth of the
peak over the first `warmup` fraction of its steps, then the anneal of the chosen shape
(onecycle: linear to zero; cosine: half a cosine to zero; constant: stay at the peak).

Extending a run with `--resume DIR --epochs N` adds a segment from the resume point to the new
last step, so the steps already taken keep their learning rates and nothing jumps:
  * an unfinished run keeps annealing, from the learning rate it had reached to zero at the
    new end (same shape, no second warm-up): the remaining schedule is stretched;
  * a finished run (its rate already annealed to zero) gets a warm restart over the added
    epochs: the same warm-up and anneal again, peaking at a tenth of the original peak, since
    the weights are already trained (a constant schedule simply continues at its rate).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

RESTART_FRACTION = 0.1  # a finished run's extension peaks at this fraction of the original peak


def lr_shape(step: int, total: int, peak: float, warmup: float, shape: str) -> float:
    """Learning rate at `step` of a `total`-step schedule: warm-up from peak/10, then the anneal."""
    warm = int(warmup * total)
    if step < warm:
        return peak * (0.1 + 0.9 * step / warm)
    if shape == "constant":
        return peak
    t = (step - warm) / max(1, total - warm)
    if shape == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * t))
    return peak * (1 - t)  # onecycle: linear anneal to zero


@dataclass
class Segment:
    start: int  # first step of the segment
    end: int  # one past its last step
    peak: float
    warmup: float
    shape: str


class Schedule:
    """Piecewise learning rate over the steps of a run (see the module docstring)."""

    def __init__(self, segments: list[Segment]):
        self.segments = segments

    @classmethod
    def plan(cls, total_steps: int, peak: float, warmup: float, shape: str) -> Schedule:
        return cls([Segment(0, total_steps, peak, warmup, shape)])

    @property
    def total(self) -> int:
        return self.segments[-1].end

    def __call__(self, step: int) -> float:
        seg = next(s for s in reversed(self.segments) if s.start <= step or s is self.segments[0])
        return lr_shape(step - seg.start, seg.end - seg.start, seg.peak, seg.warmup, seg.shape)

    def extend(self, at_step: int, new_total: int) -> tuple[Schedule, str]:
        """The schedule after changing the run's length at `at_step` (steps done); and how, in words."""
        last = self.segments[-1]
        kept = [s for s in self.segments if s.start < at_step]
        if at_step < self.total:  # unfinished: anneal on from the rate reached, to zero at the new end
            current = self(at_step)
            seg = Segment(at_step, new_total, current, 0.0, last.shape)
            how = f"the {last.shape} schedule continues from its current learning rate {current:.3g}" + (
                " and now reaches zero at the new last epoch" if last.shape != "constant" else ""
            )
        elif last.shape == "constant":
            seg = Segment(at_step, new_total, last.peak, 0.0, "constant")
            how = f"the constant learning rate {last.peak:.3g} continues"
        else:  # finished: a warm restart at a tenth of the original peak
            original = self.segments[0].peak
            seg = Segment(at_step, new_total, original * RESTART_FRACTION, last.warmup, last.shape)
            how = (
                f"the finished run gets a warm restart: the {last.shape} schedule again over the added "
                f"epochs, peaking at {seg.peak:.3g} (a tenth of the original {original:.3g})"
            )
        return Schedule([*kept, seg]), how

    def to_list(self) -> list[dict]:
        return [asdict(s) for s in self.segments]

    @classmethod
    def from_list(cls, items: list[dict]) -> Schedule:
        return cls([Segment(**s) for s in items])
