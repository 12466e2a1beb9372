// Watch a network learn: start a training (its own process on the server), see the loss per step
// and the accuracy per epoch grow, the first-layer kernels and one test image's feature maps
// redrawn as it trains, the time left; stop it, resume it, open the result.
// Every tab follows the server's current training, whoever started it: while the Train tab is
// shown it polls /api/train (every 0.7 s while a training runs, 1.5 s otherwise) and a new run
// replaces the one shown. Events are kept by step and by epoch, and a reply's events are applied
// from its index `from`, so an event that comes twice (a poll and a stop's reply) counts once.
import { api, loadModels, modelName, switchModel } from "./api.js";
import { lineChart, extent } from "./charts.js";
import { $, el, kernelGrid, layerView, probBars, showError } from "./dom.js";
import { EVENTS, emit, on } from "./events.js";
import { addStrings, t } from "./i18n.js";
import { showTab } from "./tabs.js";

addStrings({
  tabTrain: { en: "Train", zh: "训练" },
  trainTitle: { en: "Train a model and watch it learn", zh: "训练一个模型，看着它学习" },
  trDataset: { en: "Dataset", zh: "数据集" },
  trDrawn: { en: "your drawn classes (their drawings)", zh: "你画的类别（它们的画）" },
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
  trFollowing: {
    en: (msg) => `${msg} — showing that training.`,
    zh: (msg) => `${msg} —— 现在显示那个训练。`,
  },
  trOff: {
    en: "Training is off for this computer: ask the person running the playground.",
    zh: "这台电脑不能开始训练：请运行演练场的人开启。",
  },
  trState: {
    en: (s) => ({ idle: "No training yet.", preparing: "Preparing (loading data)…", running: "Training…", finished: "Finished.",
      stopped: "Stopped.", failed: "Failed.", killed: "The training process was killed." })[s] || s,
    zh: (s) => ({ idle: "还没有训练。", preparing: "准备中（加载数据）…", running: "训练中…", finished: "已完成。",
      stopped: "已停止。", failed: "失败。", killed: "训练进程被终止了。" })[s] || s,
  },
  trKept: {
    en: (n, acc) => n ? `${n} epoch${n > 1 ? "s" : ""} saved (test accuracy ${pct(acc)}); Resume continues from there.`
      : "No epoch had finished, so nothing was kept (its run folder was removed).",
    zh: (n, acc) => n ? `已保存 ${n} 个周期（测试准确率 ${pct(acc)}）；“继续”会从那里接着训练。`
      : "还没有完成任何周期，所以什么也没有保存（训练文件夹已删除）。",
  },
  trFinal: {
    en: (n, acc) => `Test accuracy ${pct(acc)} after ${n} epoch${n > 1 ? "s" : ""}.`,
    zh: (n, acc) => `${n} 个周期后的测试准确率：${pct(acc)}。`,
  },
  trNow: {
    en: (p) => [p.loss != null ? `loss ${p.loss.toFixed(4)} at step ${p.step}` : "",
      p.acc ? `epoch ${p.acc.epoch}: train ${pct(p.acc.train_acc)}, test ${pct(p.acc.test_acc)}` : ""].filter(Boolean).join(" · "),
    zh: (p) => [p.loss != null ? `第 ${p.step} 步的损失 ${p.loss.toFixed(4)}` : "",
      p.acc ? `第 ${p.acc.epoch} 周期：训练 ${pct(p.acc.train_acc)}，测试 ${pct(p.acc.test_acc)}` : ""].filter(Boolean).join(" · "),
  },
  trStep: { en: "step", zh: "步" },
  trEpoch: { en: "epoch", zh: "周期" },
  trLossAxis: { en: "loss", zh: "损失" },
  trAccAxis: { en: "accuracy", zh: "准确率" },
  trRuns: { en: "Runs trained here", zh: "在这里训练的模型" },
  trForget: { en: "Remove from the model list (files stay)", zh: "从模型列表中移除（文件保留）" },
  trProgress: {
    en: (p) => `epoch ${p.epoch}/${p.epochs}, step ${p.step}/${p.total}${p.eta != null ? `, about ${fmtTime(p.eta)} left` : ""}`,
    zh: (p) => `第 ${p.epoch}/${p.epochs} 周期，第 ${p.step}/${p.total} 步${p.eta != null ? `，约剩 ${fmtTime(p.eta)}` : ""}`,
  },
});

