// The tabs: one panel shown at a time; a reload comes back to the last one. The tab's module
// fills its panel when it hears EVENTS.tab.
import { $ } from "./dom.js";
import { EVENTS, emit } from "./events.js";

export const TABS = [...document.querySelectorAll("nav .tab")].map((b) => b.id.slice(4));

export function showTab(name) {
  for (const tab of TABS) {
    $(`panel-${tab}`).hidden = name !== tab;
    $(`tab-${tab}`).classList.toggle("active", name === tab);
  }
  sessionStorage.setItem("convlab-tab", name);  // a reload comes back to this tab
  emit(EVENTS.tab, { name });
}

export function setupTabs() {
  TABS.forEach((tab) => $(`tab-${tab}`).addEventListener("click", () => showTab(tab)));
}

// The tab of the last visit, if it was not the first.
export function restoreTab() {
  const tab = sessionStorage.getItem("convlab-tab");
  if (tab && tab !== "inside" && TABS.includes(tab)) showTab(tab);
}
