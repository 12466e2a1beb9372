# ruff: noqa: E501  (one sentence a line reads better than sentences cut across lines)
"""Every sentence `convlab check` prints, in English and in Chinese (the tutorial's language).

Both tables have the same keys and the same {fields}, so a report has the same lines in both
languages (a test holds them to that). The language comes from `--lang`, else the locale.
"""

from __future__ import annotations

import os

EN = {
    "header": "convlab check {file}: {n} exercise(s) found",
    "pass": "✓ {name} ({section}): {cases} generated cases agree with convlab's",
    "fail": "✗ {name} ({section}): differs from convlab's on generated case {n}; the smallest input where they differ:",
    "fail_same": "✗ {name} ({section}): gives convlab's answers, but not as the exercise asks (generated case {n}); the smallest input:",
    "crash": "✗ {name} ({section}): your code raised {exception} on generated case {n}; the smallest input that raises it:",
    "timeout": "✗ {name} ({section}): your {name} did not finish within {seconds:g} s on a {size} input",
    "expected": "convlab's answer:",
    "yours": "yours:",
    "legend": "(* marks the cells that differ)",
    "traceback": "your code's traceback:",
    "checking": "convlab was checking: {call}",
    "diagnosis": "diagnosis: {text}",
    "no_diagnosis": "diagnosis: no known mistake matches; compare the marked cells with the tutorial's loop",
    "in_place": "your function changed its input {arg} in place (e.g. `window *= K` on a slice of X): compute into a new tensor",
    "weight_not_parameter": "the weight is not an nn.Parameter (the layer's parameters: {params}), so training never changes it: self.weight = nn.Parameter(torch.rand(kernel_size))",
    "int_truncated": "the result was cut to whole numbers: with integer inputs ({dtype}) your output took an integer dtype; create Y with torch.zeros(...), which is float",
    "flipped": "your kernel is flipped (rows and columns reversed): that is convolution as mathematicians define it; the tutorial's corr2d is cross-correlation, X[i:i + h, j:j + w] * K with K as it is",
    "transposed": "height and width are swapped: your output is the transpose of convlab's; rows go with X.shape[0] and K.shape[0], columns with X.shape[1] and K.shape[1]",
    "channels_not_summed": "the {c_i} input channels are not summed: add up every channel's cross-correlation (do not keep, average or overwrite them)",
    "channel_axes": "K's output and input channel axes are mixed up: K is (c_o, c_i, 1, 1), so K.reshape(c_o, c_i) multiplies X.reshape(c_i, h * w)",
    "bias_missing": "the bias ({bias:g}) is not added: forward must return corr2d(x, self.weight) + self.bias",
    "one_side_padding": "the padding {padding} is on one side only: pad p rows at the top and p at the bottom, p columns on the left and p on the right",
    "max_pad_zero": "max pooling padded with zeros: a window of negative numbers then gives 0; pad with float('-inf') so that padding never wins",
    "padding_ignored": "the padding is ignored: your output is what the same call without padding gives",
    "stride_ignored": "the stride {stride} is ignored: your window moves one cell at a time; window (i, j) starts at row i·s_h, column j·s_w",
    "avg_count": "average pooling divides by {divisor} instead of the window's size {right} (p_h × p_w)",
    "mode_swapped": "mode '{mode}' computes {other} pooling",
    "not_floored": "the division is not rounded down: ({n} + 2·{p} − {k})/{s} + 1 = {got}; a size is a whole number, ⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right} (use //)",
    "padding_once": "the padding is counted once, but p is on each side: ⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}, yours gives {got}",
    "no_plus_one": "the + 1 is missing: ⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}, yours gives {got}",
    "ceil": "the division rounds up instead of down: ⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}, yours gives {got}",
    "no_stride": "the stride is ignored: ⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}, yours gives {got}",
    "output_shape": "your output has {got} {axis} where convlab's has {right}: ⌊(n + 2p − k)/s⌋ + 1 = ⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}",
    "rows": "rows",
    "columns": "columns",
    "learned": "learning (§2.4, the edge kernel, {epochs} steps, lr {lr:g}): your Conv2D learned [{a:.4f}, {b:.4f}] (target [1, −1])",
    "learn_fail": "✗ {name} ({section}): it does not learn the edge kernel [1, −1] from the §2.4 image",
    "net_shapes": "shapes through your network for a (1, 1, 28, 28) input (tutorial's in brackets where they differ):",
    "net_row": "  {i:>2} {layer:<12} output shape: {shape}{note}",
    "net_pass": "✓ {name} ({section}): the tutorial's shapes at every layer, and the loss falls on real digits",
    "net_fail": "✗ {name} ({section}): not the tutorial's LeNet",
    "net_mismatch": "diagnosis: layer {i} ({layer}) gives {got}; the tutorial's network has {right} at that point",
    "net_crash": "diagnosis: layer {i} ({layer}) fails on the {shape} it receives; the tutorial's network has {right} there",
    "net_learned": "learning on {n} real digits ({steps} steps, Adam, lr {lr:g}): loss {first:.3f} → {last:.3f}",
    "net_no_params": "diagnosis: the network has no trainable parameters (requires_grad is off everywhere), so nothing can learn",
    "net_no_learn": "diagnosis: the loss does not fall ({first:.3f} → {last:.3f}): are the layers' weights trainable parameters?",
    "timing": "time on one 28×28 image: your loop {yours} ms, convlab's {op} {fast} ms ({ratio} faster); on {batch} images: {yours_b} ms vs {fast_b} ms ({ratio_b} faster)",
    "summary": "{passed} of {total} exercise(s) pass",
    "missing": "not in this file (checked when it defines them): {names}",
    "import_failed": "✗ your file failed while Python was importing it; its traceback:",
    "list_header": "exercises `convlab check FILE.py` recognises (by name, or FILE.py:NAME --as EXERCISE):",
    "list_row": "{key:<24} {section:<5} {signature}",
    "list_names": "{pad:<30} names: {names}",
    "no_file": "{path}: no such file; give the Python file with your exercises, e.g. convlab check my_cnn.py",
    "a_folder": "{path} is a folder; give the Python file with your exercises, e.g. convlab check my_cnn.py",
    "not_python": "{path} is not a .py file; give the Python file with your exercises, e.g. convlab check my_cnn.py",
    "no_names": "{path} defines none of the tutorial's names ({names}); name them as the tutorial does, or use FILE.py:NAME --as EXERCISE",
    "no_name": "{path} defines no {name!r}; the names it defines: {names}",
    "unknown": "unknown exercise {name!r}; the exercises: {names} (see convlab check --list)",
    "no_target": "give a Python file (convlab check my_cnn.py) or --list",
}

