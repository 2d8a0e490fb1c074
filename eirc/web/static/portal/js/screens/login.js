// «Вход: логин и пароль» (SPEC §4) and «Я забыл пароль» (§5).
//
// login:  login(login, password) → a session (kept in the tab, store.js) and the profile
// forgot: forgotPassword(login) → PASSWORD_RESET at CODE → the code screen → the new password → back here
// «Отмена» → the phone screen.

import { gql, M } from "../api.js";
import { app } from "../context.js";
import { h } from "../dom.js";
import { actions, button, Form, textField } from "../form.js";
import { store } from "../store.js";
import { t } from "../texts.js";
import { lead, screen, title } from "./common.js";

export function loginScreen({ login: prefill = "", message = "" } = {}) {
  const form = new Form({ onSubmit: submit, className: "form-login" });
  const login = textField({
    name: "login",
    label: t("login.login_label"),
    required: true,
    autocomplete: "username",
    value: prefill,
    maxlength: 254,
  });
  const password = textField({
    name: "password",
    label: t("login.password_label"),
    required: true,
    type: "password",
    autocomplete: "current-password",
    maxlength: 256,
  });
  (prefill ? password : login).input.setAttribute("data-autofocus", "");

  async function submit() {
    store.setLogin(login.value);
    const data = await gql(M.login, { login: login.value, password: password.value });
    const payload = data.login;
    if (payload.errors.length) {
      form.show(payload.errors);
      return;
    }
    app.signedIn(payload.session, payload.profile);
    app.route();
  }

  const forgot = h("button", {
    type: "button",
    class: "link",
    id: "forgot",
    text: t("login.forgot"),
    onClick: () =>
      form.run(async () => {
        store.setLogin(login.value);
        const data = await gql(M.forgotPassword, { login: login.value });
        const payload = data.forgotPassword;
        if (payload.errors.length) {
          form.show(payload.errors);
          return;
        }
        store.setView(null);
        app.setFlow(payload.flow);
        app.route();
      }),
  });

  const cancel = button(t("login.cancel"), {
    kind: "secondary",
    onClick: () => {
      store.setView(null);
      app.route();
    },
  });

  form.el.append(
    form.alert,
    form.add(login),
    form.add(password),
    h("p", { class: "forgot" }, forgot),
    actions(button(t("login.submit"), { type: "submit" }), cancel),
  );
  form.setAlert(message);
  return screen("login", t("login.title"), [title(t("login.title")), lead(t("login.text")), form.el]);
}
