// convlab playground: draws, calls the JSON API, renders. Every number comes from the server.
// Every string from the server (class and layer names, summary cells, errors) goes into the page
// as text through el()/textContent, never as HTML: a checkpoint's names cannot run script here.
"use strict";

const I18N = {
  en: {
    title: "convlab playground", tabInside: "Look inside", tabExplore: "Explore convolution",
    draw: "Draw, upload or pick an image", clear: "Clear", undo: "Undo", upload: "Upload",
    random: "Random test image", sees: "What the model sees",
    rfHint: "Click a unit in a feature map to see its receptive field.",
    inverted: "Light background: inverted to match the training data.",
    prediction: "Prediction", kernels: "First-layer kernels",
    layers: "Every layer's output (one colour scale per layer)", summary: "Summary",
    exInput: "Input matrix (rows separated by ;)", cutout: "Use an 8×8 cut-out of the current image",
    exKernel: "Kernel", mode: "Operation", modeConv: "cross-correlation", modeMax: "max pooling",
    modeAvg: "average pooling", size: "Window", padding: "Padding", stride: "Stride", dilation: "Dilation",
    padded: "Padded input", output: "Output", hover: "Hover an output cell to see its window and arithmetic.",
    formula: "Output size", rf: (r) => `Layer ${r.layer}, channel ${r.channel}, unit (${r.row}, ${r.col}) sees input rows ${r.rows[0]}–${r.rows[1]}, columns ${r.cols[0]}–${r.cols[1]}: ${r.pixels} pixels (window ${r.size[0]}×${r.size[1]}).`,
    rfNone: "This unit sees only padding.", rfAll: "This unit sees the whole input.",
    layer: "layer", model: "Model", drawDigit: "Draw a digit: the model reads handwritten digits.",
    tabMistakes: "Mistakes", overlay: "Why: overlay", overlayNone: "none", overlayOcclusion: "occlusion",
    classHint: "Click a class to see why (or why not) the model would say it.",
    why: (c) => `Evidence for “${c}”.`, filterTitle: "What this channel looks for",
    filterName: (r) => `Layer ${r.layer} (${r.name}), channel ${r.channel}: the test images that excite it most.`,
    filterMade: "An image made to excite it:",
    confusionTitle: "Confusion matrix on the test set (rows: true class, columns: predicted)",
    mistakesNote: (m) => `${m.dataset}: ${m.n} test images, accuracy ${(100 * m.accuracy).toFixed(2)}%. Click a cell.`,
    cellTitle: (c) => `“${c.t}” predicted as “${c.p}”: ${c.count} images, most confident first`,
    cellHint: "Click an image to look inside it.",
  },
  zh: {
    title: "convlab 演练场", tabInside: "看看网络内部", tabExplore: "探索卷积",
    draw: "手写、上传或随机选一张图片", clear: "清除", undo: "撤销", upload: "上传",
    random: "随机测试图片", sees: "模型看到的输入",
    rfHint: "点击特征图中的一个单元，查看它的感受野。",
    inverted: "浅色背景：已反色，以匹配训练数据。",
    prediction: "预测", kernels: "第一层卷积核",
    layers: "每一层的输出（每层共用一个颜色刻度）", summary: "模型概要",
    exInput: "输入矩阵（行之间用 ; 分隔）", cutout: "使用当前图片的 8×8 区域",
    exKernel: "卷积核", mode: "运算", modeConv: "互相关运算", modeMax: "最大汇聚", modeAvg: "平均汇聚",
    size: "窗口", padding: "填充", stride: "步幅", dilation: "膨胀",
    padded: "填充后的输入", output: "输出", hover: "把鼠标移到输出单元上，查看它的窗口和计算过程。",
    formula: "输出尺寸", rf: (r) => `第 ${r.layer} 层第 ${r.channel} 通道的单元 (${r.row}, ${r.col}) 看到输入的第 ${r.rows[0]}–${r.rows[1]} 行、第 ${r.cols[0]}–${r.cols[1]} 列：共 ${r.pixels} 个像素（窗口 ${r.size[0]}×${r.size[1]}）。`,
    rfNone: "这个单元只看到填充。", rfAll: "这个单元看到整个输入。",
    layer: "第", model: "模型", drawDigit: "请写一个数字：这个模型识别手写数字。",
    tabMistakes: "错误分析", overlay: "为什么：叠加", overlayNone: "无", overlayOcclusion: "遮挡",
    classHint: "点击一个类别，看看模型为什么会（或不会）这样判断。",
    why: (c) => `支持“${c}”的证据。`, filterTitle: "这个通道在找什么",
    filterName: (r) => `第 ${r.layer} 层（${r.name}）第 ${r.channel} 通道：最能激活它的测试图像。`,
    filterMade: "为激活它而生成的图像：",
    confusionTitle: "测试集上的混淆矩阵（行：真实类别，列：预测类别）",
    mistakesNote: (m) => `${m.dataset}：${m.n} 张测试图像，准确率 ${(100 * m.accuracy).toFixed(2)}%。点击一个格子。`,
    cellTitle: (c) => `“${c.t}”被预测为“${c.p}”：${c.count} 张，按置信度从高到低`,
    cellHint: "点击一张图像，查看网络内部。",
  },
};
let lang = localStorage.getItem("convlab-lang") || "en";
const t = (key) => I18N[lang][key];
const $ = (id) => document.getElementById(id);

