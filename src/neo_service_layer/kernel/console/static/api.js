// The console's only way to the API: bearer token added, refresh on expiry, problem JSON as ApiError.
// Tokens live in sessionStorage (this tab only, gone when it closes); never in localStorage or cookies.

const API = "/api/v1";
const STORE = "nsl.console.session";
const REFRESH_MARGIN_MS = 30_000;

/** An API error: the RFC 9457 problem document (or a synthetic one for network failures). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let current = readStored();
let refreshing = null;

function readStored() {
  try {
    const raw = sessionStorage.getItem(STORE);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function store(session) {
  current = session;
  if (session) sessionStorage.setItem(STORE, JSON.stringify(session));
  else sessionStorage.removeItem(STORE);
}

function fromTokens(tokens, me) {
  return {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    tenant: tokens.tenant,
    roles: tokens.roles,
    scopes: tokens.scopes,
    subject: me ? me.subject : current && current.subject,
    username: me ? me.username : current && current.username,
    secondFactor: me ? me.secondFactor : current && current.secondFactor,
    mfaEnrollmentRequired: Boolean(tokens.mfa_enrollment_required),
  };
}

/**
 * The signed-in session ({tenant, roles, scopes, subject, username, secondFactor,
 * mfaEnrollmentRequired}) or null. `secondFactor` is false when the user signed in with the password
 * alone (so has no TOTP yet); `mfaEnrollmentRequired` marks a token that only allows TOTP enrolment.
 */
export function session() {
  return current;
}

/** Whether the signed-in user holds `scope` (the API still decides; this only hides controls). */
export function hasScope(scope) {
  return Boolean(current && current.scopes.includes(scope));
}

/** Whether the user holds any of `scopes` (an empty list: any signed-in user). */
export function hasAnyScope(scopes) {
  return scopes.length === 0 || scopes.some(hasScope);
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      /* fall through to the generic problem */
    }
  }
  return { title: response.statusText || "Error", status: response.status };
}

async function send(method, path, body, token) {
  const headers = { accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { title: "The API is unreachable", detail: String(error) });
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/**
 * Sign in with user name, password, a second factor and (optional) tenant; returns the session. The
 * second factor is a TOTP code (digits) or one of the user's backup codes (letters, with or without
 * its dash). A session with `mfaEnrollmentRequired` may only enrol TOTP (`startTotp`, `confirmTotp`).
 */
export async function signIn({ username, password, totp, tenant }) {
  const body = { username, password };
  if (totp && /^[0-9]{6,8}$/.test(totp)) body.totp_code = totp;
  else if (totp) body.backup_code = totp;
  if (tenant) body.tenant = tenant;
  const tokens = await send("POST", "/auth/token", body);
  const me = await send("GET", "/auth/me", undefined, tokens.access_token);
  const secondFactor = Boolean(totp) && !tokens.mfa_enrollment_required;
  store(fromTokens(tokens, { subject: me.subject, username, secondFactor }));
  return current;
}

// Enrolment answers 401 for a wrong code as well as for a dead token: no refresh-and-retry after it
// (that would spend a second attempt on the same code), only the refresh ahead of expiry.
async function selfService(path, body) {
  if (!current) throw new ApiError(401, { title: "Signed out", status: 401 });
  if (current.refresh && current.expiresAt - Date.now() < REFRESH_MARGIN_MS) await refreshNow();
  return send("POST", path, body, current.access);
}

/**
 * Start TOTP enrolment of the signed-in user (a full session, or one limited to enrolment): returns the
 * `otpauth://` URI holding the new secret. The API shows it this once; it is not stored here.
 */
export async function startTotp() {
  const answer = await selfService("/auth/mfa/totp/enroll");
  return answer.otpauth_uri;
}

/** Confirm enrolment with the first code; returns the ten single-use backup codes (shown once). */
export async function confirmTotp(code) {
  const answer = await selfService("/auth/mfa/totp/verify", { code });
  if (current && !current.mfaEnrollmentRequired) store({ ...current, secondFactor: true });
  return answer.backup_codes;
}

async function refreshNow() {
  if (!current || !current.refresh) throw new ApiError(401, { title: "Signed out", status: 401 });
  if (!refreshing) {
    refreshing = send("POST", "/auth/refresh", { refresh_token: current.refresh })
      .then((tokens) => store(fromTokens(tokens)))
      .catch((error) => {
        store(null);
        throw error;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  await refreshing;
}

/** Sign out: the API revokes the token and its session; the local copy is dropped either way. */
export async function signOut() {
  const token = current && current.access;
  store(null);
  if (token) {
    try {
      await send("POST", "/auth/logout", undefined, token);
    } catch {
      /* already expired or revoked: nothing left to end */
    }
  }
}

/**
 * Call the API as the signed-in user: `path` is below /api/v1 (for example "/keys").
 * Refreshes the access token when it is about to expire, and once more after a 401.
 */
export async function api(method, path, body) {
  if (!current) throw new ApiError(401, { title: "Signed out", status: 401 });
  if (current.refresh && current.expiresAt - Date.now() < REFRESH_MARGIN_MS) await refreshNow();
  try {
    return await send(method, path, body, current.access);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !current || !current.refresh) throw error;
    await refreshNow();
    return send(method, path, body, current.access);
  }
}

/** GET shorthand. */
export function get(path) {
  return api("GET", path);
}

/** Encode one path segment (ids and names from the API are never trusted as path syntax). */
export function seg(value) {
  return encodeURIComponent(value);
}
