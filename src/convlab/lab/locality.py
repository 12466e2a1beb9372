"""locality — the tutorial's §1.3 (2): a convolutional network uses that nearby pixels belong together.

One fixed random permutation of the 784 pixels is applied to every training and test image. LeNet,
whose kernels see 5×5 neighbourhoods, loses accuracy; the MLP cannot tell: with the permutation also
applied to the columns of its initial first-layer weights it trains to exactly the same network.
That is proved bit for bit, not estimated: floating-point addition is not associative, so a dense
layer summing the same products in another order rounds differently in the last bits (measured
below for the plain layer); the proof's MLP sums its first layer in one fixed order taken from its
own initial weights (a tag that moves with each pixel's column, not knowledge of the permutation),
so both runs do the same arithmetic on the same numbers, step after step.
"""

from __future__ import annotations

import torch
from torch import nn

from ..plots import _figure
from .common import Fit, LabConfig, Result, accuracy, build, fmt, label, load, mean_spread, subset, train, trained


class FixedOrderLinear(nn.Module):
    """A dense layer (the wrapped Linear's parameters) whose dot products add their terms in the
    order of its initial first row's values: the same function, with an order no input permutation
    can change. (N, in) → (N, out)."""

    order: torch.Tensor

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias
        order = torch.argsort(linear.weight.detach()[0], stable=True)  # (in,)
        if torch.unique(linear.weight.detach()[0]).numel() != order.numel():
            raise RuntimeError("tied initial weights: the summation order would not be unique")
        self.register_buffer("order", order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x[:, self.order], self.weight[:, self.order], self.bias)


