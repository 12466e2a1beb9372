// DOM helpers shared by every view: building nodes, colour maps, and the pictures the page draws
// (feature maps, kernels, attribution maps, probability bars). Every string from the server
// (class and layer names, summary cells, errors) goes into the page as text through el() or
// textContent, never as HTML: a checkpoint's names cannot run script here.

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

// One channel of a layer as a canvas; clicking it calls onUnit(channel, row, col) if given.
function channelCanvas(layer, bytes, ch, onUnit) {
  const [, lh, lw] = layer.shape, scale = Math.max(2, Math.floor(84 / lh));
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
  return cv;
}

// One layer's output as the page draws it (a title, a canvas per channel or a strip); `onUnit`,
// if given, is called with (channel, row, col) when a unit is clicked. Used by every view.
export function layerView(layer, onUnit) {
  const label = layer.path && layer.path !== String(layer.index) ? `${layer.path} (${layer.name})` : layer.name;
  const div = el("div", { className: "layer", dataset: { index: layer.index } },
    el("h3", {}, `${layer.index}: ${label} → ${layer.shape.join("×")} `,
      el("small", {}, `[${layer.min.toFixed(2)}, ${layer.max.toFixed(2)}]`)));
  const bytes = bytesOf(layer.data);
  const grid = el("div", { className: "grid" });
  if (layer.shape.length === 3) {
    for (let ch = 0; ch < layer.shape[0]; ch++) grid.appendChild(channelCanvas(layer, bytes, ch, onUnit));
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
export function kernelGrid(box, kernels, onClick) {
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
export function probBars(box, classes, probabilities, onClass) {
  const best = Math.max(...probabilities);
  box.replaceChildren(...classes.map((c, i) => {
    const pct = `${(100 * probabilities[i]).toFixed(1)}%`;
    const bar = el("div", { className: probabilities[i] === best ? "bar top" : "bar", dataset: { index: i } },
      el("span", { className: "name", title: c }, c), el("div", { className: "fill", style: { width: pct } }), el("span", {}, pct));
    if (onClass) bar.addEventListener("click", () => onClass(i));
    return bar;
  }));
}
