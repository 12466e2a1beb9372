// convlab playground: the page's entry. Every number comes from the server; every string from it
// goes into the page as text, never as HTML (dom.js). The modules (no build step, no CDN):
//   events.js   the custom DOM events between the modules, each with who sends and who listens
//   i18n.js     translations: each module's table, the Chinese beside the English
//   dom.js      DOM helpers: el(), colour maps, feature maps, kernels, probability bars
//   api.js      JSON requests and the model switcher     tabs.js   the tabs
//   inside.js, why.js   "Look inside" (with the why overlay and what a channel looks for)
//   explore.js, mistakes.js, compare.js, shift.js, train.js   one module per other tab
import { loadModels, setupSwitcher } from "./api.js";
import { showError } from "./dom.js";
import { addStrings, applyLanguage, setupLanguageButton } from "./i18n.js";
import { loadInfo, predictNow, redraw } from "./inside.js";
import { restoreTab, setupTabs } from "./tabs.js";
import "./why.js";
import "./explore.js";
import "./mistakes.js";
import "./compare.js";
import "./shift.js";
import "./train.js";
import "./classes.js";

addStrings({
  title: { en: "convlab playground", zh: "convlab 演练场" },
  model: { en: "Model", zh: "模型" },
});

setupLanguageButton();
setupTabs();
setupSwitcher();
applyLanguage();
redraw();
loadModels().then(loadInfo).then(() => predictNow()).catch((err) => showError(err.message)).then(restoreTab);
