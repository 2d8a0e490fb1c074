// What the portal keeps in the browser between page loads (docs/portal.md, «The session token»).
//
// Everything lives in sessionStorage: it survives a reload of the tab (a flow resumes where it was), it is gone
// when the tab is closed, it is never sent anywhere by the browser (unlike a cookie) and other origins cannot
// read it. Scripts of this origin can — which the portal's Content-Security-Policy (scripts from this origin
// only, no inline script) is there to keep to our own.

const KEYS = {
  session: "eirc.session", // {token, expiresAt} of `login` / `setPassword`
  flow: "eirc.flow", // the id of the registration / reset flow in progress
  view: "eirc.view", // the screen outside a flow: phone, login, invite, accepted
  login: "eirc.login", // what to prefill the login field with (the phone of a LOGIN flow, a reset's login)
  phone: "eirc.phone", // the phone typed on the first screen, kept for «Отмена»
  gosuslugi: "eirc.gosuslugi", // the tab value of a Госуслуги sign-in this tab started (until it comes back)
};

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the portal still works, a reload starts again
  }
}

function read(key) {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null || value === undefined || value === "") storage()?.removeItem(key);
    else storage()?.setItem(key, value);
  } catch {
    // quota or privacy mode: nothing to keep
  }
}

export const store = {
  get token() {
    const raw = read(KEYS.session);
    if (!raw) return null;
    try {
      const session = JSON.parse(raw);
      if (session.expiresAt && Date.parse(session.expiresAt) <= Date.now()) {
        write(KEYS.session, null);
        return null;
      }
      return session.token || null;
    } catch {
      write(KEYS.session, null);
      return null;
    }
  },
  setSession(session) {
    write(KEYS.session, session ? JSON.stringify({ token: session.token, expiresAt: session.expiresAt }) : null);
  },
  clearSession() {
    write(KEYS.session, null);
  },

  get flowId() {
    return read(KEYS.flow);
  },
  setFlowId(id) {
    write(KEYS.flow, id);
  },

  get view() {
    return read(KEYS.view);
  },
  setView(view) {
    write(KEYS.view, view);
  },

  get login() {
    return read(KEYS.login) || "";
  },
  setLogin(login) {
    write(KEYS.login, login);
  },

  get phone() {
    return read(KEYS.phone) || "";
  },
  setPhone(phone) {
    write(KEYS.phone, phone);
  },

  /** Keeps the tab value of a Госуслуги sign-in; false when it could not be kept (storage disabled). */
  setGosuslugiTab(value) {
    write(KEYS.gosuslugi, value);
    return read(KEYS.gosuslugi) === value;
  },
  /** The tab value kept by `setGosuslugiTab`, forgotten as it is read: one sign-in, one handoff. */
  takeGosuslugiTab() {
    const value = read(KEYS.gosuslugi);
    write(KEYS.gosuslugi, null);
    return value;
  },
};
