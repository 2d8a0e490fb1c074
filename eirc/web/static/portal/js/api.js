// The one way the portal talks to the gateway: `POST /graphql` with JSON, the session as
// `Authorization: Bearer <token>` (CONTRACT §3). No cookie is sent (`credentials: "omit"`).
//
// An answer's expected failures are the payload's `errors` (UserError): the screens place them. Anything else —
// the network down, a 4xx/5xx from the door, GraphQL `errors` — is `Unavailable`, which a screen shows as its
// screen-level message (uiTexts `common.unavailable`).

import { store } from "./store.js";

export class Unavailable extends Error {}

export async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const token = store.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new Unavailable(`network: ${error}`);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Unavailable(`HTTP ${response.status}: not JSON`);
  }
  if (!response.ok || (body.errors && body.errors.length) || !body.data) {
    const message = body?.errors?.[0]?.message || `HTTP ${response.status}`;
    throw new Unavailable(message);
  }
  return body.data;
}

// --- the documents ---------------------------------------------------------------------------------------------
export const FLOW = `id kind step phone expiresAt resendAvailableInSeconds address phoneVerified
  data { period accountNumber amountDue lastName firstName middleName birthDate email emailNotifications }`;
export const ERRORS = "errors { code field message failedRules hint }";
export const PROFILE = `id lastName firstName middleName birthDate phone email emailConfirmed emailNotifications
  gosuslugiLinked confirmationLetterAvailableInSeconds
  addresses { id number text accountNumber primary ebill ebillPaused }`;

/** Everything a screen must know before it is drawn, and — when the tab holds them — the resident and the flow. */
export const BOOT = `query Boot($flowId: ID!, $withFlow: Boolean!, $withMe: Boolean!) {
  uiTexts { key text }
  clientConfig { codeLength resendSeconds passwordMinLength gosuslugiEnabled termsVersion termsUrl personalDataPolicyUrl }
  billingPeriods { value label }
  passwordRules
  me @include(if: $withMe) { ${PROFILE} }
  flow(id: $flowId) @include(if: $withFlow) { ${FLOW} }
}`;

const flowPayload = `{ flow { ${FLOW} } ${ERRORS} }`;
const profilePayload = `{ profile { ${PROFILE} } ${ERRORS} }`;
const authPayload = `{ session { token expiresAt } profile { ${PROFILE} } flow { ${FLOW} } ${ERRORS} }`;

export const M = {
  startPhone: `mutation($phone: String!, $consent: Boolean!) { startPhone(phone: $phone, consent: $consent) ${flowPayload} }`,
  resendCode: `mutation($flowId: ID!) { resendCode(flowId: $flowId) ${flowPayload} }`,
  confirmCode: `mutation($flowId: ID!, $code: String!) { confirmCode(flowId: $flowId, code: $code) ${flowPayload} }`,
  proveAccount: `mutation($flowId: ID!, $period: String!, $accountNumber: String!, $amountDue: String!) {
    proveAccount(flowId: $flowId, period: $period, accountNumber: $accountNumber, amountDue: $amountDue) ${flowPayload} }`,
  confirmAddress: `mutation($flowId: ID!) { confirmAddress(flowId: $flowId) ${flowPayload} }`,
  setPersonalData: `mutation($flowId: ID!, $lastName: String!, $firstName: String!, $middleName: String, $birthDate: Date,
      $email: String!, $emailNotifications: Boolean!) {
    setPersonalData(flowId: $flowId, lastName: $lastName, firstName: $firstName, middleName: $middleName,
      birthDate: $birthDate, email: $email, emailNotifications: $emailNotifications) ${flowPayload} }`,
  setPassword: `mutation($flowId: ID!, $password: String!) { setPassword(flowId: $flowId, password: $password) ${authPayload} }`,
  goBack: `mutation($flowId: ID!) { goBack(flowId: $flowId) ${flowPayload} }`,
  cancelFlow: `mutation($flowId: ID!) { cancelFlow(flowId: $flowId) { flow { id } ${ERRORS} } }`,
  openConnectionRequest: `mutation($flowId: ID!) { openConnectionRequest(flowId: $flowId) ${flowPayload} }`,
  submitConnectionRequest: `mutation($flowId: ID!, $lastName: String!, $firstName: String!, $middleName: String,
      $address: String!, $flat: String, $email: String!, $emailNotifications: Boolean!) {
    submitConnectionRequest(flowId: $flowId, lastName: $lastName, firstName: $firstName, middleName: $middleName,
      address: $address, flat: $flat, email: $email, emailNotifications: $emailNotifications) {
      requestId title message flow { ${FLOW} } ${ERRORS} } }`,
  login: `mutation($login: String!, $password: String!) { login(login: $login, password: $password) ${authPayload} }`,
  forgotPassword: `mutation($login: String!) { forgotPassword(login: $login) ${flowPayload} }`,
  logout: "mutation { logout }",
  me: `query { me { ${PROFILE} } }`,
  resendConfirmationEmail: `mutation { resendConfirmationEmail ${profilePayload} }`,
  addAddress: `mutation($period: String!, $accountNumber: String!, $amountDue: String!) {
    addAddress(period: $period, accountNumber: $accountNumber, amountDue: $amountDue) ${profilePayload} }`,
  setPrimaryAddress: `mutation($addressId: ID!) { setPrimaryAddress(addressId: $addressId) ${profilePayload} }`,
  removeAddress: `mutation($addressId: ID!) { removeAddress(addressId: $addressId) ${profilePayload} }`,
  setEbill: `mutation($addressId: ID!, $enabled: Boolean!) { setEbill(addressId: $addressId, enabled: $enabled) ${profilePayload} }`,
  setNotifications: `mutation($enabled: Boolean!) { updateProfile(emailNotifications: $enabled) ${profilePayload} }`,
  gosuslugiComplete: `mutation($code: String!, $state: String!) { gosuslugiComplete(code: $code, state: $state) ${authPayload} }`,
};
