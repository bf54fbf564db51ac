// Enrolment of two-factor sign-in (TOTP) for the signed-in user, in two API calls with the user's token:
// POST /auth/mfa/totp/enroll returns the otpauth:// URI of a new secret, this once; the view shows the
// secret grouped in fours (to type into an authenticator app) and the URI as text.
// POST /auth/mfa/totp/verify with the app's first code turns it on and returns ten backup codes, shown
// once. The secret lives only in this view's DOM and closure: never stored, never logged, and gone from
// the page when the view finishes or is left.

import { confirmTotp, startTotp } from "./api.js";
import { el, field, form, notice, problemText, replace, section } from "./ui.js";

/** The parts of an otpauth://totp/ URI a person needs; null when `uri` is not one. */
export function parseOtpauth(uri) {
  const match = /^otpauth:\/\/totp\/([^?]*)\?(.*)$/i.exec(uri);
  if (!match) return null;
  const label = decodeURIComponent(match[1]);
  const params = new URLSearchParams(match[2]);
  const colon = label.indexOf(":");
  const secret = (params.get("secret") || "").toUpperCase();
  if (!/^[A-Z2-7]+=*$/.test(secret)) return null;
  return {
    secret,
    account: colon >= 0 ? label.slice(colon + 1) : label,
    issuer: params.get("issuer") || (colon >= 0 ? label.slice(0, colon) : ""),
    digits: Number(params.get("digits") || 6),
    period: Number(params.get("period") || 30),
    algorithm: (params.get("algorithm") || "SHA1").toUpperCase(),
  };
}

/** A base32 secret in groups of four ("ABCD EFGH …"), as authenticator apps accept it typed. */
export function groupSecret(secret) {
  return secret.replace(/=+$/, "").match(/.{1,4}/g).join(" ");
}

/** "ABCD EFGH IJKL MNOP QRST …" as its first four groups and the rest. */
function halves(grouped) {
  const groups = grouped.split(" ");
  return [groups.slice(0, 4).join(" "), groups.slice(4).join(" ")].filter(Boolean);
}

/** A wrong or reused code (answered 401 like a dead token, told apart by the problem's type). */
function wrongCode(error) {
  return Boolean(error && error.problem && String(error.problem.type || "").endsWith("/invalid-mfa-code"));
}

/**
 * Render the enrolment into `root`. `required`: the session is limited to enrolment (sign-in said
 * `mfa_enrollment_required`), which changes the wording and, once confirmed, ends that session
 * (`onConfirmed`, awaited before the backup codes are shown). `onDone()` runs when the user leaves the
 * backup codes, `onCancel()` when the user gives up, `onEnded()` (default `onCancel`) when the API
 * refused the token itself (expired, revoked) and only a new sign-in can go on.
 */
