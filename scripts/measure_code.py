"""How readable the code is, measured: functions over 60 lines or over cyclomatic complexity 15,
and modules over 400 lines (Python and JavaScript under src/).

    .venv/bin/python scripts/measure_code.py          # a table of every offender, and the totals
    .venv/bin/python scripts/measure_code.py --json   # the same as JSON

Lengths count a function's lines from `def` to its last line (docstring and comments included);
complexity is radon's cyclomatic complexity (McCabe's count of decision points, plus one, with each
`and`/`or` a decision). A function whose body only builds a literal table (a dict, list or tuple of
constants) is data, not logic, and is not counted. The README's "How it is built" quotes the totals;
tests/test_code_size.py keeps them at zero.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "convlab"
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 15
MAX_MODULE_LINES = 400


@dataclass
class Function:
    path: str  # relative to the repository
    name: str  # Class.method or function (nested: outer.inner)
    line: int
    lines: int
    complexity: int


def _is_data(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the body, docstring aside, is one `return` or assignment of a literal table."""
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    if len(body) != 1 or not isinstance(body[0], ast.Return | ast.Assign):
        return False
    value = body[0].value
    if not isinstance(value, ast.Dict | ast.List | ast.Tuple):
        return False
    return all(isinstance(n, ast.Constant | ast.Dict | ast.List | ast.Tuple | ast.Load) for n in ast.walk(value))


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append((prefix + node.name, node))
            out += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            out += _functions(node, f"{prefix}{node.name}.")
        else:
            out += _functions(node, prefix)
    return out


def _complexities(source: str) -> dict[int, int]:
    """Line of each function or method → its cyclomatic complexity (radon)."""
    found: dict[int, int] = {}

    def visit(blocks) -> None:
        for b in blocks:
            if hasattr(b, "methods"):  # a class: its methods
                visit(b.methods)
                visit(b.inner_classes)
            else:
                found[b.lineno] = b.complexity
                visit(b.closures)

    visit(cc_visit(source))
    return found


def measure_python(path: Path) -> tuple[int, list[Function]]:
    """(lines of the module, every function in it that is not a data table)."""
    source = path.read_text()
    tree = ast.parse(source)
    complexity = _complexities(source)
    rel = str(path.relative_to(ROOT))
    functions = [
        Function(rel, name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1, complexity[node.lineno])
        for name, node in _functions(tree)
        if not _is_data(node)
    ]
    return len(source.splitlines()), functions


def measure(src: Path = SRC) -> dict:
    """Every module's length and every function's length and complexity under `src`, with the offenders."""
    modules: dict[str, int] = {}
    functions: list[Function] = []
    for path in sorted(src.rglob("*.py")):
        n, fs = measure_python(path)
        modules[str(path.relative_to(ROOT))] = n
        functions += fs
    for path in sorted(src.rglob("*.js")):
        modules[str(path.relative_to(ROOT))] = len(path.read_text().splitlines())
    return {
        "modules": len(modules),
        "functions": len(functions),
        "long_modules": {p: n for p, n in modules.items() if n > MAX_MODULE_LINES},
        "long_functions": [asdict(f) for f in functions if f.lines > MAX_FUNCTION_LINES],
        "complex_functions": [asdict(f) for f in functions if f.complexity > MAX_COMPLEXITY],
        "longest_function": asdict(max(functions, key=lambda f: f.lines)),
        "most_complex_function": asdict(max(functions, key=lambda f: f.complexity)),
        "longest_module": max(modules.items(), key=lambda kv: kv[1]),
    }


def render(r: dict) -> str:
    lines = [f"{r['modules']} modules (Python and JavaScript) and {r['functions']} Python functions under src/"]
    lines.append(
        f"{'limit':<36s} {'over it':>7s}   worst"
        f"\n{'function over ' + str(MAX_FUNCTION_LINES) + ' lines':<36s} {len(r['long_functions']):>7d}   "
        f"{r['longest_function']['name']} ({r['longest_function']['path']}): {r['longest_function']['lines']} lines"
        f"\n{'function over complexity ' + str(MAX_COMPLEXITY):<36s} {len(r['complex_functions']):>7d}   "
        f"{r['most_complex_function']['name']} ({r['most_complex_function']['path']}): "
        f"{r['most_complex_function']['complexity']}"
        f"\n{'module over ' + str(MAX_MODULE_LINES) + ' lines':<36s} {len(r['long_modules']):>7d}   "
        f"{r['longest_module'][0]}: {r['longest_module'][1]} lines"
    )
    for f in r["long_functions"]:
        lines.append(f"  long:    {f['path']}:{f['line']} {f['name']}: {f['lines']} lines")
    for f in r["complex_functions"]:
        lines.append(f"  complex: {f['path']}:{f['line']} {f['name']}: complexity {f['complexity']}")
    for p, n in r["long_modules"].items():
        lines.append(f"  module:  {p}: {n} lines")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    r = measure()
    print(json.dumps(r, indent=1) if args.json else render(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
