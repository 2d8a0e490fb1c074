// The connection request (SPEC §3): the invite, the form, «Заявка принята».
//
// invite:   «Отправить заявку» → openConnectionRequest(flowId) → CONNECTION_REQUEST; «Отмена» → the account
//           screen again (the flow stays at ACCOUNT: the resident may still type the bill's data)
// form:     submitConnectionRequest(flowId, …) → DONE → «Заявка принята»; «Назад» → goBack(flowId) → ACCOUNT
// accepted: «Назад» → the phone screen

import { gql, M } from "../api.js";
import { app, flowStep } from "../context.js";
import { h } from "../dom.js";
import { actions, button, checkField, Form, textField } from "../form.js";
import { store } from "../store.js";
import { t } from "../texts.js";
import { docLink, lead, screen, title } from "./common.js";
import { nameFields } from "./registration.js";

export function inviteScreen({ message = "" } = {}) {
  const form = new Form({
    className: "form-invite",
    onSubmit: () =>
      flowStep(form, "openConnectionRequest", {}, {
        onSuccess: (payload) => {
          store.setView(null);
          app.setFlow(payload.flow);
          app.route();
        },
      }),
  });
  const cancel = button(t("request.cancel"), {
    kind: "secondary",
    onClick: () => {
      store.setView(null);
      app.route();
    },
  });
  form.el.append(form.alert, actions(button(t("request.send"), { type: "submit" }), cancel));
  form.setAlert(message);
  return screen("invite", t("request.not_found"), [
    title(t("request.not_found")),
    lead(t("request.invite")),
    form.el,
  ]);
}

export function requestScreen({ message = "" } = {}) {
  const data = app.flow.data || {};
  const form = new Form({ onSubmit: submit, className: "form-request" });
  const [lastName, firstName, middleName] = nameFields("request", data);
  const address = textField({
    name: "address",
    label: t("request.address"),
    required: true,
    autocomplete: "street-address",
    placeholder: t("request.address_placeholder"),
    maxlength: 500,
  });
  const flat = textField({ name: "flat", label: t("request.flat"), maxlength: 20 });
  const email = textField({
    name: "email",
    label: t("request.email"),
    required: true,
    type: "email",
    inputmode: "email",
    autocomplete: "email",
    value: data.email,
    help: t("request.email_hint"),
    maxlength: 254,
  });
  const notifications = checkField({
    name: "emailNotifications",
    label: t("request.notifications"),
    checked: data.emailNotifications ?? false,
  });

  async function submit() {
    const answer = await gql(M.submitConnectionRequest, {
      flowId: app.flow.id,
      lastName: lastName.value,
      firstName: firstName.value,
      middleName: middleName.value.trim() ? middleName.value : null,
      address: address.value,
      flat: flat.value.trim() ? flat.value : null,
      email: email.value,
      emailNotifications: notifications.value,
    });
    const payload = answer.submitConnectionRequest;
    if (payload.errors.length) {
      const restart = payload.errors.find((e) => e.code === "FLOW_NOT_FOUND" || e.code === "FLOW_EXPIRED");
      if (restart) {
        app.setFlow(null);
        app.route({ message: restart.message });
      } else form.show(payload.errors);
      return;
    }
    app.setFlow(null);
    store.setView("accepted");
    app.show(acceptedScreen({ title: payload.title, text: payload.message }));
  }

  form.el.append(
    form.alert,
    form.add(lastName),
    form.add(firstName),
    form.add(middleName),
    form.add(address),
    form.add(flat),
    form.add(email),
    form.add(notifications),
    h("p", { class: "terms" }, t("personal.terms_prefix"), docLink(t("personal.terms_link"), app.config.termsUrl)),
    actions(
      button(t("request.send"), { type: "submit" }),
      button(t("request.back"), { kind: "secondary", onClick: () => form.run(() => flowStep(form, "goBack")) }),
    ),
  );
  form.setAlert(message);
  return screen("request", t("request.title"), [
    title(t("request.title")),
    lead(t("request.text")),
    form.el,
    h("p", { class: "notice", text: t("registration.domopult_notice") }),
  ]);
}

export function acceptedScreen({ title: heading, text } = {}) {
  const back = button(t("request.back"), {
    kind: "secondary",
    onClick: () => {
      store.setView(null);
      app.route();
    },
  });
  const titleText = heading || t("request.accepted_title");
  return screen("accepted", titleText, [
    h("div", { class: "success-mark", "aria-hidden": "true" }),
    title(titleText),
    lead(text || t("request.accepted_text")),
    actions(back),
  ]);
}
