// A class of your own (in the Train tab): name 2–10 classes, draw or upload at least 10 examples
// of each, train a small network on them in seconds (POST /api/classes/train: the Train tab's
// job, so its charts, kernels, maps and Stop follow it), then the page switches to that network
// and every view (prediction, kernels, maps, why) shows what it learned. Names are text, never HTML.
import { api, loadModels, switchModel } from "./api.js";
import { $, el, showError } from "./dom.js";
import { EVENTS, on } from "./events.js";
import { addStrings, t } from "./i18n.js";
import { showTab } from "./tabs.js";
import { startTraining } from "./train.js";

const MIN_CLASSES = 2, MAX_CLASSES = 10, MIN_EXAMPLES = 10, MAX_EXAMPLES = 50, MAX_NAME = 24;
const MAX_UPLOAD = 512 * 1024;  // bytes per uploaded image (the server refuses more)

addStrings({
  clBadName: {
    en: (n) => `The class name “${n}” cannot be a folder name: leave out / \\ : * ? " < > | and a leading dot.`,
    zh: (n) => `类别名“${n}”不能用作文件夹名：请去掉 / \\ : * ? " < > | 和开头的点。`,
  },
  clNotImage: { en: (f) => `${f} is not an image the browser can read: it was not added.`, zh: (f) => `${f} 不是浏览器能读取的图像：没有加入。` },
  clPad: { en: "Drawing pad for a class's examples", zh: "为类别画样例的画板" },
  clTitle: { en: "A class of your own: name classes, draw examples, train", zh: "自己的类别：命名类别、画出样例、训练" },
  clHint: {
    en: `Name ${MIN_CLASSES}–${MAX_CLASSES} classes, pick one, draw an example and add it; at least ${MIN_EXAMPLES} per class. Training takes seconds.`,
    zh: `命名 ${MIN_CLASSES}–${MAX_CLASSES} 个类别，选中一个，画一个样例并添加；每个类别至少 ${MIN_EXAMPLES} 个。训练只需几秒钟。`,
  },
  clPad: { en: "Drawing pad for your classes", zh: "为你的类别画图的画板" },
  clAdd: { en: "Add this drawing", zh: "添加这幅画" },
  clClearPad: { en: "Clear the pad", zh: "清空画板" },
  clUpload: { en: "Upload examples", zh: "上传样例" },
  clAddClass: { en: "Add a class", zh: "添加类别" },
  clTrain: { en: "Train on my classes", zh: "用我的类别训练" },
  clLook: { en: "Draw and look inside", zh: "去画图并查看内部" },
  clName: { en: (i) => `Name of class ${i + 1}`, zh: (i) => `第 ${i + 1} 个类别的名称` },
  clPick: { en: (i) => `Draw class ${i + 1}`, zh: (i) => `画第 ${i + 1} 个类别` },
  clCount: { en: (n) => `${n} example${n === 1 ? "" : "s"}`, zh: (n) => `${n} 个样例` },
  clRemove: { en: (i) => `Remove example ${i + 1}`, zh: (i) => `删除第 ${i + 1} 个样例` },
  clRemoveClass: { en: "Remove class", zh: "删除类别" },
  clNeed: {
    en: (c) => `Each class needs a name and ${MIN_EXAMPLES}–${MAX_EXAMPLES} examples (${c}).`,
    zh: (c) => `每个类别需要一个名称和 ${MIN_EXAMPLES}–${MAX_EXAMPLES} 个样例（${c}）。`,
  },
  clFull: { en: `At most ${MAX_EXAMPLES} examples per class.`, zh: `每个类别最多 ${MAX_EXAMPLES} 个样例。` },
  clTooBig: { en: "That image is over 512 KiB: choose a smaller one.", zh: "这张图片超过 512 KiB：请选一张更小的。" },
  clTraining: { en: (run) => `Training ${run}: watch it above.`, zh: (run) => `正在训练 ${run}：请看上方。` },
  clDone: {
    en: (m) => `Trained: ${m} is now the page's model. Draw one of your classes in "Look inside".`,
    zh: (m) => `训练完成：${m} 现在是页面的模型。到“看看网络内部”画一个你的类别。`,
  },
  clEnded: { en: (s) => `The training ended: ${s}.`, zh: (s) => `训练结束：${s}。` },
});

// --- the classes and their examples (data URLs of PNGs) ------------------------------------
const classes = [{ name: "", images: [] }, { name: "", images: [] }];
let chosen = 0, pending = null, polling = null;

