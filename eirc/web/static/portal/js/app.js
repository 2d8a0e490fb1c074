// The reference portal (docs/portal.md): boots from one GraphQL query, then draws the screen the state calls for.
//
// State lives on the server (the flow, the session); the tab keeps only their handles (store.js). On load the
// portal reads the texts, the settings, the billing periods and the password rules — and, when the tab holds
// them, `me` and `flow(id)` — in one request, and resumes where the resident was.
//
// «Вход через портал Госуслуги» comes back as /#gosuslugi?code&state&tab (or ?error=cancelled&tab): the address
// is cleaned at once, and after the boot query the answer is completed with gosuslugiComplete — only when `tab`
// is the value this tab kept when it started the sign-in (docs/portal.md, «Госуслуги»).

import { BOOT, gql, M } from "./api.js";
import { app } from "./context.js";
import { formatPhone, h } from "./dom.js";
import { acceptedScreen, inviteScreen, requestScreen } from "./screens/request.js";
import { codeScreen, phoneScreen } from "./screens/entry.js";
import { loginScreen } from "./screens/login.js";
import { profileScreen } from "./screens/profile.js";
import { accountScreen, addressScreen, passwordScreen, personalScreen } from "./screens/registration.js";
import { store } from "./store.js";
import { loadTexts, t } from "./texts.js";

const GOSUSLUGI_HANDOFF = "#gosuslugi?";

/** The Госуслуги answer in the address, taken out of it (and out of the history entry) before anything else. */
function takeGosuslugiHandoff() {
  if (!location.hash.startsWith(GOSUSLUGI_HANDOFF)) return null;
  const params = new URLSearchParams(location.hash.slice(GOSUSLUGI_HANDOFF.length));
  history.replaceState(null, "", location.pathname + location.search);
  return { params, expected: store.takeGosuslugiTab() };
}

const handoff = takeGosuslugiHandoff();

const main = document.getElementById("app");
const side = document.getElementById("topbar-side");
let current = null;

function show(screen, { focus = true, scroll = true } = {}) {
  if (current && current.cleanup) current.cleanup();
  current = screen;
  main.replaceChildren(screen.node);
  main.removeAttribute("aria-busy");
  side.replaceChildren(...(screen.side || []));
  document.title = `${screen.title} — ${t("brand.product")}`;
  document.body.dataset.screen = screen.view;
  if (location.hash !== `#${screen.view}`) history.replaceState(null, "", `#${screen.view}`);
  if (focus) {
    const target = screen.node.querySelector("[data-autofocus]") || screen.node.querySelector("h1");
    target?.focus();
  }
  if (scroll) window.scrollTo(0, 0);
}

const FLOW_SCREENS = {
  CODE: codeScreen,
  ACCOUNT: accountScreen,
  ADDRESS: addressScreen,
  PERSONAL: personalScreen,
  PASSWORD: passwordScreen,
  CONNECTION_REQUEST: requestScreen,
};

function route({ message = "", focus = true } = {}) {
  if (app.profile && store.token) {
    show(profileScreen({ message }), { focus });
    return;
  }
  app.profile = null;
  const flow = app.flow;
  if (flow) {
    if (flow.step === "LOGIN") {
      // A registered number (LOGIN flow), or a new password saved (reset): the login screen, login prefilled.
      const login =
        flow.kind === "PASSWORD_RESET" && store.login ? store.login : formatLogin(flow.phone) || store.login;
      app.setFlow(null);
      store.setLogin(login);
      store.setView("login");
      show(loginScreen({ login, message }), { focus });
      return;
    }
    if (flow.step === "DONE") {
      app.setFlow(null);
      store.setView("accepted");
      show(acceptedScreen(), { focus });
      return;
    }
    if (flow.step === "ACCOUNT" && store.view === "invite") {
      show(inviteScreen({ message }), { focus });
      return;
    }
    const screen = FLOW_SCREENS[flow.step];
    if (screen) {
      show(screen({ message }), { focus });
      return;
    }
  }
  switch (store.view) {
    case "login":
      show(loginScreen({ login: store.login, message }), { focus });
      return;
    case "accepted":
      show(acceptedScreen(), { focus });
      return;
    default:
      store.setView(null);
      show(phoneScreen({ message }), { focus });
  }
}

