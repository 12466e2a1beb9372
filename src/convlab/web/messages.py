# ruff: noqa: E501  (one sentence a line reads better than sentences cut across lines)
"""The playground's server text in the page's language: one catalogue of messages, English and Chinese.

The library speaks English (the CLI prints it, the tests read it). The page says which language it
shows (an `Accept-Language` header, or `?lang=`), and `localize` turns the text of an answer into
that language: each English sentence is matched against the catalogue's English templates (their
{fields} match any text, and a field's text is itself translated where it is a message of its own),
and written again with the Chinese template of the same id. Both tables have the same keys and the
same {fields} (a test holds them to that), the shape of `convlab check`'s `check/messages.py`.

A sentence the catalogue does not know stays English; `tests/test_web_messages.py` asks the API a
set of questions in Chinese, errors included, and fails on any English sentence left.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

LANGS = ("en", "zh")

# The order matters where one template is a special case of another (the special case first).
EN = {
    # how an image was prepared (data/handwriting.py, predict.py)
    "step_inverted": "inverted: light background",
    "step_inverted_fit": "inverted: light background, unlike the training images",
    "step_cropped": "cropped to the ink ({w}×{h} pixels) and scaled to fit 20×20 ({nw}×{nh})",
    "step_centred": "centred by mass in 28×28",
    # the why notes (attribution.py)
    "note_saliency": "gradient magnitude of the class score",
    "note_smoothgrad": "saliency over {samples} noisy copies (noise σ = {sigma} × the image's value range)",
    "note_occlusion": "{window}×{window2} patches, stride {stride}",
    "note_gradcam_input": "Grad-CAM at {layer} ({kind}, its input, {shape}): {why}",
    "note_gradcam": "Grad-CAM at {layer} ({kind}, {shape}): {why}",
    "note_gradcam_asked": "Grad-CAM at {layer} ({kind}, {shape}), as asked",
    "cam_why_coarser": "the deepest feature map whose units are at most {jump} pixels apart — deep enough to be about the class, fine enough to say where (the later {maps} maps are too coarse)",
    "cam_why": "the deepest feature map whose units are at most {jump} pixels apart — deep enough to be about the class, fine enough to say where",
    "cam_empty": "This map is empty: no position of this layer argues for the class (the gradient-weighted sum is negative everywhere); saliency or occlusion still answer",
    "cam_dense_head": "Grad-CAM is unreliable on this model: a dense layer mixes the positions of its last feature map, so the map may light the empty background. Trust occlusion and saliency more here.",
    # the summary table's header and notes (introspect.py)
    "col_index": "#",
    "col_name": "name",
    "col_layer": "layer",
    "col_output": "output",
    "col_params": "params",
    "col_macs": "mult-adds",
    "col_rf": "receptive field",
    "col_jump": "jump",
    "col_start": "start",
    "no_rf": "no receptive field: {reason}",
    "rf_all": "all",
    "rf_after": "n/a: after layer {layer}",
    "rf_unknown": "n/a: {what} unknown",
    "rf_not_map": "n/a: {kind} output",
    "rf_uneven": "n/a: uneven windows",
    "rf_dense": "n/a: dense per position",
    "rf_untraced": "n/a: not traced",
    "rf_other": "n/a: {kind}",
    "unused_outside": "parameters held outside the layers above (counted in the total): {listed}",
    "unused_never": "parameters the forward pass never reads (counted in the total): {listed}",
    # the explorer's output size (explain.py)
    "formula_height": "height: {formula}",
    "formula_width": "width: {formula}",
    "height": "height",
    "width": "width",
    # errors of the requests themselves (web/inputs.py, web/models.py, web/explorer.py, web/app.py)
    "not_found": "not found",
    "method_not_allowed": "method not allowed: {detail}",
    "method_not_allowed_detail": "Method Not Allowed",
    "body_not_json": "request body is not valid JSON",
    "body_not_object": "request body must be a JSON object",
    "body_not_finite": "request body contains {name}; only finite numbers are allowed",
    "image_not_string": "'image' must be a data URL or base64 string",
    "image_not_base64": "'image' is not valid base64",
    "body_empty": "the request body is empty; send the image's bytes",
    "file_empty": "the uploaded 'file' is empty",
    "no_file_field": "multipart upload has no 'file' field; send the image as -F file=@IMAGE",
    "model_not_name": "'model' must be a model name",
    "unknown_model": "unknown model {name}; known: {names}",
    "own_data_missing": "the model learned from data of its own ({name}) that is not kept beside it, so there are no test images to show (a class of your own keeps its drawings in its run folder)",
    "dataset_missing": "the model's dataset ({name}) is not available on this machine",
    "rf_fields": "give integer 'layer', 'row' and 'col' (and optionally 'channel')",
    "filter_fields": "give integer 'layer' and 'channel'",
    "cell_fields": "give integer 'true' and 'predicted' class indices",
    "method_one_of": "'method' must be one of {methods}",
    "target_index": "'target' must be a class index",
    "classes_range": "classes are 0..{last}; got true {true}, predicted {predicted}",
    "class_missing": "class {target} does not exist; the model has classes 0..{last}",
    "layer_missing": "layer {layer} does not exist; the model has layers 0..{last}",
    "layer_no_rf": "layer {layer} has no receptive field: {reason}",
    "unit_outside": "unit ({row}, {col}) is outside layer {layer}'s {shape} output",
    "channel_missing": "channel {channel} does not exist; layer {layer} has channels 0..{last}",
    "no_digit": "no digit found: the image has no ink (draw or photograph a digit)",
    "no_drawing": "nothing drawn: the image has no ink (draw one of the model's classes)",
    "unsupported_format": "{format} images are not supported (use PNG, JPEG, BMP, GIF, WebP, TIFF or Netpbm)",
    "too_many_pixels": "image is {size} pixels; convlab reads at most {most} pixels",
    "not_readable": "not a readable image ({kind})",
    "cannot_decode": "cannot decode image ({detail})",
    "must_be_positive": "{name} must be positive, got {value}",
    "must_be_non_negative": "{name} must be non-negative, got {value}",
    "kernel_too_large": "kernel {kernel} (effective {axis} {eff} with dilation {d}) is larger than the padded input {axis2} {padded} (input {n} + padding {p1}+{p2})",
    "pool_padding_half": "padding {padding} is more than half the window ({k} wide); use padding ≤ {most}",
    # the explorer's refusals (web/explorer.py): each field by its label on the page (the labels last)
    "ex_kernel_dilated": "{field} {size} ({span} with {dilation}) is larger than the padded input {padded}: make it smaller, or add {padding}",
    "ex_too_large": "{field} {size} is larger than the padded input {padded}: make it smaller, or add {padding}",
    "ex_pool_padding": "{padding} {p} is more than half the {window} {size}: use at most {most}",
    "ex_empty": "{field} is empty: write rows of numbers separated by ;",
    "ex_ragged": "{field}: every row must have as many numbers as the first",
    "ex_large": "{field} is larger than {size}",
    "ex_numbers": "{field} must contain only numbers",
    "ex_values": "{field}: every number must lie within {bound}",
    "ex_whole": "{field} must be a whole number from {lo} to {hi} (or two: height, width)",
    "ex_mode": "Operation must be cross-correlation, max pooling or average pooling",
    "label_input": "Input matrix",
    "label_kernel": "Kernel",
    "label_window": "Window",
    "label_padding": "Padding",
    "label_stride": "Stride",
    "label_dilation": "Dilation",
    # training from the page (web/app.py, web/training.py)
    "training_not_allowed": "training is open only to the browser on the machine running the playground; its owner can allow it for everyone with: convlab serve --allow-training",
    "training_running": "a training is already running ({run}); stop it first or wait for it to finish",
    "training_none": "no training is running",
    "classes_count": "give {lo} to {hi} classes, got {n}",
    "class_name_text": "each class name must be text",
    "class_unnamed": "a class has no name: give every class a name",
    "class_name_long": "class name {name}… is too long: at most {most} characters",
    "class_name_folder": 'class name {name} cannot be a folder name: no / \\ : * ? " < > |, control characters or leading dot',
    "class_same": "two classes are both called {name}: give each class its own name",
    "class_drawings": "class {name} has {n} drawing(s); give each class {lo} to {hi}",
    "drawing_kib": "{where} is {n} KiB; at most {most} KiB per image",
    "drawing_pixels": "{where} is {w}×{h} pixels; at most 4096×4096 per image",
    "drawing_empty": "{where} is empty (no ink): draw it again or remove it",
    "where_not_readable": "{where}: not a readable image ({kind})",
    # (last of these: it would also match the sentences above, with {k} taking their end)
    "class_drawing_where": "class {name}, drawing {k}",
    "probe_range": "'probe' must be a test image index from 0 to {last} (this dataset has {n})",
    "probe_index": "'probe' must be a test image index (0 or more)",
    "resume_run": "'resume' must name a run of this playground with a checkpoint (state.pt)",
    "forget_run": "'model' must name a run trained in this playground that is on the model list",
    "dataset_one_of": "'dataset' must be one of {names}",
    "model_one_of": "'model' must be one of {names}",
    "integer_range": "'{key}' must be an integer from {lo} to {hi}",
    "number_range": "'{key}' must be a number from {lo} to {hi}",
    "classes_list": "'classes' must be a list of {shape}",
    "classes_most": "give at most {most} classes, got {n}",
    "class_name": "each class needs a 'name' (text)",
    "class_images": "class {name} needs 'images', a list of data URLs",
    "class_too_many": "class {name} has {n} drawings; at most {most} per class",
    "shift_whole": "'dy' and 'dx' must be whole numbers of pixels",
    "shift_range": "'dy' and 'dx' must be between {lo} and {hi} pixels",
    # a note and what holds for one image's map alone (attribution.Attribution.note_for): last, the most general
    # your own network's code failing on a request (web/app.py, web/models.py; `models.user.own_code`)
    "code_failed": "{name} failed {doing}: {where} raised ({error}); its traceback is in the server's log",
    "doing_image": "on the uploaded image",
    "doing_blank": "on a blank image",
    "doing_shifted": "on the shifted image",
    "doing_summary": "while summarising its layers",
    "doing_rf": "while finding a receptive field",
    "doing_why": "while explaining a prediction",
    "doing_filter": "while finding what a channel looks for",
    "doing_mistakes": "while scoring the test set",
    "doing_scoring": "scoring the test set (a batch of shape {shape})",
    "where_layer": "layer {layer} ({kind})",
    "note_and_image_note": "{note}. {extra}",
}

ZH = {
    "step_inverted": "已反色：背景是浅色的",
    "step_inverted_fit": "已反色：背景是浅色的，与训练图像不同",
    "step_cropped": "裁剪到笔迹（{w}×{h} 像素），缩放到 20×20 以内（{nw}×{nh}）",
    "step_centred": "按质心居中放入 28×28",
    "note_saliency": "类别得分对每个像素的梯度大小",
    "note_smoothgrad": "{samples} 个加噪副本上的平均显著图（噪声 σ = {sigma} × 图像的取值范围）",
    "note_occlusion": "{window}×{window2} 的遮挡块，步幅 {stride}",
    "note_gradcam_input": "Grad-CAM 位于第 {layer} 层（{kind} 的输入，{shape}）：{why}",
    "note_gradcam": "Grad-CAM 位于第 {layer} 层（{kind}，{shape}）：{why}",
    "note_gradcam_asked": "Grad-CAM 位于第 {layer} 层（{kind}，{shape}），按要求",
    "cam_why_coarser": "单元间距不超过 {jump} 个像素的最深一层特征图——足够深，能反映类别；又足够细，能指出位置（后面的 {maps} 特征图太粗）",
    "cam_why": "单元间距不超过 {jump} 个像素的最深一层特征图——足够深，能反映类别；又足够细，能指出位置",
    "cam_empty": "这张图是空的：这一层没有任何位置支持这个类别（梯度加权和处处为负）；显著图或遮挡仍然能回答",
    "cam_dense_head": "Grad-CAM 在这个模型上不可靠：全连接层混合了最后一张特征图的各个位置，所以图可能点亮空白背景。这里更应相信遮挡和显著图。",
    "col_index": "#",
    "col_name": "名称",
    "col_layer": "层",
    "col_output": "输出",
    "col_params": "参数",
    "col_macs": "乘加次数",
    "col_rf": "感受野",
    "col_jump": "跳距",
    "col_start": "起点",
    "no_rf": "没有感受野：{reason}",
    "rf_all": "全部",
    "rf_after": "无：在第 {layer} 层之后",
    "rf_unknown": "无：不知道 {what} 如何移动位置",
    "rf_not_map": "无：{kind} 的输出不是特征图",
    "rf_uneven": "无：窗口不均匀",
    "rf_dense": "无：逐位置的全连接层",
    "rf_untraced": "无：未能追踪",
    "rf_other": "无：{kind}",
    "unused_outside": "存放在上面各层之外的参数（已计入总数）：{listed}",
    "unused_never": "前向传播从不读取的参数（已计入总数）：{listed}",
    "formula_height": "高：{formula}",
    "formula_width": "宽：{formula}",
    "height": "高",
    "width": "宽",
    "not_found": "找不到",
    "method_not_allowed": "不允许的请求方法：{detail}",
    "method_not_allowed_detail": "这个地址不接受这种请求",
    "body_not_json": "请求体不是有效的 JSON",
    "body_not_object": "请求体必须是一个 JSON 对象",
    "body_not_finite": "请求体包含 {name}；只允许有限的数",
    "image_not_string": "'image' 必须是 data URL 或 base64 字符串",
    "image_not_base64": "'image' 不是有效的 base64",
    "body_empty": "请求体是空的；请发送图像的字节",
    "file_empty": "上传的 'file' 是空的",
    "no_file_field": "multipart 上传中没有 'file' 字段；请用 -F file=@IMAGE 发送图像",
    "model_not_name": "'model' 必须是模型名称",
    "unknown_model": "未知模型 {name}；已有的模型：{names}",
    "own_data_missing": "这个模型学习的是它自己的数据（{name}），这些数据没有保存在它旁边，所以没有测试图像可显示（你自己的类别会把画保存在它的训练文件夹中）",
    "dataset_missing": "这台机器上没有该模型的数据集（{name}）",
    "rf_fields": "请给出整数 'layer'、'row' 和 'col'（'channel' 可选）",
    "filter_fields": "请给出整数 'layer' 和 'channel'",
    "cell_fields": "请给出整数类别编号 'true' 和 'predicted'",
    "method_one_of": "'method' 必须是以下之一：{methods}",
    "target_index": "'target' 必须是类别编号",
    "classes_range": "类别编号是 0..{last}；收到真实类别 {true}、预测类别 {predicted}",
    "class_missing": "类别 {target} 不存在；模型的类别是 0..{last}",
    "layer_missing": "第 {layer} 层不存在；模型的层是 0..{last}",
    "layer_no_rf": "第 {layer} 层没有感受野：{reason}",
    "unit_outside": "单元 ({row}, {col}) 不在第 {layer} 层 {shape} 的输出之内",
    "channel_missing": "通道 {channel} 不存在；第 {layer} 层的通道是 0..{last}",
    "no_digit": "没有找到数字：图像中没有笔迹（请写或拍一个数字）",
    "no_drawing": "没有找到图画：图像中没有笔迹（请画出这个模型的某个类别）",
    "unsupported_format": "不支持 {format} 格式的图像（请用 PNG、JPEG、BMP、GIF、WebP、TIFF 或 Netpbm）",
    "too_many_pixels": "图像有 {size} 像素；convlab 最多读取 {most} 像素",
    "not_readable": "不是可读取的图像（{kind}）",
    "cannot_decode": "无法解码图像（{detail}）",
    "must_be_positive": "{name} 必须是正数，收到 {value}",
    "must_be_non_negative": "{name} 不能是负数，收到 {value}",
    "kernel_too_large": "卷积核 {kernel}（膨胀 {d} 时的有效{axis} {eff}）大于填充后输入的{axis2} {padded}（输入 {n} + 填充 {p1}+{p2}）",
    "pool_padding_half": "填充 {padding} 超过了窗口（宽 {k}）的一半；请用不超过 {most} 的填充",
    "ex_kernel_dilated": "{field} {size}（加上{dilation}后为 {span}）大于填充后的输入 {padded}：请把它改小，或增加{padding}",
    "ex_too_large": "{field} {size} 大于填充后的输入 {padded}：请把它改小，或增加{padding}",
    "ex_pool_padding": "{padding} {p} 超过了{window} {size} 的一半：最多用 {most}",
    "ex_empty": "{field}是空的：请写几行数字，行之间用 ; 分隔",
    "ex_ragged": "{field}：每一行的数字个数必须和第一行相同",
    "ex_large": "{field}大于 {size}",
    "ex_numbers": "{field}只能包含数字",
    "ex_values": "{field}：每个数都必须在 {bound} 之内",
    "ex_whole": "{field}必须是 {lo} 到 {hi} 之间的整数（或两个：高、宽）",
    "ex_mode": "运算必须是互相关运算、最大汇聚或平均汇聚",
    "label_input": "输入矩阵",
    "label_kernel": "卷积核",
    "label_window": "窗口",
    "label_padding": "填充",
    "label_stride": "步幅",
    "label_dilation": "膨胀",
    "training_not_allowed": "只有运行演练场的那台机器上的浏览器可以训练；机器的主人可以用 convlab serve --allow-training 向所有人开放",
    "training_running": "已经有一个训练在运行（{run}）；请先停止它，或等它结束",
    "training_none": "没有正在运行的训练",
    "classes_count": "请给出 {lo} 到 {hi} 个类别，收到 {n} 个",
    "class_name_text": "每个类别名都必须是文字",
    "class_unnamed": "有一个类别没有名字：请给每个类别起名",
    "class_name_long": "类别名 {name}… 太长：最多 {most} 个字符",
    "class_name_folder": '类别名 {name} 不能用作文件夹名：不能含 / \\ : * ? " < > |、控制字符，也不能以点开头',
    "class_same": "两个类别都叫 {name}：请给每个类别不同的名字",
    "class_drawings": "类别 {name} 有 {n} 张图；每个类别请给 {lo} 到 {hi} 张",
    "drawing_kib": "{where}有 {n} KiB；每张图最多 {most} KiB",
    "drawing_pixels": "{where}有 {w}×{h} 像素；每张图最多 4096×4096",
    "drawing_empty": "{where}是空的（没有笔迹）：请重画或删掉它",
    "where_not_readable": "{where}：不是可读取的图像（{kind}）",
    "class_drawing_where": "类别 {name} 的第 {k} 张图",
    "probe_range": "'probe' 必须是 0 到 {last} 之间的测试图像编号（这个数据集有 {n} 张）",
    "probe_index": "'probe' 必须是测试图像的编号（0 或更大）",
    "resume_run": "'resume' 必须是本演练场中带有检查点（state.pt）的一次训练",
    "forget_run": "'model' 必须是在本演练场训练、且在模型列表中的一次训练",
    "dataset_one_of": "'dataset' 必须是以下之一：{names}",
    "model_one_of": "'model' 必须是以下之一：{names}",
    "integer_range": "'{key}' 必须是 {lo} 到 {hi} 之间的整数",
    "number_range": "'{key}' 必须是 {lo} 到 {hi} 之间的数",
    "classes_list": "'classes' 必须是 {shape} 的列表",
    "classes_most": "最多 {most} 个类别，收到 {n} 个",
    "class_name": "每个类别都需要一个 'name'（文字）",
    "class_images": "类别 {name} 需要 'images'：一个 data URL 列表",
    "class_too_many": "类别 {name} 有 {n} 张图；每个类别最多 {most} 张",
    "shift_whole": "'dy' 和 'dx' 必须是整数个像素",
    "shift_range": "'dy' 和 'dx' 必须在 {lo} 到 {hi} 像素之间",
    # your own network's code failing on a request (web/app.py, web/models.py; `models.user.own_code`)
    "code_failed": "你的网络 {name} {doing}出错：{where} 抛出了异常（{error}）；完整的回溯见服务器日志",
    "doing_image": "处理上传的图像时",
    "doing_blank": "处理空白图像时",
    "doing_shifted": "处理平移后的图像时",
    "doing_summary": "汇总各层时",
    "doing_rf": "计算感受野时",
    "doing_why": "解释预测时",
    "doing_filter": "寻找通道所响应的图案时",
    "doing_mistakes": "在测试集上评分时",
    "doing_scoring": "在测试集上评分时（一批形状为 {shape} 的图像）",
    "where_layer": "层 {layer}（{kind}）",
    "note_and_image_note": "{note}。{extra}",
}

_FIELD = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@functools.cache
def _patterns() -> list[tuple[str, re.Pattern]]:
    """Each English template as an anchored regex whose named groups are its {fields}."""
    out = []
    for key, template in EN.items():
        parts, pos = [], 0
        for m in _FIELD.finditer(template):
            parts += [re.escape(template[pos : m.start()]), f"(?P<{m.group(1)}>.+?)"]
            pos = m.end()
        parts.append(re.escape(template[pos:]))
        out.append((key, re.compile("".join(parts), re.DOTALL)))
    return out


def translate(text: str, lang: str) -> str:
    """`text` (one English message of the catalogue) in `lang`; text the catalogue does not know, and
    any text in English mode, unchanged. A field's own text is translated where it is a message."""
    if lang != "zh" or not text:
        return text
    for key, pattern in _patterns():
        m = pattern.fullmatch(text)
        if m:
            return ZH[key].format(**{k: translate(v, lang) for k, v in m.groupdict().items()})
    op, sep, rest = text.partition(": ")  # "uploaded image: ...", "conv2d: ...": a name, then a message
    if sep and " " not in op and translate(rest, lang) != rest:
        return f"{op}：{translate(rest, lang)}"
    return text