// el("td", {className: "pad", dataset: {r: 1}}, "text", childNode): a DOM node; strings become text.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = lang === "en" ? "中文" : "English";
  if (lastRf) showRf(lastRf);
}
$("lang").addEventListener("click", () => {
  lang = lang === "en" ? "zh" : "en";
  localStorage.setItem("convlab-lang", lang);
  applyLanguage();
});

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// The model every request is about (the switcher's choice), as ?model=NAME.
let currentModel = null;
function withModel(path) {
  return currentModel ? `${path}${path.includes("?") ? "&" : "?"}model=${encodeURIComponent(currentModel)}` : path;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), { status: res.status });
  return data;
}

// --- colour maps ---------------------------------------------------------------------------
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(v) {  // v in [0, 1]
  const x = Math.min(Math.max(v, 0), 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}
function diverging(v) {  // v in [-1, 1]: blue - white - red
  const a = Math.min(Math.abs(v), 1);
  return v < 0 ? [Math.round(255 - 200 * a), Math.round(255 - 150 * a), 255] : [255, Math.round(255 - 150 * a), Math.round(255 - 200 * a)];
}
const INFERNO = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
function inferno(v) {
  const x = Math.min(Math.max(v, 0), 1) * (INFERNO.length - 1), i = Math.min(Math.floor(x), INFERNO.length - 2), f = x - i;
  return INFERNO[i].map((c, k) => Math.round(c + f * (INFERNO[i + 1][k] - c)));
}
// An attribution map {shape: [H, W], data: base64 uint8} drawn over a canvas: inferno colours,
// transparent where there is no evidence, scaled up without smoothing.
function drawMap(canvas, r) {
  const [h, w] = r.shape, bytes = Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  const sctx = small.getContext("2d"), img = sctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([...inferno(bytes[i] / 255), Math.round(200 * bytes[i] / 255)], 4 * i);
  sctx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}
function paint(canvas, w, h, colorAt) {
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = colorAt(i);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

// --- drawing -------------------------------------------------------------------------------
const draw = $("draw"), dctx = draw.getContext("2d");
const strokes = [];
let current = null, source = null;  // source: a data URL from upload/random, else the drawing

function redraw() {
  dctx.fillStyle = "#000"; dctx.fillRect(0, 0, draw.width, draw.height);
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
function changed(delay) { version++; redraw(); schedule(delay); }
draw.addEventListener("pointerdown", (e) => { current = [pos(e)]; strokes.push(current); draw.setPointerCapture(e.pointerId); changed(); });
draw.addEventListener("pointermove", (e) => { if (current) { current.push(pos(e)); changed(); } });
draw.addEventListener("pointerup", () => { current = null; changed(0); });
$("clear").addEventListener("click", () => { strokes.length = 0; source = null; changed(0); });
$("undo").addEventListener("click", () => { strokes.pop(); changed(0); });

function loadSource(dataUrl) {
  const img = new Image();
  img.onload = () => { source = { img, dataUrl }; strokes.length = 0; changed(0); };
  img.src = dataUrl;
}
$("upload").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => { source = { dataUrl: reader.result, raw: true }; strokes.length = 0; version++; predictNow(); };
  reader.readAsDataURL(file);
  e.target.value = "";
});
$("random").addEventListener("click", async () => {
  try { const s = await api(withModel("/api/sample")); loadSource(s.image); } catch (err) { showError(err.message); }
});

// --- prediction ----------------------------------------------------------------------------
let timer = null, inflight = false, again = false, lastInput = null, info = null, lastRf = null;
function schedule(delay = 120) { clearTimeout(timer); timer = setTimeout(predictNow, delay); }

// A digit model gets nothing to read from an empty canvas: say so instead of predicting.
function showEmpty(empty) {
  $("empty").hidden = !empty;
  $("outputs").classList.toggle("waiting", empty);
}

async function predictNow() {
  if (!info) return;
  if (info.input_style === "mnist" && strokes.length === 0 && !source) {
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
    showEmpty(false);
    render(r);
    document.dispatchEvent(new CustomEvent("convlab:predicted", { detail: { result: r, image } }));
  } catch (err) {
    if (err.status === 422) showEmpty(true); else showError(err.message);
  }
  $("prediction").dataset.version = v;
  inflight = false;
  if (again) { again = false; predictNow(); }
}

function render(r) {
  lastInput = r.input;
  const h = r.input.length, w = r.input[0].length;
  const view = $("input-view");
  paint(view, w, h, (i) => { const v = r.input[Math.floor(i / w)][i % w]; return Array.isArray(v) ? v : [v, v, v]; });
  view.style.width = view.style.height = "168px";
  $("steps").textContent = r.steps.join("; ");
  $("prediction").textContent = r.prediction;
  probBars($("probs"), r.classes, r.probabilities,
    (i) => document.dispatchEvent(new CustomEvent("convlab:class", { detail: { index: i } })));
  const box = $("layers");
  box.replaceChildren();
  const blockStarts = new Map((info.summary.blocks || []).filter((b) => b.block).map((b) => [b.first, b]));
  for (const layer of r.layers) {
    const start = blockStarts.get(layer.index);
    if (start) box.appendChild(el("h4", { className: "block" }, `${start.block}: ${start.kind}`));
    box.appendChild(layerView(layer, (ch, row, col) => {
      askRf(layer.index, row, col, ch);
      document.dispatchEvent(new CustomEvent("convlab:channel", { detail: { layer: layer.index, channel: ch } }));
    }));
  }
}

// One layer's output as the page draws it (a title, a canvas per channel or a strip); `onUnit`,
// if given, is called with (channel, row, col) when a unit is clicked. Used by every view.
function layerView(layer, onUnit) {
  const label = layer.path && layer.path !== String(layer.index) ? `${layer.path} (${layer.name})` : layer.name;
  const div = el("div", { className: "layer", dataset: { index: layer.index } },
    el("h3", {}, `${layer.index}: ${label} → ${layer.shape.join("×")} `,
      el("small", {}, `[${layer.min.toFixed(2)}, ${layer.max.toFixed(2)}]`)));
  const bytes = Uint8Array.from(atob(layer.data), (c) => c.charCodeAt(0));
  const grid = el("div", { className: "grid" });
  if (layer.shape.length === 3) {
    const [c, lh, lw] = layer.shape, scale = Math.max(2, Math.floor(84 / lh));
    for (let ch = 0; ch < c; ch++) {
      const cv = document.createElement("canvas");
      paint(cv, lw, lh, (i) => viridis(bytes[ch * lh * lw + i] / 255));
      cv.style.width = `${lw * scale}px`; cv.style.height = `${lh * scale}px`;
      cv.dataset.layer = layer.index; cv.dataset.channel = ch;
      cv.title = `channel ${ch}`;
      if (onUnit) {
        cv.addEventListener("click", (e) => {
          const rect = cv.getBoundingClientRect();
          onUnit(ch, Math.floor((e.clientY - rect.top) / rect.height * lh), Math.floor((e.clientX - rect.left) / rect.width * lw));
        });
      } else cv.style.cursor = "default";
      grid.appendChild(cv);
    }
  } else {
    const cv = document.createElement("canvas");
    cv.className = "strip";
    paint(cv, bytes.length, 1, (i) => viridis(bytes[i] / 255));
    grid.appendChild(cv);
  }
  div.appendChild(grid);
  return div;
}

// Kernels (out, kh, kw) as small blue–white–red canvases, one colour scale for all.
function kernelGrid(box, kernels, onClick) {
  box.replaceChildren();
  if (!kernels) return;
  const m = Math.max(...kernels.flat(2).map(Math.abs)) || 1;
  for (const [k, ker] of kernels.entries()) {
    const cv = document.createElement("canvas"), kh = ker.length, kw = ker[0].length;
    cv.title = `kernel ${k}`; cv.dataset.kernel = k;
    if (onClick) cv.addEventListener("click", () => onClick(k));
    paint(cv, kw, kh, (i) => diverging(ker[Math.floor(i / kw)][i % kw] / m));
    cv.style.width = cv.style.height = "40px"; cv.style.imageRendering = "pixelated";
    box.appendChild(cv);
  }
}

// Probability bars of a prediction into `box`; `onClass(i)`, if given, on a click.
function probBars(box, classes, probabilities, onClass) {
  const best = Math.max(...probabilities);
  box.replaceChildren(...classes.map((c, i) => {
    const pct = `${(100 * probabilities[i]).toFixed(1)}%`;
    const bar = el("div", { className: probabilities[i] === best ? "bar top" : "bar", dataset: { index: i } },
      el("span", { className: "name", title: c }, c), el("div", { className: "fill", style: { width: pct } }), el("span", {}, pct));
    if (onClass) bar.addEventListener("click", () => onClass(i));
    return bar;
  }));
}

async function askRf(layer, row, col, channel) {
  try {
    const r = await api(withModel("/api/receptive-field"), { layer, row, col, channel });
    lastRf = { ...r, layer, row, col, channel };
    showRf(lastRf);
  } catch (err) { showError(err.message); }
}
function showRf(r) {
  const ov = $("rf-overlay"), ctx = ov.getContext("2d");
  ctx.clearRect(0, 0, ov.width, ov.height);
  const [, h, w] = info.input_shape, sy = ov.height / h, sx = ov.width / w;
  if (!r.rows) { $("rf-box").textContent = t("rfNone"); return; }
  ctx.strokeStyle = "#ff3b30"; ctx.lineWidth = 2;
  ctx.fillStyle = "rgba(255, 59, 48, 0.18)";
  const x = r.cols[0] * sx, y = r.rows[0] * sy, rw = (r.cols[1] - r.cols[0] + 1) * sx, rh = (r.rows[1] - r.rows[0] + 1) * sy;
  ctx.fillRect(x, y, rw, rh); ctx.strokeRect(x + 1, y + 1, rw - 2, rh - 2);
  $("rf-box").textContent = r.whole_input ? t("rfAll") : t("rf")(r);
  $("rf-box").dataset.rows = r.rows.join(","); $("rf-box").dataset.cols = r.cols.join(",");
}

async function loadInfo() {
  info = await api(withModel("/api/info"));
  lastRf = null;
  $("rf-overlay").getContext("2d").clearRect(0, 0, 168, 168);
  $("layers").replaceChildren();
  $("probs").replaceChildren();
  $("prediction").textContent = "–";
  const firstConv = info.layers.find((l) => l.name === "Conv2d");
  kernelGrid($("kernels"), info.kernels, (k) => firstConv && document.dispatchEvent(
    new CustomEvent("convlab:channel", { detail: { layer: firstConv.index, channel: k } })));
  const s = info.summary;
  $("summary").replaceChildren(
    el("table", {}, el("tr", {}, s.header.map((h) => el("th", {}, h))), s.rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))),
    el("p", { className: "note" },
      `${info.model} · ${info.dataset || ""} · ${s.total_params.toLocaleString()} params · ${s.total_macs.toLocaleString()} mult-adds`));
}

