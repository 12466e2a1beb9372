// Two models side by side on the same input: probabilities, Grad-CAM, and every layer's maps,
// aligned layer by layer where the architectures match: a longest common subsequence of the
// layers' roles (convolution, normalisation, activation, pooling, dense, ...), so LeNet against
// its modern variant pairs each convolution, activation (sigmoid with ReLU), pooling (average
// with max) and dense layer, and leaves the BatchNorms on rows of their own.
import { api, modelName } from "./api.js";
import { $, drawMap, el, layerView, paintInput, probBars, showError } from "./dom.js";
import { EVENTS, on } from "./events.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  tabCompare: { en: "Compare", zh: "比较" },
  cmpTitle: { en: "Two models, one input", zh: "两个模型，同一个输入" },
  cmpA: { en: "Model A", zh: "模型 A" },
  cmpB: { en: "Model B", zh: "模型 B" },
  cmpHint: {
    en: "The input is the current image of “Look inside”: draw or pick one there.",
    zh: "输入是“看看网络内部”中的当前图像：请在那里手写或选一张。",
  },
  cmpAligned: {
    en: (n, a, b) => `${n} layers aligned (of ${a} and ${b}).`,
    zh: (n, a, b) => `已对齐 ${n} 层（分别共 ${a} 层和 ${b} 层）。`,
  },
});

let compareInput = null, compareTruth = null, compareVersion = 0, models = [];
on(EVENTS.predicted, ({ image, truth }) => {
  compareInput = image;
  compareTruth = truth || null;  // the true label of a test image
  if (!$("panel-compare").hidden) compareNow();
});

// The model to put beside `a`: never `a` itself; a bundled model of the same classes first (the
// same dataset and architecture before others), then any other of the same classes, then any.
function partnerFor(a, catalog) {
  const me = catalog.find((m) => m.name === a), classes = me ? String(me.classes) : null;
  const same = (m) => m.name !== a && String(m.classes) === classes;
  const prefer = [(m) => same(m) && m.bundled && m.dataset === me.dataset && m.model === me.model,
    (m) => same(m) && m.bundled && m.dataset === me.dataset, (m) => same(m) && m.bundled, same, (m) => m.name !== a];
  for (const ok of prefer) {
    const m = catalog.find(ok);
    if (m) return m.name;
  }
  return a;  // (a catalogue of one model)
}

on(EVENTS.catalog, (catalog) => {
  models = catalog.models;
  for (const id of ["cmp-a", "cmp-b"]) {
    const keep = $(id).value;
    $(id).replaceChildren(...models.map((m) => el("option", { value: m.name }, m.name)));
    if (keep && models.some((m) => m.name === keep)) $(id).value = keep;
  }
  if (!$("cmp-a").value || $("cmp-a").value === $("cmp-b").value) {
    $("cmp-a").value = modelName();
    $("cmp-b").value = partnerFor(modelName(), models);
  }
});
on(EVENTS.compare, ({ a }) => {
  if (!a) return;
  $("cmp-a").value = a;
  $("cmp-b").value = partnerFor(a, models);
});
on(EVENTS.tab, ({ name }) => { if (name === "compare") compareNow(); });
["cmp-a", "cmp-b", "cmp-method"].forEach((id) => $(id).addEventListener("change", compareNow));

function role(kind) {
  for (const [re, r] of [[/Conv/, "conv"], [/Pool/, "pool"], [/Norm/, "norm"], [/Linear/, "linear"],
    [/ReLU|Sigmoid|Tanh|GELU|SiLU|ELU|Hardswish|Mish|Softplus/, "activation"], [/Dropout/, "dropout"]]) if (re.test(kind)) return r;
  return kind;
}

// Longest common subsequence of the layers' roles: rows [i, j] (i in a, j in b; null: no partner).
function align(a, b) {
  a = a.map((l) => ({ name: role(l.name) })); b = b.map((l) => ({ name: role(l.name) }));
  const n = a.length, m = b.length, L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    L[i][j] = a[i].name === b[j].name ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  }
  const rows = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i].name === b[j].name) rows.push([i++, j++]);
    else if (j >= m || (i < n && L[i + 1][j] >= L[i][j + 1])) rows.push([i++, null]);
    else rows.push([null, j++]);
  }
  return rows;
}

async function compareNow() {
  if (!compareInput) { $("cmp-note").textContent = t("cmpHint"); return; }
  const v = ++compareVersion, names = [$("cmp-a").value, $("cmp-b").value];
  const q = (path, name) => `${path}?model=${encodeURIComponent(name)}`;
  try {
    // Both asked at once; a refusal is said for its model, model A's first (an empty canvas: each
    // model asks for its own input, a digit or one of its drawn classes).
    const asked = await Promise.allSettled(names.map((n) => api(q("/api/predict", n), { image: compareInput })));
    const refused = asked.findIndex((r) => r.status === "rejected");
    if (refused >= 0) {
      if (v === compareVersion) showError(`${names[refused]}: ${asked[refused].reason.message}`);
      return;
    }
    const preds = asked.map((r) => r.value);
    const method = $("cmp-method").value;
    const cams = await Promise.all(names.map((n) => api(q("/api/why", n), { image: compareInput, method }).catch(() => null)));
    if (v !== compareVersion) return;
    showError("");
    preds.forEach((p, k) => {
      const side = ["a", "b"][k];
      $(`cmp-${side}-pred`).textContent = `${p.model}: ${p.prediction}`;
      $(`cmp-${side}-truth`).hidden = !compareTruth;
      if (compareTruth) $(`cmp-${side}-truth`).textContent = t("truth")(compareTruth, compareTruth === p.prediction);
      probBars($(`cmp-${side}-probs`), p.classes, p.probabilities);
      paintInput($(`cmp-${side}-input`), p.input);
      const cam = cams[k];
      $(`cmp-${side}-cam`).getContext("2d").clearRect(0, 0, 168, 168);
      if (cam) drawMap($(`cmp-${side}-cam`), cam);
      $(`cmp-${side}-note`).textContent = cam ? [cam.note, cam.advice].filter(Boolean).join(" · ") : "";
    });
    const [a, b] = preds.map((p) => p.layers), rows = align(a, b);
    const paired = rows.filter(([i, j]) => i !== null && j !== null).length;
    $("cmp-note").textContent = t("cmpAligned")(paired, a.length, b.length);
    $("cmp-layers").replaceChildren(...rows.map(([i, j]) => el("div", { className: `cmp-row${i !== null && j !== null ? " paired" : ""}` },
      el("div", {}, i !== null ? layerView(a[i]) : ""), el("div", {}, j !== null ? layerView(b[j]) : ""))));
    Object.assign($("cmp-layers").dataset, { paired, version: v });
  } catch (err) { showError(err.message); }
}

