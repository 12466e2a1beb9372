// The server: JSON requests, and the model they are about (the header's switcher: every bundled
// model and any given at start or trained here). Every number the page shows comes from here.
import { $, el } from "./dom.js";
import { EVENTS, emit } from "./events.js";
import { language } from "./i18n.js";

let currentModel = null, catalog = null;
export const modelName = () => currentModel;

// GET path (no body) or POST body as JSON; a 4xx answer throws an Error with its message and status.
// The page's language goes along (Accept-Language), so the server's text comes in it.
export async function api(path, body) {
  const headers = { "Accept-Language": language() };
  const res = await fetch(path, body === undefined ? { headers } : {
    method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), { status: res.status });
  return data;
}

// path?model=NAME: the switcher's model.
export function withModel(path) {
  return currentModel ? `${path}${path.includes("?") ? "&" : "?"}model=${encodeURIComponent(currentModel)}` : path;
}

// (Re)load the catalogue into the switcher, choosing `choose`, else the last one used, else the default.
export async function loadModels(choose) {
  catalog = await api("/api/models");
  const saved = choose || localStorage.getItem("convlab-model");
  currentModel = catalog.models.some((m) => m.name === saved) ? saved : catalog.default;
  $("model").replaceChildren(...catalog.models.map((m) => el("option", { value: m.name, selected: m.name === currentModel },
    `${m.name}${m.test_acc ? ` (${(100 * m.test_acc).toFixed(1)}%)` : ""}`)));
  nameSwitcher();
  emit(EVENTS.catalog, catalog);
}

// Make `name` the model of every request; the views follow (EVENTS.model).
export function switchModel(name) {
  currentModel = name;
  $("model").value = name;
  localStorage.setItem("convlab-model", currentModel);
  nameSwitcher();
  emit(EVENTS.model);
}

// The switcher is narrow (a run's long name ends in "…"): its title gives the whole name.
function nameSwitcher() {
  const option = $("model").selectedOptions[0];
  $("model").title = option ? option.textContent : "";
}

export function setupSwitcher() {
  $("model").addEventListener("change", () => switchModel($("model").value));
}
