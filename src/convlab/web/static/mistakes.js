// The "Mistakes" tab: the confusion matrix on the test set, the most confused pair opened first,
// and any cell's images, most confident first; clicking one looks inside it.
import { api, withModel } from "./api.js";
import { $, activatable, el, showError } from "./dom.js";
import { EVENTS, on } from "./events.js";
import { addStrings, t } from "./i18n.js";
import { loadSource } from "./inside.js";
import { showTab } from "./tabs.js";

addStrings({
  tabMistakes: { en: "Mistakes", zh: "错误分析" },
  confusionTitle: {
    en: "Confusion matrix on the test set (rows: true class, columns: predicted)",
    zh: "测试集上的混淆矩阵（行：真实类别，列：预测类别）",
  },
  mistakesNote: {
    en: (m) => `${m.dataset}: ${m.n} test images, accuracy ${(100 * m.accuracy).toFixed(2)}%. Click a cell.`,
    zh: (m) => `${m.dataset}：${m.n} 张测试图像，准确率 ${(100 * m.accuracy).toFixed(2)}%。点击一个格子。`,
  },
  cellTitle: {
    en: (c) => `“${c.t}” predicted as “${c.p}”: ${c.count} images, most confident first`,
    zh: (c) => `“${c.t}”被预测为“${c.p}”：${c.count} 张，按置信度从高到低`,
  },
  cellHint: { en: "Click an image to look inside it.", zh: "点击一张图像，查看网络内部。" },
});

let cachedMistakes = null;  // the model's confusion matrix, asked once per model

async function showMistakes() {
  try {
    cachedMistakes = cachedMistakes || await api(withModel("/api/mistakes"));
  } catch (err) { showError(err.message); return; }
  const m = cachedMistakes;
  $("mistakes-note").textContent = t("mistakesNote")(m);
  const head = el("tr", {}, el("th", {}, ""), m.classes.map((c) => el("th", { title: c }, c.length > 8 ? `${c.slice(0, 7)}…` : c)));
  const rows = m.confusion.map((row, i) => el("tr", {}, el("th", { title: m.classes[i] }, m.classes[i]), row.map((count, j) => {
    const b = el("button", { className: i === j ? "diagonal" : "", dataset: { t: i, p: j }, disabled: count === 0 }, String(count));
    b.addEventListener("click", () => openCell(i, j, b));
    return el("td", {}, b);
  })));
  $("confusion").replaceChildren(el("table", { className: "confusion" }, head, rows));
  if (m.pairs.length) {  // open the most confused pair to start with
    const p = m.pairs[0];
    openCell(p.true, p.predicted, $("confusion").querySelector(`button[data-t="${p.true}"][data-p="${p.predicted}"]`));
  }
}

async function openCell(i, j, button) {
  document.querySelectorAll("#confusion button").forEach((b) => b.classList.toggle("active", b === button));
  try {
    const c = await api(withModel(`/api/mistakes/cell?true=${i}&predicted=${j}`));
    const m = cachedMistakes;
    $("cell-title").textContent = t("cellTitle")({ t: m.classes[i], p: m.classes[j], count: c.count });
    $("cell-images").replaceChildren(...c.images.map((im) => {
      const fig = el("figure", { dataset: { index: im.index } }, el("img", { src: im.image, alt: "" }),
        el("figcaption", {}, `#${im.index} · ${(100 * im.confidence).toFixed(0)}%`));
      return activatable(fig, `#${im.index}`, () => { showTab("inside"); loadSource(im.image); });
    }));
    Object.assign($("cell-images").dataset, { t: i, p: j });
  } catch (err) { showError(err.message); }
}

on(EVENTS.tab, ({ name }) => { if (name === "mistakes") showMistakes(); });
on(EVENTS.model, () => { cachedMistakes = null; });
