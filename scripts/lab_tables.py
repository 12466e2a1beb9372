"""Markdown tables of a `convlab lab` report folder's results.json, as docs/lab.md quotes them.

.venv/bin/convlab lab all --threads 1 --out lab-report
.venv/bin/python scripts/lab_tables.py lab-report/results.json
"""

from __future__ import annotations

import json
import sys

from convlab.lab import EXPERIMENTS
from convlab.lab.common import label


def ms(m: dict) -> str:
    return f"{m['mean']:.3f} ± {m['std']:.3f}"


def timing(rec: dict) -> list[str]:
    s, ex = rec["settings"], rec["experiments"]
    mode = "quick" if s["quick"] else "full"
    rows = [f"Run: `convlab lab all{' --quick' if s['quick'] else ''} --threads {s['threads']}` ({mode}), "
            f"{len(s['seeds'])} seeds, PyTorch {s['torch']}, {s['machine']}.", "",
            "| experiment | § | verdict | wall | CPU |", "|---|---|---|--:|--:|"]  # fmt: skip
    for n, r in ex.items():
        rows.append(
            f"| {n} | {EXPERIMENTS[n][1]} | {r['verdict']['en']} | {r['seconds']:.0f} s | {r['cpu_seconds']:.0f} s |"
        )
    wall, cpu = sum(r["seconds"] for r in ex.values()), sum(r["cpu_seconds"] for r in ex.values())
    return [*rows, f"| **all** | | | **{wall:.0f} s** | **{cpu:.0f} s** |"]


def shift(n: dict) -> list[str]:
    ks = ("0", "1", "2", "3", "4", "6")
    rows = [
        "| training | network | " + " | ".join(f"{k} px" for k in ks) + " | consistency |",
        "|---|---|" + "--:|" * 7,
    ]
    for cond, table in n["results"].items():
        for net, r in table.items():
            cells = " | ".join(f"{r['shifted'][k]['mean']:.3f}" for k in ks)
            rows.append(f"| {cond} | {label(net)} | {cells} | {ms(r['consistency'])} |")
    return rows


def position(n: dict) -> list[str]:
    far = n.get("far", 9)
    rows = [f"| network | trained corner | untrained region (offset ≥ {far}) | far corner |", "|---|--:|--:|--:|"]
    for net, s in n["summary"].items():
        rows.append(
            f"| {label(net)} | {ms(s['trained_corner'])} | {ms(s['untrained_region'])} | {ms(s['far_corner'])} |"
        )
    return rows


def few(n: dict) -> list[str]:
    rows = ["| network | images | train | test | gap |", "|---|--:|--:|--:|--:|"]
    for net, by in n["results"].items():
        for k, r in by.items():
            rows.append(f"| {label(net)} | {int(k):,} | {ms(r['train'])} | {ms(r['test'])} | {ms(r['gap'])} |")
    return rows


def antialias(n: dict) -> list[str]:
    rows = ["| network | unshifted | 2 px | 4 px | consistency |", "|---|--:|--:|--:|--:|"]
    for net, r in n["results"].items():
        rows.append(f"| {label(net)} | {ms(r['0'])} | {ms(r['2'])} | {ms(r['4'])} | {ms(r['consistency'])} |")
    return rows


def locality(n: dict) -> list[str]:
    rows = ["| network | original pixels | permuted pixels |", "|---|--:|--:|"]
    for net, r in n["accuracy"].items():
        rows.append(f"| {label(net)} | {ms(r['original'])} | {ms(r['permuted'])} |")
    return rows


TABLES = {"shift": shift, "position": position, "few-images": few, "anti-aliasing": antialias, "locality": locality}


def main(path: str) -> None:
    rec = json.loads(open(path, encoding="utf-8").read())
    print("\n".join(timing(rec)), end="\n\n")
    for name, r in rec["experiments"].items():
        if name in TABLES:
            print(f"### {name}\n\n" + "\n".join(TABLES[name](r["numbers"])) + f"\n\n{r['reading']['en']}\n")


if __name__ == "__main__":
    main(sys.argv[1])
