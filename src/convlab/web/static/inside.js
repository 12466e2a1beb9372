// The "Look inside" tab: draw, upload or pick an image; the model's prediction, every layer's
// maps (debounced as you draw), the receptive field of a clicked unit, the first-layer kernels
// and the summary. Tells the other views about each prediction, class and channel (events.js).
import { api, withModel } from "./api.js";
import { $, el, kernelGrid, layerView, paintInput, probBars, showError } from "./dom.js";
import { EVENTS, emit, on } from "./events.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  tabInside: { en: "Look inside", zh: "看看网络内部" },
  draw: { en: "Draw, upload or pick an image", zh: "手写、上传或随机选一张图片" },
  clear: { en: "Clear", zh: "清除" },
  undo: { en: "Undo", zh: "撤销" },
  upload: { en: "Upload", zh: "上传" },
  random: { en: "Random test image", zh: "随机测试图片" },
  sees: { en: "What the model sees", zh: "模型看到的输入" },
  drawDigit: { en: "Draw a digit: the model reads handwritten digits.", zh: "请写一个数字：这个模型识别手写数字。" },
  drawClass: { en: "Draw one of the model's classes: it reads drawings.", zh: "请画出这个模型的某个类别：它识别手绘的图画。" },
  emptyCanvas: {
    en: "The canvas is empty: a prediction of an empty image means nothing. Draw, upload or pick an image.",
    zh: "画布是空的：对空白图像的预测没有意义。请手写、上传或随机选一张图片。",
  },
  truth: {
    en: (label, right) => `True label: ${label} — the prediction is ${right ? "right ✓" : "wrong ✗"}`,
    zh: (label, right) => `真实标签：${label}——预测${right ? "正确 ✓" : "错误 ✗"}`,
  },
  prediction: { en: "Prediction", zh: "预测" },
  classHint: {
    en: "Click a class to see why (or why not) the model would say it.",
    zh: "点击一个类别，看看模型为什么会（或不会）这样判断。",
  },
  kernels: { en: "First-layer kernels", zh: "第一层卷积核" },
  layers: { en: "Every layer's output (one colour scale per layer)", zh: "每一层的输出（每层共用一个颜色刻度）" },
  summary: { en: "Summary", zh: "模型概要" },
  rfHint: { en: "Click a unit in a feature map to see its receptive field.", zh: "点击特征图中的一个单元，查看它的感受野。" },
  rf: {
    en: (r) => `Layer ${r.layer}, channel ${r.channel}, unit (${r.row}, ${r.col}) sees input rows ${r.rows[0]}–${r.rows[1]}, columns ${r.cols[0]}–${r.cols[1]}: ${r.pixels} pixels (window ${r.size[0]}×${r.size[1]}).`,
    zh: (r) => `第 ${r.layer} 层第 ${r.channel} 通道的单元 (${r.row}, ${r.col}) 看到输入的第 ${r.rows[0]}–${r.rows[1]} 行、第 ${r.cols[0]}–${r.cols[1]} 列：共 ${r.pixels} 个像素（窗口 ${r.size[0]}×${r.size[1]}）。`,
  },
  summaryFoot: {
    en: (model, data, params, macs) => `${model} · ${data} · ${params} params · ${macs} mult-adds`,
    zh: (model, data, params, macs) => `${model} · ${data} · ${params} 个参数 · ${macs} 次乘加`,
  },
  rfNone: { en: "This unit sees only padding.", zh: "这个单元只看到填充。" },
  rfAll: { en: "This unit sees the whole input.", zh: "这个单元看到整个输入。" },
  unitHint: {
    en: "Click a unit (or focus a map and press Enter; arrow keys move between maps) to see its receptive field.",
    zh: "点击一个单元（或用 Tab 选中一张特征图后按回车；方向键在特征图之间移动），查看它的感受野。",
  },
  unitChannel: { en: (c) => `What channel ${c} looks for`, zh: (c) => `第 ${c} 通道在找什么` },
  drawLabel: { en: "Drawing area: draw with a mouse, a pen or a finger", zh: "手写区：用鼠标、笔或手指书写" },
  legendNone: { en: "no evidence", zh: "没有证据" },
  legendStrong: { en: "strong evidence", zh: "强证据" },
  legendNeg: { en: "negative", zh: "负" },
  legendPos: { en: "positive", zh: "正" },
  legendZero: { en: "(white: 0)", zh: "（白色：0）" },
  legendLow: { en: "the layer's minimum", zh: "该层最小值" },
  legendHigh: { en: "the layer's maximum", zh: "该层最大值" },
});

