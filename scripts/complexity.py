"""Functions in src/ longer than 60 lines or with cyclomatic complexity over 15 (radon), and
modules over 400 lines: the limits of the project's style (README, "How it is built").

    .venv/bin/python scripts/complexity.py          # prints Markdown tables; exit 0
    .venv/bin/python scripts/complexity.py OTHER/src/convlab   # another checkout, e.g. to compare

Lines count a function from its `def` to its last line, docstring included (radon's span).
Needs radon (the `dev` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

from radon.complexity import cc_visit

SRC = Path(__file__).resolve().parents[1] / "src" / "convlab"
MAX_LINES, MAX_COMPLEXITY, MAX_MODULE = 60, 15, 400


def functions(path: Path):
    """(name, first line, lines, complexity) of every function and method in one file."""
    seen = set()
    for block in cc_visit(path.read_text()):  # functions, classes, and each class's methods again
        for f in [block, *getattr(block, "methods", [])]:
            if f.__class__.__name__ == "Function" and (f.classname, f.name, f.lineno) not in seen:
                seen.add((f.classname, f.name, f.lineno))
                name = f"{f.classname}.{f.name}" if f.classname else f.name
                yield name, f.lineno, f.endline - f.lineno + 1, f.complexity


def main(src: Path = SRC) -> int:
    over, big, total = [], [], 0
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src.parent)
        n = len(path.read_text().splitlines())
        if n > MAX_MODULE:
            big.append((str(rel), n))
        for name, line, lines, cc in functions(path):
            total += 1
            if lines > MAX_LINES or cc > MAX_COMPLEXITY:
                over.append((f"{rel}:{line}", name, lines, cc))
    print(f"{total} functions in src/; {len(over)} over {MAX_LINES} lines or complexity {MAX_COMPLEXITY}:\n")
    print("| where | function | lines | complexity |\n|---|---|--:|--:|")
    for where, name, lines, cc in sorted(over, key=lambda r: (-r[3], -r[2])):
        print(f"| {where} | `{name}` | {lines} | {cc} |")
    print(f"\n{len(big)} modules over {MAX_MODULE} lines:\n")
    print("| module | lines |\n|---|--:|")
    for rel, n in sorted(big, key=lambda r: -r[1]):
        print(f"| {rel} | {n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else SRC))