def permute_pixels(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """x (N, 1, H, W) with its H·W pixels reordered by perm (the same for every image)."""
    return x.flatten(1)[:, perm].view_as(x)


def mlp_pair(seed: int, perm: torch.Tensor, fixed_order: bool) -> tuple[nn.Sequential, nn.Sequential]:
    """Two copies of the same initial MLP; the second's first-layer columns permuted by perm."""
    a, b = build("mlp", seed), build("mlp", seed)  # (Standardize, Flatten, Linear, ReLU, Linear)
    with torch.no_grad():
        first(b).copy_(first(b)[:, perm])
    if fixed_order:
        for m in (a, b):
            assert isinstance(m[2], nn.Linear)
            m[2] = FixedOrderLinear(m[2])
    return a, b


def first(model: nn.Module) -> torch.Tensor:
    """The first dense layer's weight (hidden, pixels) of the lab's MLP."""
    assert isinstance(model, nn.Sequential)
    w = model[2].weight
    assert isinstance(w, torch.Tensor)
    return w


def twin_runs(x, y, perm, fit: Fit, seed: int, fixed_order: bool) -> dict:
    """Train the MLP on x and its permuted twin on permuted x; compare every step and every weight."""
    a, b = mlp_pair(seed, perm, fixed_order)
    _, loss_a = train(a, x, y, fit, seed)
    _, loss_b = train(b, permute_pixels(x, perm), y, fit, seed)
    wa, wb = first(a).detach(), first(b).detach()
    same = [torch.equal(wa[:, perm], wb)] + [
        torch.equal(p, q) for p, q in zip(list(a.parameters())[1:], list(b.parameters())[1:])
    ]
    return {
        "steps": len(loss_a),
        "losses_bitwise_equal": loss_a == loss_b,
        "weights_bitwise_equal": all(same),
        "max_weight_difference": float((wa[:, perm] - wb).abs().max()),
    }


def accuracies(net: str, data, x, y, perm, fit: Fit, cfg: LabConfig) -> dict:
    """Test accuracy over seeds on the original pixels (the runs shift also trains) and on permuted ones."""
    xs, xt = permute_pixels(x, perm), permute_pixels(data.test_x, perm)
    return {
        "original": mean_spread(
            [accuracy(trained(net, s, data, cfg.n_train, fit), data.test_x, data.test_y) for s in cfg.runs]
        ),
        "permuted": mean_spread([accuracy(train(build(net, s), xs, y, fit, s)[0], xt, data.test_y) for s in cfg.runs]),
    }


def run(cfg: LabConfig) -> Result:
    data = load(cfg.data, "locality")
    x, y = subset(data.train_x, data.train_y, cfg.n_train)
    perm = torch.randperm(28 * 28, generator=torch.Generator().manual_seed(0))
    fit = Fit(steps=cfg.steps)
    proof = twin_runs(x, y, perm, fit, 0, fixed_order=True)
    plain = twin_runs(x, y, perm, Fit(steps=20), 0, fixed_order=False)
    acc = {net: accuracies(net, data, x, y, perm, fit, cfg) for net in ("mlp", "lenet")}
    fig = _figure(8, 3.2)
    axes = fig.subplots(1, 3, width_ratios=[1, 1, 2])
    img = data.test_x[0, 0]
    axes[0].imshow(img, cmap="gray")
    axes[1].imshow(permute_pixels(data.test_x[:1], perm)[0, 0], cmap="gray")
    axes[0].set_title("a test image", fontsize=9)
    axes[1].set_title("its pixels permuted", fontsize=9)
    for ax in axes[:2]:
        ax.axis("off")
    for i, net in enumerate(("mlp", "lenet")):
        for j, cond in enumerate(("original", "permuted")):
            m = acc[net][cond]
            axes[2].bar(i * 3 + j, m["mean"], yerr=m["std"], capsize=3, color="C0" if j == 0 else "C3")
    axes[2].set_xticks([0, 1, 3, 4], ["MLP", "MLP perm.", "LeNet", "LeNet perm."], fontsize=8)
    axes[2].set_ylabel("test accuracy")
    axes[2].set_title("one fixed pixel permutation (mean ± std)", fontsize=9)
    drop = acc["lenet"]["original"]["mean"] - acc["lenet"]["permuted"]["mean"]
    bitwise = proof["losses_bitwise_equal"] and proof["weights_bitwise_equal"]
    en = (
        f"The tutorial's §1.3 (2) says a convolutional network relies on locality: nearby pixels belong together. "
        f"With one fixed random permutation of the pixels ({data.name}, {len(cfg.runs)} seeds), {label('lenet')} "
        f"falls from "
        f"{fmt(acc['lenet']['original'])} to {fmt(acc['lenet']['permuted'])}, while the MLP reads "
        f"{fmt(acc['mlp']['original'])} and {fmt(acc['mlp']['permuted'])}. With the permutation applied to its "
        f"initial first-layer columns too, the MLP's {proof['steps']} training steps are "
        + ("bitwise identical (every loss and every weight)" if bitwise else "NOT bitwise identical")
        + f"; a plain dense layer, summing in pixel order, differs only by rounding "
        f"({plain['max_weight_difference']:.1e} after {plain['steps']} steps). Verdict: holds — LeNet's accuracy "
        f"depends on which pixels are neighbours ({drop:.2f} lost), the MLP provably does not use it at all."
    )
    zh = (
        f"教程 §1.3 (2) 说卷积神经网络依靠局部性：相邻的像素属于同一物体。对像素施加一个固定的随机置换（{data.name}，"
        f"{len(cfg.runs)} 个随机种子）后，{label('lenet')} 从 {fmt(acc['lenet']['original'])} "
        f"降到 {fmt(acc['lenet']['permuted'])}，"
        f"而 MLP 分别为 {fmt(acc['mlp']['original'])} 和 {fmt(acc['mlp']['permuted'])}。"
        "把同一置换也作用于 MLP 第一层初始权重"
        f"的列后，它的 {proof['steps']} 步训练"
        + ("逐位完全相同（每一步的损失和每一个权重）" if bitwise else "并不逐位相同")
        + f"；按像素顺序求和的普通全连接层只差舍入误差（{plain['steps']} 步后 {plain['max_weight_difference']:.1e}）。"
        f"结论：成立——LeNet 的准确率依赖像素的相邻关系（下降 {drop:.2f}），MLP 可证明地完全不用它。"
    )
    numbers = {
        "dataset": data.name,
        "steps": fit.steps,
        "seeds": cfg.runs,
        "proof": proof,
        "plain_layer": plain,
        "accuracy": acc,
    }
    verdict = {"en": "holds", "zh": "成立"}
    return Result("locality", "§1.3 (2)", numbers, fig, {"en": en, "zh": zh}, verdict)
