// The "Mistakes" tab: the confusion matrix on the test set, the most confused pair opened first,
// and any cell's images, most confident first; clicking one looks inside it.
import { api, modelName, withModel } from "./api.js";
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
  mistakesLoading: {
    en: "Classifying the test set… (a few seconds, once per model)",
    zh: "正在对测试集分类……（几秒钟，每个模型只算一次）",
  },
});

let cachedMistakes = null;  // the model's confusion matrix, asked once per model

// Nothing of the previous model's matrix stays on screen: empty, with a loading sign while asked.
function clearMistakes(loading) {
  ["confusion", "cell-images"].forEach((id) => $(id).replaceChildren());
  $("cell-title").textContent = "";
  $("mistakes-note").textContent = loading ? t("mistakesLoading") : "";
  $("panel-mistakes").classList.toggle("loading", loading);
}

async function showMistakes() {
  if (!cachedMistakes) {
    const asked = modelName();
    clearMistakes(true);
    try {
      const m = await api(withModel("/api/mistakes"));
      if (asked !== modelName()) return;  // another model was chosen meanwhile: its own request shows it
      cachedMistakes = m;
    } catch (err) { clearMistakes(false); showError(err.message); return; }
    $("panel-mistakes").classList.remove("loading");
  }
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
    if (!m) return;  // the model changed meanwhile
    $("cell-title").textContent = t("cellTitle")({ t: m.classes[i], p: m.classes[j], count: c.count });
    $("cell-images").replaceChildren(...c.images.map((im) => {
      const fig = el("figure", { dataset: { index: im.index } }, el("img", { src: im.image, alt: "" }),
        el("figcaption", {}, `#${im.index} · ${(100 * im.confidence).toFixed(0)}%`));
      return activatable(fig, `#${im.index}`, () => { showTab("inside"); loadSource(im.image, m.classes[i]); });  // with its true class
    }));
    Object.assign($("cell-images").dataset, { t: i, p: j });
  } catch (err) { showError(err.message); }
}

on(EVENTS.tab, ({ name }) => { if (name === "mistakes") showMistakes(); });
on(EVENTS.model, () => {
  cachedMistakes = null;
  if ($("panel-mistakes").hidden) clearMistakes(false); else showMistakes();
});
on(EVENTS.language, () => { if (cachedMistakes && !$("panel-mistakes").hidden) showMistakes(); });
