// Pieces every screen is made of: the title, the lead text, the registration progress indicator, a countdown.

import { h } from "../dom.js";
import { t } from "../texts.js";

export function title(text) {
  return h("h1", { class: "title", tabindex: "-1", text });
}

export function lead(text) {
  return h("p", { class: "lead", text });
}

/** A link to a document when its URL is configured (clientConfig), else the words alone. */
export function docLink(text, url) {
  if (!url) return h("span", { class: "doc", text });
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text });
}

const STEPS = ["progress.account", "progress.personal", "progress.password"];

/** «Лицевой счет — Имя, e-mail — Пароль», `current` 0…2 marked (aria-current), the earlier ones done. */
export function progress(current) {
  return h(
    "ol",
    // Its name is a title, not aria-label: «Лицевой счет», «Пароль» stay the names of the fields alone.
    { class: "progress", title: t("progress.all") },
    STEPS.map((key, index) =>
      h(
        "li",
        {
          class: index < current ? "done" : index === current ? "current" : "",
          "aria-current": index === current ? "step" : null,
        },
        h("span", { class: "progress-dot", "aria-hidden": "true" }),
        h("span", { class: "progress-label", text: t(key) }),
      ),
    ),
  );
}

/**
 * Counts down from `seconds`, calling `tick(left)` every second and `done()` at 0. Returns a stop function.
 * The end time is fixed at start, so a tab in the background (timers slowed) still shows the truth.
 */
export function countdown(seconds, tick, done) {
  const end = Date.now() + Math.max(0, seconds) * 1000;
  let timer = null;
  const step = () => {
    const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    if (left > 0) tick(left);
    else {
      stop();
      done();
    }
  };
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  if (seconds > 0) {
    timer = setInterval(step, 250);
  }
  step();
  return stop;
}

export function screen(view, titleText, children, extra = {}) {
  const node = h("section", { class: `screen screen-${view}`, "aria-labelledby": null }, ...children);
  return { view, title: titleText, node, ...extra };
}
