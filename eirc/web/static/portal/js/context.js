// The portal's state, shared by the screens; app.js fills in the navigation.

import { gql, M, Unavailable } from "./api.js";
import { store } from "./store.js";

export const app = {
  config: null, // clientConfig
  periods: [], // billingPeriods, newest first
  rules: [], // passwordRules, in display order
  flow: null, // the flow in progress (Flow), or null
  profile: null, // the signed-in resident (Profile), or null

  /** Draws a screen: {view, title, node, side?, cleanup?}. Set by app.js. */
  show: null,
  /** Draws the screen the state calls for (signed in → profile; a flow → its step; else the stored view). */
  route: null,

  setFlow(flow) {
    this.flow = flow || null;
    store.setFlowId(flow ? flow.id : null);
  },

  signedIn(session, profile) {
    store.setSession(session);
    this.profile = profile;
    this.setFlow(null);
    store.setView(null);
  },

  signedOut() {
    store.clearSession();
    this.profile = null;
  },
};

const RESTART = new Set(["FLOW_NOT_FOUND", "FLOW_EXPIRED"]);

/**
 * Runs a flow step's mutation and moves on: success → the flow's new step; the flow gone or expired → the phone
 * screen with the message; the flow elsewhere (WRONG_STEP) → that step, with the message; other errors → under
 * the form's fields (the flow kept in step: `flow.data` holds what was typed). Returns the payload.
 */
export async function flowStep(form, name, variables = {}, { onSuccess } = {}) {
  const data = await gql(M[name], { flowId: app.flow.id, ...variables });
  const payload = data[name];
  const errors = payload.errors || [];
  if (!errors.length) {
    if (onSuccess) onSuccess(payload);
    else {
      app.setFlow(payload.flow);
      app.route();
    }
    return payload;
  }
  const restart = errors.find((e) => RESTART.has(e.code));
  if (restart) {
    app.setFlow(null);
    app.route({ message: restart.message });
    return payload;
  }
  if (payload.flow && payload.flow.step !== app.flow.step) {
    app.setFlow(payload.flow);
    app.route({ message: errors.map((e) => e.message).join(" ") });
    return payload;
  }
  if (payload.flow) app.flow = payload.flow;
  form.show(errors);
  return payload;
}

/** A profile mutation: the new profile drawn, or the errors placed (`place(errors)`); a lost session → login. */
export async function profileAction(name, variables, place) {
  const data = await gql(M[name], variables);
  const payload = data[name];
  const errors = payload.errors || [];
  const lost = errors.find((e) => e.code === "NOT_AUTHENTICATED");
  if (lost || !payload.profile) {
    app.signedOut();
    store.setView("login");
    app.route({ message: lost ? lost.message : "" });
    return null;
  }
  app.profile = payload.profile;
  if (errors.length) place(errors);
  return payload;
}

export { Unavailable };
