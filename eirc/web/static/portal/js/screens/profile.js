// «Мой профиль» (SPEC §8) and «Регистрация нового адреса», on the signed-in session:
//
//   me                                   the profile (read at boot; every mutation answers the new one)
//   resendConfirmationEmail              «Отправить письмо ещё раз» (me.confirmationLetterAvailableInSeconds)
//   updateProfile(emailNotifications)    the notifications switch
//   addAddress(period, accountNumber, amountDue)   «+» → the dialog → «Добавить»
//   setPrimaryAddress(addressId)         «Сделать основным»
//   setEbill(addressId, enabled)         «Электронная платежка» of an address
//   removeAddress(addressId)             «Удалить адрес» (confirmed in a dialog; not offered for the last one)
//   logout                               «Выйти» (the session ends on the server)

import { gql, M } from "../api.js";
import { app, profileAction } from "../context.js";
import { formatPhone, h, uid } from "../dom.js";
import { actions, button, checkField, ErrorSlot, Form, textField } from "../form.js";
import { store } from "../store.js";
import { t } from "../texts.js";
import { countdown, screen, title } from "./common.js";

/** Draws the profile again (after a change) without moving the page; then focuses `focus` and places `errors`. */
function redraw({ focus = null, errors = [], addressId = null, emailNote = "", message = "" } = {}) {
  const next = profileScreen({ emailNote, message });
  app.show(next, { focus: false, scroll: false });
  if (errors.length) next.place(errors, addressId);
  const target = focus && next.node.querySelector(focus);
  if (target) target.focus();
}

function initials(profile) {
  return [profile.lastName, profile.firstName].map((part) => (part || "").trim().charAt(0)).join("").toUpperCase();
}

