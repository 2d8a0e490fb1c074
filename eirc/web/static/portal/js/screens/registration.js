// The registration steps (SPEC §2) and the new password (§5), each one mutation of the flow:
//
// account:  proveAccount(flowId, period, accountNumber, amountDue) → ADDRESS; «Заявка» → the invite screen
// address:  confirmAddress(flowId) → PERSONAL
// personal: setPersonalData(flowId, lastName, firstName, middleName, birthDate, email, emailNotifications) → PASSWORD
// password: setPassword(flowId, password) → signed in (registration) or the login screen (reset)
// «Назад» everywhere: goBack(flowId), the screen prefilled from flow.data.

import { gql, M } from "../api.js";
import { app, flowStep } from "../context.js";
import { h } from "../dom.js";
import { actions, button, checkField, Form, textField } from "../form.js";
import { store } from "../store.js";
import { t } from "../texts.js";
import { docLink, lead, progress, screen, title } from "./common.js";

function backButton(form, key) {
  return button(t(key), { kind: "secondary", onClick: () => form.run(() => flowStep(form, "goBack")) });
}

export function accountScreen({ message = "" } = {}) {
  const data = app.flow.data || {};
  const form = new Form({ onSubmit: submit, className: "form-account" });
  const period = textField({
    name: "period",
    label: t("account.period_label"),
    required: true,
    options: app.periods,
    value: data.period || app.periods[0]?.value,
  });
  const number = textField({
    name: "accountNumber",
    label: t("account.number_label"),
    required: true,
    inputmode: "numeric",
    value: data.accountNumber,
    maxlength: 40,
  });
  const amount = textField({
    name: "amountDue",
    label: t("account.amount_label"),
    required: true,
    inputmode: "decimal",
    value: data.amountDue,
    maxlength: 40,
  });
  // «Заявка» is offered with an account error (its hint says so, SPEC §2 step 3).
  const request = button(t("account.request"), {
    kind: "secondary",
    id: "open-request",
    onClick: () => {
      store.setView("invite");
      app.route();
    },
  });
  request.hidden = true;

  async function submit() {
    const payload = await flowStep(form, "proveAccount", {
      period: period.value,
      accountNumber: number.value,
      amountDue: amount.value,
    });
    if (payload && payload.errors.some((e) => e.hint) && request.isConnected) request.hidden = false;
  }

  form.el.append(
    form.alert,
    form.add(period),
    form.add(number),
    form.add(amount),
    actions(button(t("account.next"), { type: "submit" }), backButton(form, "account.back"), request),
  );
  form.setAlert(message);
  return screen("account", t("account.title"), [
    title(t("account.title")),
    progress(0),
    lead(t("account.text")),
    form.el,
  ]);
}

export function addressScreen({ message = "" } = {}) {
  const form = new Form({ onSubmit: () => flowStep(form, "confirmAddress"), className: "form-address" });
  form.el.append(
    form.alert,
    h("p", { class: "address-found", id: "found-address", text: app.flow.address || "" }),
    actions(button(t("address.yes"), { type: "submit" }), backButton(form, "address.back")),
  );
  form.setAlert(message);
  return screen("address", t("address.question"), [
    progress(0),
    title(t("address.question")),
    form.el,
  ]);
}

/** The fields of a person (personal data, and the connection request): Фамилия*, Имя*, Отчество. */
export function nameFields(prefix, data) {
  return [
    textField({ name: "lastName", label: t(`${prefix}.last_name`), required: true, autocomplete: "family-name", value: data.lastName, maxlength: 100 }),
    textField({ name: "firstName", label: t(`${prefix}.first_name`), required: true, autocomplete: "given-name", value: data.firstName, maxlength: 100 }),
    textField({ name: "middleName", label: t(`${prefix}.middle_name`), autocomplete: "additional-name", value: data.middleName, maxlength: 100 }),
  ];
}

