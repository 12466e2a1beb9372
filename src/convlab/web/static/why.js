// Why the model decided and where it fails: the attribution overlay (updated as you draw), the
// map for any class you click ("why not a 7?"), what a channel looks for, and the mistakes view.
// Uses app.js's helpers ($, el, api, withModel, t, loadSource, showTab); everything from the
// server is inserted as text or as an image's src, never as HTML.
"use strict";

let lastPrediction = null, whyTarget = null, whyVersion = 0;

// --- the overlay on "what the model sees" ------------------------------------------------------
function drawOverlay(r) {
  const ov = $("why-overlay");
  ov.getContext("2d").clearRect(0, 0, ov.width, ov.height);
  drawMap(ov, r);
}

function clearOverlay() {
  const ov = $("why-overlay");
  ov.getContext("2d").clearRect(0, 0, ov.width, ov.height);
  $("why-note").textContent = "";
  delete $("why-note").dataset.target;
}

async function refreshWhy() {
  const method = $("overlay").value;
  if (method === "none" || !lastPrediction) { clearOverlay(); return; }
  const v = ++whyVersion, body = { image: lastPrediction.image, method };
  if (whyTarget !== null) body.target = whyTarget;
  try {
    const r = await api(withModel("/api/why"), body);
    if (v !== whyVersion) return;  // a newer drawing or choice has asked since
    drawOverlay(r);
    $("why-note").textContent = `${t("why")(r.class)} ${r.note}`;
    Object.assign($("why-note").dataset, { target: r.target, method: r.method, version: v });
  } catch (err) { if (err.status !== 422) showError(err.message); }
}

function markTarget() {
  document.querySelectorAll("#probs .bar").forEach((b) => b.classList.toggle("target", Number(b.dataset.index) === whyTarget));
}

document.addEventListener("convlab:predicted", (e) => { lastPrediction = e.detail; markTarget(); refreshWhy(); });
document.addEventListener("convlab:class", (e) => {
  whyTarget = whyTarget === e.detail.index ? null : e.detail.index;  // a second click: back to the prediction
  if ($("overlay").value === "none") $("overlay").value = "gradcam";
  markTarget();
  refreshWhy();
});
document.addEventListener("convlab:model", () => { whyTarget = null; lastPrediction = null; clearOverlay(); cachedMistakes = null; $("filter-panel").hidden = true; });
$("overlay").addEventListener("change", refreshWhy);

// --- what a channel looks for ------------------------------------------------------------------
let filterVersion = 0;
document.addEventListener("convlab:channel", async (e) => {
  const v = ++filterVersion, { layer, channel } = e.detail;
  try {
    const r = await api(withModel("/api/filter"), { layer, channel });
    if (v !== filterVersion) return;
    $("filter-name").textContent = t("filterName")(r);
    $("filter-crops").replaceChildren(...r.top.map((b) => {
      const img = el("img", { src: b.crop, alt: b.label, title: `${b.label}: ${b.activation}` });
      img.addEventListener("click", () => { loadSource(b.image); });
      return img;
    }));
    $("filter-made").src = r.made;
    Object.assign($("filter-panel").dataset, { layer, channel });
    $("filter-panel").hidden = false;
  } catch (err) { showError(err.message); }
});

// --- mistakes: the confusion matrix, its cells, their images ---------------------------------
let cachedMistakes = null;
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
      fig.addEventListener("click", () => { showTab("inside"); loadSource(im.image); });
      return fig;
    }));
    Object.assign($("cell-images").dataset, { t: i, p: j });
  } catch (err) { showError(err.message); }
}

document.addEventListener("convlab:tab", (e) => { if (e.detail.name === "mistakes") showMistakes(); });
