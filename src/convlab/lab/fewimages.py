"""few-images — the tutorial's §1 (1): with many parameters a flattened network overfits.

The MLP and LeNet trained on 250, 1,000 and 4,000 training images (the same number of steps each),
train and test accuracy and the gap between them, over seeds.
"""

from __future__ import annotations

from ..plots import _figure
from .common import Fit, LabConfig, Result, accuracy, fmt, label, load, mean_spread, subset, trained

SIZES = (250, 1000, 4000)


def measure(data, fit: Fit, cfg: LabConfig) -> dict[str, dict[int, dict]]:
    """{net: {images: {"train", "test", "gap": mean_spread}}} over seeds."""
    table: dict[str, dict[int, dict]] = {}
    for net in ("mlp", "lenet"):
        table[net] = {}
        for n in SIZES:
            x, y = subset(data.train_x, data.train_y, n)
            tr, te = [], []
            for seed in cfg.runs:
                model = trained(net, seed, data, n, fit)
                tr.append(accuracy(model, x, y))
                te.append(accuracy(model, data.test_x, data.test_y))
            gap = [a - b for a, b in zip(tr, te)]
            table[net][n] = {"train": mean_spread(tr), "test": mean_spread(te), "gap": mean_spread(gap)}
    return table


def plot(table: dict[str, dict[int, dict]], name: str):
    fig = _figure(7, 3.4)
    ax = fig.subplots()
    for net, style in (("mlp", "o-"), ("lenet", "s-")):
        for part, alpha in (("train", 0.45), ("test", 1.0)):
            ms = [table[net][n][part] for n in SIZES]
            ax.errorbar(
                SIZES,
                [m["mean"] for m in ms],
                yerr=[m["std"] for m in ms],
                fmt=style,
                alpha=alpha,
                capsize=3,
                label=f"{net} {part}",
            )
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    ax.set_ylabel("accuracy (mean ± std over seeds)")
    ax.set_title(f"train and test accuracy by training-set size ({name})")
    ax.legend(fontsize=8)
    return fig


def reading(table: dict[str, dict[int, dict]], data, cfg: LabConfig) -> tuple[dict[str, str], dict[str, str]]:
    """The paragraph in each language and the verdict."""
    few = SIZES[0]
    m, le = table["mlp"][few], table["lenet"][few]
    overfits_more = m["gap"]["mean"] > le["gap"]["mean"]
    tests_worse = m["test"]["mean"] < le["test"]["mean"]
    holds = overfits_more and tests_worse
    v_en = "holds" if holds else ("holds in part" if overfits_more or tests_worse else "does not hold here")
    v_zh = {"holds": "成立", "holds in part": "部分成立"}.get(v_en, "在此不成立")
    en = (
        f"The tutorial's §1 (1) says that a flattened image needs so many parameters that the model overfits. "
        f"Measured on {data.name} with {few} training images: the MLP ({m['train']['mean']:.3f} train, "
        f"{fmt(m['test'])} test, gap {m['gap']['mean']:.3f}) against {label('lenet')} "
        f"({le['train']['mean']:.3f} train, "
        f"{fmt(le['test'])} test, gap {le['gap']['mean']:.3f}); with {SIZES[-1]}: MLP test "
        f"{fmt(table['mlp'][SIZES[-1]]['test'])}, LeNet {fmt(table['lenet'][SIZES[-1]]['test'])} "
        f"(mean ± std over {len(cfg.runs)} seeds). Verdict: {v_en} — "
        + (
            "with few images the MLP fits its training set more closely than the test set, more than LeNet does."
            if overfits_more
            else "the MLP's 3× more parameters did not make it overfit more than LeNet here."
        )
    )
    zh = (
        f"教程 §1 (1) 说：展平图像需要大量参数，模型容易过拟合。在 {data.name} 上用 {few} 张训练图像测得：MLP 训练 "
        f"{m['train']['mean']:.3f}、测试 {fmt(m['test'])}、差距 {m['gap']['mean']:.3f}；"
        f"{label('lenet')} 训练 {le['train']['mean']:.3f}、"
        f"测试 {fmt(le['test'])}、差距 {le['gap']['mean']:.3f}；用 {SIZES[-1]} 张时 MLP 测试 "
        f"{fmt(table['mlp'][SIZES[-1]]['test'])}，LeNet {fmt(table['lenet'][SIZES[-1]]['test'])}（"
        f"{len(cfg.runs)} 个随机种子的"
        f"均值 ± 标准差）。结论：{v_zh}——"
        + (
            "图像少时 MLP 对训练集的拟合远好于测试集，差距比 LeNet 大。"
            if overfits_more
            else "MLP 多出的参数在这里并没有让它比 LeNet 更过拟合。"
        )
    )
    return {"en": en, "zh": zh}, {"en": v_en, "zh": v_zh}


def run(cfg: LabConfig) -> Result:
    data = load(cfg.data, "few-images")
    fit = Fit(steps=cfg.steps)
    table = measure(data, fit, cfg)
    text, verdict = reading(table, data, cfg)
    numbers = {
        "dataset": data.name,
        "steps": fit.steps,
        "seeds": cfg.runs,
        "results": {net: {str(n): v for n, v in t.items()} for net, t in table.items()},
    }
    return Result("few-images", "§1 (1)", numbers, plot(table, data.name), text, verdict)