// --- drawing -------------------------------------------------------------------------------
const draw = $("draw"), dctx = draw.getContext("2d");
const strokes = [];
// source: {dataUrl, img, label} of a test image or crop (label: its true class, when known), or
// {dataUrl, raw: true} of an upload (img: what the model made of it, once predicted); else the drawing.
let current = null, source = null;

export function redraw() {
  dctx.fillStyle = "#000"; dctx.fillRect(0, 0, draw.width, draw.height);
  dctx.imageSmoothingEnabled = !(source && source.raw);  // a prepared upload: its pixels, sharp
  if (source && source.img) dctx.drawImage(source.img, 0, 0, draw.width, draw.height);
  dctx.strokeStyle = "#fff"; dctx.lineWidth = 20; dctx.lineCap = "round"; dctx.lineJoin = "round";
  for (const s of strokes) {
    dctx.beginPath();
    s.forEach(([x, y], i) => (i ? dctx.lineTo(x, y) : dctx.moveTo(x, y)));
    if (s.length === 1) dctx.lineTo(s[0][0] + 0.1, s[0][1]);
    dctx.stroke();
  }
}
function pos(e) {
  const r = draw.getBoundingClientRect();
  return [(e.clientX - r.left) * draw.width / r.width, (e.clientY - r.top) * draw.height / r.height];
}
// `version` counts changes to the input; a rendered prediction carries the version it answers
// (#prediction's data-version), so a test or a slow connection can tell stale from current.
let version = 0;
// The page's global `version` reads it (modules keep their names to themselves): what a test or a
// person at the console compares with #prediction's data-version.
Object.defineProperty(window, "version", { get: () => version });
function changed(delay) { version++; redraw(); schedule(delay); }
draw.addEventListener("pointerdown", (e) => { if (source) source.label = null; current = [pos(e)]; strokes.push(current); draw.setPointerCapture(e.pointerId); changed(); });
draw.addEventListener("pointermove", (e) => { if (current) { current.push(pos(e)); changed(); } });
draw.addEventListener("pointerup", () => { current = null; changed(0); });
$("clear").addEventListener("click", () => { strokes.length = 0; source = null; clearOutputs(); changed(0); });
$("undo").addEventListener("click", () => { strokes.pop(); changed(0); });

// Make an image (a data URL: a test image, a crop's whole image) the input; `label` is its true
// class where known (a test image), shown beside the prediction.
export function loadSource(dataUrl, label = null) {
  const img = new Image();
  img.onload = () => { source = { img, dataUrl, label }; strokes.length = 0; changed(0); };
  img.src = dataUrl;
}
$("upload-button").addEventListener("click", () => $("upload").click());  // a real button, not a label
$("upload").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => { source = { dataUrl: reader.result, raw: true }; strokes.length = 0; version++; predictNow(); };
  reader.readAsDataURL(file);
  e.target.value = "";
});
$("random").addEventListener("click", async () => {
  try { const s = await api(withModel("/api/sample")); loadSource(s.image, s.label); } catch (err) { showError(err.message); }
});

// --- prediction ----------------------------------------------------------------------------
let timer = null, inflight = false, again = false, info = null, lastRf = null;
const opened = new Map();  // layer index → open, as the learner left it (kept across predictions)
let panelByUnit = false;  // the channel panel was asked for from a unit's box (else from a kernel)
function schedule(delay = 120) { clearTimeout(timer); timer = setTimeout(predictNow, delay); }