function renderClasses() {
  const rows = classes.map((c, i) => el("div", { className: "cl-class", dataset: { index: i, count: c.images.length } },
    el("div", { className: "row" },
      el("input", { type: "radio", name: "cl-pick", checked: i === chosen, ariaLabel: t("clPick")(i),
        onchange: () => { chosen = i; } }),
      el("input", { type: "text", className: "cl-name", value: c.name, maxLength: MAX_NAME, ariaLabel: t("clName")(i),
        oninput: (e) => { c.name = e.target.value; checkName(e.target); } }),
      el("span", { className: "cl-count note" }, t("clCount")(c.images.length)),
      classes.length > MIN_CLASSES
        ? el("button", { className: "cl-remove-class", onclick: () => removeClass(i) }, t("clRemoveClass")) : null),
    el("div", { className: "grid cl-examples" }, c.images.map((src, k) => el("button",
      { className: "cl-example", ariaLabel: t("clRemove")(k), title: t("clRemove")(k), onclick: () => removeExample(i, k) },
      el("img", { src, alt: "", width: 28, height: 28 }))))));
  $("cl-classes").replaceChildren(...rows);
  $("cl-add-class").disabled = classes.length >= MAX_CLASSES;
}
// A name that cannot be a folder name (the drawings are saved as RUN/drawings/NAME/) is said at once,
// not after the drawing: the same rule as the server's (data/drawings.py).
const BAD_NAME = /[\/\\:*?"<>|\u0000-\u001f\u007f]|^\s*\./;
function checkName(input) {
  const bad = BAD_NAME.test(input.value);
  input.setAttribute("aria-invalid", String(bad));
  showError(bad ? t("clBadName")(input.value) : "");
}

function removeClass(i) {
  classes.splice(i, 1);
  chosen = Math.min(chosen, classes.length - 1);
  renderClasses();
}
function removeExample(i, k) {
  classes[i].images.splice(k, 1);
  renderClasses();
}
function addExample(dataUrl) {
  const c = classes[chosen];
  if (c.images.length >= MAX_EXAMPLES) { showError(t("clFull")); return false; }
  c.images.push(dataUrl);
  renderClasses();
  return true;
}
$("cl-add-class").addEventListener("click", () => {
  if (classes.length < MAX_CLASSES) { classes.push({ name: "", images: [] }); chosen = classes.length - 1; renderClasses(); }
});

// --- the drawing pad: the same pen as "Look inside" (white on black, 20 px on 280 px) ------
const pad = $("cl-pad"), ctx = pad.getContext("2d");
const strokes = [];
let current = null;
function redraw() {
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round";
  for (const s of strokes) {
    ctx.beginPath();
    s.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (s.length === 1) ctx.lineTo(s[0][0] + 0.1, s[0][1]);
    ctx.stroke();
  }
}
function pos(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => { current = [pos(e)]; strokes.push(current); pad.setPointerCapture(e.pointerId); redraw(); });
pad.addEventListener("pointermove", (e) => { if (current) { current.push(pos(e)); redraw(); } });
pad.addEventListener("pointerup", () => { current = null; });
function clearPad() { strokes.length = 0; redraw(); }
$("cl-clear").addEventListener("click", clearPad);
$("cl-add").addEventListener("click", () => {
  if (strokes.length && addExample(pad.toDataURL("image/png"))) clearPad();
});
$("cl-upload-button").addEventListener("click", () => $("cl-upload").click());  // a real button, not a label
$("cl-upload").addEventListener("change", (e) => {
  for (const file of e.target.files) {
    if (file.size > MAX_UPLOAD) { showError(t("clTooBig")); continue; }
    const reader = new FileReader();
    reader.onload = () => {  // only what the browser can read as an image becomes an example
      const img = new Image();
      img.onload = () => addExample(reader.result);
      img.onerror = () => showError(t("clNotImage")(file.name));
      img.src = reader.result;
    };
    reader.readAsDataURL(file);
  }
  e.target.value = "";
});

// --- training, and the result as the page's model --------------------------------------------
function ready() {
  const named = classes.find((c) => BAD_NAME.test(c.name));
  if (named) { showError(t("clBadName")(named.name)); return false; }
  const bad = classes.map((c, i) => (c.name.trim() && c.images.length >= MIN_EXAMPLES ? null : c.name.trim() || `#${i + 1}`))
    .filter((x) => x !== null);
  if (bad.length) { showError(t("clNeed")(bad.join(", "))); return false; }
  return true;
}
function say(text, state, model) {
  $("cl-state").textContent = text;
  Object.assign($("cl-state").dataset, { state, model: model || "" });
}
$("cl-train").addEventListener("click", async () => {
  if (!ready()) return;
  const s = await startTraining({ classes: classes.map((c) => ({ name: c.name.trim(), images: c.images })) },
    "/api/classes/train");
  if (!s) return;  // refused: startTraining showed why
  say(t("clTraining")(s.run), "running");
  $("cl-look").hidden = true;
  follow(s.run);
});

// Poll the job until it ends; a finished run joins the catalogue (train.js reloads it, or we do).
async function follow(run) {
  clearTimeout(polling);
  let s;
  try { s = await api("/api/train"); } catch (err) { showError(err.message); }
  if (!s || s.run !== run) return;
  if (s.state === "running" || s.state === "preparing") { polling = setTimeout(() => follow(run), 800); return; }
  if (s.state !== "finished" || !s.model) { say(t("clEnded")(s.error || s.state), s.state); return; }
  pending = s.model;
  setTimeout(() => { if (pending) loadModels(pending).catch((err) => showError(err.message)); }, 1500);
}
on(EVENTS.catalog, (c) => {
  if (!pending || !c.models.some((m) => m.name === pending)) return;
  const name = pending;
  pending = null;
  switchModel(name);  // (even if a reload already chose it: the views follow EVENTS.model)
  say(t("clDone")(name), "finished", name);
  $("cl-look").hidden = false;
});
$("cl-look").addEventListener("click", () => { showTab("inside"); window.scrollTo(0, 0); });

function translate() { pad.setAttribute("aria-label", t("clPad")); renderClasses(); }
on(EVENTS.language, translate);
redraw();
translate();
