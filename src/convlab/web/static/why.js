// Why the model decided, on the "Look inside" tab: the attribution overlay (updated as you draw),
// the map for any class you click ("why not a 7?"), and what a channel looks for. Everything from
// the server is inserted as text or as an image's src, never as HTML.
import { api, withModel } from "./api.js";
import { $, activatable, drawMap, el, showError } from "./dom.js";
import { EVENTS, on } from "./events.js";
import { addStrings, t } from "./i18n.js";
import { loadSource } from "./inside.js";

addStrings({
  overlay: { en: "Why: overlay", zh: "为什么：叠加" },
  overlayNone: { en: "none", zh: "无" },
  overlayOcclusion: { en: "occlusion", zh: "遮挡" },
  why: { en: (c) => `Evidence for “${c}”.`, zh: (c) => `支持“${c}”的证据。` },
  filterTitle: { en: "What this channel looks for", zh: "这个通道在找什么" },
  filterName: {
    en: (r) => `Layer ${r.layer} (${r.name}), channel ${r.channel}: the test images that excite it most.`,
    zh: (r) => `第 ${r.layer} 层（${r.name}）第 ${r.channel} 通道：最能激活它的测试图像。`,
  },
  filterMade: { en: "An image made to excite it:", zh: "为激活它而生成的图像：" },
});

let lastPrediction = null, whyTarget = null, whyVersion = 0;

// --- the overlay on "what the model sees" ------------------------------------------------------
function drawOverlay(r) {
  const ov = $("why-overlay");
  ov.getContext("2d").clearRect(0, 0, ov.width, ov.height);
  drawMap(ov, r);
}

function clearOverlay() {
  whyVersion++;  // an answer still on its way belongs to what was cleared
  const ov = $("why-overlay");
  ov.getContext("2d").clearRect(0, 0, ov.width, ov.height);
  $("why-note").textContent = "";
  $("why-advice").hidden = true;
  delete $("why-note").dataset.target;
}

// Where Grad-CAM is unreliable (a dense head mixes positions: the LeNets), the server's advice to
// trust occlusion and saliency more, under the map (docs/why.md).
function showAdvice(r) {
  $("why-advice").textContent = r.advice || "";
  $("why-advice").hidden = !r.advice;
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
    showAdvice(r);
    Object.assign($("why-note").dataset, { target: r.target, method: r.method, version: v });
  } catch (err) { if (err.status !== 422) showError(err.message); }
}

function markTarget() {
  document.querySelectorAll("#probs .bar").forEach((b) => b.classList.toggle("target", Number(b.dataset.index) === whyTarget));
}

on(EVENTS.predicted, (detail) => { lastPrediction = detail; markTarget(); refreshWhy(); });
on(EVENTS.class, ({ index }) => {
  whyTarget = whyTarget === index ? null : index;  // a second click: back to the prediction
  if ($("overlay").value === "none") $("overlay").value = "gradcam";
  markTarget();
  refreshWhy();
});
on(EVENTS.model, () => { whyTarget = null; lastPrediction = null; clearOverlay(); $("filter-panel").hidden = true; });
on(EVENTS.cleared, () => { lastPrediction = null; clearOverlay(); });
$("overlay").addEventListener("change", refreshWhy);

// --- what a channel looks for ------------------------------------------------------------------
let filterVersion = 0;
on(EVENTS.channel, async ({ layer, channel }) => {
  const v = ++filterVersion;
  try {
    const r = await api(withModel("/api/filter"), { layer, channel });
    if (v !== filterVersion) return;
    $("filter-name").textContent = t("filterName")(r);
    $("filter-crops").replaceChildren(...r.top.map((b) => {
      const img = el("img", { src: b.crop, alt: b.label, title: `${b.label}: ${b.activation}` });
      return activatable(img, null, () => { loadSource(b.image); });
    }));
    $("filter-made").src = r.made;
    Object.assign($("filter-panel").dataset, { layer, channel });
    $("filter-panel").hidden = false;
  } catch (err) { showError(err.message); }
});