export function profileScreen({ message = "", emailNote = "" } = {}) {
  const profile = app.profile;
  const alert = h("div", { class: "alert", role: "alert", "aria-live": "assertive", text: message });
  const busy = { on: false };
  const stops = [];

  /** One profile action at a time; `place` puts its errors where they belong. */
  async function act(name, variables, { focus, addressId, onDone } = {}) {
    if (busy.on) return;
    busy.on = true;
    alert.textContent = "";
    try {
      const payload = await profileAction(name, variables, () => {});
      if (!payload) return;
      if (onDone) onDone(payload);
      else redraw({ focus, errors: payload.errors, addressId });
    } catch (error) {
      alert.textContent = t("common.unavailable");
      console.warn("eirc portal:", error.message);
    } finally {
      busy.on = false;
    }
  }

  // --- the person -------------------------------------------------------------------------------------
  const fullName = [profile.lastName, profile.firstName, profile.middleName].filter(Boolean).join(" ");
  const person = h(
    "div",
    { class: "person" },
    h("span", { class: "avatar", "aria-hidden": "true", text: initials(profile) }),
    h("h2", { class: "person-name", id: "person-name", text: fullName }),
  );

  const emailSlot = new ErrorSlot(uid("email-error"));
  const emailBlock = h("div", { class: "profile-row profile-email" }, h("dt", { text: t("profile.email") }));
  const emailValue = h("dd", {}, h("span", { class: "value", id: "profile-email", text: profile.email || "—" }));
  if (profile.email) {
    emailValue.append(
      h("span", {
        class: `badge ${profile.emailConfirmed ? "badge-ok" : "badge-warn"}`,
        id: "email-status",
        text: t(profile.emailConfirmed ? "profile.email_confirmed" : "profile.email_unconfirmed"),
      }),
    );
  }
  if (profile.email && !profile.emailConfirmed) {
    const resend = h("button", { type: "button", class: "link", id: "resend-email", text: t("profile.resend_email") });
    const wait = h("p", { class: "wait", id: "resend-email-wait" });
    const note = h("p", { class: "status", role: "status", id: "email-note", text: emailNote });
    resend.setAttribute("aria-describedby", `${wait.id} ${emailSlot.id}`);
    emailSlot.controls.push(resend);
    stops.push(
      countdown(
        profile.confirmationLetterAvailableInSeconds,
        (left) => {
          resend.disabled = true;
          wait.hidden = false;
          wait.textContent = t("profile.resend_email_wait", { seconds: left });
        },
        () => {
          resend.disabled = false;
          wait.hidden = true;
        },
      ),
    );
    resend.addEventListener("click", () =>
      act("resendConfirmationEmail", {}, {
        onDone: (payload) => {
          const sent = !payload.errors.length;
          redraw({
            focus: "#resend-email",
            errors: payload.errors,
            emailNote: sent ? t("profile.email_sent", { email: app.profile.email }) : "",
          });
        },
      }),
    );
    emailValue.append(h("div", { class: "resend" }, resend, wait), note);
  }
  emailValue.append(emailSlot.el);
  emailBlock.append(emailValue);

  const details = h(
    "dl",
    { class: "profile-details" },
    h("div", { class: "profile-row" }, h("dt", { text: t("profile.phone") }), h("dd", { class: "value", id: "profile-phone", text: formatPhone(profile.phone) })),
    emailBlock,
  );

  const notifications = checkField({
    name: "emailNotifications",
    label: t("profile.notifications"),
    checked: profile.emailNotifications,
  });
  notifications.input.id = "profile-notifications";
  notifications.el.querySelector("label").setAttribute("for", "profile-notifications");
  notifications.input.addEventListener("change", () =>
    act("setNotifications", { enabled: notifications.input.checked }, { focus: "#profile-notifications" }),
  );

  let gosuslugi = null;
  if (profile.gosuslugiLinked || app.config.gosuslugiEnabled) {
    gosuslugi = h(
      "div",
      { class: "gosuslugi-status", id: "gosuslugi-status" },
      h("span", { class: "gosuslugi-word", text: t("profile.gosuslugi") }),
      h("span", {
        class: profile.gosuslugiLinked ? "badge badge-ok" : "badge",
        text: t(profile.gosuslugiLinked ? "profile.gosuslugi_linked" : "profile.gosuslugi_not_linked"),
      }),
    );
  }

  // --- the addresses --------------------------------------------------------------------------------------
  const slots = new Map(); // address id → its e-bill error slot
  const several = profile.addresses.length > 1;
  const list = h(
    "ol",
    { class: "addresses", id: "addresses" },
    profile.addresses.map((address) => {
      const headingId = `address-${address.id}-title`;
      const ebill = checkField({ name: "ebill", label: t("profile.ebill"), checked: address.ebill || address.ebillPaused });
      ebill.input.id = `ebill-${address.id}`;
      ebill.el.querySelector("label").setAttribute("for", ebill.input.id);
      ebill.input.addEventListener("change", () =>
        act("setEbill", { addressId: address.id, enabled: ebill.input.checked }, { focus: `#${CSS.escape(ebill.input.id)}`, addressId: address.id }),
      );
      slots.set(address.id, ebill.slot);
      const paused = address.ebillPaused ? h("p", { class: "field-help", text: t("profile.ebill_paused") }) : null;
      const primary = address.primary
        ? h("span", { class: "badge badge-ok primary-mark", text: t("profile.primary") })
        : h("button", {
            type: "button",
            class: "link make-primary",
            text: t("profile.make_primary"),
            onClick: () => act("setPrimaryAddress", { addressId: address.id }, { focus: `#${CSS.escape(headingId)}` }),
          });
      const remove = several
        ? h("button", {
            type: "button",
            class: "link link-danger remove-address",
            text: t("profile.remove_address"),
            onClick: () => confirmRemoval(address),
          })
        : null;
      return h(
        "li",
        { class: `address${address.primary ? " is-primary" : ""}`, "data-address-id": address.id, "data-account": address.accountNumber },
        h(
          "div",
          { role: "group", "aria-labelledby": headingId, class: "address-body" },
          h("h3", { class: "address-title", id: headingId, tabindex: "-1", text: t("profile.address_n", { number: address.number }) }),
          h("p", { class: "address-text", text: address.text }),
          h("p", { class: "address-account" }, `${t("account.number_label")}: `, h("span", { text: address.accountNumber })),
          h("div", { class: "address-actions" }, primary, remove),
          ebill.el,
          paused,
        ),
      );
    }),
  );

  // «+», as in the seed; «Добавить адрес» is its title (the description a screen reader adds).
  const add = h("button", {
    type: "button",
    class: "btn-add",
    id: "add-address",
    title: t("profile.add_address_label"),
    text: t("profile.add_address"),
    onClick: () => openAddAddress(),
  });

  // --- «Регистрация нового адреса» ---------------------------------------------------------------------------
  const addDialog = h("dialog", { class: "dialog", id: "add-address-dialog", "aria-labelledby": "add-address-title" });
  function openAddAddress() {
    const form = new Form({ onSubmit: submit, className: "form-add-address" });
    const period = textField({
      name: "period",
      label: t("add_address.period_label"),
      required: true,
      options: app.periods,
      value: app.periods[0]?.value,
    });
    const number = textField({ name: "accountNumber", label: t("add_address.number_label"), required: true, inputmode: "numeric", maxlength: 40 });
    const amount = textField({ name: "amountDue", label: t("add_address.amount_label"), required: true, inputmode: "decimal", maxlength: 40 });
    async function submit() {
      const before = new Set(app.profile.addresses.map((a) => a.id));
      const payload = await profileAction("addAddress", { period: period.value, accountNumber: number.value, amountDue: amount.value }, (errors) => form.show(errors));
      if (!payload || payload.errors.length) return;
      addDialog.close();
      const added = app.profile.addresses.find((a) => !before.has(a.id));
      redraw({ focus: added ? `#${CSS.escape(`address-${added.id}-title`)}` : "#addresses" });
    }
    form.el.append(form.alert, form.add(period), form.add(number), form.add(amount), actions(button(t("add_address.submit"), { type: "submit" })));
    addDialog.replaceChildren(
      h(
        "div",
        { class: "dialog-head" },
        h("h2", { id: "add-address-title", text: t("add_address.title") }),
        h("button", { type: "button", class: "close", "aria-label": t("common.close"), title: t("common.close"), text: "✕", onClick: () => addDialog.close() }),
      ),
      h("p", { class: "lead", text: t("add_address.text") }),
      form.el,
    );
    addDialog.showModal();
    number.input.focus();
  }
  addDialog.addEventListener("close", () => {
    if (addDialog.isConnected && !addDialog.open) add.focus();
  });

  // --- removal, confirmed ---------------------------------------------------------------------------------
  const removeDialog = h("dialog", { class: "dialog dialog-small", id: "remove-address-dialog", "aria-labelledby": "remove-address-title" });
  function confirmRemoval(address) {
    const yes = button(t("profile.remove_address"), {
      kind: "danger",
      onClick: () => {
        removeDialog.close();
        act("removeAddress", { addressId: address.id }, { focus: "#addresses-title" });
      },
    });
    const no = button(t("common.cancel"), { kind: "secondary", onClick: () => removeDialog.close() });
    removeDialog.replaceChildren(
      h("h2", { id: "remove-address-title", text: t("profile.remove_confirm") }),
      h("p", { class: "lead" }, h("strong", { text: t("profile.address_n", { number: address.number }) }), h("br"), address.text),
      actions(yes, no),
    );
    removeDialog.showModal();
    no.focus();
  }

  // --- signing out ------------------------------------------------------------------------------------------
  async function signOut() {
    try {
      await gql(M.logout);
    } catch (error) {
      console.warn("eirc portal: sign-out:", error.message);
    }
    app.signedOut();
    store.setView(null);
    app.route();
  }
  const logout = button(t("profile.logout"), { kind: "secondary", id: "logout", onClick: () => signOut() });

  const node = [
    title(t("profile.title")),
    alert,
    person,
    details,
    notifications.el,
    gosuslugi,
    h(
      "div",
      { class: "addresses-head" },
      h("h2", { id: "addresses-title", tabindex: "-1", text: t("profile.addresses") }),
      add,
    ),
    list,
    addDialog,
    removeDialog,
  ];
  const view = screen("profile", t("profile.title"), node, {
    side: [logout],
    cleanup: () => stops.forEach((stop) => stop()),
  });

  /** Errors of an action: `ebill` under that address's switch, `email` under the e-mail, the rest on top. */
  view.place = (errors, addressId) => {
    const top = [];
    for (const error of errors) {
      if (error.field === "ebill" && addressId && slots.has(addressId)) slots.get(addressId).set(error.message);
      else if (error.field === "email") emailSlot.set(error.message);
      else top.push(error.message);
    }
    alert.textContent = top.join(" ");
  };
  return view;
}
