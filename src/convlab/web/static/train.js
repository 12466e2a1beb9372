// Watch a network learn: start a training (its own process on the server), see the loss per step
// and the accuracy per epoch grow, the first-layer kernels and one test image's feature maps
// redrawn as it trains, the time left; stop it, resume it, open the result. A reload or a second
// tab reconnects: the server keeps the whole history.
import { api, loadModels, modelName, switchModel } from "./api.js";
import { $, el, kernelGrid, layerView, probBars, showError } from "./dom.js";
import { EVENTS, emit, on } from "./events.js";
import { addStrings, t } from "./i18n.js";
import { showTab } from "./tabs.js";

addStrings({
  tabTrain: { en: "Train", zh: "训练" },
  trainTitle: { en: "Train a model and watch it learn", zh: "训练一个模型，看着它学习" },
  trDataset: { en: "Dataset", zh: "数据集" },
  trModel: { en: "Architecture", zh: "网络结构" },
  trEpochs: { en: "Epochs", zh: "迭代周期" },
  trLr: { en: "Learning rate", zh: "学习率" },
  trMax: { en: "Training images (0 = all)", zh: "训练图像数（0 = 全部）" },
  trProbe: { en: "Test image to watch (index)", zh: "观察的测试图像（序号）" },
  trStart: { en: "Start", zh: "开始" },
  trStop: { en: "Stop", zh: "停止" },
  trResume: { en: "Resume", zh: "继续" },
  trOpen: { en: "Look inside the result", zh: "查看训练结果的内部" },
  trCompare: { en: "Compare with…", zh: "与其他模型比较…" },
  trLoss: { en: "Loss per step", zh: "每一步的损失" },
  trAcc: { en: "Accuracy per epoch (blue: train, orange: test)", zh: "每个周期的准确率（蓝：训练，橙：测试）" },
  trKernels: { en: "First-layer kernels now", zh: "当前的第一层卷积核" },
  trMaps: { en: "Feature maps of the watched image now", zh: "当前观察图像的特征图" },
  trOff: {
    en: "Training is off for this computer: ask the person running the playground.",
    zh: "这台电脑不能开始训练：请运行演练场的人开启。",
  },
  trState: {
    en: (s) => ({ idle: "No training yet.", preparing: "Preparing (loading data)…", running: "Training…", finished: "Finished.",
      stopped: "Stopped (its last completed epoch is saved).", failed: "Failed.", killed: "The training process was killed." })[s] || s,
    zh: (s) => ({ idle: "还没有训练。", preparing: "准备中（加载数据）…", running: "训练中…", finished: "已完成。",
      stopped: "已停止（最后完成的周期已保存）。", failed: "失败。", killed: "训练进程被终止了。" })[s] || s,
  },
  trProgress: {
    en: (p) => `epoch ${p.epoch}/${p.epochs}, step ${p.step}/${p.total}${p.eta != null ? `, about ${fmtTime(p.eta)} left` : ""}`,
    zh: (p) => `第 ${p.epoch}/${p.epochs} 周期，第 ${p.step}/${p.total} 步${p.eta != null ? `，约剩 ${fmtTime(p.eta)}` : ""}`,
  },
});

