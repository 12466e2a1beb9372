// DOM helpers shared by every view: building nodes, colour maps, and the pictures the page draws
// (feature maps, kernels, attribution maps, probability bars). Every string from the server
// (class and layer names, summary cells, errors) goes into the page as text through el() or
// textContent, never as HTML: a checkpoint's names cannot run script here.

import { EVENTS, on } from "./events.js";

export const $ = (id) => document.getElementById(id);

// el("td", {className: "pad", dataset: {r: 1}}, "text", childNode): a DOM node; strings become text.
export function el(tag, props = {}, ...children) {
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

// The error line under the header; an empty message hides it.
export function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// --- colour maps ---------------------------------------------------------------------------
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const INFERNO = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
function ramp(stops, v) {  // v in [0, 1], linear between the stops
  const x = Math.min(Math.max(v, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
  return stops[i].map((c, k) => Math.round(c + f * (stops[i + 1][k] - c)));
}
export const viridis = (v) => ramp(VIRIDIS, v);
const inferno = (v) => ramp(INFERNO, v);
export function diverging(v) {  // v in [-1, 1]: blue - white - red
  const a = Math.min(Math.abs(v), 1);
  return v < 0 ? [Math.round(255 - 200 * a), Math.round(255 - 150 * a), 255] : [255, Math.round(255 - 150 * a), Math.round(255 - 200 * a)];
}

const bytesOf = (base64) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

// A canvas of w×h pixels, pixel i coloured colorAt(i) = [r, g, b].
export function paint(canvas, w, h, colorAt) {
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = colorAt(i);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

// An image as the API gives it (rows of gray values, or of [r, g, b]) on a 168-pixel canvas.
export function paintInput(canvas, input) {
  const h = input.length, w = input[0].length;
  paint(canvas, w, h, (i) => { const v = input[Math.floor(i / w)][i % w]; return Array.isArray(v) ? v : [v, v, v]; });
  canvas.style.width = canvas.style.height = "168px";
}

// An attribution map {shape: [H, W], data: base64 uint8} drawn over a canvas: inferno colours,
// transparent where there is no evidence, scaled up without smoothing.
export function drawMap(canvas, r) {
  const [h, w] = r.shape, bytes = bytesOf(r.data);
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  const sctx = small.getContext("2d"), img = sctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) img.data.set([...inferno(bytes[i] / 255), Math.round(200 * bytes[i] / 255)], 4 * i);
  sctx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

// --- keyboard ---------------------------------------------------------------------------------
// A node that acts like a button: reachable by Tab, named for a screen reader, and run by a click,
// Enter or Space.
export function activatable(node, label, handler) {
  node.setAttribute("role", "button");
  node.tabIndex = 0;
  if (label) node.setAttribute("aria-label", label);
  node.addEventListener("click", handler);
  node.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); handler(e); }
  });
  return node;
}

// A group of many items as one Tab stop (a "roving tabindex"): the arrow keys move between the
// items (Up/Down by `cols` in a table, else like Left/Right), Home/End to the ends.
export function roving(items, cols = 0) {
  items.forEach((item, i) => {
    item.tabIndex = i === 0 ? 0 : -1;
    item.addEventListener("keydown", (e) => {
      const rows = cols || 1;
      const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -rows, ArrowDown: rows, Home: -i, End: items.length - 1 - i }[e.key];
      const next = items[i + (step === undefined ? NaN : step)];
      if (!next) return;
      e.preventDefault();
      items.forEach((x) => { x.tabIndex = x === next ? 0 : -1; });
      next.focus();
    });
  });
}

// What a screen reader says of a map or a kernel, in the page's language (set by i18n.js).
// Its tooltip (title) too. Written again when the language changes (EVENTS.language).
const LABELS = {
  en: { map: (c, n, h, w) => `channel ${c} of ${n}, ${h}×${w}`, enter: "Enter shows the receptive field of its centre unit",
    values: (n) => `${n} values`, kernel: (k) => `kernel ${k}`, channel: (c) => `channel ${c}` },
  zh: { map: (c, n, h, w) => `第 ${c} 通道（共 ${n} 个），${h}×${w}`, enter: "按回车查看其中心单元的感受野",
    values: (n) => `${n} 个值`, kernel: (k) => `第 ${k} 个卷积核`, channel: (c) => `第 ${c} 通道` },
};
const said = () => LABELS[document.documentElement.lang.startsWith("zh") ? "zh" : "en"];

// The tooltip and the screen reader's name of a map's canvas (data-channel, data-shape "C,H,W",
// data-enter when a unit can be chosen) or a kernel's (data-kernel), in the page's language.
function nameCanvas(cv) {
  if (cv.dataset.kernel !== undefined) {
    cv.title = said().kernel(cv.dataset.kernel);
    cv.setAttribute("aria-label", cv.title);
    return;
  }
  const ch = +cv.dataset.channel, [n, h, w] = cv.dataset.shape.split(",").map(Number);
  cv.title = said().channel(ch);
  cv.setAttribute("aria-label", said().map(ch, n, h, w) + (cv.dataset.enter ? `: ${said().enter}` : ""));
}
on(EVENTS.language, () => document.querySelectorAll("canvas[data-kernel], canvas[data-shape]").forEach(nameCanvas));

