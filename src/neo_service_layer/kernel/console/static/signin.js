// Sign-in: user name, password, TOTP code (and a tenant when the user belongs to several), against
// POST /api/v1/auth/token. A user who must still enrol TOTP is told so; the console grants nothing itself.

import { signIn, signOut } from "./api.js";
import { el, field, form, notice, replace } from "./ui.js";

/** Render the sign-in form into `root`; `done()` runs once signed in. */
export function renderSignIn(root, done) {
  const controls = [
    field("User name", { name: "username", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    field("TOTP code", {
      name: "totp",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6,8}",
      "aria-describedby": "totp-help",
    }),
    el("p", { id: "totp-help", class: "help" }, "The six digits from your authenticator app."),
    field("Tenant (optional)", { name: "tenant", autocomplete: "organization" }),
  ];
  const signInForm = form("Sign in", controls, "Sign in", async (v) => {
    const s = await signIn({ username: v.username.trim(), password: v.password, totp: v.totp.trim(), tenant: v.tenant.trim() });
    if (s.mfaEnrollmentRequired) {
      await signOut();
      replace(
        root,
        notice(
          "error",
          "This account must enrol TOTP before it can use the console: enrol it through the API ",
          el("code", {}, "POST /api/v1/auth/mfa/totp/enroll"),
          ", then sign in here with a code.",
        ),
      );
      return;
    }
    done();
  });
  replace(root, el("h1", {}, "Sign in"), el("div", { class: "signin" }, signInForm));
  root.querySelector("input[name=username]").focus();
}