function fmtTime(s) { return s >= 90 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`; }

let trainOptions = null, job = { events: [], next: 0, snap: -1, state: "idle" }, polling = null;

async function loadTrainOptions() {
  trainOptions = await api("/api/train/options");
  $("tr-dataset").replaceChildren(...trainOptions.datasets.map((d) =>
    el("option", { value: d }, d === "data" ? `${trainOptions.data} (serve --data)` : d)));
  $("tr-model").replaceChildren(...trainOptions.models.map((m) => el("option", { value: m.name }, m.name)));
  $("tr-epochs").max = trainOptions.max_epochs;
  recipeDefaults();
  $("tr-off").hidden = trainOptions.allowed;
  $("tr-start").disabled = !trainOptions.allowed;
}
function recipeDefaults() {
  const m = trainOptions.models.find((x) => x.name === $("tr-model").value);
  if (m) { $("tr-epochs").value = m.epochs; $("tr-lr").value = m.lr; }
}
$("tr-model").addEventListener("change", recipeDefaults);

// Start a job (`path`: the Train tab's form, or classes.js's drawings) and watch it; its status, or
// undefined when refused (the error is shown).
export async function startTraining(body, path = "/api/train/start") {
  try {
    const s = await api(path, body);
    job = { events: [], next: 0, snap: -1, state: s.state };
    $("tr-kernels").replaceChildren(); $("tr-layers").replaceChildren();
    showError("");
    absorb(s);
    poll();
    return s;
  } catch (err) { showError(err.message); }
}
$("tr-start").addEventListener("click", () => startTraining({
  dataset: $("tr-dataset").value, model: $("tr-model").value, epochs: Number($("tr-epochs").value),
  lr: Number($("tr-lr").value), max_train: Number($("tr-max").value), probe: Number($("tr-probe").value),
}));
$("tr-resume").addEventListener("click", () => startTraining({ resume: job.run }));
$("tr-stop").addEventListener("click", async () => {
  try { absorb(await api("/api/train/stop", {})); } catch (err) { showError(err.message); }
});
$("tr-open").addEventListener("click", async () => {
  await loadModels(job.model);
  switchModel(job.model);
  showTab("inside");
});
$("tr-compare").addEventListener("click", () => {
  emit(EVENTS.compare, { a: job.model });
  showTab("compare");
});

// Ask for what is new (events after the last seen, a newer snapshot) until the job ends.
async function poll() {
  clearTimeout(polling);
  try {
    absorb(await api(`/api/train?since=${job.next}&snap=${job.snap}`));
  } catch (err) { showError(err.message); }
  if (job.state === "running" || job.state === "preparing") polling = setTimeout(poll, 700);
}

function absorb(s) {
  const wasRunning = job.state === "running" || job.state === "preparing";
  Object.assign(job, { state: s.state, run: s.run, model: s.model, start: s.start || job.start, error: s.error, resumable: s.resumable });
  if (s.events) { job.events.push(...s.events); job.next = s.next; }
  if (s.snapshot) { job.snap = s.snap; showSnapshot(s.snapshot); }
  const running = s.state === "running" || s.state === "preparing";
  $("tr-state").textContent = `${t("trState")(s.state)}${s.run ? ` ${s.run}` : ""}${s.error ? ` ${s.error}` : ""}`;
  Object.assign($("tr-state").dataset, { state: s.state, points: job.events.filter((e) => e.type === "step").length,
    epochs: job.events.filter((e) => e.type === "epoch").length });
  const steps = job.events.filter((e) => e.type === "step"), last = steps[steps.length - 1];
  $("tr-progress").textContent = job.start && last ? t("trProgress")({ epoch: last.epoch, epochs: job.start.epochs, step: last.step,
    total: job.start.epochs * job.start.steps_per_epoch, eta: running ? s.eta_s : null }) : "";
  $("tr-stop").hidden = !running;
  $("tr-start").hidden = running;
  $("tr-resume").hidden = running || !s.resumable;
  $("tr-open").hidden = running || !s.model;
  $("tr-compare").hidden = running || !s.model;
  if (wasRunning && !running && s.model) loadModels(modelName()).catch((err) => showError(err.message));
  drawCharts();
}

function showSnapshot(snap) {
  kernelGrid($("tr-kernels"), snap.kernels);
  $("tr-kernels").dataset.step = snap.step;
  if (job.start) {
    probBars($("tr-probs"), job.start.classes, snap.probabilities);
    $("tr-probe-img").src = job.start.probe.image;
    $("tr-probe-label").textContent = `#${job.start.probe.index}: ${job.start.probe.label}`;
  }
  $("tr-layers").replaceChildren(...snap.layers.map((l) => layerView(l)));
}

// --- charts: plain canvas line plots ------------------------------------------------------------
function plot(canvas, series, { ymin, ymax, xmax }) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#c9d1da"; ctx.fillStyle = "#526070"; ctx.font = "11px system-ui";
  ctx.strokeRect(pad, 4, w - pad - 4, h - pad);
  ctx.fillText(ymax.toFixed(2), 0, 12); ctx.fillText(ymin.toFixed(2), 0, h - pad);
  const X = (x) => pad + (x / (xmax || 1)) * (w - pad - 4), Y = (y) => 4 + (1 - (y - ymin) / ((ymax - ymin) || 1)) * (h - pad - 4);
  for (const { points, color, dots } of series) {
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    if (dots) points.forEach(([x, y]) => { ctx.beginPath(); ctx.arc(X(x), Y(y), 3, 0, 7); ctx.fill(); });
  }
}

function drawCharts() {
  const steps = job.events.filter((e) => e.type === "step"), epochs = job.events.filter((e) => e.type === "epoch");
  const total = job.start ? job.start.epochs * job.start.steps_per_epoch : Math.max(1, steps.length);
  const losses = steps.map((e) => e.loss).filter(Number.isFinite);
  plot($("tr-loss"), [{ points: steps.map((e) => [e.step, e.loss]), color: "#3a7bd5" }],
    { ymin: 0, ymax: Math.max(0.5, ...losses.slice(0, 50), ...losses.slice(-50)), xmax: total });
  const accs = epochs.flatMap((e) => [e.train_acc, e.test_acc]);
  plot($("tr-acc"), [
    { points: epochs.map((e) => [e.epoch, e.train_acc]), color: "#3a7bd5", dots: true },
    { points: epochs.map((e) => [e.epoch, e.test_acc]), color: "#e0663a", dots: true },
  ], { ymin: Math.min(0.5, ...accs), ymax: 1, xmax: job.start ? job.start.epochs : Math.max(1, epochs.length) });
}

on(EVENTS.tab, ({ name }) => {
  if (name !== "train") return;
  const first = trainOptions === null;
  (first ? loadTrainOptions() : Promise.resolve()).then(() => (first ? reconnect() : null)).catch((err) => showError(err.message));
});

// A reload or a second tab: the job the server is running (or ran last), with its whole history.
async function reconnect() {
  job = { events: [], next: 0, snap: -1, state: "idle" };
  absorb(await api("/api/train?since=0"));
  poll();
}