// A digit model gets nothing to read from an empty canvas: say so instead of predicting. Another
// model predicts an empty canvas too (its maps still teach), under a note that it means nothing.
// (a model of drawn classes of its own reads drawings, not digits: it asks for one of its classes)
function showEmpty(empty, why = info && !info.reads_digits ? "drawClass" : "drawDigit") {
  $("empty").hidden = !empty;
  $("empty").dataset.i18n = why;
  $("empty").textContent = t(why);
  $("outputs").classList.toggle("waiting", empty && why !== "emptyCanvas");
}
const blank = () => strokes.length === 0 && !source;

// Forget the last prediction (Clear): the prediction, its bars, maps, steps, true label, receptive
// field and error banner; the why overlay follows (EVENTS.cleared).
function clearOutputs() {
  $("prediction").textContent = "–";
  ["probs", "layers"].forEach((id) => $(id).replaceChildren());
  $("steps").textContent = "";
  $("truth").hidden = true;
  lastRf = null;
  $("rf-overlay").getContext("2d").clearRect(0, 0, 168, 168);
  $("rf-box").textContent = t("rfHint");
  showError("");
  emit(EVENTS.cleared);
}

export async function predictNow() {
  if (!info) return;
  if (info.input_style === "mnist" && blank()) {
    clearOutputs();
    showEmpty(true);
    $("prediction").dataset.version = version;
    return;
  }
  if (inflight) { again = true; return; }
  inflight = true;
  const v = version;
  try {
    const image = source && source.raw && strokes.length === 0 ? source.dataUrl : draw.toDataURL("image/png");
    const r = await api(withModel("/api/predict"), { image });
    showError("");
    showEmpty(blank(), "emptyCanvas");
    render(r);
    if (source && source.raw && strokes.length === 0) showUpload(r.input);
    emit(EVENTS.predicted, { result: r, image, truth: source && source.label });
  } catch (err) {
    if (err.status === 422) { clearOutputs(); showEmpty(true); } else showError(err.message);
  }
  $("prediction").dataset.version = v;
  inflight = false;
  if (again) { again = false; predictNow(); }
}

// An upload on the drawing canvas as the model sees it after preparation (cropped, inverted, ...).
function showUpload(input) {
  const view = document.createElement("canvas");
  paintInput(view, input);
  source.img = view;
  redraw();
}

function showTruth(prediction) {
  const label = source && source.label;
  $("truth").hidden = !label;
  if (label) {
    $("truth").textContent = t("truth")(label, label === prediction);
    Object.assign($("truth").dataset, { label, right: label === prediction });
  }
}

function render(r) {
  paintInput($("input-view"), r.input);
  $("steps").textContent = r.steps.join("; ");
  $("prediction").textContent = r.prediction;
  showTruth(r.prediction);
  probBars($("probs"), r.classes, r.probabilities, (i) => emit(EVENTS.class, { index: i }));
  parkUnitBox();
  const box = $("layers");
  box.replaceChildren();
  const blockStarts = new Map((info.summary.blocks || []).filter((b) => b.block).map((b) => [b.first, b]));
  r.layers.forEach((layer, i) => {
    const start = blockStarts.get(layer.index);
    if (start) box.appendChild(el("h4", { className: "block" }, `${start.block}: ${start.kind}`));
    // A deep network (a ResNet: 73 layers) opens on its first layers; the rest fold, one click away.
    const folded = !(opened.get(layer.index) ?? (r.layers.length <= FOLD_AFTER * 2 || i < FOLD_AFTER));
    const view = layerView(layer, (ch, row, col) => askRf(layer.index, row, col, ch), folded);
    view.addEventListener("toggle", () => opened.set(layer.index, view.open));
    box.appendChild(view);
  });
  if (lastRf) showRf(lastRf);
}
const FOLD_AFTER = 8;