TEXT_KEYS = (
    "steps",
    "note",
    "advice",
    "formula",
    "header",
    "notes",
    "error",
)  # the keys whose values the page shows as text


SUMMARY_WORDS = 6  # a summary row's cells from here on (receptive field, jump, start) may be words: "all", "n/a: …"


def localize(answer: Mapping, lang: str) -> dict:
    """The answer with the text of TEXT_KEYS (a string, or a list of them) in `lang`, at any depth
    of dicts (the summary inside /api/info); numbers, names and images are left as they are."""
    out = dict(answer)
    if lang == "en":
        return out
    for key, value in out.items():
        if key in TEXT_KEYS and isinstance(value, str):
            out[key] = translate(value, lang)
        elif key in TEXT_KEYS and isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = [translate(v, lang) for v in value]
        elif isinstance(value, Mapping):
            out[key] = localize(value, lang)
        elif key == "rows" and "header" in out:  # the summary's rows: names and numbers, then words
            out[key] = [row[:SUMMARY_WORDS] + [translate(c, lang) for c in row[SUMMARY_WORDS:]] for row in value]
    return out


def language(accept: str | None, query: str | None) -> str:
    """The page's language: `?lang=` when given, else the first language of `Accept-Language`
    ("zh", "zh-CN", ... → zh); English otherwise."""
    chosen = query or (accept or "").split(",")[0].split(";")[0]
    return "zh" if chosen.strip().lower().startswith("zh") else "en"