ZH = {
    "header": "convlab check {file}：找到 {n} 个练习",
    "pass": "✓ {name}（{section}）：{cases} 个生成的用例都与 convlab 的结果一致",
    "fail": "✗ {name}（{section}）：在第 {n} 个生成的用例上与 convlab 的结果不同；不同之处的最小输入：",
    "fail_same": "✗ {name}（{section}）：结果与 convlab 的一致，但做法不符合练习的要求（第 {n} 个生成的用例）；最小输入：",
    "crash": "✗ {name}（{section}）：你的代码在第 {n} 个生成的用例上抛出 {exception}；引发它的最小输入：",
    "timeout": "✗ {name}（{section}）：你的 {name} 在 {size} 的输入上 {seconds:g} 秒内没有结束",
    "expected": "convlab 的结果：",
    "yours": "你的结果：",
    "legend": "（* 标出不同的元素）",
    "traceback": "你的代码的回溯（traceback）：",
    "checking": "convlab 当时在检查：{call}",
    "diagnosis": "诊断：{text}",
    "no_diagnosis": "诊断：没有匹配的常见错误；请把标出的元素与教程的循环对照",
    "in_place": "你的函数原地修改了输入 {arg}（例如对 X 的切片做 `window *= K`）：请把结果算进一个新张量",
    "weight_not_parameter": "权重不是 nn.Parameter（该层的参数：{params}），训练永远不会改变它：self.weight = nn.Parameter(torch.rand(kernel_size))",
    "int_truncated": "结果被截成了整数：输入是整数（{dtype}）时你的输出也用了整数类型；用 torch.zeros(...)（浮点）创建 Y",
    "flipped": "你的卷积核被翻转了（行和列都倒过来）：这是数学上的卷积；教程的 corr2d 是互相关，X[i:i + h, j:j + w] * K，K 保持原样",
    "transposed": "高和宽对调了：你的输出是 convlab 结果的转置；行对应 X.shape[0] 和 K.shape[0]，列对应 X.shape[1] 和 K.shape[1]",
    "channels_not_summed": "{c_i} 个输入通道没有求和：要把每个通道的互相关结果加起来（不是保留、平均或覆盖）",
    "channel_axes": "K 的输出通道轴和输入通道轴弄混了：K 的形状是 (c_o, c_i, 1, 1)，所以 K.reshape(c_o, c_i) 乘以 X.reshape(c_i, h * w)",
    "bias_missing": "没有加上偏置（{bias:g}）：forward 应返回 corr2d(x, self.weight) + self.bias",
    "one_side_padding": "填充 {padding} 只加在了一侧：上下各填充 p 行，左右各填充 p 列",
    "max_pad_zero": "最大汇聚用 0 填充：全是负数的窗口因此得到 0；请用 float('-inf') 填充，使填充永远不会被选中",
    "padding_ignored": "填充被忽略了：你的输出就是不加填充时的结果",
    "stride_ignored": "步幅 {stride} 被忽略了：你的窗口每次只移动一格；窗口 (i, j) 应从第 i·s_h 行、第 j·s_w 列开始",
    "avg_count": "平均汇聚除以 {divisor}，而不是窗口大小 {right}（p_h × p_w）",
    "mode_swapped": "模式 '{mode}' 计算的是 {other} 汇聚",
    "not_floored": "除法没有向下取整：({n} + 2·{p} − {k})/{s} + 1 = {got}；尺寸是整数，⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}（用 //）",
    "padding_once": "填充只算了一次，但两侧各有 p：⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}，你的结果是 {got}",
    "no_plus_one": "少了 + 1：⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}，你的结果是 {got}",
    "ceil": "除法向上取整了，应向下取整：⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}，你的结果是 {got}",
    "no_stride": "步幅被忽略了：⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}，你的结果是 {got}",
    "output_shape": "你的输出有 {got} {axis}，convlab 的有 {right}：⌊(n + 2p − k)/s⌋ + 1 = ⌊({n} + 2·{p} − {k})/{s}⌋ + 1 = {right}",
    "rows": "行",
    "columns": "列",
    "learned": "学习（§2.4，边缘卷积核，{epochs} 步，学习率 {lr:g}）：你的 Conv2D 学到了 [{a:.4f}, {b:.4f}]（目标 [1, −1]）",
    "learn_fail": "✗ {name}（{section}）：它没能从 §2.4 的图像学到边缘卷积核 [1, −1]",
    "net_shapes": "输入 (1, 1, 28, 28) 时你的网络各层的形状（与教程不同处，括号里是教程的）：",
    "net_row": "  {i:>2} {layer:<12} output shape: {shape}{note}",
    "net_pass": "✓ {name}（{section}）：每一层都是教程的形状，在真实手写数字上损失下降",
    "net_fail": "✗ {name}（{section}）：不是教程的 LeNet",
    "net_mismatch": "诊断：第 {i} 层（{layer}）输出 {got}；教程的网络在这里是 {right}",
    "net_crash": "诊断：第 {i} 层（{layer}）处理它收到的 {shape} 时出错；教程的网络在这里是 {right}",
    "net_learned": "在 {n} 张真实手写数字上学习（{steps} 步，Adam，学习率 {lr:g}）：损失 {first:.3f} → {last:.3f}",
    "net_no_params": "诊断：网络没有可训练的参数（requires_grad 全部关闭），什么也学不到",
    "net_no_learn": "诊断：损失没有下降（{first:.3f} → {last:.3f}）：各层的权重是可训练的参数吗？",
    "timing": "一张 28×28 图像的用时：你的循环 {yours} 毫秒，convlab 的 {op} {fast} 毫秒（快 {ratio}）；{batch} 张图像：{yours_b} 毫秒 对 {fast_b} 毫秒（快 {ratio_b}）",
    "summary": "{total} 个练习中 {passed} 个通过",
    "missing": "文件中没有（定义后会检查）：{names}",
    "import_failed": "✗ Python 导入你的文件时出错；回溯：",
    "list_header": "`convlab check FILE.py` 认识的练习（按名字，或 FILE.py:NAME --as 练习名）：",
    "list_row": "{key:<24} {section:<5} {signature}",
    "list_names": "{pad:<30} 名字：{names}",
    "no_file": "{path}：文件不存在；请给出写有练习的 Python 文件，例如 convlab check my_cnn.py",
    "a_folder": "{path} 是文件夹；请给出写有练习的 Python 文件，例如 convlab check my_cnn.py",
    "not_python": "{path} 不是 .py 文件；请给出写有练习的 Python 文件，例如 convlab check my_cnn.py",
    "no_names": "{path} 没有定义教程中的任何名字（{names}）；请按教程命名，或用 FILE.py:NAME --as 练习名",
    "no_name": "{path} 没有定义 {name!r}；它定义的名字：{names}",
    "unknown": "未知的练习 {name!r}；练习有：{names}（见 convlab check --list）",
    "no_target": "请给出一个 Python 文件（convlab check my_cnn.py）或 --list",
}

TABLES = {"en": EN, "zh": ZH}


def language(requested: str | None = None) -> str:
    """`requested` if given, else Chinese when the locale says so (LC_ALL, LC_MESSAGES, LANG), else English."""
    if requested:
        return requested
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


class Messages:
    """`msg("pass", name=..., …)` in one language."""

    def __init__(self, lang: str | None = None):
        self.lang = language(lang)
        self.table = TABLES[self.lang]

    def __call__(self, key: str, /, **fields: object) -> str:
        return self.table[key].format(**fields)
