"""The one exception type for user mistakes.

Library code raises `UserError` (a `ValueError`) with a one-line message that says what is
wrong and what to do; the CLI prints it without a traceback and exits with status 2.
"""

from __future__ import annotations

import difflib


class UserError(ValueError):
    """Bad input from the user: a path, an argument, a file's contents."""


def unknown_name(kind: str, name: str, known) -> UserError:
    """'unknown model 'lenet5'; did you mean 'lenet'? (known: lenet, lenet-modern)'."""
    if kind == "model" and name.endswith(".py"):  # your own network's file, without which network
        return UserError(
            f"{name} is a file: name the network in it as {name}:NAME (an nn.Module class, or a function returning one)"
        )
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UserError(f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})")


class UserCodeError(Exception):
    """Code the user wrote (their `--model FILE.py:NAME`) failed: not convlab's bug, not a one-line
    mistake either. Raised `from` the user's exception, whose traceback the CLI shows, followed by
    this message (what was being done, which layer and shapes) and exit status 2. `path` is the
    user's file: the traceback shown keeps only its frames (none of convlab's or PyTorch's)."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path

    def user_traceback(self) -> str:
        """The traceback of the user's exception (the cause): only the frames of `path`, their file,
        as `convlab check` shows a learner's; every frame when `path` is not known."""
        import traceback

        cause = self.__cause__ or self
        if self.path:
            from .check.child import learner_traceback

            return learner_traceback(cause, self.path)
        return "".join(traceback.format_exception(cause)).rstrip()
