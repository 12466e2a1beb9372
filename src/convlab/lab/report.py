"""The lab's report folder: report.md (English or Chinese), one PNG figure per experiment, and
results.json with every number, the settings and the machine they came from."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from ..errors import UserError
from ..fsutil import atomic_write_text, output_dir, remove_stale
from ..plots import save
from . import EXPERIMENTS
from .common import LabConfig, Result

LANGS = ("en", "zh")
TEXT = {
    "en": {
        "title": "The tutorial's §1, measured: why a convolutional network and not a flattened MLP",
        "intro": "Each section states the tutorial's claim (with its §), what was measured here on real data, and a "
        "verdict.",
        "seeds": " Accuracies are the mean ± standard deviation over {seeds} seeds.",
        "lenets": 'Which LeNet: "LeNet (ReLU, max pooling, BN)" is `lenet-modern`, the tutorial\'s LeNet skeleton (two '
        "5×5 convolutions, two 2×2 poolings at stride 2, dense 120/84) with batch norm, ReLU and max pooling; "
        "\"the tutorial's LeNet (sigmoid)\" is the tutorial's own (`lenet`: sigmoid, average pooling), trained "
        'in `shift` only, for 240 steps (it learns slowly); "(sigmoid, bundled)" is the bundled checkpoint, '
        "trained by its recipe (`lenet-digits` with ±2-pixel shifts); `equivariance` reads the bundled one.",
        "settings": "Settings: dataset {data}, {mode}, PyTorch {torch} w"
        "ith {threads} threads on {machine}; {seconds:.0f} s "
        "in all.",
        "quick": "--quick (fewer images, steps and seeds)",
        "full": "full",
        "verdict": "Verdict",
        "time": "time",
    },
    "zh": {
        "title": "教程 §1 的实测：为什么用卷积网络而不是展平的 MLP",
        "intro": "每一节给出教程的论断（及其章节）、在真实数据上测得的结果和结论。",
        "seeds": "准确率为 {seeds} 个随机种子的均值 ± 标准差。",
        "lenets": "用的是哪个 LeNet：“LeNet (ReLU, max pooling, BN)” 即 `lenet-modern`，教程 LeNet 的骨架（两个 5×5 "
        "卷积、两个步幅为 2 的 2×2 池化、120/84 的全连接层）加上批量归一化、ReLU 和最大池化；“the tutorial's LeNet "
        "(sigmoid)” 是教程自己的 LeNet（`lenet`：sigmoid、平均池化），只在 `shift` 中训练，训练 240 步（它学得慢）；"
        "“(sigmoid, bundled)” 是内置的检查点，按其配方训练（`lenet-digits` 训练时加入了 ±2 像素平移）；"
        "`equivariance` 读取内置的那个。",
        "settings": "设置：数据集 {data}，{mode}，PyTorch {torch}，{threads} "
        "个线程，机器 {machine}；共 {seconds:.0f} 秒。",
        "quick": "--quick（更少的图像、步数和种子）",
        "full": "完整",
        "verdict": "结论",
        "time": "用时",
    },
}


def prepare(out: str | Path, force: bool) -> Path:
    """The report folder, checked before anything runs: an existing non-empty one needs `force`
    (UserError otherwise, the folder untouched); `write` then replaces the report in it."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} is a file, not a report folder; choose another --out (the file is kept)")
    if path.exists() and any(path.iterdir()) and not force:
        raise UserError(f"report folder {path} exists; add --force to overwrite it, or choose another --out")
    return output_dir(path, "report folder")


def markdown(results: list[Result], cfg: LabConfig, lang: str) -> str:
    """The report as Markdown in `lang` (en or zh), figures linked as NAME.png."""
    if lang not in LANGS:
        raise UserError(f"unknown report language {lang!r} (known: {', '.join(LANGS)})")
    t = TEXT[lang]
    seconds = sum(r.seconds for r in results)
    lines = [
        f"# {t['title']}",
        "",
        t["intro"] + (t["seeds"].format(seeds=len(cfg.runs)) if any(r.over_seeds for r in results) else ""),
        "",
        *([t["lenets"], ""] if any(r.name != "params" for r in results) else []),
        t["settings"].format(
            data=cfg.data,
            mode=t["quick"] if cfg.quick else t["full"],
            torch=torch.__version__,
            threads=torch.get_num_threads(),
            machine=machine(),
            seconds=seconds,
        ),
        "",
    ]
    for r in results:
        lines += [f"## {r.name} ({EXPERIMENTS[r.name][1]})", "", r.reading[lang], ""]
        if r.verdict:
            lines += [
                f"**{t['verdict']}: {r.verdict[lang]}** · {t['time']} {r.seconds:.1f} s ({r.cpu_seconds:.1f} s CPU)",
                "",
            ]
        if r.figure is not None:
            lines += [f"![{r.name}]({r.name}.png)", ""]
    return "\n".join(lines)


def machine() -> str:
    return f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} CPUs"


OWN = ("report.md", "results.json", *(f"{name}.png" for name in EXPERIMENTS))  # every file a report can hold


def write(results: list[Result], out: Path, cfg: LabConfig, lang: str = "en") -> Path:
    """report.md, NAME.png per experiment and results.json into `out` (made by `prepare`); the path of
    report.md. Then the files of an earlier report (`OWN`: names convlab writes) that this one did not
    write are removed, so a folder overwritten with --force holds exactly this run's report; any other
    file in it is not convlab's and is kept."""
    written = {"report.md", "results.json"}
    for r in results:
        if r.figure is not None:
            save(r.figure, out / f"{r.name}.png")
            written.add(f"{r.name}.png")
    record = {
        "settings": {
            "quick": cfg.quick,
            "data": cfg.data,
            "seeds": cfg.runs,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "machine": machine(),
        },
        "experiments": {
            r.name: {
                "section": r.section,
                "seconds": round(r.seconds, 2),
                "cpu_seconds": round(r.cpu_seconds, 2),
                "verdict": r.verdict,
                "reading": r.reading,
                "numbers": r.numbers,
            }
            for r in results
        },
    }
    atomic_write_text(out / "results.json", json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    atomic_write_text(out / "report.md", markdown(results, cfg, lang) + "\n")
    remove_stale(out, OWN, written)  # an earlier report's figures
    return out / "report.md"
