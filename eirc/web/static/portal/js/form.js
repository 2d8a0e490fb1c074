// Forms: fields with a bound <label>, their error under them, and the screen-level message.
//
// A UserError goes under the field its `field` names (docs/frontend.md, «Errors and the fields they go under»);
// `field: null` — or a field this screen does not show — goes to the form's screen-level message. The error's
// `hint` is shown under the error. Every input names its hint and its error in `aria-describedby` and is
// `aria-invalid` while its error stands; the error text sits in a polite live region, and the first field in
// error takes the focus, so a screen reader says what is wrong and where.

import { Unavailable } from "./api.js";
import { describedBy, h, uid } from "./dom.js";
import { t } from "./texts.js";

const SVG = "http://www.w3.org/2000/svg";

function requiredMark() {
  return h("span", { class: "req", "aria-hidden": "true", text: ` ${t("common.required_mark")}` });
}

function eyeIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const eye = document.createElementNS(SVG, "path");
  eye.setAttribute("d", "M12 5C6.5 5 2.4 8.8 1 12c1.4 3.2 5.5 7 11 7s9.6-3.8 11-7c-1.4-3.2-5.5-7-11-7zm0 11.5a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zm0-2.3a2.2 2.2 0 1 0 0-4.4 2.2 2.2 0 0 0 0 4.4z");
  const slash = document.createElementNS(SVG, "path");
  slash.setAttribute("class", "eye-slash");
  slash.setAttribute("d", "M3.3 2 2 3.3 20.7 22l1.3-1.3z");
  svg.append(eye, slash);
  return svg;
}

/** The error area under a field (or under a group of controls): message, then hint. */
export class ErrorSlot {
  constructor(id) {
    this.id = id;
    this.message = h("p", { class: "field-error", id, "aria-live": "polite" });
    this.hint = h("p", { class: "field-error-hint", id: `${id}-hint` });
    this.el = h("div", { class: "field-errors" }, this.message, this.hint);
    this.controls = [];
  }
  set(message, hint) {
    this.message.textContent = message || "";
    this.hint.textContent = hint || "";
    for (const control of this.controls) {
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
      describedBy(control, this.id, Boolean(message));
      describedBy(control, this.hint.id, Boolean(hint));
    }
    this.el.closest(".field")?.classList.toggle("has-error", Boolean(message));
  }
  get active() {
    return Boolean(this.message.textContent);
  }
}

/** A text input (or a <select> with `options`) with its label, optional help text, and error slot. */
export function textField(opts) {
  const id = uid(opts.name);
  const slot = new ErrorSlot(`${id}-error`);
  let input;
  if (opts.options) {
    input = h(
      "select",
      { id, name: opts.name, "aria-required": opts.required ? "true" : null },
      opts.options.map((o) => h("option", { value: o.value, text: o.label, selected: o.value === opts.value })),
    );
  } else {
    input = h("input", {
      id,
      name: opts.name,
      type: opts.type || "text",
      value: opts.value ?? "",
      autocomplete: opts.autocomplete || "off",
      inputmode: opts.inputmode,
      placeholder: opts.placeholder,
      maxlength: opts.maxlength,
      readOnly: opts.readOnly,
      spellcheck: "false",
      "aria-required": opts.required ? "true" : null,
    });
  }
  slot.controls.push(input);
  const help = opts.help ? h("p", { class: "field-help", id: `${id}-help`, text: opts.help }) : null;
  if (help) describedBy(input, help.id, true);
  // The mark «*» sits beside the label, not in it: the field's accessible name is the label's words alone
  // (aria-required says it is required).
  const label = h("div", { class: "label-row" }, h("label", { for: id }, opts.label), opts.required ? requiredMark() : null);
  let control = input;
  let toggle = null;
  if (opts.type === "password") {
    // Named by its (visually hidden) words, not aria-label: the field «Пароль» stays the one thing labelled so.
    const words = h("span", { class: "sr-only", text: t("password.show") });
    toggle = h("button", {
      type: "button",
      class: "eye",
      title: t("password.show"),
      "aria-pressed": "false",
      "aria-controls": id,
      onClick: () => {
        const shown = input.type === "password";
        input.type = shown ? "text" : "password";
        toggle.setAttribute("aria-pressed", String(shown));
        words.textContent = t(shown ? "password.hide" : "password.show");
        toggle.title = words.textContent;
        toggle.classList.toggle("eye-open", shown);
      },
    });
    toggle.append(eyeIcon(), words);
    control = h("div", { class: "input-with-button" }, input, toggle);
  }
  const el = h("div", { class: `field field-${opts.name}`, "data-field": opts.name }, label, control, slot.el, help);
  return {
    name: opts.name,
    el,
    input,
    slot,
    get value() {
      return input.value;
    },
    focus() {
      input.focus();
    },
  };
}

