// The tabs (WAI-ARIA tabs pattern): one panel shown at a time; a reload comes back to the last one.
// The selected tab is the one Tab stop of the tab list; Left/Right (Home/End) move between tabs and
// show them. The tab's module fills its panel when it hears EVENTS.tab.
import { $, showError } from "./dom.js";
import { EVENTS, emit } from "./events.js";

export const TABS = [...document.querySelectorAll("nav .tab")].map((b) => b.id.slice(4));

export function showTab(name) {
  for (const tab of TABS) {
    const button = $(`tab-${tab}`), selected = name === tab;
    $(`panel-${tab}`).hidden = !selected;
    button.classList.toggle("active", selected);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
  }
  sessionStorage.setItem("convlab-tab", name);  // a reload comes back to this tab
  showError("");  // an error belongs to the tab it came from
  emit(EVENTS.tab, { name });
}

const STEP = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };

function onKey(e, tab) {
  if (!(e.key in STEP)) return;
  e.preventDefault();
  const i = TABS.indexOf(tab), step = STEP[e.key];
  const next = Number.isFinite(step) ? (i + step + TABS.length) % TABS.length : step < 0 ? 0 : TABS.length - 1;
  showTab(TABS[next]);
  $(`tab-${TABS[next]}`).focus();
}

export function setupTabs() {
  TABS.forEach((tab) => {
    $(`tab-${tab}`).addEventListener("click", () => showTab(tab));
    $(`tab-${tab}`).addEventListener("keydown", (e) => onKey(e, tab));
  });
}

// The tab of the last visit, if it was not the first.
export function restoreTab() {
  const tab = sessionStorage.getItem("convlab-tab");
  if (tab && tab !== "inside" && TABS.includes(tab)) showTab(tab);
}
