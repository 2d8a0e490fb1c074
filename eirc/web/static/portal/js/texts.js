// The screens' texts: every one comes from the API's `uiTexts` (docs/frontend.md lists the keys).

const texts = new Map();

export function loadTexts(list) {
  texts.clear();
  for (const { key, text } of list) texts.set(key, text);
}

/** The text of `key`, its `{name}` placeholders filled from `params`. A missing key shows as itself: a bug to see. */
export function t(key, params = {}) {
  const text = texts.has(key) ? texts.get(key) : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function has(key) {
  return texts.has(key);
}