/**
 * Completes a Госуслуги answer: a session → signed in; a flow → the registration at its step; else the message
 * for the screen. A `tab` that is not the one this tab kept is a link that someone else started (login CSRF):
 * it is refused without a call.
 */
async function completeGosuslugi({ params, expected }) {
  const tab = params.get("tab");
  if (!tab || !expected || tab !== expected) return t("error.INVALID_TOKEN.gosuslugi_state");
  const error = params.get("error");
  if (error === "cancelled") return t("phone.gosuslugi_cancelled");
  const code = params.get("code");
  const state = params.get("state");
  if (error || !code || !state) return t("error.INVALID_TOKEN.gosuslugi_login");
  let payload;
  try {
    payload = (await gql(M.gosuslugiComplete, { code, state })).gosuslugiComplete;
  } catch (failure) {
    console.warn("eirc portal: gosuslugiComplete failed:", failure.message);
    return t("common.unavailable");
  }
  if (payload.errors.length) return payload.errors.map((e) => e.message).join(" ");
  if (payload.session) app.signedIn(payload.session, payload.profile);
  else if (payload.flow) {
    store.setView(null);
    app.setFlow(payload.flow);
  }
  return "";
}

/** The login to prefill from a flow's phone: its display form, or nothing for a masked one. */
function formatLogin(phone) {
  return /^\+7\d{10}$/.test(phone || "") ? formatPhone(phone) : "";
}

app.show = show;
app.route = route;

function bootFailed() {
  // The texts come from the API, which did not answer: the one message the portal itself must know.
  main.removeAttribute("aria-busy");
  main.replaceChildren(
    h("h1", { class: "title", tabindex: "-1", text: "Сервис временно недоступен" }),
    h("p", { class: "lead", text: "Не удалось связаться с сервером. Попробуйте обновить страницу через несколько минут." }),
    h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-primary", onClick: () => location.reload() }, "Обновить страницу")),
  );
}

async function boot() {
  const token = store.token;
  const flowId = store.flowId;
  let data;
  try {
    data = await gql(BOOT, { flowId: flowId || "", withFlow: Boolean(flowId), withMe: Boolean(token) });
  } catch (error) {
    console.warn("eirc portal: boot failed:", error.message);
    if (!flowId && !token) {
      bootFailed();
      return;
    }
    // What the tab kept may be what the gateway refuses (an id mangled by hand): start clean, once.
    store.setFlowId(null);
    store.clearSession();
    boot();
    return;
  }
  loadTexts(data.uiTexts);
  app.config = data.clientConfig;
  app.periods = data.billingPeriods;
  app.rules = data.passwordRules;
  document.getElementById("brand-name").textContent = t("brand.name");
  document.getElementById("brand-tagline").textContent = t("brand.tagline");
  document.getElementById("logo").setAttribute("aria-label", `${t("brand.name")} — ${t("brand.tagline")}`);
  if (token && data.me) app.profile = data.me;
  else if (token) store.clearSession();
  let message = "";
  if (flowId && !app.profile) {
    if (data.flow) app.flow = data.flow;
    else {
      store.setFlowId(null);
      message = t("error.FLOW_EXPIRED");
    }
  }
  // Outside a flow the address says which screen: a reload of /#login stays there, a visit to / is the start.
  const wanted = location.hash.slice(1);
  store.setView(HASH_VIEWS.has(wanted) ? wanted : null);
  if (handoff) message = await completeGosuslugi(handoff);
  route({ message, focus: false });
}

const HASH_VIEWS = new Set(["login", "accepted", "invite"]);

window.addEventListener("hashchange", () => {
  // A Госуслуги answer opened over the page already loaded (a pasted link): taken out of the address, checked.
  const arrived = takeGosuslugiHandoff();
  if (arrived) {
    completeGosuslugi(arrived).then((message) => route({ message }));
    return;
  }
  // A link to /#login (or back to /#phone) from outside a flow.
  const wanted = location.hash.slice(1);
  if (!app.flow && !app.profile && (wanted === "login" || wanted === "phone") && current?.view !== wanted) {
    store.setView(wanted === "login" ? "login" : null);
    route();
  }
});

document.getElementById("logo").addEventListener("click", (event) => {
  // The logo is the way home: outside a flow and signed out it is the phone screen; otherwise it stays put.
  event.preventDefault();
  if (!app.flow && !app.profile) {
    store.setView(null);
    route();
  }
});

boot();
