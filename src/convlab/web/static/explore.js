// The "Explore convolution" tab: an input matrix (or an 8×8 cut-out of the current image) and a
// kernel, with padding, stride, dilation and the operation; hovering an output cell highlights
// its window and prints its arithmetic. The server's `explain` computes every number.
import { api } from "./api.js";
import { $, el, roving, showError } from "./dom.js";
import { EVENTS, on } from "./events.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  tabExplore: { en: "Explore convolution", zh: "探索卷积" },
  exInput: { en: "Input matrix (rows separated by ;)", zh: "输入矩阵（行之间用 ; 分隔）" },
  cutout: { en: "Use an 8×8 cut-out of the current image", zh: "使用当前图片的 8×8 区域" },
  exKernel: { en: "Kernel", zh: "卷积核" },
  mode: { en: "Operation", zh: "运算" },
  modeConv: { en: "cross-correlation", zh: "互相关运算" },
  modeMax: { en: "max pooling", zh: "最大汇聚" },
  modeAvg: { en: "average pooling", zh: "平均汇聚" },
  size: { en: "Window", zh: "窗口" },
  padding: { en: "Padding", zh: "填充" },
  stride: { en: "Stride", zh: "步幅" },
  dilation: { en: "Dilation", zh: "膨胀" },
  padded: { en: "Padded input", zh: "填充后的输入" },
  output: { en: "Output", zh: "输出" },
  hover: {
    en: "Hover or focus an output cell (Tab, then arrow keys) to see its window and arithmetic.",
    zh: "把鼠标移到输出单元上（或按 Tab 后用方向键选中），查看它的窗口和计算过程。",
  },
  formula: { en: "Output size", zh: "输出尺寸" },
  exEmpty: {
    en: (field) => `${field} is empty: write a whole number.`,
    zh: (field) => `${field}是空的：请填一个整数。`,
  },
});

// The fields each operation reads: a pooling window has no kernel matrix and no dilation here,
// a cross-correlation no window size. The others are hidden.
const FIELDS = { conv: ["ex-kernel", "ex-dilation"], pool: ["ex-size"] };
function showFields() {
  const pool = $("ex-mode").value !== "conv";
  FIELDS.conv.forEach((id) => { $(id).closest("label").hidden = pool; });
  FIELDS.pool.forEach((id) => { $(id).closest("label").hidden = !pool; });
}
$("ex-mode").addEventListener("change", showFields);
showFields();

// The output of the last good request is cleared on an error, so it never stands beside a message
// about other numbers.
function clearExplain(message) {
  ["ex-padded", "ex-output"].forEach((id) => $(id).replaceChildren());
  $("ex-formula").textContent = $("ex-arith").textContent = "";
  showError(message);
}

// The number in field `id`, or null (and the "… is empty" message) when it is empty.
const LABELS = { "ex-size": "size", "ex-padding": "padding", "ex-stride": "stride", "ex-dilation": "dilation" };
function number(id) {
  const text = $(id).value.trim();
  if (text === "") { clearExplain(t("exEmpty")(t(LABELS[id]))); return null; }
  return +text;
}

function parseMatrix(text) {
  return text.split(/[;\n]/).map((r) => r.trim()).filter(Boolean).map((r) => r.split(/[\s,]+/).map(Number));
}
let exTimer = null;
function exSchedule() { clearTimeout(exTimer); exTimer = setTimeout(explainNow, 150); }
["ex-input", "ex-kernel", "ex-mode", "ex-padding", "ex-stride", "ex-dilation", "ex-size"].forEach((id) => $(id).addEventListener("input", exSchedule));

let exVersion = 0;
async function explainNow() {
  const mode = $("ex-mode").value, v = ++exVersion;
  const fields = ["ex-padding", "ex-stride", ...(mode === "conv" ? ["ex-dilation"] : ["ex-size"])];
  const values = {};
  for (const id of fields) {
    values[id] = number(id);
    if (values[id] === null) return;
  }
  const body = { mode, input: parseMatrix($("ex-input").value), padding: values["ex-padding"], stride: values["ex-stride"] };
  if (mode === "conv") { body.kernel = parseMatrix($("ex-kernel").value); body.dilation = values["ex-dilation"]; }
  else body.size = values["ex-size"];
  try {
    const e = await api("/api/explain", body);
    if (v !== exVersion) return;  // a newer edit has asked since
    showError("");
    renderExplain(e);
  } catch (err) { if (v === exVersion) clearExplain(err.message); }
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
  const cells = [...$("ex-output").querySelectorAll("td")];
  roving(cells, e.output[0] ? e.output[0].length : 1);  // one Tab stop; the arrow keys move between cells
  cells.forEach((td) => ["mouseenter", "focus"].forEach((type) => td.addEventListener(type, () => {
    const cell = e.cells.find((c) => c.row === +td.dataset.r && c.col === +td.dataset.c);
    $("ex-output").querySelectorAll("td").forEach((x) => x.classList.toggle("active", x === td));
    $("ex-padded").querySelectorAll("td").forEach((x) => x.classList.remove("win"));
    cell.rows.forEach((r, k) => $("ex-padded").querySelector(`td[data-r="${r}"][data-c="${cell.cols[k]}"]`).classList.add("win"));
    $("ex-arith").textContent = `Y[${cell.row},${cell.col}] = ${cell.text}`;
  })));
}

// The cut-out: the centre 8×8 of the input the model saw last (first channel of a colour image).
let lastInput = null;
on(EVENTS.predicted, ({ result }) => { lastInput = result.input; });
$("ex-cutout").addEventListener("click", () => {
  if (!lastInput) return;
  const h = lastInput.length, w = lastInput[0].length, r0 = Math.floor(h / 2) - 4, c0 = Math.floor(w / 2) - 4;
  const rows = [];
  for (let r = r0; r < r0 + 8; r++) rows.push(lastInput[r].slice(c0, c0 + 8).map((v) => (Array.isArray(v) ? v[0] : v)).join(" "));
  $("ex-input").value = rows.join(";\n");
  explainNow();
});

on(EVENTS.tab, ({ name }) => { if (name === "explore") explainNow(); });
on(EVENTS.language, () => { if (!$("panel-explore").hidden) explainNow(); });  // the formula's words