export async function renderEnrolment(root, { required, onConfirmed, onDone, onCancel, onEnded = onCancel }) {
  const view = el("div", { class: "enrol", "data-view": "enrol", "aria-busy": "true" });
  replace(root, view);
  const leave = (text, then, primary = false) => {
    const button = el("button", { type: "button", class: primary ? undefined : "secondary" }, text);
    button.addEventListener("click", () => {
      replace(view);
      then();
    });
    return button;
  };
  const cancelText = required ? "Cancel and sign out" : "Cancel";
  const ended = (error) => {
    view.removeAttribute("aria-busy");
    replace(
      view,
      notice("error", `${problemText(error)}. Sign in again to start over.`),
      leave(required ? "Back to sign-in" : "Sign in again", onEnded, true),
    );
  };
  let uri;
  let otp;
  try {
    uri = await startTotp();
    otp = parseOtpauth(uri);
    if (!otp) throw new Error("The API answered with an enrolment link the console cannot read.");
  } catch (error) {
    if (error.status === 401) ended(error);
    else {
      view.removeAttribute("aria-busy");
      replace(view, notice("error", problemText(error)), leave(cancelText, onCancel));
    }
    return;
  }
  const intro = el(
    "p",
    { class: "lead", id: "enrol-intro", tabindex: "-1" },
    required
      ? "This account must use two-factor sign-in before it can use the console. Add it to an authenticator app, then confirm with the app's first code."
      : "Add this account to an authenticator app, then confirm with the app's first code.",
  );
  const kind = `time-based (TOTP), ${otp.digits} digits, a new code every ${otp.period} seconds, ${otp.algorithm}`;
  const add = section(
    "1. Add the account to your authenticator app",
    el("p", {}, "Type the secret key into the app, or open the setup link on the device that has the app."),
    el(
      "div",
      { class: "enrol-secret" },
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "Account"),
        el("dd", {}, otp.account),
        el("dt", {}, "Issuer"),
        el("dd", {}, otp.issuer || "—"),
        el("dt", { id: "totp-secret-label" }, "Secret key"),
        el(
          "dd",
          {},
          el(
            "code",
            { class: "once secret", "data-testid": "totp-secret", "aria-labelledby": "totp-secret-label" },
            // two halves that wrap as wholes on a narrow screen, never inside a group
            halves(groupSecret(otp.secret)).flatMap((half, i) => (i ? [" ", el("span", {}, half)] : [el("span", {}, half)])),
          ),
        ),
        el("dt", {}, "Type"),
        el("dd", {}, kind),
        el("dt", { id: "totp-uri-label" }, "Setup link"),
        el("dd", {}, el("code", { "data-testid": "totp-uri", "aria-labelledby": "totp-uri-label" }, uri)),
      ),
    ),
    el("p", { class: "help" }, "The key is shown only now: it is not stored by the console and not shown again."),
  );
  const confirm = form(
    "Confirm two-factor sign-in",
    [
      field("Code from the app", {
        name: "code",
        inputmode: "numeric",
        autocomplete: "one-time-code",
        pattern: "[0-9]{6}",
        maxlength: 6,
        required: true,
        "aria-describedby": "enrol-code-help",
      }),
      el("p", { id: "enrol-code-help", class: "help" }, `The ${otp.digits} digits the app shows for this account now.`),
    ],
    "Turn on two-factor sign-in",
    async (values) => {
      let codes;
      try {
        codes = await confirmTotp(values.code.trim());
      } catch (error) {
        if (error.status !== 401 || wrongCode(error)) throw error; // shown in the form's alert
        ended(error); // the token itself was refused (expired, revoked): this enrolment cannot finish
        return;
      }
      uri = otp = null;
      if (onConfirmed) await onConfirmed();
      showBackupCodes(codes);
    },
  );
  view.removeAttribute("aria-busy");
  replace(
    view,
    intro,
    add,
    section("2. Confirm with the first code", confirm),
    el("div", { class: "actions" }, leave(cancelText, onCancel)),
  );
  intro.focus();

  function showBackupCodes(codes) {
    const done = el(
      "p",
      { id: "enrol-done", tabindex: "-1" },
      required
        ? "Two-factor sign-in is on. Save the backup codes below, then sign in again with your password and a new code from the app (each code is accepted once: wait for the next one)."
        : "Two-factor sign-in is on for this account: from the next sign-in on, the console asks for a code from the app.",
    );
    replace(
      view,
      notice("ok", done),
      section(
        "Backup codes",
        el(
          "p",
          {},
          "Save these ten codes somewhere safe now: they are shown only this once. If the authenticator app is lost, each code signs in once in place of a code from the app.",
        ),
        el(
          "ul",
          { class: "backup-codes", "aria-label": "Backup codes", "data-testid": "backup-codes" },
          codes.map((code) => el("li", {}, el("code", {}, code))),
        ),
        el("div", { class: "actions" }, leave(required ? "Continue to sign in" : "Done", onDone, true)),
      ),
    );
    done.focus();
  }
}