/** A checkbox with its label (text, or nodes such as a link) and an error slot. */
export function checkField(opts) {
  const id = uid(opts.name);
  const slot = new ErrorSlot(`${id}-error`);
  const input = h("input", { id, name: opts.name, type: "checkbox", checked: Boolean(opts.checked) });
  slot.controls.push(input);
  const el = h(
    "div",
    { class: `field field-check field-${opts.name}`, "data-field": opts.name },
    h("div", { class: "check" }, input, h("label", { for: id }, opts.label)),
    slot.el,
  );
  return {
    name: opts.name,
    el,
    input,
    slot,
    get value() {
      return input.checked;
    },
    focus() {
      input.focus();
    },
  };
}

/** A <form> of fields: `show(errors)` places UserErrors, `run(fn)` guards a submission. */
export class Form {
  constructor({ onSubmit, className = "" } = {}) {
    this.fields = new Map();
    this.alert = h("div", { class: "alert", role: "alert", "aria-live": "assertive" });
    this.el = h("form", {
      class: `form ${className}`.trim(),
      novalidate: true,
      onSubmit: (event) => {
        event.preventDefault();
        if (onSubmit) this.run(onSubmit);
      },
    });
    this.busy = false;
  }

  add(field) {
    this.fields.set(field.name, field);
    return field.el;
  }

  values() {
    const out = {};
    for (const [name, field] of this.fields) out[name] = field.value;
    return out;
  }

  clear() {
    for (const field of this.fields.values()) field.slot.set("");
    this.setAlert("");
  }

  setAlert(message) {
    this.alert.textContent = message || "";
  }

  /** Places each error under its field (or in the screen-level message); focuses the first field in error. */
  show(errors, { focus = true } = {}) {
    this.clear();
    const screen = [];
    const hintsShown = new Set();
    for (const error of errors) {
      const field = error.field ? this.fields.get(error.field) : null;
      if (!field) {
        screen.push(error.message);
        continue;
      }
      // One hint text once, under the last error that carries it (the two account errors share theirs).
      const later = errors.slice(errors.indexOf(error) + 1).some((e) => e.hint && e.hint === error.hint && this.fields.get(e.field));
      const hint = error.hint && !later && !hintsShown.has(error.hint) ? error.hint : "";
      if (hint) hintsShown.add(hint);
      const previous = field.slot.message.textContent;
      field.slot.set(previous ? `${previous} ${error.message}` : error.message, hint || field.slot.hint.textContent);
    }
    this.setAlert(screen.join(" "));
    if (focus) {
      const first = [...this.fields.values()].find((f) => f.slot.active);
      if (first) first.focus();
      else if (screen.length) this.alert.focus?.();
    }
  }

  /** Runs `fn` once at a time, the form marked busy; a gateway that cannot answer is a screen-level message. */
  async run(fn) {
    if (this.busy) return;
    // Busy, not disabled: a second press is ignored while the first is answered (and a button that is
    // disabled for its own reasons, such as «Отправить код повторно» counting down, stays so).
    this.busy = true;
    this.el.setAttribute("aria-busy", "true");
    try {
      await fn(this);
    } catch (error) {
      if (error instanceof Unavailable) {
        this.setAlert(t("common.unavailable"));
        console.warn("eirc portal:", error.message);
      } else throw error;
    } finally {
      this.busy = false;
      this.el.removeAttribute("aria-busy");
    }
  }
}

export function button(text, { kind = "primary", type = "button", onClick, id, extra } = {}) {
  return h("button", { type, class: `btn btn-${kind}`, onClick, id, ...(extra || {}) }, text);
}

export function actions(...buttons) {
  return h("div", { class: "actions" }, ...buttons);
}