// The size a map is drawn at: small maps small (a 1×1 map is a 12-pixel square, not 84), at most
// 84 pixels on the long side, half that for layers of many channels; whole pixels per unit.
export function mapScale(h, w, channels) {
  const side = Math.max(h, w), target = Math.max(12, Math.min(84, 12 * side) / (channels > 64 ? 2 : 1));
  return Math.max(1, Math.floor(target / side));
}

// One channel of a layer as a canvas; a click on a unit, or Enter/Space on the focused map (its
// centre unit), calls onUnit(channel, row, col) if given.
function channelCanvas(layer, bytes, ch, onUnit) {
  const [channels, lh, lw] = layer.shape, scale = mapScale(lh, lw, channels);
  const cv = document.createElement("canvas");
  paint(cv, lw, lh, (i) => viridis(bytes[ch * lh * lw + i] / 255));
  cv.style.width = `${lw * scale}px`;  // the height follows the map's aspect
  cv.dataset.layer = layer.index; cv.dataset.channel = ch; cv.dataset.shape = [channels, lh, lw].join(",");
  if (!onUnit) {
    cv.setAttribute("role", "img");
    nameCanvas(cv);
    cv.style.cursor = "default";
    return cv;
  }
  cv.dataset.enter = "1";
  activatable(cv, "", (e) => {
    if (e.type !== "click" || e.detail === 0) { onUnit(ch, Math.floor((lh - 1) / 2), Math.floor((lw - 1) / 2)); return; }
    const rect = cv.getBoundingClientRect();
    onUnit(ch, Math.min(lh - 1, Math.floor((e.clientY - rect.top) / rect.height * lh)),
      Math.min(lw - 1, Math.floor((e.clientX - rect.left) / rect.width * lw)));
  });
  nameCanvas(cv);
  return cv;
}

// One layer's output as the page draws it (a title, a canvas per channel or a strip) in a
// <details> that folds it (`folded`: closed to start with); `onUnit`, if given, is called with
// (channel, row, col) when a unit is chosen. The channels are one Tab stop (arrow keys move).
export function layerView(layer, onUnit, folded = false) {
  const label = layer.path && layer.path !== String(layer.index) ? `${layer.path} (${layer.name})` : layer.name;
  const div = el("details", { className: "layer", open: !folded, dataset: { index: layer.index } },
    el("summary", {}, el("h3", {}, `${layer.index}: ${label} → ${layer.shape.join("×")} `,
      el("small", {}, `[${layer.min.toFixed(2)}, ${layer.max.toFixed(2)}]`))));
  const bytes = bytesOf(layer.data);
  const grid = el("div", { className: "grid" });
  if (layer.shape.length === 3) {
    for (let ch = 0; ch < layer.shape[0]; ch++) grid.appendChild(channelCanvas(layer, bytes, ch, onUnit));
    if (onUnit) roving([...grid.children]);
  } else {
    const cv = el("canvas", { className: "strip" });
    cv.setAttribute("role", "img");
    cv.setAttribute("aria-label", said().values(bytes.length));
    paint(cv, bytes.length, 1, (i) => viridis(bytes[i] / 255));
    grid.appendChild(cv);
  }
  div.appendChild(grid);
  return div;
}

// Kernels (out, kh, kw) as small blue–white–red canvases, one colour scale for all.
export function kernelGrid(box, kernels, onClick) {
  box.replaceChildren();
  if (!kernels) return;
  const m = Math.max(...kernels.flat(2).map(Math.abs)) || 1;
  for (const [k, ker] of kernels.entries()) {
    const cv = document.createElement("canvas"), kh = ker.length, kw = ker[0].length;
    cv.dataset.kernel = k;
    if (onClick) activatable(cv, "", () => onClick(k));
    else cv.setAttribute("role", "img");
    nameCanvas(cv);
    paint(cv, kw, kh, (i) => diverging(ker[Math.floor(i / kw)][i % kw] / m));
    cv.style.width = cv.style.height = "40px"; cv.style.imageRendering = "pixelated";
    box.appendChild(cv);
  }
  if (onClick) roving([...box.children]);
}

// Probability bars of a prediction into `box`; `onClass(i)`, if given, on a click.
export function probBars(box, classes, probabilities, onClass) {
  const best = Math.max(...probabilities);
  box.replaceChildren(...classes.map((c, i) => {
    const pct = `${(100 * probabilities[i]).toFixed(1)}%`;
    const bar = el("div", { className: probabilities[i] === best ? "bar top" : "bar", dataset: { index: i } },
      el("span", { className: "name", title: c }, c), el("div", { className: "fill", style: { width: pct } }), el("span", {}, pct));
    if (onClass) activatable(bar, `${c}: ${pct}`, () => onClass(i));
    return bar;
  }));
}