function fmtTime(s) { return s >= 90 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`; }
function pct(a) { return a == null ? "–" : `${(100 * a).toFixed(1)} %`; }

const DRAWN = "drawings";  // the dataset of a class of your own (classes.js): its drawings, kept in its run
const FORM = ["tr-dataset", "tr-model", "tr-epochs", "tr-lr", "tr-max", "tr-probe"];
const KEYS = { "tr-dataset": "dataset", "tr-model": "model", "tr-epochs": "epochs", "tr-lr": "lr", "tr-max": "max_train",
  "tr-probe": "probe" };
let trainOptions = null, job = fresh(), timer = null, onTrain = false, shown = false;

// What the tab knows of one training: its steps by number, its epochs by number, and where its
// event list (`stream`) was read up to.
function fresh() { return { stream: null, run: null, steps: new Map(), epochs: new Map(), next: 0, snap: -1, state: "idle" }; }
const running = () => job.state === "running" || job.state === "preparing";

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
// The architecture's recipe fills epochs and learning rate, unless the user typed them.
function recipeDefaults() {
  const m = trainOptions.models.find((x) => x.name === $("tr-model").value);
  if (!m) return;
  if (!$("tr-epochs").dataset.typed) $("tr-epochs").value = m.epochs;
  if (!$("tr-lr").dataset.typed) $("tr-lr").value = m.lr;
}
$("tr-model").addEventListener("change", recipeDefaults);
["tr-epochs", "tr-lr"].forEach((id) => $(id).addEventListener("input", () => { $(id).dataset.typed = "1"; }));

// The settings of the training shown (a reload, a second tab, a resumed run), not the defaults.
function fillForm(form) {
  for (const id of FORM) {
    const v = form[KEYS[id]];
    if (v === undefined || v === null) continue;
    if ($(id).tagName === "SELECT" && ![...$(id).options].some((o) => o.value === String(v))) {
      if (id !== "tr-dataset" || v !== DRAWN) continue;
      $(id).append(el("option", { value: v, disabled: true, dataset: { i18n: "trDrawn" } }, t("trDrawn")));  // (not startable here)
    }
    $(id).value = v;
    delete $(id).dataset.typed;
  }
}

// Start a job (`path`: the Train tab's form, or classes.js's drawings) and watch it; its status, or
// undefined when refused (the error is shown).
export async function startTraining(body, path = "/api/train/start") {
  let s;
  try {
    s = await api(path, body);
    absorb(s);
    showError("");
  } catch (err) {
    showError(err.status === 409 ? t("trFollowing")(err.message) : err.message);  // someone else's: watch it
  }
  poll();
  return s;
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

// Ask for what is new (events after the last seen, a newer snapshot) while the Train tab is shown.
async function poll() {
  clearTimeout(timer);
  const stream = job.stream ? `&stream=${encodeURIComponent(job.stream)}` : "";
  try {
    absorb(await api(`/api/train?since=${job.next}&snap=${job.snap}${stream}`));
  } catch (err) { showError(err.message); }
  clearTimeout(timer);
  if (onTrain) timer = setTimeout(poll, running() ? 700 : 1500);
}

// A reply of the server (a poll, a start, a stop): its events are applied once, from index `from`.
function absorb(s) {
  const wasRunning = running();
  if (s.state === "idle" && job.stream) {  // (a restarted server: nothing to show)
    job = fresh();
    $("tr-kernels").replaceChildren(); $("tr-layers").replaceChildren(); $("tr-probs").replaceChildren();
  }
  if (s.stream !== job.stream && s.state !== "idle") {
    if (s.from !== 0) return;  // (a reply about a list this tab has not read: the next poll brings it whole)
    const other = s.run !== job.run;
    job = other ? fresh() : Object.assign(job, { steps: new Map(), epochs: new Map(), next: 0 });
    job.stream = s.stream;
    if (other) {
      $("tr-kernels").replaceChildren(); $("tr-layers").replaceChildren(); $("tr-probs").replaceChildren();
      if (s.form && (!shown || s.state === "running" || s.state === "preparing")) fillForm(s.form);
    }
  }
  shown = true;
  if (s.events && s.from <= job.next) {
    for (const e of s.events) (e.type === "step" ? job.steps.set(e.step, e) : job.epochs.set(e.epoch, e));
    job.next = Math.max(job.next, s.from + s.events.length);
  }
  Object.assign(job, { state: s.state, run: s.run, model: s.model, start: s.start || job.start, error: s.error,
    resumable: s.resumable, removed: s.removed, eta: s.eta_s });
  if (s.snapshot) { job.snap = s.snap; showSnapshot(s.snapshot); }
  showState();
  if (wasRunning && !running() && s.model) loadModels(modelName()).catch((err) => showError(err.message));
  drawCharts();
}

const sorted = (map) => [...map.values()].sort((a, b) => (a.step ?? a.epoch) - (b.step ?? b.epoch));

function showState() {
  const steps = sorted(job.steps), epochs = sorted(job.epochs), last = steps[steps.length - 1];
  const lastEpoch = epochs[epochs.length - 1];
  let text = `${t("trState")(job.state)}${job.run ? ` ${job.run}` : ""}`;
  if (job.state === "finished" && lastEpoch) text += ` ${t("trFinal")(lastEpoch.epoch, lastEpoch.test_acc)}`;
  if (job.state === "stopped") text += ` ${t("trKept")(epochs.length, lastEpoch && lastEpoch.test_acc)}`;
  if (job.error) text += ` ${job.error}`;
  $("tr-state").textContent = text;
  Object.assign($("tr-state").dataset, { state: job.state, run: job.run || "", points: steps.length,
    epochs: epochs.length, lastStep: last ? last.step : 0 });
  $("tr-progress").textContent = job.start && last ? t("trProgress")({ epoch: last.epoch, epochs: job.start.epochs, step: last.step,
    total: job.start.epochs * job.start.steps_per_epoch, eta: running() ? job.eta : null }) : "";
  $("tr-numbers").textContent = t("trNow")({ loss: last ? last.loss : null, step: last && last.step, acc: lastEpoch });
  $("tr-stop").hidden = !running();
  $("tr-start").hidden = running();
  $("tr-resume").hidden = running() || !job.resumable;
  $("tr-open").hidden = running() || !job.model;
  $("tr-compare").hidden = running() || !job.model;
}

function showSnapshot(snap) {
  kernelGrid($("tr-kernels"), snap.kernels);
  $("tr-kernels").dataset.step = snap.step;
  if (job.start) {
    probBars($("tr-probs"), job.start.classes, snap.probabilities);
    $("tr-probe-img").src = job.start.probe.image;
    $("tr-probe-label").textContent = `#${job.start.probe.index}: ${job.start.probe.label}`;
    $("tr-probe-label").dataset.index = job.start.probe.index;
  }
  $("tr-layers").replaceChildren(...snap.layers.map((l) => layerView(l)));
}

