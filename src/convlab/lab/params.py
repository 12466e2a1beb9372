"""params — the tutorial's §1 (1)–(2): a flattened image needs many parameters and much computation.

Counted from real model instances (`introspect.summary`) for inputs from 28×28×1 to 224×224×3:
the first layer's and the whole network's parameters and multiply-adds, MLP against LeNet.
"""

from __future__ import annotations

from ..introspect import summary
from ..models import build_model
from ..plots import _figure
from .common import LabConfig, Result

SIZES = [(1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 96, 96), (3, 224, 224)]
TUTORIAL = 28 * 28 * 3 * 1000  # the tutorial's "parameters": 2,352,000


def count(name: str, shape: tuple[int, int, int]) -> dict:
    """Parameters and multiply-adds of model `name` for one (C, H, W) input: first layer and total."""
    c, h, w = shape
    s = summary(build_model(name, 10, c, (h, w)), shape)
    first = next(r for r in s.layers if r.params)
    return {"first_params": first.params, "first_macs": first.macs, "params": s.total_params, "macs": s.total_macs}


def run(cfg: LabConfig) -> Result:
    rows: list[dict] = [
        {"input": "×".join(map(str, (h, w, c))), **{m: count(m, (c, h, w)) for m in ("mlp", "lenet")}}
        for c, h, w in SIZES
    ]
    fig = _figure(7, 3.6)
    ax = fig.subplots()
    for m, style in (("mlp", "o-"), ("lenet", "s-")):
        ax.plot([r["input"] for r in rows], [r[m]["params"] for r in rows], style, label=f"{m}: parameters")
        ax.plot([r["input"] for r in rows], [r[m]["macs"] for r in rows], style, alpha=0.5, label=f"{m}: mult-adds")
    ax.set_yscale("log")
    ax.set_xlabel("input (H×W×C)")
    ax.set_title("parameters and multiply-adds per image, counted from the models")
    ax.legend(fontsize=8)
    small, big = rows[0], rows[-1]
    ratio = small["mlp"]["first_params"] / small["lenet"]["first_params"]
    en = (
        f"The tutorial's §1 (1)–(2) says a flattened image needs so many parameters that the model overfits, and too "
        f"much computation. Counted from the models: at 28×28×1 the MLP's first layer has "
        f"{small['mlp']['first_params']:,} parameters against LeNet's first convolution's "
        f"{small['lenet']['first_params']:,} ({ratio:,.0f}×), {small['mlp']['params']:,} against "
        f"{small['lenet']['params']:,} in all; at 224×224×3 the MLP needs {big['mlp']['params']:,} parameters, "
        f"LeNet {big['lenet']['params']:,} (its dense head grows with the image, its convolutions do not), while "
        f"LeNet's convolutions cost more multiply-adds ({big['lenet']['macs']:,} against {big['mlp']['macs']:,}). "
        f"The tutorial's 28×28×3×1000 = {TUTORIAL:,} counts the input values of 1,000 images, not parameters: the "
        f"number of parameters does not depend on how many images are used. Verdict: holds in part — parameters "
        f"grow with the image for a dense layer and not for a convolution, but a convolution is not cheaper in "
        f"computation: it trades parameters for multiply-adds."
    )
    zh = (
        "教程 §1 (1)–(2) 说：把图像展平后输入全连接网络，参数过多"
        "会过拟合，计算量也过大。从模型实例数出来：28×28×1 时 MLP "
        f"第一层有 {small['mlp']['first_params']:,} 个参数，LeNet"
        f" 第一个卷积层只有 {small['lenet']['first_params']:,} 个"
        f"（{ratio:,.0f} 倍），总数 {small['mlp']['params']:,} 对 {small['lenet']['params']:,}；224×224×3 时 MLP 需要 "
        f"{big['mlp']['params']:,} 个参数，LeNet {big['lenet']['params']:,} "
        "个（它的全连接头随图像变大，卷积层不变），但 "
        f"LeNet 的卷积乘加次数更多（{big['lenet']['macs']:,} 对 {big['mlp']['macs']:,}）。教程的 28×28×3×1000 = "
        f"{TUTORIAL:,} 数的是 1000 张图像的输入数值，不是参数：参数个数与训练图像的数量无关。结论：部分成立——全连接层的"
        f"参数随图像增大而增长，卷积层不会；但卷积并不省计算，它用乘加次数换参数。"
    )
    verdict = {"en": "holds in part", "zh": "部分成立"}
    numbers = {"rows": rows, "tutorial_count": TUTORIAL}
    return Result("params", "§1 (1)–(2)", numbers, fig, {"en": en, "zh": zh}, verdict, over_seeds=False)
