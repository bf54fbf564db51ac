// Sign-in: user name, password, TOTP code (or a backup code) and a tenant when the user belongs to
// several, against POST /api/v1/auth/token. A user who must still enrol TOTP gets a token that allows
// nothing but enrolment: the console then shows the enrolment (enrol.js), ends that token once TOTP is
// on, and asks for a sign-in with a code from the app. The console grants nothing itself.

import { signIn, signOut } from "./api.js";
import { renderEnrolment } from "./enrol.js";
import { el, field, form, notice, replace } from "./ui.js";

const ENROLLED = "Two-factor sign-in is on. Sign in with your password and the next code your authenticator app shows.";

/**
 * Render the sign-in form into `root`; `done()` runs once signed in. `prefill` ({username, tenant,
 * message}) fills the form and shows `message` above it (after enrolment).
 */
export function renderSignIn(root, done, prefill = {}) {
  const controls = [
    field("User name", {
      name: "username",
      autocomplete: "username",
      required: true,
      value: prefill.username || undefined,
    }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    field("TOTP code", {
      name: "totp",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6,8}|[A-Za-z0-9]{5}-?[A-Za-z0-9]{5}",
      "aria-describedby": "totp-help",
    }),
    el("p", { id: "totp-help", class: "help" }, "The six digits from your authenticator app, or one of your backup codes."),
    field("Tenant (optional)", { name: "tenant", autocomplete: "organization", value: prefill.tenant || undefined }),
  ];
  const signInForm = form("Sign in", controls, "Sign in", async (v) => {
    const tenant = v.tenant.trim();
    const username = v.username.trim();
    const s = await signIn({ username, password: v.password, totp: v.totp.trim(), tenant });
    if (s.mfaEnrollmentRequired) {
      renderEnrolmentRequired(root, done, { username, tenant });
      return;
    }
    done();
  });
  replace(
    root,
    el("h1", {}, "Sign in"),
    prefill.message ? notice("ok", prefill.message) : null,
    el("div", { class: "signin" }, signInForm),
  );
  root.querySelector(prefill.username ? "input[name=password]" : "input[name=username]").focus();
}

/**
 * The session is limited to TOTP enrolment (sign-in answered `mfa_enrollment_required`): show the
 * enrolment into `root`. Once confirmed, that token is revoked (it can never do more) and the sign-in
 * form comes back, filled with `prefill` ({username, tenant}); cancelling signs out too.
 */
export function renderEnrolmentRequired(root, done, prefill = {}) {
  const view = el("div");
  replace(root, el("h1", {}, "Set up two-factor sign-in"), view);
  renderEnrolment(view, {
    required: true,
    onConfirmed: () => signOut(),
    onDone: () => renderSignIn(root, done, { ...prefill, message: ENROLLED }),
    onCancel: async () => {
      await signOut();
      renderSignIn(root, done, prefill);
    },
  });
}