// The loss of every step and the accuracies of every epoch, each axis from all the points.
function drawCharts() {
  const steps = sorted(job.steps), epochs = sorted(job.epochs);
  const total = job.start ? job.start.epochs * job.start.steps_per_epoch : Math.max(1, steps.length);
  const [, hi] = extent(steps.map((e) => e.loss));
  lineChart($("tr-loss"), { series: [{ points: steps.filter((e) => Number.isFinite(e.loss)).map((e) => [e.step, e.loss]),
    color: "#3a7bd5" }], x: [0, total], y: [0, steps.length ? hi * 1.05 : 1], xlabel: t("trStep"), ylabel: t("trLossAxis"),
  yfmt: (v) => v.toPrecision(2) });
  const [lo] = extent(epochs.flatMap((e) => [e.train_acc, e.test_acc]));
  lineChart($("tr-acc"), { series: [
    { points: epochs.map((e) => [e.epoch, e.train_acc]), color: "#3a7bd5", dots: true },
    { points: epochs.map((e) => [e.epoch, e.test_acc]), color: "#e0663a", dots: true },
  ], x: [0, job.start ? job.start.epochs : Math.max(1, epochs.length)], y: [Math.max(0, Math.floor(lo * 10 - 0.2) / 10), 1],
  xlabel: t("trEpoch"), ylabel: t("trAccAxis"), yfmt: (v) => `${Math.round(100 * v)} %` });
}

// The playground's runs on the model list; one can be taken off it (its files stay in the runs folder).
on(EVENTS.catalog, (catalog) => {
  const runs = catalog.models.filter((m) => m.run);
  $("tr-runs").replaceChildren(...runs.map((m) => el("option", { value: m.name }, m.name)));
  $("tr-runs-row").hidden = runs.length === 0;
});
$("tr-forget").addEventListener("click", async () => {
  const name = $("tr-runs").value;
  try {
    await api("/api/train/forget", { model: name });
    const current = modelName();
    await loadModels(current === name ? undefined : current);
    if (current === name) switchModel(modelName());
    poll();
  } catch (err) { showError(err.message); }
});

on(EVENTS.language, () => { if (trainOptions) { showState(); drawCharts(); } });
on(EVENTS.tab, ({ name }) => {
  onTrain = name === "train";
  if (!onTrain) return;
  (trainOptions === null ? loadTrainOptions() : Promise.resolve()).then(poll).catch((err) => showError(err.message));
});
