"""position — the tutorial's §1.2 (the cat figure): a flattened network trained with the object in
one place does not recognise it elsewhere.

Each 28×28 image is placed on a 40×40 canvas. Training places it only in the top-left corner
(offsets 0…4 pixels down and right); testing places the test images at every offset of a 5×5 grid
from 0 to 20 pixels. The MLP, LeNet (`lenet-modern`: dense head) and an all-convolutional network
ending in global average pooling, side by side: a map of where each still recognises the digit.
"""

from __future__ import annotations

import torch
from torch import nn

from ..plots import _figure
from .common import Fit, LabConfig, Result, accuracy, label, load, mean_spread, subset, trained

CANVAS = 40
TRAIN_OFFSETS = 4  # trained at offsets 0…4 (rows and columns)
GRID = (0, 3, 6, 9, 12)  # tested at every (row, column) offset of this grid
FAR = 9  # the untrained region: offsets of at least this many pixels (5 beyond the training range)
STEPS = 80  # at most (full; --quick: 40): at 120 steps the global-pooling network read 0.945 in the untrained
# region and the MLP 0.088 (3 seeds); the 40×40 trainings were a third of the full lab's time
TEST_IMAGES = 250  # test images at each placement (25 each of 10 classes; the region means average 16 placements)


def place(x: torch.Tensor, r: int, c: int, size: int = 28) -> torch.Tensor:
    """x (N, 1, size, size) on a blank CANVAS×CANVAS canvas with its top-left corner at (r, c)."""
    out = x.new_zeros(len(x), 1, CANVAS, CANVAS)
    out[:, :, r : r + size, c : c + size] = x
    return out


def place_in_corner(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The training placement: each image at its own random offset in [0, TRAIN_OFFSETS]² (the image in
    the middle of a (28 + TRAIN_OFFSETS)² box, moved by one batched `random_shift` of ± half that)."""
    from ..data.loader import random_shift

    half = TRAIN_OFFSETS // 2  # (TRAIN_OFFSETS is even)
    box = nn.functional.pad(x, (half, half, half, half))  # (B, 1, 28 + 2·half, …), the image at offset half
    return place(random_shift(box, half, g), 0, 0, 28 + 2 * half)  # offsets half ± half


def accuracy_map(model, x, y) -> list[list[float]]:
    return [[accuracy(model, place(x, r, c), y) for c in GRID] for r in GRID]


def measure(data, fit: Fit, cfg: LabConfig) -> tuple[dict[str, list], dict[str, dict]]:
    """Each network's accuracy map (mean over seeds) and its corner and region summaries."""
    tx, ty = subset(data.test_x, data.test_y, TEST_IMAGES)  # at each of the 25 placements
    maps: dict[str, list] = {}
    summary: dict[str, dict] = {}
    for net in cfg.nets("mlp", "lenet", "gap"):
        runs = []
        for seed in cfg.runs:
            args = cfg.args if net == cfg.model else None
            model = trained(net, seed, data, cfg.n_train, fit, (CANVAS, CANVAS), place_in_corner, args)
            runs.append(accuracy_map(model, tx, ty))
        mean = torch.tensor(runs).mean(0)  # (5, 5)
        maps[net] = mean.tolist()
        far = [
            [r[i][j] for i in range(len(GRID)) for j in range(len(GRID)) if max(GRID[i], GRID[j]) >= FAR] for r in runs
        ]
        summary[net] = {
            "trained_corner": mean_spread([r[0][0] for r in runs]),
            "far_corner": mean_spread([r[-1][-1] for r in runs]),
            "untrained_region": mean_spread([sum(f) / len(f) for f in far]),
        }
    return maps, summary


def plot(maps: dict[str, list], name: str):
    fig = _figure(9, 3.3)
    axes = fig.subplots(1, len(maps))
    for ax, net in zip(axes, maps):
        im = ax.imshow(maps[net], vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(GRID)), GRID, fontsize=7)
        ax.set_yticks(range(len(GRID)), GRID, fontsize=7)
        ax.set_title(label(net), fontsize=9)
        ax.set_xlabel("column offset")
        for i in range(len(GRID)):
            for j in range(len(GRID)):
                ax.text(j, i, f"{maps[net][i][j]:.2f}", ha="center", va="center", fontsize=6, color="w")
    axes[0].set_ylabel("row offset")
    fig.colorbar(im, ax=axes, shrink=0.8, label="test accuracy")
    fig.suptitle(
        f"trained at offsets 0–{TRAIN_OFFSETS} only (top-left), tested everywhere ({name}, {CANVAS}×{CANVAS})",
        fontsize=10,
    )
    return fig


def run(cfg: LabConfig) -> Result:
    data = load(cfg.data, "position")
    fit = Fit(steps=min(cfg.steps, STEPS))
    maps, summary = measure(data, fit, cfg)
    fig = plot(maps, data.name)

    def cell(net: str) -> str:
        s = summary[net]
        return (
            f"{label(net)} {s['trained_corner']['mean']:.3f} where it was trained, {s['untrained_region']['mean']:.3f} "
            f"in the untrained region, {s['far_corner']['mean']:.3f} at the far corner"
        )

    mlp_fails = summary["mlp"]["untrained_region"]["mean"] < 0.5
    gap_holds = summary["gap"]["untrained_region"]["mean"] > summary["mlp"]["untrained_region"]["mean"] + 0.2
    en = (
        f"The tutorial's §1.2 says a flattened network trained with the cat in one place does not recognise it "
        f"elsewhere. Digits ({data.name}) on a {CANVAS}×{CANVAS} canvas, trained only in the top-left corner, "
        f"mean over {len(cfg.runs)} seeds: {'; '.join(cell(n) for n in maps)}. Verdict: "
        + ("holds — " if mlp_fails else "holds in part — ")
        + "the MLP only knows the pixels it was trained on; "
        + ("the network that ends in global pooling recognises digits anywhere, " if gap_holds else "")
        + "and LeNet's dense head ties it to positions too."
    )
    zh = (
        "教程 §1.2 说：展平的网络在一个位置学会认猫，换个位置就认"
        f"不出。把 {data.name} 的数字放在 {CANVAS}×{CANVAS} 画布上，只在左上角"
        f"训练（{len(cfg.runs)} 个随机种子的均值）："
        + "；".join(
            f"{label(n)} 训练处 {summary[n]['trained_corner']['mean']:.3f}，"
            f"未训练区域 {summary[n]['untrained_region']['mean']:.3f}，"
            f"最远角 {summary[n]['far_corner']['mean']:.3f}"
            for n in maps
        )
        + "。结论："
        + ("成立——" if mlp_fails else "部分成立——")
        + "MLP 只认识训练时用到的像素；"
        + ("以全局池化结尾的网络在任何位置都能识别，" if gap_holds else "")
        + "而 LeNet 的全连接头也把它绑在位置上。"
    )
    numbers = {
        "dataset": data.name,
        "canvas": CANVAS,
        "train_offsets": TRAIN_OFFSETS,
        "grid": list(GRID),
        "far": FAR,
        "steps": fit.steps,
        "seeds": cfg.runs,
        "maps": maps,
        "summary": summary,
    }
    verdict = {"en": "holds" if mlp_fails else "holds in part", "zh": "成立" if mlp_fails else "部分成立"}
    return Result("position", "§1.2", numbers, fig, {"en": en, "zh": zh}, verdict)