// --- explorer ------------------------------------------------------------------------------
function parseMatrix(text) {
  return text.split(/[;\n]/).map((r) => r.trim()).filter(Boolean).map((r) => r.split(/[\s,]+/).map(Number));
}
let exTimer = null;
function exSchedule() { clearTimeout(exTimer); exTimer = setTimeout(explainNow, 150); }
["ex-input", "ex-kernel", "ex-mode", "ex-padding", "ex-stride", "ex-dilation", "ex-size"].forEach((id) => $(id).addEventListener("input", exSchedule));

async function explainNow() {
  const mode = $("ex-mode").value;
  const body = { mode, input: parseMatrix($("ex-input").value), padding: +$("ex-padding").value, stride: +$("ex-stride").value };
  if (mode === "conv") { body.kernel = parseMatrix($("ex-kernel").value); body.dilation = +$("ex-dilation").value; }
  else body.size = +$("ex-size").value;
  try {
    const e = await api("/api/explain", body);
    showError("");
    renderExplain(e);
  } catch (err) { showError(err.message); }
}

function table(rows, cls) {
  return el("table", { className: "matrix" }, rows.map((r, i) => el("tr", {},
    r.map((v, j) => el("td", { className: cls ? cls(i, j) : "", dataset: { r: i, c: j } }, v)))));
}
const fmt = (v) => (Number.isInteger(v) ? String(v) : (+v.toFixed(4)).toString());
function renderExplain(e) {
  const [ph, pw] = e.padding, H = e.input.length, W = e.input[0].length;
  $("ex-padded").replaceChildren(table(e.padded, (i, j) => (i < ph || j < pw || i >= ph + H || j >= pw + W ? "pad" : "")));
  $("ex-output").replaceChildren(table(e.output.map((r) => r.map(fmt)), () => "cell"));
  $("ex-formula").textContent = e.formula.join("\n");
  $("ex-arith").textContent = "";
  $("ex-output").querySelectorAll("td").forEach((td) => td.addEventListener("mouseenter", () => {
    const cell = e.cells.find((c) => c.row === +td.dataset.r && c.col === +td.dataset.c);
    $("ex-output").querySelectorAll("td").forEach((x) => x.classList.toggle("active", x === td));
    $("ex-padded").querySelectorAll("td").forEach((x) => x.classList.remove("win"));
    cell.rows.forEach((r, k) => $("ex-padded").querySelector(`td[data-r="${r}"][data-c="${cell.cols[k]}"]`).classList.add("win"));
    $("ex-arith").textContent = `Y[${cell.row},${cell.col}] = ${cell.text}`;
  }));
}
$("ex-cutout").addEventListener("click", () => {
  if (!lastInput) return;
  const h = lastInput.length, w = lastInput[0].length, r0 = Math.floor(h / 2) - 4, c0 = Math.floor(w / 2) - 4;
  const rows = [];
  for (let r = r0; r < r0 + 8; r++) rows.push(lastInput[r].slice(c0, c0 + 8).map((v) => (Array.isArray(v) ? v[0] : v)).join(" "));
  $("ex-input").value = rows.join(";\n");
  explainNow();
});

