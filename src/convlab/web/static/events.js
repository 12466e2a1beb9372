// The page's custom DOM events: the only messages between its modules besides imported functions.
// All are dispatched on `document` through emit() and heard through on(); an unknown name throws,
// so a typo cannot create an event nobody hears. Each entry: who sends it, its detail, who listens.
export const EVENTS = Object.freeze({
  // inside.js, after a prediction is drawn. detail {result: /api/predict's answer, image: the data
  // URL it was asked about}. why.js redraws the overlay; compare.js and explore.js keep the input.
  predicted: "convlab:predicted",
  // inside.js, when a class's probability bar is clicked. detail {index: the class}. why.js maps
  // the evidence for that class ("why not a 7?"); a second click on it returns to the prediction.
  class: "convlab:class",
  // inside.js, when a feature-map channel or a first-layer kernel is clicked. detail {layer, channel}.
  // why.js shows what that channel looks for.
  channel: "convlab:channel",
  // tabs.js, after a tab is shown. detail {name: inside|explore|mistakes|compare|train}. Each tab's
  // module fills its panel when it is shown.
  tab: "convlab:tab",
  // api.js, after the model catalogue is (re)loaded. detail: /api/models's answer. compare.js
  // refills its two model lists.
  catalog: "convlab:catalog",
  // api.js, when the model switcher picks another model. No detail. inside.js reloads the model's
  // description and predicts again; why.js and mistakes.js forget what they showed of the old one.
  model: "convlab:model",
  // train.js, "Compare with…" on a trained model. detail {a: its name}. compare.js makes it model A.
  compare: "convlab:compare",
  // inside.js, when the input is cleared (Clear, or an empty canvas a digit model does not read) and
  // its prediction forgotten. No detail. why.js clears its overlay and note.
  cleared: "convlab:cleared",
  // i18n.js, after the language changed and the fixed texts were translated. No detail. Modules
  // showing a text built from data (the receptive field's sentence) write it again.
  language: "convlab:language",
});

const NAMES = new Set(Object.values(EVENTS));

function known(name) {
  if (!NAMES.has(name)) throw new Error(`unknown event ${name}: add it to events.js`);
  return name;
}

export function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(known(name), { detail }));
}

// on(EVENTS.x, (detail) => ...): the handler gets the event's detail.
export function on(name, handler) {
  document.addEventListener(known(name), (e) => handler(e.detail));
}
