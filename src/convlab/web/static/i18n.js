// Translations: every module registers one table of its strings, the Chinese beside the English
// (key: {en, zh}; a value may be a function of data), and reads them back with t(key). Elements
// with data-i18n="key" get their text from the table whenever the language changes.
import { $ } from "./dom.js";
import { EVENTS, emit } from "./events.js";

const STRINGS = {};
let lang = localStorage.getItem("convlab-lang") === "zh" ? "zh" : "en";

// The page's language, "en" or "zh": api.js sends it, so the server's text comes in it too.
export const language = () => lang;

// Add a module's table; a key already taken by another module throws (one home for each string).
export function addStrings(table) {
  for (const [key, value] of Object.entries(table)) {
    if (key in STRINGS) throw new Error(`string ${key} is defined twice`);
    if (!("en" in value && "zh" in value)) throw new Error(`string ${key} needs en and zh`);
    STRINGS[key] = value;
  }
}

// The string (or function) `key` in the current language.
export function t(key) {
  if (!(key in STRINGS)) throw new Error(`no string ${key}`);
  return STRINGS[key][lang];
}

// Translate every data-i18n element and the language button, then tell the modules (EVENTS.language).
export function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.querySelectorAll("[data-i18n-label]").forEach((node) => node.setAttribute("aria-label", t(node.dataset.i18nLabel)));
  document.querySelectorAll("[data-i18n-alt]").forEach((node) => { node.alt = t(node.dataset.i18nAlt); });
  $("lang").textContent = lang === "en" ? "中文" : "English";
  $("lang").lang = lang === "en" ? "zh-CN" : "en";  // a screen reader reads the button in its own language
  emit(EVENTS.language);
}

// The header's button switches between English and Chinese, remembered across visits.
export function setupLanguageButton() {
  $("lang").addEventListener("click", () => {
    lang = lang === "en" ? "zh" : "en";
    localStorage.setItem("convlab-lang", lang);
    applyLanguage();
  });
}