// --- tabs ----------------------------------------------------------------------------------
const TABS = [...document.querySelectorAll("nav .tab")].map((b) => b.id.slice(4));
function showTab(name) {
  for (const tab of TABS) {
    $(`panel-${tab}`).hidden = name !== tab;
    $(`tab-${tab}`).classList.toggle("active", name === tab);
  }
  if (name === "explore") explainNow();
  sessionStorage.setItem("convlab-tab", name);  // a reload comes back to this tab
  document.dispatchEvent(new CustomEvent("convlab:tab", { detail: { name } }));
}
TABS.forEach((tab) => $(`tab-${tab}`).addEventListener("click", () => showTab(tab)));

// --- the model switcher: every bundled model and any given at start ---------------------------
let catalog = null;
async function loadModels(choose) {
  catalog = await api("/api/models");
  const saved = choose || localStorage.getItem("convlab-model");
  currentModel = catalog.models.some((m) => m.name === saved) ? saved : catalog.default;
  $("model").replaceChildren(...catalog.models.map((m) => el("option", { value: m.name, selected: m.name === currentModel },
    `${m.name}${m.test_acc ? ` (${(100 * m.test_acc).toFixed(1)}%)` : ""}`)));
  document.dispatchEvent(new CustomEvent("convlab:catalog", { detail: catalog }));
}
async function switchModel(name) {
  currentModel = name;
  $("model").value = name;
  localStorage.setItem("convlab-model", currentModel);
  document.dispatchEvent(new CustomEvent("convlab:model"));
  try { await loadInfo(); predictNow(); } catch (err) { showError(err.message); }
}
$("model").addEventListener("change", () => switchModel($("model").value));

applyLanguage();
redraw();
loadModels().then(loadInfo).then(() => predictNow()).catch((err) => showError(err.message))
  .then(() => { const tab = sessionStorage.getItem("convlab-tab"); if (tab && tab !== "inside" && TABS.includes(tab)) showTab(tab); });
