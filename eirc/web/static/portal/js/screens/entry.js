// The entry of every scenario (SPEC §1): the phone screen; and the SMS code (SPEC §2 step 2, §5).
//
// phone:  startPhone(phone, consent) → REGISTRATION / PASSWORD_RESET at CODE, or LOGIN (the login screen).
//         «Вход через портал Госуслуги» (when clientConfig.gosuslugiEnabled) → GET /auth/gosuslugi/login?portal=<tab>
//         → the provider → back at /#gosuslugi?code&state&tab, completed by app.js (gosuslugiComplete).
// code:   confirmCode(flowId, code) → ACCOUNT (registration) or PASSWORD (reset); resendCode(flowId) after
//         flow.resendAvailableInSeconds (counted down live, uiTexts code.resend_wait); cancelFlow(flowId).

import { gql, M } from "../api.js";
import { app, flowStep } from "../context.js";
import { formatPhone, h } from "../dom.js";
import { actions, button, checkField, Form, textField } from "../form.js";
import { store } from "../store.js";
import { t } from "../texts.js";
import { countdown, docLink, lead, screen, title } from "./common.js";

export function phoneScreen({ message = "" } = {}) {
  const form = new Form({ onSubmit: submit, className: "form-phone" });
  const phone = textField({
    name: "phone",
    label: t("phone.label"),
    required: true,
    type: "tel",
    inputmode: "tel",
    autocomplete: "tel",
    placeholder: t("phone.placeholder"),
    value: store.phone,
    maxlength: 40,
  });
  const consentLabel = [t("phone.consent_prefix"), docLink(t("phone.consent_link"), app.config.personalDataPolicyUrl)];
  const consent = checkField({ name: "consent", label: consentLabel, checked: false });

  async function submit() {
    store.setPhone(phone.value);
    const data = await gql(M.startPhone, { phone: phone.value, consent: consent.value });
    const payload = data.startPhone;
    if (payload.errors.length) {
      form.show(payload.errors);
      return;
    }
    store.setLogin(formatPhone(payload.flow.phone));
    store.setView(null);
    app.setFlow(payload.flow);
    app.route();
  }

  const side = [];
  if (app.config.gosuslugiEnabled) {
    // The browser endpoint binds the sign-in to this browser (its state cookie); `portal=<tab>` asks it to hand
    // the provider's answer back to the portal in the fragment, with this tab's value, which only this tab
    // keeps (docs/portal.md, «Госуслуги»). The consent on this screen covers both buttons.
    const gosuslugi = h("a", {
      href: "/auth/gosuslugi/login",
      class: "btn btn-gosuslugi",
      id: "gosuslugi",
      onClick: (event) => {
        event.preventDefault();
        if (!consent.value) {
          form.show([{ code: "CONSENT_REQUIRED", field: "consent", message: t("error.CONSENT_REQUIRED") }]);
          return;
        }
        const tab = randomTab();
        // Storage disabled: the tab could not check the answer, so the gateway's own page finishes it.
        const kept = store.setGosuslugiTab(tab);
        location.assign(kept ? `/auth/gosuslugi/login?portal=${tab}` : "/auth/gosuslugi/login");
      },
    });
    gosuslugi.append(h("span", { class: "gosuslugi-mark", "aria-hidden": "true" }), h("span", { text: t("phone.gosuslugi") }));
    side.push(gosuslugi);
  }

  form.el.append(
    form.alert,
    form.add(phone),
    form.add(consent),
    actions(button(t("phone.next"), { type: "submit" })),
  );
  form.setAlert(message);
  const toLogin = h("p", { class: "aside" }, h("button", {
    type: "button",
    class: "link",
    text: t("phone.login_link"),
    onClick: () => {
      store.setView("login");
      app.route();
    },
  }));
  return screen("phone", t("phone.title"), [title(t("phone.title")), form.el, toLogin], { side });
}

/** 24 random bytes, base64url (32 characters): the value that ties a Госуслуги answer to this tab. */
function randomTab() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function codeScreen({ message = "" } = {}) {
  const flow = app.flow;
  const form = new Form({ onSubmit: confirm, className: "form-code" });
  const phone = textField({
    name: "phone",
    label: t("code.phone_label"),
    required: true,
    type: "tel",
    value: formatPhone(flow.phone),
    readOnly: true,
  });
  form.add(phone);
  let code = null;
  if (!flow.phoneVerified) {
    code = textField({
      name: "code",
      label: t("code.label"),
      required: true,
      inputmode: "numeric",
      autocomplete: "one-time-code",
      maxlength: app.config.codeLength,
    });
    code.input.setAttribute("pattern", "[0-9]*");
    code.input.setAttribute("data-autofocus", "");
    code.input.classList.add("input-code");
  }

  async function confirm() {
    await flowStep(form, "confirmCode", { code: code ? code.value.trim() : "" });
  }

  // «Отправить код повторно»: a link-styled button, disabled while the countdown runs; the hint counts down.
  const resend = h("button", { type: "button", class: "link", id: "resend", text: t("code.resend") });
  const wait = h("p", { class: "wait", id: "resend-wait" });
  let stop = () => {};
  function startCountdown(seconds) {
    stop();
    resend.disabled = seconds > 0;
    resend.setAttribute("aria-describedby", wait.id);
    stop = countdown(
      seconds,
      (left) => {
        resend.disabled = true;
        wait.hidden = false;
        wait.textContent = t("code.resend_wait", { seconds: left });
      },
      () => {
        resend.disabled = false;
        wait.hidden = true;
        wait.textContent = "";
      },
    );
  }
  resend.addEventListener("click", () =>
    form.run(async () => {
      const data = await gql(M.resendCode, { flowId: app.flow.id });
      const payload = data.resendCode;
      if (payload.flow) app.flow = payload.flow;
      if (payload.errors.length) {
        const restart = payload.errors.find((e) => e.code === "FLOW_NOT_FOUND" || e.code === "FLOW_EXPIRED");
        if (restart) {
          app.setFlow(null);
          app.route({ message: restart.message });
          return;
        }
        // RESEND_TOO_EARLY is the countdown itself: it is drawn again from the flow, not shown twice.
        form.show(payload.errors.filter((e) => e.code !== "RESEND_TOO_EARLY"));
      } else {
        form.clear();
        code?.input.focus();
      }
      if (payload.flow) startCountdown(payload.flow.resendAvailableInSeconds);
    }),
  );

  const cancel = button(t("code.cancel"), {
    kind: "secondary",
    onClick: () =>
      form.run(async () => {
        const data = await gql(M.cancelFlow, { flowId: app.flow.id });
        app.setFlow(null);
        const failed = data.cancelFlow.errors.find((e) => e.code !== "FLOW_NOT_FOUND" && e.code !== "FLOW_EXPIRED");
        app.route({ message: failed ? failed.message : "" });
      }),
  });

  const resendBlock = code ? h("div", { class: "resend" }, resend, wait) : null;
  form.el.append(
    form.alert,
    phone.el,
    code ? form.add(code) : h("p", { class: "verified", text: t("code.phone_verified") }),
    resendBlock,
    actions(button(t("code.confirm"), { type: "submit" }), cancel),
  );
  form.setAlert(message);
  if (code) startCountdown(flow.resendAvailableInSeconds);
  return screen("code", t("code.title"), [title(t("code.title")), lead(t("code.hint")), form.el], {
    cleanup: () => stop(),
  });
}
