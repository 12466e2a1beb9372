// The "Shift" tab: the current drawing of "Look inside" moved one pixel at a time (arrow keys or the
// buttons), read by the flattened MLP and by the tutorial's LeNet side by side (/api/shift): their
// predictions, every layer's maps moving with the digit, and each layer's equivariance error — the
// map of the shifted input against the shifted map, inside the border (0: it moved with the digit
// exactly), or for a dense layer how far it changed. The tutorial's §1.3 (1), one pixel at a time.
import { api } from "./api.js";
import { $, el, layerView, paintInput, probBars, showError } from "./dom.js";
import { EVENTS, on } from "./events.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  tabShift: { en: "Shift", zh: "平移" },
  shTitle: { en: "Move the digit one pixel at a time", zh: "把数字一次移动一个像素" },
  shHint: {
    en: "Arrow keys or the buttons move the current image of “Look inside”. Error: each layer's map of the shifted digit against its own map shifted (inside the border; 0 = it moved exactly with the digit); for a dense layer, how much it changed.",
    zh: "方向键或按钮移动“看看网络内部”中的当前图像。误差：每层对平移后数字的特征图与其自身特征图平移后的差别（边界以内；0 表示完全随数字移动）；全连接层则是它变化了多少。",
  },
  shInput: { en: "The shifted image: the arrow keys move it", zh: "平移后的图像：方向键移动它" },
  shReset: { en: "Back to 0", zh: "回到原位" },
  shBy: { en: (dy, dx) => `Shifted by ${dy} down, ${dx} right`, zh: (dy, dx) => `向下平移 ${dy}，向右平移 ${dx}` },
  shEmpty: { en: "Draw a digit in “Look inside” first.", zh: "请先在“看看网络内部”中写一个数字。" },
  shLayer: { en: "layer", zh: "层" },
  shJump: { en: "jump", zh: "跳距" },
  shError: { en: "error", zh: "误差" },
  shDense: { en: "dense (invariance)", zh: "全连接（不变性）" },
  shNoInside: { en: "no inside left", zh: "无内部区域" },
});

const MAX = 10;  // the server's limit (shifting.MAX_SHIFT)
let image = null, dy = 0, dx = 0, asked = 0;
const panel = $("panel-shift");
const shown = () => !panel.hidden;

// The panel's fixed parts, built once (its texts follow the language through data-i18n).
const moves = [["up", "↑", -1, 0], ["down", "↓", 1, 0], ["left", "←", 0, -1], ["right", "→", 0, 1]];
panel.append(el("section", { className: "wide" },
  el("h2", { dataset: { i18n: "shTitle" } }),
  el("p", { className: "note", dataset: { i18n: "shHint" } }),
  el("div", { className: "row" },
    moves.map(([name, label, y, x]) => el("button", { id: `sh-${name}`, onclick: () => move(y, x) }, label)),
    el("button", { id: "sh-reset", onclick: () => move(-dy, -dx), dataset: { i18n: "shReset" } })),
  el("p", { id: "sh-by", className: "note" }),
  el("canvas", { id: "sh-input", width: 168, height: 168, tabIndex: 0, role: "img", ariaLabel: t("shInput"), dataset: { i18nLabel: "shInput" } }),
  el("p", { id: "sh-empty", className: "empty", hidden: true, dataset: { i18n: "shEmpty" } }),
  el("div", { id: "sh-models", className: "cmp-row" })));

function move(y, x) {
  dy = Math.max(-MAX, Math.min(MAX, dy + y));
  dx = Math.max(-MAX, Math.min(MAX, dx + x));
  shiftNow();
}

document.addEventListener("keydown", (e) => {
  const step = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[e.key];
  if (!step || e.defaultPrevented || !shown() || ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
  e.preventDefault();
  move(...step);
});
on(EVENTS.predicted, ({ image: current }) => { image = current; if (shown()) shiftNow(); });
on(EVENTS.tab, ({ name }) => { if (name === "shift") shiftNow(); });
// A click on the tab puts the focus on the image, so the arrow keys move it (on the tab list they
// move between tabs, as the tabs pattern has them).
$("tab-shift").addEventListener("click", () => setTimeout(() => $("sh-input").focus()));  // (once the panel is shown)
on(EVENTS.language, () => { if (shown()) $("sh-by").textContent = t("shBy")(dy, dx); });

// Ask for the current shift; an answer is drawn only if no later one was asked meanwhile.
async function shiftNow() {
  $("sh-by").textContent = t("shBy")(dy, dx);
  const mine = ++asked;
  const empty = (flag) => { $("sh-empty").hidden = !flag; $("sh-models").hidden = flag; };
  if (!image) { empty(true); return; }
  try {
    const r = await api("/api/shift", { image, dy, dx });
    if (mine !== asked) return;
    showError("");
    empty(false);
    render(r);
  } catch (err) {
    if (mine !== asked) return;
    if (err.status === 422) empty(true); else showError(err.message);
  }
}

function errorText(layer) {
  if (layer.error === null) return t("shNoInside");
  return layer.error === 0 ? "0" : layer.error.toPrecision(3);
}

function errorTable(m) {
  return el("table", { className: "sh-errors" },
    el("tr", {}, el("th", {}, t("shLayer")), el("th", {}, t("shJump")), el("th", {}, t("shError"))),
    m.layers.map((l) => el("tr", { dataset: { layer: l.index, error: l.error === null ? "" : String(l.error) } },
      el("td", {}, `${l.index}: ${l.name}`),
      el("td", {}, l.jump ? l.jump.join("×") : t("shDense")),
      el("td", {}, errorText(l)))));
}

function render(r) {
  paintInput($("sh-input"), r.models[r.models.length - 1].input);
  $("sh-models").replaceChildren(...r.models.map((m) => el("div", { className: "sh-model", dataset: { model: m.model } },
    el("h2", {}, `${m.model}: `, el("span", { className: "sh-pred" }, m.prediction)),
    el("div", { className: "probs" }),
    errorTable(m),
    el("div", { className: "sh-layers" }, m.layers.filter((l) => l.shape.length === 3).map((l) => layerView(l))))));
  r.models.forEach((m, i) => probBars($("sh-models").children[i].querySelector(".probs"), m.classes, m.probabilities));
  panel.dataset.dy = r.dy; panel.dataset.dx = r.dx; panel.dataset.answered = asked;
}