// --- receptive field -------------------------------------------------------------------------
async function askRf(layer, row, col, channel) {
  if (panelByUnit) { panelByUnit = false; $("filter-panel").hidden = true; }  // it showed another unit's channel
  try {
    const r = await api(withModel("/api/receptive-field"), { layer, row, col, channel });
    lastRf = { ...r, layer, row, col, channel };
    showRf(lastRf);
  } catch (err) { showError(err.message); }
}
// The rectangle on a canvas as big as the input's picture (the top overlay, or the copy beside the unit).
function outline(ov, r) {
  const ctx = ov.getContext("2d"), [, h, w] = info.input_shape, sy = ov.height / h, sx = ov.width / w;
  if (!r.rows) return;
  ctx.strokeStyle = "#ff3b30"; ctx.lineWidth = 2;
  ctx.fillStyle = "rgba(255, 59, 48, 0.18)";
  const x = r.cols[0] * sx, y = r.rows[0] * sy, rw = (r.cols[1] - r.cols[0] + 1) * sx, rh = (r.rows[1] - r.rows[0] + 1) * sy;
  ctx.fillRect(x, y, rw, rh); ctx.strokeRect(x + 1, y + 1, rw - 2, rh - 2);
}
// The answer on the input at the top and, beside the unit itself, a copy with the sentence and a
// button for what its channel looks for (so the outline is on screen wherever the unit is).
function showRf(r) {
  const ov = $("rf-overlay");
  ov.getContext("2d").clearRect(0, 0, ov.width, ov.height);
  outline(ov, r);
  const text = !r.rows ? t("rfNone") : r.whole_input ? t("rfAll") : t("rf")(r);
  $("rf-box").textContent = text;
  if (r.rows) { $("rf-box").dataset.rows = r.rows.join(","); $("rf-box").dataset.cols = r.cols.join(","); }
  const view = $("layers").querySelector(`.layer[data-index="${r.layer}"]`);
  if (!view) { parkUnitBox(); return; }
  const copy = $("unit-rf"), cctx = copy.getContext("2d");
  cctx.imageSmoothingEnabled = false;
  cctx.clearRect(0, 0, copy.width, copy.height);
  cctx.drawImage($("input-view"), 0, 0, copy.width, copy.height);
  outline(copy, r);
  $("unit-text").textContent = text;
  $("unit-channel").textContent = t("unitChannel")(r.channel);
  view.appendChild($("unit-box"));
  if (panelByUnit) $("unit-box").appendChild($("filter-panel"));
  $("unit-box").hidden = false;
}
// The unit's box and the channel panel back to their places (before the layers are redrawn).
function parkUnitBox() {
  $("unit-box").hidden = true;
  $("layers-section").appendChild($("unit-box"));
  $("kernels").after($("filter-panel"));
}
$("unit-channel").addEventListener("click", () => {
  panelByUnit = true;
  $("unit-box").appendChild($("filter-panel"));
  emit(EVENTS.channel, { layer: lastRf.layer, channel: lastRf.channel });
});
on(EVENTS.language, () => {
  if (lastRf) showRf(lastRf);
  if (info) loadInfo().then(predictNow).catch((err) => showError(err.message));  // the server's text, in the new language
});

// --- the model: its description, kernels and summary -----------------------------------------
export async function loadInfo() {
  info = await api(withModel("/api/info"));
  lastRf = null;
  opened.clear();
  panelByUnit = false;
  parkUnitBox();
  $("rf-overlay").getContext("2d").clearRect(0, 0, 168, 168);
  $("layers").replaceChildren();
  $("probs").replaceChildren();
  $("prediction").textContent = "–";
  const firstConv = info.layers.find((l) => l.name === "Conv2d");
  kernelGrid($("kernels"), info.kernels, (k) => {
    panelByUnit = false;
    $("kernels").after($("filter-panel"));
    if (firstConv) emit(EVENTS.channel, { layer: firstConv.index, channel: k });
  });
  const s = info.summary;
  $("summary").replaceChildren(
    el("table", {}, el("tr", {}, s.header.map((h) => el("th", {}, h))), s.rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))),
    el("p", { className: "note" },
      t("summaryFoot")(info.model, info.dataset || "", s.total_params.toLocaleString(), s.total_macs.toLocaleString())));
}

on(EVENTS.model, async () => {
  try { await loadInfo(); predictNow(); } catch (err) { showError(err.message); }
});
