// Building the DOM without a framework: h(tag, props, ...children).
//
// props: `class`, `text`, `on<Event>` (a listener), `value` / `checked` / `disabled` / `hidden` / `readOnly`
// (properties), anything else an attribute (`aria-*`, `data-*`, `id`, `type`, …). null / undefined / false skip
// a prop or a child. Texts are always set as text, never parsed as HTML: nothing a resident typed — nor
// anything the API answers — can inject markup.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "readOnly", "selected", "tabIndex"]);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let counter = 0;
/** A document-unique id with a readable prefix (labels, descriptions, errors). */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** Adds or removes one id in an element's `aria-describedby`, keeping the others. */
export function describedBy(el, id, present) {
  const ids = new Set((el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
  if (present) ids.add(id);
  else ids.delete(id);
  if (ids.size) el.setAttribute("aria-describedby", [...ids].join(" "));
  else el.removeAttribute("aria-describedby");
}

/** +79161234567 → +7 916 123-45-67 (the display form; anything else unchanged, a masked phone too). */
export function formatPhone(phone) {
  const m = /^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(phone || "");
  return m ? `+7 ${m[1]} ${m[2]}-${m[3]}-${m[4]}` : phone || "";
}