export function personalScreen({ message = "" } = {}) {
  const data = app.flow.data || {};
  const form = new Form({ onSubmit: submit, className: "form-personal" });
  const [lastName, firstName, middleName] = nameFields("personal", data);
  const birthDate = textField({
    name: "birthDate",
    label: t("personal.birth_date"),
    type: "date",
    autocomplete: "bday",
    value: data.birthDate,
  });
  birthDate.input.setAttribute("min", "1900-01-01");
  birthDate.input.setAttribute("max", new Date().toISOString().slice(0, 10));
  const email = textField({
    name: "email",
    label: t("personal.email"),
    required: true,
    type: "email",
    inputmode: "email",
    autocomplete: "email",
    value: data.email,
    help: t("personal.email_hint"),
    maxlength: 254,
  });
  const notifications = checkField({
    name: "emailNotifications",
    label: t("personal.notifications"),
    checked: data.emailNotifications ?? false,
  });

  async function submit() {
    await flowStep(form, "setPersonalData", {
      lastName: lastName.value,
      firstName: firstName.value,
      middleName: middleName.value.trim() ? middleName.value : null,
      birthDate: birthDate.value || null,
      email: email.value,
      emailNotifications: notifications.value,
    });
  }

  form.el.append(
    form.alert,
    form.add(lastName),
    form.add(firstName),
    form.add(middleName),
    form.add(birthDate),
    form.add(email),
    form.add(notifications),
    h("p", { class: "terms" }, t("personal.terms_prefix"), docLink(t("personal.terms_link"), app.config.termsUrl)),
    actions(button(t("personal.next"), { type: "submit" }), backButton(form, "personal.back")),
  );
  form.setAlert(message);
  return screen("personal", t("personal.title"), [
    title(t("personal.title")),
    progress(1),
    lead(t("personal.text")),
    form.el,
    h("p", { class: "notice", text: t("registration.domopult_notice") }),
  ]);
}

const LETTERS_AND_DIGITS = /^[A-Za-zА-Яа-яЁё0-9]*$/;
const REPEATED_DIGITS = /([0-9])\1/;

/** The rules a password breaks, as the server checks them (eirc/domain/password.py), for the live ticks. */
function brokenRules(password) {
  const text = password.normalize("NFC");
  const broken = new Set();
  if ([...text].length < app.config.passwordMinLength) broken.add("MIN_LENGTH");
  if (!LETTERS_AND_DIGITS.test(text)) broken.add("LETTERS_AND_DIGITS_ONLY");
  if (REPEATED_DIGITS.test(text)) broken.add("NO_REPEATED_ADJACENT_DIGITS");
  return broken;
}

export function passwordScreen({ message = "" } = {}) {
  const flow = app.flow;
  const registering = flow.kind === "REGISTRATION";
  const form = new Form({ onSubmit: submit, className: "form-password" });
  const password = textField({
    name: "password",
    label: t("password.label"),
    required: true,
    type: "password",
    autocomplete: "new-password",
    maxlength: 256,
  });
  password.input.setAttribute("data-autofocus", "");

  // The rules, ticking as the resident types; the server's failedRules mark them after a refusal.
  const items = new Map();
  const list = h(
    "ul",
    { class: "rules", id: `${password.input.id}-rules` },
    app.rules.map((rule) => {
      const state = h("span", { class: "sr-only rule-state" });
      const li = h("li", { class: "rule", "data-rule": rule }, h("span", { class: "rule-mark", "aria-hidden": "true" }), h("span", { text: t(`password.rule.${rule}`) }), state);
      items.set(rule, { li, state });
      return li;
    }),
  );
  const help = password.input.getAttribute("aria-describedby");
  password.input.setAttribute("aria-describedby", [help, list.id].filter(Boolean).join(" "));

  function mark(broken, { typed }) {
    for (const [rule, { li, state }] of items) {
      const bad = broken.has(rule);
      li.classList.toggle("ok", typed && !bad);
      li.classList.toggle("bad", typed && bad);
      state.textContent = typed ? ` — ${t(bad ? "password.rule_unmet" : "password.rule_met")}` : "";
    }
  }
  password.input.addEventListener("input", () => {
    const value = password.input.value;
    mark(brokenRules(value), { typed: value.length > 0 });
  });

  async function submit() {
    const data = await gql(M.setPassword, { flowId: app.flow.id, password: password.value });
    const payload = data.setPassword;
    const errors = payload.errors || [];
    if (!errors.length) {
      if (payload.session) {
        app.signedIn(payload.session, payload.profile);
        app.route();
      } else {
        app.setFlow(payload.flow);
        app.route();
      }
      return;
    }
    const restart = errors.find((e) => e.code === "FLOW_NOT_FOUND" || e.code === "FLOW_EXPIRED");
    if (restart) {
      app.setFlow(null);
      app.route({ message: restart.message });
      return;
    }
    if (payload.flow && payload.flow.step !== app.flow.step) {
      app.setFlow(payload.flow);
      app.route({ message: errors.map((e) => e.message).join(" ") });
      return;
    }
    form.show(errors);
    const weak = errors.find((e) => e.code === "WEAK_PASSWORD");
    if (weak && weak.failedRules) mark(new Set(weak.failedRules), { typed: true });
  }

  const submitText = registering ? t("password.register") : t("password.save_and_login");
  form.el.append(
    form.alert,
    form.add(password),
    list,
    actions(button(submitText, { type: "submit" }), backButton(form, "password.back")),
  );
  form.setAlert(message);
  return screen("password", t("password.title"), [
    title(t("password.title")),
    registering ? progress(2) : null,
    lead(t("password.text")),
    form.el,
  ]);
}

